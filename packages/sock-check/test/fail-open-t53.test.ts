import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import type { LocalCommit } from "../src/git";
import { collectGitHubFacts } from "../src/github";
import type { GitHubApi } from "../src/github-api";
import { envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/**
 * Ways past the gate the T53 black-box tester found on GitHub (notes/t52-sock-check.md), each checked as a user
 * sees it: the exit code and what the run says.
 */

let scenario: GitHubScenario;

beforeAll(async () => {
  scenario = await startScenario();
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(scenario.sim.url) } });
  scenario.tag("c0");
  scenario.pullRequest({ title: "SHOP-1 Add the cart", author: "bob", reviews: [{ by: "carol" }], checks: { build: "success" } });
  scenario.tag("c1");
  // bob's PR with a commit of carol's, approved by carol: a self-approval, as long as GitHub lists her commit
  scenario.pullRequest({
    title: "SHOP-2 Add the till",
    author: "bob",
    commits: [
      { message: "SHOP-2 Add the till", author: "bob", files: { "till.txt": "till\n" } },
      { message: "SHOP-2 Round the totals", author: "carol", files: { "round.txt": "round\n" } },
    ],
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  scenario.tag("c2");
  scenario.build();
}, 60_000);

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

const run = (...args: string[]) => runSockCheck(["--from", "c0", "--to", "c1", ...args], { cwd: scenario.dir, env: envFor(scenario) });

describe("a token GitHub refuses for an organisation enforcing SAML SSO (F8)", () => {
  it("is a refused token: 77, also with --allow-unverified, saying what to fix", async () => {
    expect((await run()).code).toBe(0);
    // GitHub's answer: HTTP 200, repository null and a FORBIDDEN error on its path (the simulator's partial answer).
    const lift = scenario.sim.failGraphQLField({
      typeName: "Query",
      fieldName: "repository",
      type: "FORBIDDEN",
      message:
        "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.",
    });
    try {
      for (const extra of [[], ["--allow-unverified"]]) {
        const refused = await run(...extra);
        expect(refused.code).toBe(77);
        expect(refused.stdout).toContain("BLOCKED");
        expect(refused.stderr).toContain(
          "GitHub refuses this token for repository acme/shop: Resource protected by organization SAML enforcement.",
        );
        expect(refused.stderr).not.toContain("--allow-unverified to let them through");
        if (extra.length > 0) expect(refused.stderr).toContain("--allow-unverified does not cover a refused token");
      }
    } finally {
      lift();
    }
  });
});

/** Runs `body` with PR #1's data and the check runs changed by `change`, then puts them back. */
async function withChanged(change: () => void, body: () => Promise<void>): Promise<void> {
  const pull = scenario.sim.pulls.get(1)!;
  const saved = structuredClone(pull);
  const runs = structuredClone(scenario.sim.checkRuns);
  change();
  try {
    await body();
  } finally {
    Object.assign(pull, saved);
    scenario.sim.checkRuns.splice(0, scenario.sim.checkRuns.length, ...runs);
  }
}

/** The only build run on PR #1's head, as the scenario made it. */
function buildRun() {
  const head = scenario.pull(1).headSha;
  return scenario.sim.checkRuns.find((r) => r.headSha === head && r.name === "build")!;
}

