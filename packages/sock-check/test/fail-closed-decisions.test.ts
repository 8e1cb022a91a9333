import { ConfigError, ExitCode, Logger, TempFailError, UnavailableError } from "@opsguard/core";
import { describe, expect, it } from "vitest";
import { changeTerms } from "../src/association";
import { failClosed, unverifyUndatedMerges } from "../src/facts";
import {
  type ChangeRecord,
  type CheckResult,
  evaluate,
  type LocalCommit,
  type ProviderFacts,
  type PullFact,
  parsePolicy,
  summarize,
  verdictError,
} from "../src/index";
import { unverifiedError } from "../src/output";

// sock-check's fail-closed decisions (issue 19, mutation module sock-check-fail-closed): a commit the provider
// could not answer for, an approver whose membership the token cannot see, a provider request that failed and
// the ones skipped after it, and the exit a deploy gets from them. Each is "unverified", never a pass.

const HEAD = "b".repeat(40);
const MERGE = "c".repeat(40);
const BASE = "d".repeat(40);

interface Case {
  policy?: string;
  reviewers?: string[];
  orgs?: ProviderFacts["orgs"];
  unverified?: Map<string, string>;
  labels?: string[];
  commits?: string[];
  /** The merge commit's changed paths; left out, the commit changes no file. */
  paths?: string[];
  /** The PR author: null for a deleted account (GitHub's "ghost"). */
  author?: string | null;
  /** When the provider says the PR was merged (GitHub's schema allows null). */
  mergedAt?: string | null;
  teams?: ProviderFacts["teams"];
}

function judgeAll(c: Case): ChangeRecord[] {
  const shas = c.commits ?? [MERGE];
  const pull: PullFact = {
    number: 7,
    url: "https://github.example/acme/shop/pull/7",
    title: "SHOP-7 Change",
    body: "",
    author: c.author === undefined ? "alice" : c.author,
    headRef: "feature",
    headSha: HEAD,
    baseRef: "main",
    merged: true,
    mergedAt: c.mergedAt === undefined ? "2024-05-01T12:00:00Z" : c.mergedAt,
    mergedBy: "alice",
    mergeCommit: MERGE,
    labels: c.labels ?? [],
    reviews: (c.reviewers ?? []).map((reviewer) => ({ reviewer, state: "APPROVED", submittedAt: "2024-05-01T10:00:00Z", commit: HEAD })),
    commits: [
      {
        sha: HEAD,
        message: "SHOP-7 Change",
        authors: [{ name: "Alice", email: "alice@corp.example", login: "alice" }],
        committer: { name: "Alice", email: "alice@corp.example", login: "alice" },
        verified: true,
      },
    ],
    checks: [],
  };
  const commits: LocalCommit[] = shas.map((sha) => ({
    sha,
    parents: [],
    subject: "Merge pull request #7",
    message: "Merge pull request #7",
    author: { name: "Alice", email: "alice@corp.example" },
    committer: { name: "GitHub", email: "noreply@github.com" },
    authoredAt: "2024-05-01T12:00:00Z",
    coAuthors: [],
  }));
  const facts: ProviderFacts = {
    commits: new Map(shas.map((sha) => [sha, { sha, verified: true, authorLogin: "alice", committerLogin: "web-flow", pulls: [7] }])),
    pulls: new Map([[7, pull]]),
    teams: c.teams ?? new Map(),
    unreadTeams: new Map(),
    orgs: c.orgs ?? new Map(),
    unverified: c.unverified ?? new Map(),
    defaultBranch: "main",
    failure: undefined,
  };
  // as runCheck does once the provider has answered
  unverifyUndatedMerges(facts, changeTerms("github"));
  return evaluate({
    policy: parsePolicy(`provider: github\n${c.policy ?? ""}`, "test policy"),
    repo: "acme/shop",
    range: { from: BASE, to: MERGE, mode: "first-parent" },
    commits,
    facts,
    changedPaths: c.paths ? new Map([[MERGE, c.paths]]) : new Map(),
    deployLine: new Set(shas),
    deployBranches: ["main"],
    now: new Date("2024-05-02T00:00:00Z"),
    toolVersion: "test",
  });
}
const judge = (c: Case): ChangeRecord => judgeAll(c)[0]!;

