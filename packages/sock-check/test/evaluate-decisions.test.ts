import { describe, expect, it } from "vitest";
import {
  type ChangeRecord,
  evaluate,
  type LocalCommit,
  type Person,
  type PullCommitFact,
  type PullFact,
  parsePolicy,
  type ReviewFact,
  type ReviewState,
} from "../src/index";

// sock-check's decisions on one merged PR (issue 19, mutation testing of sock-check-evaluate): which reviews
// count, what each verdict says, and when a bot or emergency exemption applies. evaluate() is pure, so each
// case is a hand-built fact set: one PR merged at noon, its merge commit on the deploy line.

const HEAD = "b".repeat(40);
const FIRST = "a".repeat(40);
const MERGE = "c".repeat(40);
const BASE = "d".repeat(40);
const alice: Person = { name: "Alice", email: "alice@corp.example", login: "alice" };
const MERGED_AT = "2024-05-01T12:00:00Z";

const review = (
  reviewer: string,
  state: ReviewState,
  at = "2024-05-01T10:00:00Z",
  commit = HEAD,
  extra: Partial<ReviewFact> = {},
): ReviewFact => ({
  reviewer,
  state,
  submittedAt: at,
  commit,
  ...extra,
});
const approve = (reviewer: string, at?: string, commit?: string) => review(reviewer, "APPROVED", at, commit);

const commitBy = (sha: string, author: Person, extra: Partial<PullCommitFact> = {}): PullCommitFact => ({
  sha,
  message: "SHOP-7 Change",
  authors: [author],
  committer: author,
  verified: true,
  ...extra,
});

function judge(
  pull: Partial<PullFact>,
  policy = "provider: github\n",
  now = "2024-05-02T00:00:00Z",
  cleanMerges: ReadonlySet<string> = new Set(),
): ChangeRecord {
  const full: PullFact = {
    number: 7,
    url: "https://github.example/acme/shop/pull/7",
    title: "SHOP-7 Change",
    body: "",
    author: "alice",
    headRef: "feature",
    headSha: HEAD,
    baseRef: "main",
    merged: true,
    mergedAt: MERGED_AT,
    mergedBy: "alice",
    mergeCommit: MERGE,
    labels: [],
    reviews: [],
    commits: [commitBy(HEAD, alice)],
    checks: [],
    ...pull,
  };
  const commit: LocalCommit = {
    sha: MERGE,
    parents: [],
    subject: "Merge pull request #7",
    message: "Merge pull request #7",
    author: { name: "Alice", email: "alice@corp.example" },
    committer: { name: "GitHub", email: "noreply@github.com" },
    authoredAt: MERGED_AT,
    coAuthors: [],
  };
  const [record] = evaluate({
    policy: parsePolicy(policy, "test policy"),
    repo: "acme/shop",
    range: { from: BASE, to: MERGE, mode: "first-parent" },
    commits: [commit],
    facts: {
      commits: new Map([[MERGE, { sha: MERGE, verified: true, authorLogin: "alice", committerLogin: "web-flow", pulls: [7] }]]),
      pulls: new Map([[7, full]]),
      teams: new Map(),
      unreadTeams: new Map(),
      orgs: new Map(),
      unverified: new Map(),
      defaultBranch: "main",
      failure: undefined,
    },
    changedPaths: new Map(),
    deployLine: new Set([MERGE]),
    deployBranches: ["main"],
    now: new Date(now),
    cleanMerges,
    toolVersion: "test",
  });
  return record!;
}

const rules = (r: ChangeRecord) => r.violations.map((v) => v.rule);

