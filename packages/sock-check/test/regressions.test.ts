import { describe, expect, it } from "vitest";
import { type ChangeRecord, evaluate, type LocalCommit, type Person, type PullFact, parsePolicy, type ReviewFact } from "../src/index";
import { oneLine } from "../src/report/digest";
import { md } from "../src/report/markdown";

// Named regression tests for decisions a single-line break once slipped past the suite (issue 19): who counts
// as a co-author of a change (the identities map, GitHub noreply addresses) and which approvals count.
// evaluate() is pure, so each case is a hand-built fact set: one merged PR, one commit on the deploy line.

const HEAD = "b".repeat(40);
const OLD = "a".repeat(40);
const SHA = "c".repeat(40);
const alice: Person = { name: "Alice", email: "alice@corp.example", login: "alice" };

interface Case {
  policy?: string;
  coAuthors?: Person[];
  reviews: ReviewFact[];
}

const approve = (reviewer: string, commit = HEAD, at = "2024-05-01T10:00:00Z"): ReviewFact => ({
  reviewer,
  state: "APPROVED",
  submittedAt: at,
  commit,
});

function judge({ policy = "provider: github\n", coAuthors = [], reviews }: Case): ChangeRecord {
  const pull: PullFact = {
    number: 7,
    url: "https://github.example/acme/shop/pull/7",
    title: "SHOP-7 Change",
    body: "",
    author: "alice",
    headRef: "feature",
    headSha: HEAD,
    baseRef: "main",
    merged: true,
    mergedAt: "2024-05-01T12:00:00Z",
    mergedBy: "alice",
    mergeCommit: SHA,
    labels: [],
    reviews,
    commits: [{ sha: HEAD, message: "SHOP-7 Change", authors: [alice, ...coAuthors], committer: alice, verified: true }],
    checks: [],
  };
  const commit: LocalCommit = {
    sha: SHA,
    parents: [],
    subject: "Merge pull request #7",
    message: "Merge pull request #7",
    author: { name: "Alice", email: "alice@corp.example" },
    committer: { name: "GitHub", email: "noreply@github.com" },
    authoredAt: "2024-05-01T12:00:00Z",
    coAuthors: [],
  };
  const [record] = evaluate({
    policy: parsePolicy(policy, "test policy"),
    repo: "acme/shop",
    range: { from: OLD, to: SHA, mode: "first-parent" },
    commits: [commit],
    facts: {
      commits: new Map([[SHA, { sha: SHA, verified: true, authorLogin: "alice", committerLogin: "web-flow", pulls: [7] }]]),
      pulls: new Map([[7, pull]]),
      teams: new Map(),
      unreadTeams: new Map(),
      orgs: new Map(),
      unverified: new Map(),
      defaultBranch: "main",
      failure: undefined,
    },
    changedPaths: new Map(),
    deployLine: new Set([SHA]),
    deployBranches: ["main"],
    now: new Date("2024-05-02T00:00:00Z"),
    toolVersion: "test",
  });
  return record!;
}

const rules = (r: ChangeRecord) => r.violations.map((v) => v.rule);

describe("sock-check regressions: who is a co-author", () => {
  it("identities map: a co-author whose commit e-mail is listed under a login cannot approve as that login", () => {
    const bobAtHome: Person = { name: "Bob", email: "Bob@Home.example" }; // the provider could not link it
    const listed = judge({ policy: "identities:\n  bob: [bob@home.example]\n", coAuthors: [bobAtHome], reviews: [approve("bob")] });
    expect(listed.verdict).toBe("noncompliant");
    expect(rules(listed)).toEqual(["self-approval"]);
    expect(listed.approvals[0]).toMatchObject({ reviewer: "bob", counts: false });
    // control: without the map nothing ties the address to bob, so his approval counts
    expect(judge({ coAuthors: [bobAtHome], reviews: [approve("bob")] }).verdict).toBe("compliant");
  });

  it("GitHub noreply address: ID+login@users.noreply.github.com makes that login a co-author", () => {
    for (const email of ["12345+carol@users.noreply.github.com", "carol@users.noreply.github.com"]) {
      const record = judge({ coAuthors: [{ name: "Carol", email }], reviews: [approve("carol")] });
      expect(record.verdict, email).toBe("noncompliant");
      expect(rules(record), email).toEqual(["self-approval"]);
    }
    // control: an independent reviewer still counts next to her
    expect(
      judge({ coAuthors: [{ name: "Carol", email: "12345+carol@users.noreply.github.com" }], reviews: [approve("dave")] }).verdict,
    ).toBe("compliant");
  });
});