const MEMBERS = `approvalRules:
  - name: members
    requires: { organizations: [acme] }
`;
const PUBLIC_ONLY = "the token sees only public members of acme";
const TOKEN_HINT = "(use a token of an organisation member with read:org, or Members: read for a fine-grained token)";
const acme = (members: string[], incomplete: string | null = PUBLIC_ONLY): ProviderFacts["orgs"] =>
  new Map([["acme", { members, incomplete }]]);

describe("a commit the provider could not answer for", () => {
  it("is unverified when its PR is merged but the provider does not say when: an emergency change timed from now is never overdue", () => {
    const EMERGENCY = "exemptions:\n  emergency: {label: emergency, reviewWithin: 72h}\n";
    for (const [mergedAt, said] of [
      [null, "null"],
      ["sometime", "unreadable"],
    ] as const) {
      const record = judge({ policy: EMERGENCY, labels: ["emergency"], mergedAt });
      expect(record.verdict).toBe("unverified");
      expect(record.violations).toEqual([
        { rule: "unverified", message: `could not be verified: PR #7: GitHub says it was merged but not when (mergedAt ${said})` },
      ]);
    }
    // control: merged at noon on 1 May, the emergency change is due 72 hours later
    const dated = judgeAll({ policy: EMERGENCY, labels: ["emergency"] })[0]!;
    expect(dated.emergency?.due_at).toBe("2024-05-04T12:00:00.000Z");
  });

  it("is unverified with the provider's reason, even when its PR would pass, and carries no PR facts but which PR it is", () => {
    const record = judge({ reviewers: ["bob"], unverified: new Map([[MERGE, "GitHub answered 502"]]) });
    expect(record.verdict).toBe("unverified");
    expect(record.violations).toEqual([{ rule: "unverified", message: "could not be verified: GitHub answered 502" }]);
    // the PR the reason is about stays named (T65: "(no PR)" beside a message naming PR #7), nothing judged from it
    expect(record.pr?.number).toBe(7);
    expect([record.approvals, record.exemption]).toEqual([[], null]);
    // nothing read from the PR is reported for it either: not its ticket, not its labels
    const labelled = judge({ reviewers: ["bob"], labels: ["security"], unverified: new Map([[MERGE, "GitHub answered 502"]]) });
    expect([labelled.tickets, labelled.labels, labelled.checks, labelled.emergency]).toEqual([[], [], [], null]);
    // control: the same PR with the answer is compliant
    expect(judge({ reviewers: ["bob"] }).verdict).toBe("compliant");
  });
});

describe("an approver whose organisation membership the token cannot see", () => {
  it("leaves the change unverified, naming the approver, the reason and the token to use", () => {
    const record = judge({ policy: MEMBERS, reviewers: ["bob"], orgs: acme(["carol"]) });
    expect(record.verdict).toBe("unverified");
    expect(record.violations).toEqual([
      {
        rule: "unverified",
        message: `approval rule "members" needs 1 independent approval from members of acme; cannot tell whether bob is a member: ${PUBLIC_ONLY} ${TOKEN_HINT}`,
      },
    ]);
  });

  it("an organisation that was not read at all is unknown too, never an empty member list", () => {
    const record = judge({ policy: MEMBERS, reviewers: ["bob", "dave"], orgs: new Map() });
    expect(record.verdict).toBe("unverified");
    expect(record.violations[0]?.message).toContain("cannot tell whether bob, dave are members: organisation acme was not read");
  });

  it("a complete member list decides: a member's approval passes, a non-member's fails the rule", () => {
    expect(judge({ policy: MEMBERS, reviewers: ["Carol"], orgs: acme(["carol"]) }).verdict).toBe("compliant");
    const failed = judge({ policy: MEMBERS, reviewers: ["bob"], orgs: acme(["carol"], null) });
    expect(failed.verdict).toBe("noncompliant");
    expect(failed.violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "members" needs 1 independent approval from members of acme, has 0' },
    ]);
  });

  it("is unknown only when counting the unseen approvers could meet the rule; short even then, it fails", () => {
    const two = MEMBERS.replace("{ organizations: [acme] }", "{ count: 2, organizations: [acme] }");
    const unknown = judge({ policy: two, reviewers: ["carol", "bob"], orgs: acme(["carol"]) });
    expect(unknown.verdict).toBe("unverified");
    expect(unknown.violations[0]?.message).toMatch(
      /^approval rule "members" needs 2 independent approvals from members of acme, 1 shown to count; cannot tell whether bob is a member/,
    );
    const three = MEMBERS.replace("{ organizations: [acme] }", "{ count: 3, organizations: [acme] }");
    const failed = judge({ policy: three, reviewers: ["carol", "bob"], orgs: acme(["carol"]) });
    expect(failed.verdict).toBe("noncompliant");
    expect(failed.violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "members" needs 3 independent approvals from members of acme, has 1' },
    ]);
  });

  it("a rule whose conditions do not hold is met, unseen members or not", () => {
    const labelled = MEMBERS.replace("  - name: members\n", "  - name: members\n    if: { labels: [security] }\n");
    expect(judge({ policy: labelled, reviewers: ["bob"], orgs: acme([]) }).verdict).toBe("compliant");
    expect(judge({ policy: labelled, reviewers: ["bob"], orgs: acme([]), labels: ["security"] }).verdict).toBe("unverified");
  });
});