describe("sock-check evaluate: which reviews count", () => {
  it("a standing request for changes is a violation naming its reviewer, next to a valid approval", () => {
    const record = judge({ reviews: [approve("bob"), review("carol", "CHANGES_REQUESTED")] });
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([{ rule: "changes-requested", message: "changes requested by carol still stand" }]);
    // the request is listed, and does not count as an approval
    expect(record.approvals.map((a) => [a.reviewer, a.state, a.counts])).toEqual([
      ["bob", "APPROVED", true],
      ["carol", "CHANGES_REQUESTED", false],
    ]);
  });

  it("the same reviewer's later approval withdraws their request for changes; a request after the merge changes nothing", () => {
    const record = judge({ reviews: [review("carol", "CHANGES_REQUESTED", "2024-05-01T09:00:00Z"), approve("carol")] });
    expect(record.verdict).toBe("compliant");
    expect(record.approvals.map((a) => [a.state, a.counts, a.note])).toEqual([
      ["CHANGES_REQUESTED", false, undefined],
      ["APPROVED", true, undefined],
    ]);
    const late = judge({ reviews: [approve("bob"), review("carol", "CHANGES_REQUESTED", "2024-05-01T13:00:00Z")] });
    expect(late.verdict).toBe("compliant");
    expect(late.approvals[1]).toMatchObject({ reviewer: "carol", counts: false, note: "after the merge" });
  });

  it("comments and pending reviews are not listed as approvals, and an approval superseded by a request does not count", () => {
    const record = judge({
      reviews: [
        review("bob", "COMMENTED"),
        review("dave", "PENDING"),
        approve("erin", "2024-05-01T09:00:00Z"),
        review("erin", "CHANGES_REQUESTED"),
      ],
    });
    expect(record.approvals.map((a) => [a.reviewer, a.state, a.counts, a.note])).toEqual([
      ["erin", "APPROVED", false, "superseded by a later review"],
      ["erin", "CHANGES_REQUESTED", false, undefined],
    ]);
    expect(rules(record)).toEqual(["approvals", "changes-requested"]);
  });

  it("a GitHub App's approval is not a person's: it does not count and the message says why", () => {
    const bot = review("github-actions", "APPROVED", undefined, HEAD, { reviewerType: "Bot" });
    const record = judge({ reviews: [bot] });
    expect(record.violations).toEqual([
      {
        rule: "approvals",
        message: "needs 1 independent approval, has 0; approval by github-actions does not count (a bot, not a reviewer)",
      },
    ]);
    expect(record.approvals[0]).toMatchObject({ counts: false, note: "reviewer is a Bot account, not a person" });
    // a reviewer GitHub types as User counts
    expect(judge({ reviews: [review("bob", "APPROVED", undefined, HEAD, { reviewerType: "User" })] }).verdict).toBe("compliant");
  });

  it("the PR author's own approval is self-approval; with another approval short of two it is a count problem", () => {
    const self = judge({ reviews: [approve("alice")] });
    expect(self.violations).toEqual([
      {
        rule: "self-approval",
        message: "needs 1 independent approval, has 0; approval by alice does not count (author, co-author or committer)",
      },
    ]);
    expect(self.approvals[0]).toMatchObject({ counts: false, note: "reviewer is the PR author, a commit author/co-author or committer" });
    const short = judge({ reviews: [approve("alice"), approve("bob")] }, "approvals:\n  required: 2\n");
    expect(short.violations).toEqual([
      {
        rule: "approvals",
        message: "needs 2 independent approvals, has 1; approval by alice does not count (author, co-author or committer)",
      },
    ]);
  });

  it("the committer of a PR commit cannot approve, nor can an approval without a reviewer (a deleted account)", () => {
    const carol: Person = { name: "Carol", email: "carol@corp.example", login: "carol" };
    const record = judge({ commits: [commitBy(HEAD, alice, { committer: carol })], reviews: [approve("carol")] });
    expect(rules(record)).toEqual(["self-approval"]);
    const ghost = judge({ reviews: [{ reviewer: null, state: "APPROVED", submittedAt: "2024-05-01T10:00:00Z", commit: HEAD }] });
    expect(ghost.approvals[0]).toMatchObject({ counts: false });
    expect(ghost.verdict).toBe("noncompliant");
  });

  it("does not count an approval whose account type the provider left out, and says so rather than calling it a bot", () => {
    const untyped: ReviewFact = {
      reviewer: "bob",
      reviewerType: null,
      state: "APPROVED",
      submittedAt: "2024-05-01T10:00:00Z",
      commit: HEAD,
    };
    const record = judge({ reviews: [untyped] });
    expect(record.approvals[0]).toMatchObject({
      counts: false,
      note: "the provider did not say whether the reviewer is a person or a bot",
    });
    expect(record.violations.map((v) => v.message)).toEqual([
      "needs 1 independent approval, has 0; approval by bob does not count (the provider did not say whether the account is a person or a bot)",
    ]);
  });

  it("calls an approval by a deleted account (GitHub's ghost) what it is: no independent review, not a self-approval", () => {
    const deleted: ReviewFact = { reviewer: null, state: "APPROVED", submittedAt: "2024-05-01T10:00:00Z", commit: HEAD };
    const ghost = judge({ reviews: [deleted] });
    expect(ghost.approvals[0]).toMatchObject({
      counts: false,
      note: "reviewer is a deleted account (GitHub's or GitLab's ghost): whose approval it was cannot be told",
    });
    expect(ghost.violations).toEqual([
      {
        rule: "approvals",
        message:
          "needs 1 independent approval, has 0; an approval by a deleted account does not count (whose it was cannot be told, so it is no independent review)",
      },
    ]);
    // Beside a self-approval, each is named for what it is.
    const both = judge({ reviews: [approve("alice"), deleted, { ...deleted, submittedAt: "2024-05-01T11:00:00Z" }] });
    expect(both.violations).toEqual([
      {
        rule: "self-approval",
        message:
          "needs 1 independent approval, has 0; approval by alice does not count (author, co-author or committer); 2 approvals by deleted accounts do not count (whose it was cannot be told, so it is no independent review)",
      },
    ]);
  });

  it("GitHub's own committer (web-flow, noreply@github.com) makes nobody a co-author", () => {
    const web: Person = { name: "GitHub", email: "noreply@github.com", login: "web-flow" };
    const record = judge({ commits: [commitBy(HEAD, alice, { committer: web })], reviews: [approve("web-flow")] });
    // web-flow is no reviewer in practice; what matters is that the platform account is not listed as a conflict
    expect(record.approvals[0]).toMatchObject({ reviewer: "web-flow", counts: true });
  });

  it("zero required approvals: a PR without reviews is compliant, and no stale-approval check applies", () => {
    expect(judge({ reviews: [] }, "approvals:\n  required: 0\n").verdict).toBe("compliant");
    expect(judge({ reviews: [approve("bob", undefined, FIRST)] }, "approvals:\n  required: 0\n").violations).toEqual([]);
  });
});