describe("times are compared as instants, and a missing one never counts for a pass (F1, F2, F4)", () => {
  it("does not count an approval without a submission time: it cannot be placed before the merge", async () => {
    await withChanged(
      () => {
        // PullRequestReview.submittedAt is nullable in GitHub's schema.
        (scenario.sim.pulls.get(1)!.reviews[0] as { submittedAt: string | null }).submittedAt = null;
      },
      async () => {
        const blocked = await run();
        expect(blocked.code).toBe(1);
        expect(blocked.stdout).toContain(
          "needs 1 independent approval, has 0; approval by carol does not count (the provider gave no readable time for it, so it cannot be told to come before the merge)",
        );
      },
    );
  });

  it("does not count an approval written with an offset that is after the merge", async () => {
    await withChanged(
      () => {
        const pull = scenario.sim.pulls.get(1)!;
        pull.mergedAt = "2026-12-02T11:00:00Z";
        pull.reviews[0]!.submittedAt = "2026-12-02T10:30:00-02:00"; // 12:30Z: 1.5 h after the merge
      },
      async () => {
        const blocked = await run();
        expect(blocked.code).toBe(1);
        expect(blocked.stdout).toContain("needs 1 independent approval, has 0");
      },
    );
  });

  it("lets a later 'changes requested' written with an offset stand over an earlier approval", async () => {
    await withChanged(
      () => {
        const pull = scenario.sim.pulls.get(1)!;
        pull.mergedAt = "2026-12-02T18:00:00Z";
        pull.reviews[0]!.submittedAt = "2026-12-02T12:00:00Z";
        // 16:00Z, after the approval; GitHub lists reviews in the order they were given
        pull.reviews.push({ ...pull.reviews[0]!, id: 9001, state: "CHANGES_REQUESTED", submittedAt: "2026-12-02T11:00:00-05:00" });
      },
      async () => {
        const blocked = await run();
        expect(blocked.code).toBe(1);
        expect(blocked.stdout).toContain("changes-requested: changes requested by carol still stand");
      },
    );
  });

  it("takes the newest re-run of a check by instant: a failure after a success written with an offset blocks", async () => {
    for (const [failedAt, passedAt] of [
      ["2026-12-02T11:30:00Z", "2026-12-02T12:00:00+01:00"], // the success is at 11:00Z, older than the failure
      ["2026-12-02T11:00:00.000Z", "2026-12-02T11:00:00Z"], // the same instant: both stand
    ] as const) {
      await withChanged(
        () => {
          const passed = buildRun();
          passed.suiteId = 5;
          passed.completedAt = passedAt;
          scenario.sim.addCheckRun({ ...passed, conclusion: "failure", completedAt: failedAt });
        },
        async () => {
          const blocked = await run();
          expect(blocked.code).toBe(1);
          expect(blocked.stdout).toContain("check-failed: required check build is failure on head");
        },
      );
    }
  });

  it("blocks a completed run without a readable completion time, also when it is the only one", async () => {
    for (const completedAt of [null, "2026-12-02Tzz"]) {
      await withChanged(
        () => {
          // CheckRun.completedAt is nullable in GitHub's schema.
          buildRun().completedAt = completedAt;
        },
        async () => {
          const blocked = await run();
          expect(blocked.code).toBe(1);
          expect(blocked.stdout).toMatch(
            /required check build is success on head \w+ \(check run by github-actions\) but has no readable completion time/,
          );
        },
      );
    }
  });
});