describe("rules combined with and/or when one of them is unknown", () => {
  const rules = (expression: string) => `approvalRules:
  - name: members
    requires: { organizations: [acme] }
  - name: leads
    requires: { users: [lead] }
  - name: anyone
approvalPolicy: ${expression}
`;
  // bob approves: "members" is unknown (acme seen in part), "leads" fails, "anyone" is met

  it("and: a rule that failed outright blocks, whatever else is unknown", () => {
    const record = judge({ policy: rules("{ and: [members, leads] }"), reviewers: ["bob"], orgs: acme([]) });
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "leads" needs 1 independent approval from lead, has 0' },
    ]);
  });

  it("and: unknown with the rest met is unverified; all met is compliant", () => {
    expect(judge({ policy: rules("{ and: [members, anyone] }"), reviewers: ["bob"], orgs: acme([]) }).verdict).toBe("unverified");
    expect(judge({ policy: rules("{ and: [leads, anyone] }"), reviewers: ["bob", "lead"], orgs: acme([]) }).verdict).toBe("compliant");
  });

  it("or: one rule met is enough, an unknown one with the rest failed is unverified, all failed name each", () => {
    expect(judge({ policy: rules("{ or: [members, anyone] }"), reviewers: ["bob"], orgs: acme([]) }).verdict).toBe("compliant");
    const unknown = judge({ policy: rules("{ or: [leads, members] }"), reviewers: ["bob"], orgs: acme([]) });
    expect(unknown.verdict).toBe("unverified");
    expect(unknown.violations.map((v) => v.rule)).toEqual(["unverified"]);
    const failed = judge({ policy: rules("{ or: [leads, members] }"), reviewers: ["bob"], orgs: acme([], null) });
    expect(failed.verdict).toBe("noncompliant");
    expect(failed.violations).toEqual([
      {
        rule: "approval-rule",
        message:
          'none of these is met: approval rule "leads" needs 1 independent approval from lead, has 0; or approval rule "members" needs 1 independent approval from members of acme, has 0',
      },
    ]);
  });
});