describe("sock-check evaluate: approvals on the final head", () => {
  const twoCommits = [commitBy(FIRST, alice, { parents: [BASE] }), commitBy(HEAD, alice, { parents: [FIRST] })];

  it("an approval before a later push is stale, named in the message with the head", () => {
    const record = judge({ commits: twoCommits, reviews: [approve("bob", undefined, FIRST)] });
    expect(record.violations).toEqual([
      { rule: "stale-approval", message: "no approval on the final head bbbbbbb: bob approved before later pushes" },
    ]);
    expect(record.approvals[0]).toMatchObject({ on_head: false, counts: true });
    // with requireOnHead off, the same approval is enough
    expect(
      judge({ commits: twoCommits, reviews: [approve("bob", undefined, FIRST)] }, "approvals:\n  requireOnHead: false\n").verdict,
    ).toBe("compliant");
  });

  it("a later push by a login in ignoreCommitsBy keeps the approval on the head; anyone else's push does not", () => {
    const renovate: Person = { name: "renovate[bot]", email: "bot@renovate.example", login: "renovate[bot]" };
    const bumped = [commitBy(FIRST, alice, { parents: [BASE] }), commitBy(HEAD, renovate, { parents: [FIRST] })];
    const policy = "approvals:\n  ignoreCommitsBy: [renovate]\n";
    const kept = judge({ commits: bumped, reviews: [approve("bob", undefined, FIRST)] }, policy);
    expect(kept.verdict).toBe("compliant");
    expect(kept.approvals[0]).toMatchObject({ on_head: true });
    // the same push unsigned proves nothing about who made it
    const unsigned = [bumped[0]!, commitBy(HEAD, renovate, { parents: [FIRST], verified: false })];
    expect(rules(judge({ commits: unsigned, reviews: [approve("bob", undefined, FIRST)] }, policy))).toEqual(["stale-approval"]);
    expect(rules(judge({ commits: twoCommits, reviews: [approve("bob", undefined, FIRST)] }, policy))).toEqual(["stale-approval"]);
    // without parents (a provider that does not report them) nothing is ignored
    const noParents = [commitBy(FIRST, alice), commitBy(HEAD, renovate)];
    expect(rules(judge({ commits: noParents, reviews: [approve("bob", undefined, FIRST)] }, policy))).toEqual(["stale-approval"]);
  });
});