describe("--repo naming another repository than the policy (F7)", () => {
  it("is refused with one line naming both: the reviewed policy names the repository, not the CI job", async () => {
    const before = scenario.sim.countRequests().total;
    const fork = await run("--repo", "mallory/shop");
    expect(fork.code).toBe(64);
    expect(fork.stdout).toBe("");
    expect(fork.stderr.trim().split("\n")).toEqual([
      expect.stringMatching(/^sock-check: --repo mallory\/shop is not the policy's github.repository acme\/shop /),
    ]);
    expect(scenario.sim.countRequests().total).toBe(before); // nothing asked of the other repository
    const same = await run("--repo", "acme/shop");
    expect(same.code).toBe(0);
  });
});

describe("a PR whose commit list leaves out a commit its merge brings (F6)", () => {
  it('is unverified, naming the unlisted commit, not passed on the approval of the commit\'s author; let through, never "OK to deploy" (wording)', async () => {
    const range = ["--from", "c1", "--to", "c2"];
    const listed = await runSockCheck(range, { cwd: scenario.dir, env: envFor(scenario) });
    expect(listed.code).toBe(1);
    expect(listed.stdout).toContain("approval by carol does not count (author, co-author or committer)");

    const pull = scenario.sim.pulls.get(2)!;
    const carols = scenario.pull(2).commitShas[1]!;
    const all = [...pull.commits];
    // What a capped list shows (GitHub's REST list of a PR's commits stops at 250): carol's commit not among them.
    pull.commits = all.filter((sha) => sha !== carols);
    try {
      const unlisted = await runSockCheck(range, { cwd: scenario.dir, env: envFor(scenario) });
      expect(unlisted.code).toBe(69);
      expect(unlisted.stdout).toContain(
        `PR #2: GitHub lists 1 of its commits, but its merge ${scenario.pull(2).mergeSha.slice(0, 7)} in this checkout brings 1 more (${carols.slice(0, 7)}), so whether an approver wrote one of them cannot be told`,
      );
      // Let through under --allow-unverified, the digest's last line says so instead of "OK to deploy".
      const allowed = await runSockCheck([...range, "--allow-unverified"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(allowed.code).toBe(0);
      expect(allowed.stdout).not.toContain("OK to deploy");
      expect(allowed.stdout.trimEnd().split("\n").at(-1)).toBe(
        "1 commit, 1 PR: 0 compliant, 0 exempt, 0 emergency, 0 noncompliant, 1 unverified — not blocked: 1 commit unverified (--allow-unverified)",
      );
    } finally {
      pull.commits = all;
    }
  });
});

describe("a PR commit list GitHub gives in part, or without its count (F6)", () => {
  /** GitHub's two answers for one merged PR (the commit lookup, then the PR batch) with `commits` as given. */
  const apiAnswering = (commits: Record<string, unknown>, reviews: unknown[] = []) =>
    ({
      graphql: async (query: string) => {
        const head = "b".repeat(40);
        if (query.includes("associatedPullRequests")) {
          const pulls = { nodes: [{ number: 1, merged: true, headRefOid: head, mergeCommit: { oid: "a".repeat(40) } }] };
          const c0 = { oid: "a".repeat(40), signature: null, author: null, committer: null, associatedPullRequests: pulls };
          return { data: { repository: { defaultBranchRef: { name: "main" }, c0 } }, errors: [] };
        }
        const page = { pageInfo: { hasNextPage: false, endCursor: null }, nodes: [] };
        const p0 = {
          ...{ number: 1, title: "SHOP-1", body: "", url: "https://github.com/acme/shop/pull/1", merged: true },
          ...{ mergedAt: "2026-12-02T11:00:00Z", headRefName: "f", headRefOid: head, baseRefName: "main" },
          ...{ author: { __typename: "User", login: "bob" }, mergedBy: null, mergeCommit: { oid: "a".repeat(40) } },
          ...{
            labels: page,
            reviews: { ...page, nodes: reviews },
            commits: { pageInfo: { hasNextPage: false, endCursor: null }, ...commits },
          },
        };
        return { data: { repository: { p0, h0: { oid: head, statusCheckRollup: null } } }, errors: [] };
      },
    }) as unknown as GitHubApi;
  const commit = (oid: string) => ({
    commit: {
      ...{ oid, message: "SHOP-1", signature: null, parents: { nodes: [] } },
      ...{ authors: { totalCount: 1, nodes: [{ name: "Bob", email: "bob@acme.test", user: { login: "bob" } }] } },
      committer: { name: "Bob", email: "bob@acme.test", user: { login: "bob" } },
    },
  });

  it("leaves that PR unverified, saying why, and goes on with the run", async () => {
    const sha = "a".repeat(40);
    const local = { sha, parents: [] } as unknown as LocalCommit;
    const options = { owner: "acme", name: "shop", teams: [], organizations: [], identities: {} };
    for (const [commits, said] of [
      [{ totalCount: 3, nodes: [commit("b".repeat(40)), null] }, "GitHub listed 1 of its 3 commits"],
      [{ nodes: [commit("b".repeat(40))] }, "GitHub listed 1 of its commits without saying how many it has"],
    ] as const) {
      const facts = await collectGitHubFacts(apiAnswering(commits), [local], options);
      expect(facts.unverified.get(sha)).toBe(`PR #1: ${said}, so whether an approver wrote one of the others cannot be told`);
      expect(facts.failure).toBeUndefined();
    }
  });

  it("takes a review by the ghost's id (10137), or by its login in any case with any id or none, for a deleted account's", async () => {
    const sha = "a".repeat(40);
    const local = { sha, parents: [] } as unknown as LocalCommit;
    const listed = { totalCount: 1, nodes: [commit("b".repeat(40))] };
    const review = (login: string, databaseId?: number) => ({
      author: { __typename: "User", login, ...(databaseId === undefined ? {} : { databaseId }) },
      ...{ state: "APPROVED", submittedAt: "2026-12-02T10:00:00Z", commit: { oid: "b".repeat(40) } },
    });
    const api = apiAnswering(listed, [review("Ghost", 10137), review("GHOST"), review("Ghost", 4243), review("ghost1", 4242)]);
    const facts = await collectGitHubFacts(api, [local], { owner: "acme", name: "shop", teams: [], organizations: [], identities: {} });
    expect(facts.pulls.get(1)?.reviews.map((r) => r.reviewer)).toEqual([null, null, null, "ghost1"]);
  });
});

describe("GitHub's ghost, the deleted-account placeholder (F3)", () => {
  it("never counts as an approver, in any case of its login (T55 N3); an account merely named like it is a real one and counts", async () => {
    for (const [login, code] of [
      ["ghost", 1],
      ["ghost1", 0],
      ["Ghost", 1],
      ["GHOST", 1],
    ] as const) {
      await withChanged(
        () => {
          scenario.sim.pulls.get(1)!.reviews[0]!.user = login;
        },
        async () => {
          const result = await run();
          expect(result.code, login).toBe(code);
          if (code === 1) expect(result.stdout).toContain("has 0; an approval by a deleted account does not count");
          else expect(result.stdout).toContain(`approved by ${login}`);
        },
      );
    }
  });
});

describe("--from-url answers that are not exactly one SHA (F5)", () => {
  it("takes one SHA with whitespace around it, and refuses two SHAs, a page or JSON naming two (65, one line)", async () => {
    const deployed = scenario.sha(1);
    const other = scenario.pull(1).mergeSha;
    const bodies: Record<string, string> = {
      "/one": `\n  ${deployed}\t\n`,
      "/two": `${deployed}\n${other}\n`,
      "/html": `<html>${deployed}</html>`,
      "/json": JSON.stringify({ sha: deployed, commit: other }),
    };
    const server = createServer((req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(bodies[req.url ?? ""]));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = (path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
    const fromUrl = (path: string) => runSockCheck(["--from-url", url(path), "--to", "c1"], { cwd: scenario.dir, env: envFor(scenario) });
    try {
      const one = await fromUrl("/one");
      expect(one.code).toBe(0);
      expect(one.stdout).toContain(`${deployed.slice(0, 7)}..`);
      for (const [path, why] of [
        ["/two", "more than a hex SHA"],
        ["/html", "more than a hex SHA"],
        ["/json", "JSON naming different SHAs"],
      ] as const) {
        const refused = await fromUrl(path);
        expect(refused.code, path).toBe(65);
        expect(refused.stdout).toBe("");
        expect(refused.stderr.trim().split("\n")).toEqual([
          expect.stringContaining(`sock-check: --from-url ${url(path)} does not contain exactly one commit SHA (${why})`),
        ]);
      }
    } finally {
      server.close();
    }
  });
});