describe("an approval rule's conditions (if:): the rule applies only when every one holds", () => {
  // bob approves; the rule wants lead, so it fails where it applies and is met where it does not
  const leads = (condition: string) => `approvalRules:
  - name: leads
    if: ${condition}
    requires: { users: [lead] }
`;
  const verdict = (condition: string, c: Case = {}) => judge({ reviewers: ["bob"], ...c, policy: leads(condition) }).verdict;

  it("changedPaths: applies when any changed path matches, not only when all do; a commit that changes no file is not caught", () => {
    expect(verdict("{ changedPaths: ['src/**'] }", { paths: ["docs/a.md"] })).toBe("compliant");
    expect(verdict("{ changedPaths: ['src/**'] }", { paths: ["docs/a.md", "src/a.ts"] })).toBe("noncompliant");
    expect(verdict("{ changedPaths: ['**'] }")).toBe("compliant");
    expect(verdict("{ changedPaths: ['**'] }", { paths: ["README.md"] })).toBe("noncompliant");
  });

  it("authors: the PR author's login in any case; a deleted author (null) matches no listed login", () => {
    expect(verdict("{ authors: [ALICE] }")).toBe("noncompliant");
    expect(verdict("{ authors: [mallory, Alice] }")).toBe("noncompliant");
    expect(verdict("{ authors: [mallory] }")).toBe("compliant");
    expect(verdict("{ authors: [alice] }", { author: null })).toBe("compliant");
  });

  it("labels: any one listed label on the PR; targetBranches: any pattern matching the PR's base", () => {
    expect(verdict("{ labels: [security, database] }", { labels: ["database"] })).toBe("noncompliant");
    expect(verdict("{ labels: [security] }", { labels: ["database"] })).toBe("compliant");
    expect(verdict("{ targetBranches: ['release/*', main] }")).toBe("noncompliant");
    expect(verdict("{ targetBranches: ['release/*'] }")).toBe("compliant");
  });

  it("all conditions together: one that does not hold leaves the rule unapplied", () => {
    expect(verdict("{ changedPaths: ['src/**'], labels: [security] }", { paths: ["src/a.ts"], labels: ["security"] })).toBe("noncompliant");
    expect(verdict("{ changedPaths: ['src/**'], labels: [security] }", { paths: ["docs/a.md"], labels: ["security"] })).toBe("compliant");
    expect(verdict("{ changedPaths: ['src/**'], authors: [mallory] }", { paths: ["src/a.ts"] })).toBe("compliant");
  });
});

describe("who an approval rule accepts, and what its failure says", () => {
  const rule = (requires: string) => `approvalRules:
  - name: owners
    requires: ${requires}
`;
  const security: ProviderFacts["teams"] = new Map([["acme/security", ["sec"]]]);

  it("users with an organisation: neither list stands for anyone; the message names both", () => {
    const record = judge({ policy: rule("{ users: [lead], organizations: [acme] }"), reviewers: ["bob"], orgs: acme(["carol"], null) });
    expect(record.violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "owners" needs 1 independent approval from lead, members of acme, has 0' },
    ]);
    expect(
      judge({ policy: rule("{ users: [lead], organizations: [acme] }"), reviewers: ["carol"], orgs: acme(["carol"], null) }).verdict,
    ).toBe("compliant");
  });

  it("users with a team: a team member's approval counts, anyone else's does not", () => {
    const policy = rule("{ users: [lead], teams: [acme/security] }");
    const record = judge({ policy, reviewers: ["bob"], teams: security });
    expect(record.violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "owners" needs 1 independent approval from lead, @acme/security, has 0' },
    ]);
    expect(judge({ policy, reviewers: ["sec"], teams: security }).verdict).toBe("compliant");
  });

  it("anyone's approvals, counted: short of the count fails, naming no list", () => {
    const record = judge({ policy: rule("{ count: 2 }"), reviewers: ["bob"] });
    expect(record.violations).toEqual([{ rule: "approval-rule", message: 'approval rule "owners" needs 2 independent approvals, has 1' }]);
    expect(judge({ policy: rule("{ count: 2 }"), reviewers: ["bob", "carol"] }).verdict).toBe("compliant");
  });

  it("two organisations seen in part: the reason for each is given", () => {
    const record = judge({ policy: rule("{ organizations: [acme, beta] }"), reviewers: ["bob"], orgs: acme([]) });
    expect(record.verdict).toBe("unverified");
    expect(record.violations[0]?.message).toBe(
      `approval rule "owners" needs 1 independent approval from members of acme, members of beta; cannot tell whether bob is a member: ${PUBLIC_ONLY}; organisation beta was not read ${TOKEN_HINT}`,
    );
  });
});