describe("sock-check evaluate: bot exemption", () => {
  const dependabot: Person = { name: "dependabot[bot]", email: "49699333+dependabot[bot]@users.noreply.github.com" };
  const web: Person = { name: "GitHub", email: "noreply@github.com", login: "web-flow" };
  const botCommit = commitBy(HEAD, dependabot, { committer: web, message: "Bump lodash" });
  const policy = "exemptions:\n  bots: [dependabot]\n";

  it("a listed GitHub App's PR needs no review and no ticket, and says which entry matched", () => {
    const record = judge({ author: "dependabot[bot]", authorType: "Bot", title: "Bump lodash", commits: [botCommit] }, policy);
    expect(record.verdict).toBe("exempt");
    expect(record.exemption).toBe("bot:dependabot (exemptions.bots matched the PR author dependabot[bot], a bot account)");
    expect(record.violations).toEqual([]);
  });

  it("a user account named like the bot gets no exemption, nor does the bot's PR with a person's commit in it", () => {
    const user = judge({ author: "dependabot[bot]", authorType: "User", title: "Bump lodash", commits: [botCommit] }, policy);
    expect(user.exemption).toBeNull();
    expect(rules(user)).toEqual(["approvals", "ticket"]);
    const mixed = judge(
      { author: "dependabot[bot]", authorType: "Bot", title: "Bump lodash", commits: [botCommit, commitBy(FIRST, alice)] },
      policy,
    );
    expect(mixed.exemption).toBeNull();
    expect(mixed.verdict).toBe("noncompliant");
  });

  it("an exact login match exempts a user account that is listed as a bot, naming it without 'a bot account'", () => {
    const ci: Person = { name: "ci", email: "ci@corp.example", login: "ci-bot" };
    const record = judge({ author: "ci-bot", title: "Bump", commits: [commitBy(HEAD, ci)] }, "exemptions:\n  bots: [CI-Bot]\n");
    expect(record.exemption).toBe("bot:CI-Bot (exemptions.bots matched the PR author ci-bot)");
  });
});

describe("sock-check evaluate: emergency changes", () => {
  const policy = "exemptions:\n  emergency:\n    label: hotfix\n    reviewWithin: 24h\n";

  it("an unreviewed hotfix is pending until the review is due, then overdue", () => {
    const pending = judge({ labels: ["hotfix"] }, policy, "2024-05-01T20:00:00Z");
    expect(pending.verdict).toBe("emergency");
    expect(pending.emergency).toMatchObject({
      label: "hotfix",
      due_at: "2024-05-02T12:00:00.000Z",
      status: "pending",
      retro_reviewer: null,
    });
    expect(pending.violations).toEqual([]);
    const overdue = judge({ labels: ["hotfix"] }, policy, "2024-05-03T00:00:00Z");
    expect(overdue.emergency?.status).toBe("overdue");
    expect(overdue.violations).toEqual([
      { rule: "retro-overdue", message: "emergency change: retroactive review was due 2024-05-02T12:00:00.000Z and has not happened" },
    ]);
  });

  it("a retroactive approval by someone else closes it; the author's own does not", () => {
    const done = judge({ labels: ["hotfix"], reviews: [approve("bob", "2024-05-01T15:00:00Z")] }, policy, "2024-05-03T00:00:00Z");
    expect(done.emergency).toMatchObject({ status: "done", retro_reviewer: "bob", retro_reviewed_at: "2024-05-01T15:00:00Z" });
    const own = judge({ labels: ["hotfix"], reviews: [approve("alice", "2024-05-01T15:00:00Z")] }, policy, "2024-05-03T00:00:00Z");
    expect(own.emergency?.status).toBe("overdue");
  });

  it("the label on a reviewed PR is no emergency, and another label is none either", () => {
    expect(judge({ labels: ["hotfix"], reviews: [approve("bob")] }, policy).emergency).toBeNull();
    const other = judge({ labels: ["urgent"] }, policy);
    expect(other.emergency).toBeNull();
    expect(rules(other)).toEqual(["approvals"]);
  });
});

