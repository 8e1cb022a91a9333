import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { graphqlViolations } from "../../lab/test/github-contract";
import { runCheck } from "../src/index";
import { byPull, envFor, policyYaml, runSockCheck, TOKEN_ENV, USERS } from "./fixture";

/**
 * Approval rules that require organisation membership (policy-bot's `requires: organizations`), against the lab's
 * GitHub, which shows a token that is not an organisation member only the public members, as GitHub does.
 */

const MEMBER_TOKEN = "ghp_orgMemberToken0123456789";
let scenario: GitHubScenario;
const pr: Record<string, number> = {};

beforeAll(async () => {
  scenario = new GitHubScenario({ users: { ...USERS, erin: { name: "Erin Eng", email: "erin@outside.test" } } });
  await scenario.sim.start();
  const s = scenario;
  // bob shows his membership, carol keeps hers private (GitHub's default); dave and erin are not members.
  s.sim.setOrg("acme", ["alice", "bob", "carol"], ["bob"]);
  s.sim.addToken(MEMBER_TOKEN, "alice");
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
  s.tag("o0");
  pr.publicMember = s.pullRequest({
    title: "SHOP-1 Public member",
    author: "alice",
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  pr.privateMember = s.pullRequest({
    title: "SHOP-2 Private member",
    author: "alice",
    reviews: [{ by: "carol" }],
    checks: { build: "success" },
  });
  pr.outsider = s.pullRequest({ title: "SHOP-3 Outsider", author: "alice", reviews: [{ by: "dave" }], checks: { build: "success" } });
  pr.both = s.pullRequest({
    title: "SHOP-4 Outsider and public member",
    author: "alice",
    reviews: [{ by: "erin" }, { by: "bob" }],
    checks: { build: "success" },
  });
  s.tag("o1");
  s.build();
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

function policyFile(name: string, rules: string): string {
  const path = join(scenario.dir, "..", `${name}-${process.pid}.yml`);
  writeFileSync(path, policyYaml(scenario.sim.url, rules));
  return path;
}

const MEMBERS_RULE = `approvalRules:
  - name: members
    requires: { organizations: [acme] }
`;

async function check(policyPath: string, token = scenario.token) {
  return runCheck({
    dir: scenario.dir,
    from: "o0",
    to: "o1",
    policyPath,
    env: { ...envFor(scenario), [TOKEN_ENV]: token },
    toolVersion: "test",
  });
}

describe("approval rules by organisation membership", () => {
  it("counts members a member's token sees, public or private, and no one else", async () => {
    const { report } = await check(policyFile("org-member", MEMBERS_RULE), MEMBER_TOKEN);
    expect(byPull(report.records, pr.publicMember!).verdict).toBe("compliant");
    expect(byPull(report.records, pr.privateMember!).verdict).toBe("compliant");
    expect(byPull(report.records, pr.both!).verdict).toBe("compliant");
    expect(byPull(report.records, pr.outsider!).violations).toEqual([
      { rule: "approval-rule", message: 'approval rule "members" needs 1 independent approval from members of acme, has 0' },
    ]);
  });

  it("leaves a change unverified when the token cannot see whether its approver is a private member", async () => {
    scenario.sim.graphqlLog = [];
    const { report } = await check(policyFile("org-outsider", MEMBERS_RULE));
    // bob's membership is public, so a token outside the organisation sees it.
    expect(byPull(report.records, pr.publicMember!).verdict).toBe("compliant");
    expect(byPull(report.records, pr.both!).verdict).toBe("compliant");
    // carol's is private: GitHub does not show it to this token, so neither pass nor fail is proven.
    for (const n of [pr.privateMember!, pr.outsider!]) {
      const record = byPull(report.records, n);
      expect(record.verdict).toBe("unverified");
      expect(record.violations).toEqual([
        {
          rule: "unverified",
          message: expect.stringMatching(
            /^approval rule "members" needs 1 independent approval from members of acme; cannot tell whether (carol|dave) is a member: the token is not a member of organisation acme, so GitHub shows it only the public members \(use a token of an organisation member/,
          ),
        },
      ]);
    }
    // The membership was read in one request, with a query and answer GitHub's schema allows.
    const orgQueries = scenario.sim.graphqlLog.filter((e) => e.query.includes("membersWithRole"));
    expect(orgQueries).toHaveLength(1);
    for (const e of orgQueries) expect(await graphqlViolations(e.query, e.variables, e.answer)).toEqual([]);
    scenario.sim.graphqlLog = undefined;
  });

  it("blocks with exit 69 naming the commits, and lets them through flagged with --allow-unverified", async () => {
    const path = policyFile("org-cli", MEMBERS_RULE);
    const blocked = await runSockCheck(["--config", path, "--from", "o0", "--to", "o1"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(blocked.code).toBe(69);
    expect(blocked.stderr).toMatch(/deploy blocked: 2 commits could not be verified/);
    expect(blocked.stdout).toMatch(/cannot tell whether carol is a member/);
    const allowed = await runSockCheck(["--config", path, "--from", "o0", "--to", "o1", "--allow-unverified"], {
      cwd: scenario.dir,
      env: envFor(scenario),
    });
    expect(allowed.code).toBe(0);
  });

  it("is unverified when the organisation cannot be read, and met by a listed user without asking", async () => {
    const typo = await check(policyFile("org-typo", MEMBERS_RULE.replace("[acme]", "[acme-typo]")), MEMBER_TOKEN);
    expect(byPull(typo.report.records, pr.publicMember!).violations[0]?.message).toMatch(
      /cannot tell whether bob is a member: organisation acme-typo is not visible to this token \(Could not resolve to an Organization with the login of 'acme-typo'\.\)/,
    );
    const orUser = await check(
      policyFile("org-or-user", MEMBERS_RULE.replace("organizations: [acme]", "users: [dave], organizations: [acme]")),
    );
    expect(byPull(orUser.report.records, pr.outsider!).verdict).toBe("compliant");
  });

  it("does not judge on a member list GitHub answered in part", async () => {
    // HTTP 200, membersWithRole failing on its path: the non-null field nulls the organisation, with an error.
    // GitHub's internal error has no type; a FORBIDDEN would be a refused token (77), not a list answered in part.
    const lift = scenario.sim.failGraphQLField({
      typeName: "Organization",
      fieldName: "membersWithRole",
      type: null,
      message: "Something went wrong while executing your query.",
    });
    try {
      const { report } = await check(policyFile("org-partial", MEMBERS_RULE), MEMBER_TOKEN);
      for (const n of [pr.publicMember!, pr.privateMember!]) {
        expect(byPull(report.records, n).verdict).toBe("unverified");
        expect(byPull(report.records, n).violations[0]?.message).toMatch(
          /organisation acme is not visible to this token \(Something went wrong while executing your query\./,
        );
      }
    } finally {
      lift();
    }
  });

  it("reads a large organisation a page of 100 at a time, and stops past 5,000 members", async () => {
    const staff = Array.from({ length: 4_998 }, (_, i) => `staff-${i}`);
    scenario.sim.setOrg("bigcorp", ["alice", ...staff, "carol"]);
    scenario.sim.requests.length = 0;
    const fits = await check(policyFile("org-big", MEMBERS_RULE.replace("[acme]", "[bigcorp]")), MEMBER_TOKEN);
    // carol is the 5,000th member, on the last page sock-check reads.
    expect(byPull(fits.report.records, pr.privateMember!).verdict).toBe("compliant");
    expect(scenario.sim.requests.filter((r) => r.path === "/graphql")).toHaveLength(2 + 50);
    scenario.sim.setOrg("bigcorp", ["alice", ...staff, "bob", "carol"]);
    const over = await check(policyFile("org-bigger", MEMBERS_RULE.replace("[acme]", "[bigcorp]")), MEMBER_TOKEN);
    expect(byPull(over.report.records, pr.privateMember!).violations[0]?.message).toMatch(
      /cannot tell whether carol is a member: GitHub says the members of organisation bigcorp go on past 50 pages, more than sock-check reads \(5000\)/,
    );
  });

  it("refuses an organisation login GitHub cannot have", async () => {
    const path = policyFile("org-bad", MEMBERS_RULE.replace("[acme]", '["acme/sre"]'));
    const run = await runSockCheck(["--config", path, "--from", "o0", "--to", "o1"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(78);
    expect(run.stderr).toMatch(/approvalRules\[0\]\.requires\.organizations\[0\]: expected a GitHub organisation login/);
  });

  it("refuses an empty list of organisations, users or teams rather than letting anyone approve (r13 finding 8)", async () => {
    for (const key of ["organizations", "users", "teams"]) {
      const path = policyFile(`empty-${key}`, MEMBERS_RULE.replace("{ organizations: [acme] }", `{ ${key}: [] }`));
      const run = await runSockCheck(["--config", path, "--from", "o0", "--to", "o1"], { cwd: scenario.dir, env: envFor(scenario) });
      expect(run.code).toBe(78);
      expect(run.stderr).toContain(`approvalRules[0].requires.${key}: an empty list would let anyone approve`);
    }
  });
});