describe("and/or nested", () => {
  const rules = `approvalRules:
  - name: members
    requires: { organizations: [acme] }
  - name: leads
    requires: { users: [lead] }
  - name: anyone
`;
  it("an and whose parts are all met is met inside an or, whatever the or's other part", () => {
    const policy = `${rules}approvalPolicy: { or: [{ and: [leads, anyone] }, members] }\n`;
    expect(judge({ policy, reviewers: ["bob", "lead"], orgs: acme([]) }).verdict).toBe("compliant");
  });

  it("an or of a failed and and a failed rule names every failed rule, the and's joined by 'and'", () => {
    const policy = `${rules}approvalPolicy: { or: [{ and: [leads, members] }, leads] }\n`;
    const record = judge({ policy, reviewers: ["bob"], orgs: acme(["carol"], null) });
    const leadsFailed = 'approval rule "leads" needs 1 independent approval from lead, has 0';
    expect(record.violations).toEqual([
      {
        rule: "approval-rule",
        message: `none of these is met: ${leadsFailed} and approval rule "members" needs 1 independent approval from members of acme, has 0; or ${leadsFailed}`,
      },
    ]);
  });
});

describe("an emergency or exempt change", () => {
  it("an emergency change awaiting its retroactive review is reported as emergency, not compliant; approval rules wait for the review", () => {
    const policy = `exemptions: { emergency: {} }\n${MEMBERS}`;
    const record = judge({ policy, labels: ["emergency"], orgs: acme([]) });
    expect(record.verdict).toBe("emergency");
    expect(record.emergency?.status).toBe("pending");
  });

  it("a listed bot's change is reported as exempt, not compliant; its own violations still block", () => {
    const record = judge({ policy: "exemptions: { bots: [alice] }\n", reviewers: [] });
    expect(record.verdict).toBe("exempt");
    expect(record.exemption).toBe("bot:alice (exemptions.bots matched the PR author alice)");
    const checked = judge({ policy: "exemptions: { bots: [alice] }\nchecks: { required: [ci] }\n", reviewers: [] });
    expect(checked.verdict).toBe("noncompliant");
  });
});

describe("a provider request that failed", () => {
  const silent = new Logger({ tool: "sock-check", level: "error", stream: { write: () => true } as unknown as NodeJS.WritableStream });

  it("marks its commits unverified and skips every later request, marking those commits too", async () => {
    const facts = judgeFacts();
    const attempt = failClosed(facts, "GitHub API", silent);
    expect(await attempt(["s1"], async () => "answer")).toBe("answer");
    expect(facts.unverified.size).toBe(0);
    expect(await attempt(["s2", "s3"], () => Promise.reject(new Error("GitHub answered 502")))).toBeUndefined();
    let called = false;
    expect(
      await attempt(["s4"], async () => {
        called = true;
        return "late";
      }),
    ).toBeUndefined();
    expect(called).toBe(false);
    expect([...facts.unverified]).toEqual([
      ["s2", "GitHub answered 502"],
      ["s3", "GitHub answered 502"],
      ["s4", "not checked after an earlier API failure: GitHub answered 502"],
    ]);
    expect(facts.failure?.message).toBe("GitHub answered 502");
  });

  it("warns on stderr which provider failed and why, once", async () => {
    const lines: string[] = [];
    const log = new Logger({
      tool: "sock-check",
      level: "warn",
      stream: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream,
    });
    const attempt = failClosed(judgeFacts(), "GitHub API", log);
    await attempt(["s1"], () => Promise.reject(new Error("GitHub answered 502")));
    await attempt(["s2"], async () => "skipped");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("GitHub API request failed; the changes it covers are unverified");
    expect(lines[0]).toContain("GitHub answered 502");
  });

  it("keeps a thrown non-Error as the reason text", async () => {
    const facts = judgeFacts();
    await failClosed(facts, "GitLab API", silent)(["s1"], () => Promise.reject("socket hang up"));
    expect(facts.failure).toBeInstanceOf(Error);
    expect(facts.unverified.get("s1")).toBe("socket hang up");
  });
});