describe("sock-check evaluate: tickets and signatures", () => {
  it("a ticket in the branch name, body or a commit message is enough; none anywhere is a violation unless not required", () => {
    const none = { title: "Change", commits: [commitBy(HEAD, alice, { message: "Change" })], reviews: [approve("bob")] };
    expect(judge(none).violations).toEqual([
      { rule: "ticket", message: "no ticket reference in the PR title, body, branch or commit messages" },
    ]);
    expect(judge({ ...none, headRef: "SHOP-9-fix" }).tickets).toEqual(["SHOP-9"]);
    expect(judge({ ...none, body: "Fixes SHOP-10" }).tickets).toEqual(["SHOP-10"]);
    expect(judge({ ...none, commits: [commitBy(HEAD, alice, { message: "SHOP-11 fix" })] }).tickets).toEqual(["SHOP-11"]);
    expect(judge(none, "ticket:\n  required: false\n").verdict).toBe("compliant");
  });

  it("with signedCommits, an unverified PR commit is named", () => {
    const record = judge({ commits: [commitBy(HEAD, alice, { verified: false })], reviews: [approve("bob")] }, "signedCommits: true\n");
    expect(record.violations).toEqual([{ rule: "unsigned", message: "unsigned or unverified commits: bbbbbbb" }]);
    expect(judge({ commits: [commitBy(HEAD, alice, { verified: false })], reviews: [approve("bob")] }).verdict).toBe("compliant");
  });
});