describe("sock-check regressions: which approvals count", () => {
  it("an ineligible approval on the final head does not make an eligible but stale approval current", () => {
    const dave: Person = { name: "Dave", email: "dave@corp.example", login: "dave" };
    const record = judge({ coAuthors: [dave], reviews: [approve("bob", OLD, "2024-05-01T09:00:00Z"), approve("dave")] });
    expect(record.verdict).toBe("noncompliant");
    expect(rules(record)).toEqual(["stale-approval"]);
    expect(record.approvals.map((a) => [a.reviewer, a.on_head, a.counts])).toEqual([
      ["bob", false, true],
      ["dave", true, false],
    ]);
  });

  it("a stale approval superseded by the same reviewer's later dismissal does not count", () => {
    const record = judge({
      reviews: [
        approve("bob", HEAD, "2024-05-01T09:00:00Z"),
        { reviewer: "bob", state: "DISMISSED", submittedAt: "2024-05-01T10:00:00Z", commit: HEAD },
      ],
    });
    expect(record.verdict).toBe("noncompliant");
    expect(rules(record)).toEqual(["approvals"]);
    expect(record.approvals[0]).toMatchObject({ reviewer: "bob", counts: false, note: "superseded by a later review" });
  });

  it("an approval given after the merge does not count as review before it", () => {
    const record = judge({ reviews: [approve("bob", HEAD, "2024-05-01T13:00:00Z")] });
    expect(record.verdict).toBe("noncompliant");
    expect(rules(record)).toEqual(["approvals"]);
    expect(record.approvals[0]).toMatchObject({ counts: false, note: "after the merge" });
  });

  it("one reviewer spelled in two cases is one approval (GitHub logins are case-insensitive; r13 finding 9)", () => {
    const record = judge({
      policy: "approvals:\n  required: 2\n",
      reviews: [approve("carol", HEAD, "2024-05-01T09:00:00Z"), approve("Carol")],
    });
    expect(record.verdict).toBe("noncompliant");
    expect(record.violations).toEqual([{ rule: "approvals", message: "needs 2 independent approvals, has 1" }]);
    // control: two people
    expect(judge({ policy: "approvals:\n  required: 2\n", reviews: [approve("carol"), approve("dave")] }).verdict).toBe("compliant");
  });

  it("control: one independent approval on the head is compliant (the cases above differ by one fact)", () => {
    expect(judge({ reviews: [approve("bob")] }).verdict).toBe("compliant");
  });
});

describe("sock-check regressions: what a PR title can do to a reader", () => {
  it("shows bidi controls (U+202E ...) in the digest and Markdown instead of letting them reorder the text (r13 finding 10)", () => {
    const title = "SHOP-1 Fix \u202eexe.txt\u2066 \u2028done";
    expect(oneLine(title)).toBe("SHOP-1 Fix \\u{202e}exe.txt\\u{2066} \\u{2028}done");
    expect(md(title)).toBe("SHOP-1 Fix \\\\u\\{202e\\}exe.txt\\\\u\\{2066\\} \\\\u\\{2028\\}done");
    for (const text of [oneLine(title), md(title)]) expect(text).not.toMatch(/[\u2028\u202a-\u202e\u2066-\u2069]/);
  });

  it("shows the invisible format characters (U+200B, U+FEFF) too, as core does: a ticket key or login padded with one reads as another", () => {
    const title = "SHOP-1\u200b Fix\ufeff it";
    expect(oneLine(title)).toBe("SHOP-1\\u{200b} Fix\\u{feff} it");
    expect(md(title)).toBe("SHOP-1\\\\u\\{200b\\} Fix\\\\u\\{feff\\} it");
  });
});