function judgeFacts(): ProviderFacts {
  return {
    commits: new Map(),
    pulls: new Map(),
    teams: new Map(),
    unreadTeams: new Map(),
    orgs: new Map(),
    unverified: new Map(),
    defaultBranch: null,
    failure: undefined,
  };
}

describe("the deploy's exit when changes are unverified", () => {
  const shas = Array.from({ length: 12 }, (_, i) => String(i).padStart(2, "0").repeat(20));
  const resultOf = (records: ChangeRecord[], failure?: Error, provider: "github" | "gitlab" = "github"): CheckResult => ({
    policy: parsePolicy(`provider: ${provider}\n`, "test policy"),
    facts: { ...judgeFacts(), failure },
    report: {
      schema: "opsguard.sock-check/v1",
      tool_version: "test",
      generated_at: "2024-05-02T00:00:00.000Z",
      repo: "acme/shop",
      provider,
      range: { from: BASE, to: MERGE, mode: "first-parent" },
      policy_source: "test policy",
      summary: summarize(records),
      records,
      requests: 0,
    },
  });
  const unverifiedRecords = () => judgeAll({ commits: shas, unverified: new Map(shas.map((s) => [s, "GitHub answered 502"])) });

  it("blocks with 69 (unavailable), naming ten commits and how many more, and the way past it", () => {
    const error = verdictError(resultOf(unverifiedRecords(), new Error("GitHub answered 502")), false);
    expect(error?.exitCode).toBe(ExitCode.UNAVAILABLE);
    expect(error?.message).toBe(
      `deploy blocked: 12 commits could not be verified (${shas
        .slice(0, 10)
        .map((s) => s.slice(0, 7))
        .join(", ")} and 2 more): GitHub answered 502`,
    );
    expect(error?.hint).toBe("fix access to GitHub and re-run, or pass --allow-unverified to let them through flagged");
  });

  it('a temporary failure (the run\'s deadline, a rate limit) gives its own way out, not "fix access"', () => {
    const deadline = new TempFailError("GitHub: the run's deadline (github.runTimeoutMs 300000) passed while reading x", {
      hint: "retry later, or raise the deadline if the API is this slow",
    });
    const error = verdictError(resultOf(unverifiedRecords(), deadline), false);
    expect(error?.exitCode).toBe(ExitCode.TEMP_FAIL);
    expect(error?.hint).toBe(
      "retry later, or raise the deadline if the API is this slow, or pass --allow-unverified to let them through flagged",
    );
  });

  it("lists exactly ten commits whole", () => {
    const error = verdictError(resultOf(unverifiedRecords().slice(0, 10)), false);
    expect(error?.message).toBe(
      `deploy blocked: 10 commits could not be verified (${shas
        .slice(0, 10)
        .map((s) => s.slice(0, 7))
        .join(", ")})`,
    );
  });

  it("takes the failure's own exit code, names GitLab for a GitLab policy, and lists few commits whole", () => {
    const records = unverifiedRecords().slice(0, 2);
    const error = unverifiedError(resultOf(records, new ConfigError("token refused"), "gitlab"), "retro incomplete", false);
    expect(error?.exitCode).toBe(ExitCode.CONFIG);
    expect(error?.message).toBe("retro incomplete: 2 commits could not be verified (0000000, 0101010): token refused");
    expect(error?.hint).toBe("fix access to GitLab and re-run");
    const unavailable = unverifiedError(resultOf(records, new UnavailableError("GitLab down")), "x", true);
    expect(unavailable?.exitCode).toBe(ExitCode.UNAVAILABLE);
  });

  it("--allow-unverified lets unverified changes through, never noncompliant ones; nothing unverified is no error", () => {
    expect(verdictError(resultOf(unverifiedRecords()), true)).toBeUndefined();
    expect(verdictError(resultOf(judgeAll({ reviewers: ["bob"] })), false)).toBeUndefined();
    const blocked = verdictError(resultOf([...judgeAll({}), ...unverifiedRecords()]), true);
    expect(blocked?.exitCode).toBe(ExitCode.FAILED);
    expect(blocked?.message).toBe(`deploy blocked: 1 noncompliant commit in ${BASE.slice(0, 7)}..${MERGE.slice(0, 7)}`);
  });
});