// Survivors of the sock-check-evaluate run after the tests above (issue 19): each case below differs from a
// passing one by the one fact a mutant ignored.
describe("sock-check evaluate: the edges mutation testing found unpinned", () => {
  const OUTSIDE = "e".repeat(40);
  const UPDATE = "f".repeat(40);
  const web: Person = { name: "GitHub", email: "noreply@github.com", login: "web-flow" };
  const fmt: Person = { name: "fmt-bot", email: "fmt@bots.example", login: "fmt-bot" };
  const byFmt = (extra: Partial<PullCommitFact> = {}) => [
    commitBy(FIRST, alice, { parents: [BASE] }),
    commitBy(HEAD, fmt, { parents: [FIRST], committer: web, ...extra }),
  ];
  const ignoring = "approvals:\n  ignoreCommitsBy: [fmt-bot]\n";
  const onFirst = [approve("bob", undefined, FIRST)];

  it("an update merge keeps an approval only when ignoreUpdateMerges is on, it merges the base in, and it is clean", () => {
    const commits = [commitBy(FIRST, alice, { parents: [BASE] }), commitBy(HEAD, alice, { parents: [FIRST, OUTSIDE] })];
    const policy = "approvals:\n  ignoreUpdateMerges: true\n";
    const kept = judge({ commits, reviews: onFirst }, policy, undefined, new Set([HEAD]));
    expect(kept.verdict).toBe("compliant");
    expect(kept.approvals[0]).toMatchObject({ on_head: true });
    // an "evil merge" (not the clean merge of its parents), the option off, or a merge of two PR commits
    expect(rules(judge({ commits, reviews: onFirst }, policy))).toEqual(["stale-approval"]);
    expect(rules(judge({ commits, reviews: onFirst }, "provider: github\n", undefined, new Set([HEAD])))).toEqual(["stale-approval"]);
    const inner = [
      commitBy(FIRST, alice, { parents: [BASE] }),
      commitBy(UPDATE, alice, { parents: [BASE] }),
      commitBy(HEAD, alice, { parents: [FIRST, UPDATE] }),
    ];
    expect(rules(judge({ commits: inner, reviews: onFirst }, policy, undefined, new Set([HEAD])))).toEqual(["stale-approval"]);
    // a plain commit listed as clean is no merge
    const plain = [commitBy(FIRST, alice, { parents: [BASE] }), commitBy(HEAD, alice, { parents: [FIRST] })];
    expect(rules(judge({ commits: plain, reviews: onFirst }, policy, undefined, new Set([HEAD])))).toEqual(["stale-approval"]);
    // a single-parent commit onto the base (a rebase) is no update merge, clean or not
    const rebased = [commitBy(FIRST, alice, { parents: [BASE] }), commitBy(HEAD, alice, { parents: [OUTSIDE] })];
    expect(rules(judge({ commits: rebased, reviews: onFirst }, policy, undefined, new Set([HEAD])))).toEqual(["stale-approval"]);
    // one clean update merge and one evil one after the approval: stale
    const two = [
      commitBy(FIRST, alice, { parents: [BASE] }),
      commitBy(UPDATE, alice, { parents: [FIRST, OUTSIDE] }),
      commitBy(HEAD, alice, { parents: [UPDATE, BASE] }),
    ];
    expect(rules(judge({ commits: two, reviews: onFirst }, policy, undefined, new Set([UPDATE])))).toEqual(["stale-approval"]);
    expect(judge({ commits: two, reviews: onFirst }, policy, undefined, new Set([UPDATE, HEAD])).verdict).toBe("compliant");
    // parents unknown for one commit: nothing is ignored
    const unknown = [commitBy(FIRST, alice), commitBy(HEAD, alice, { parents: [FIRST, OUTSIDE] })];
    expect(rules(judge({ commits: unknown, reviews: onFirst }, policy, undefined, new Set([HEAD])))).toEqual(["stale-approval"]);
  });

  it("an ignored bot push must be signed, by the bot alone, committed by the bot or GitHub", () => {
    expect(judge({ commits: byFmt(), reviews: onFirst }, ignoring).verdict).toBe("compliant");
    // GitHub as committer known by its e-mail only, in any case
    const byMail = { name: "GitHub", email: "NoReply@GitHub.com" };
    expect(judge({ commits: byFmt({ committer: byMail }), reviews: onFirst }, ignoring).verdict).toBe("compliant");
    expect(judge({ commits: byFmt({ committer: fmt }), reviews: onFirst }, ignoring).verdict).toBe("compliant");
    for (const extra of [
      { verified: false },
      { authors: [] },
      { authors: [fmt, alice] },
      { committer: alice },
      { committer: { name: "GitHub", email: "alice@corp.example", login: "web-flow-not" } },
    ] as Partial<PullCommitFact>[])
      expect(rules(judge({ commits: byFmt(extra), reviews: onFirst }, ignoring)), JSON.stringify(extra)).toEqual(["stale-approval"]);
    // a bot known by its no-reply address (with or without the numeric ID), not by a look-alike domain
    for (const email of ["123+fmt-bot@users.noreply.github.com", "fmt-bot@users.noreply.github.com", "FMT-BOT@users.noreply.github.com"])
      expect(judge({ commits: byFmt({ authors: [{ name: "fmt", email }] }), reviews: onFirst }, ignoring).verdict, email).toBe("compliant");
    for (const email of ["fmt-bot@users.noreply.github.com.evil.example", "x@fmt-bot@users.noreply.github.com"])
      expect(rules(judge({ commits: byFmt({ authors: [{ name: "fmt", email }] }), reviews: onFirst }, ignoring)), email).toEqual([
        "stale-approval",
      ]);
  });

  it("who may not approve: the PR author by login in any case, an identity with any listed address, a no-reply co-author", () => {
    const dave = judge({ author: "Dave", reviews: [approve("dave")] });
    expect(dave.violations.map((v) => v.rule)).toEqual(["self-approval"]);
    const carolMail: Person = { name: "Carol", email: "Carol.Work@Corp.Example" };
    const policy = "identities:\n  carol: [home@carol.example, carol.work@corp.example]\n  erin: [erin@corp.example]\n";
    const commits = [commitBy(HEAD, alice, { authors: [alice, carolMail] })];
    expect(rules(judge({ commits, reviews: [approve("carol")] }, policy))).toEqual(["self-approval"]);
    expect(judge({ commits, reviews: [approve("erin")] }, policy).verdict).toBe("compliant");
    // a look-alike of GitHub's no-reply domain names nobody
    const lookalike: Person = { name: "Bob", email: "bob@users.noreply.github.com.evil.example" };
    expect(judge({ commits: [commitBy(HEAD, alice, { authors: [alice, lookalike] })], reviews: [approve("bob")] }).verdict).toBe(
      "compliant",
    );
  });

  it("reviews are read in time order; one at the merge's second counts, one approval on the head is enough", () => {
    const late = review("bob", "CHANGES_REQUESTED", "2024-05-01T11:00:00Z");
    expect(rules(judge({ reviews: [late, approve("bob", "2024-05-01T10:00:00Z")] }))).toEqual(["approvals", "changes-requested"]);
    const atMerge = judge({ reviews: [approve("bob", MERGED_AT)] });
    expect(atMerge.verdict).toBe("compliant");
    expect(atMerge.approvals[0]?.note).toBeUndefined();
    const commits = [commitBy(FIRST, alice, { parents: [BASE] }), commitBy(HEAD, alice, { parents: [FIRST] })];
    expect(judge({ commits, reviews: [approve("bob", undefined, FIRST), approve("carol", undefined, HEAD)] }).verdict).toBe("compliant");
  });

  it("with signedCommits only the unsigned commits are named, and all signed passes", () => {
    const commits = [commitBy(FIRST, alice, { verified: false }), commitBy(HEAD, alice)];
    expect(judge({ commits, reviews: [approve("bob")] }, "signedCommits: true\n").violations).toEqual([
      { rule: "unsigned", message: "unsigned or unverified commits: aaaaaaa" },
    ]);
    expect(judge({ commits: [commitBy(HEAD, alice)], reviews: [approve("bob")] }, "signedCommits: true\n").verdict).toBe("compliant");
  });

  it("a hotfix's retro review is an approval after the merge: not a comment, not one before; due means after the deadline", () => {
    const policy = "exemptions:\n  emergency:\n    label: hotfix\n    reviewWithin: 24h\n";
    const comment = review("bob", "COMMENTED", "2024-05-01T15:00:00Z");
    expect(judge({ labels: ["hotfix"], reviews: [comment] }, policy, "2024-05-03T00:00:00Z").emergency?.status).toBe("overdue");
    expect(judge({ labels: ["hotfix"], reviews: [approve("bob", MERGED_AT)] }, policy, "2024-05-03T00:00:00Z").emergency).toBeNull();
    expect(judge({ labels: ["hotfix"] }, policy, "2024-05-02T12:00:00.000Z").emergency?.status).toBe("pending");
    // short of two approvals, one given at the merge's second is no retroactive review
    const two = "approvals:\n  required: 2\nexemptions:\n  emergency:\n    label: hotfix\n    reviewWithin: 24h\n";
    expect(judge({ labels: ["hotfix"], reviews: [approve("bob", MERGED_AT)] }, two, "2024-05-03T00:00:00Z").emergency?.status).toBe(
      "overdue",
    );
  });
});

describe("sock-check evaluate: check runs whose suite the answer leaves out (T43 N2)", () => {
  const policy = "provider: github\nchecks:\n  required: [build]\n";
  const run = (state: string, at: string, suite: string | null) =>
    ({ name: "build", app: "github-actions", kind: "check_run", state, at, sha: HEAD, suite }) as const;

  it("each stands on its own: a later success does not hide an earlier failure", () => {
    const record = judge(
      { reviews: [approve("bob")], checks: [run("failure", "2024-05-01T11:40:00Z", null), run("success", "2024-05-01T11:50:00Z", null)] },
      policy,
    );
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations.map((v) => v.message)).toEqual([expect.stringMatching(/^required check build is failure on head/)]);
  });

  it("within one named suite the re-run still stands for the attempt it replaced", () => {
    const record = judge(
      {
        reviews: [approve("bob")],
        checks: [run("failure", "2024-05-01T11:40:00Z", "CS_1"), run("success", "2024-05-01T11:50:00Z", "CS_1")],
      },
      policy,
    );
    expect(record.verdict).toBe("compliant");
  });
});
