import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import { GitLabAccess, GitLabProjectApprovalRules, GitLabSim, PagerDutySim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildDeputize } from "../src/build";
import { configSchema } from "../src/config";
import { runOnce } from "../src/run";

/**
 * The GitLab project approval rule sink against the GitLab simulator's approval rule routes
 * (docs.gitlab.com/api/merge_request_approvals): the users of a named rule follow who is on call,
 * the rest of the rule is sent back as it was.
 */

const pd = new PagerDutySim();
const gitlab = new GitLabSim();
const rules = new GitLabProjectApprovalRules(gitlab, { id: 42, path: "platform/api" });
const env = { PD_TOKEN: pd.token, GITLAB_TOKEN: gitlab.token };
let stateDir = "";

function onCall(...who: string[]): void {
  const now = Date.now();
  const schedule = pd.schedules[0];
  if (!schedule) throw new Error("no schedule");
  schedule.shifts = who.map((p) => ({ userId: `PU${p.toUpperCase()}`, start: new Date(now - 3_600_000), end: new Date(now + 3_600_000) }));
}

async function run(options: { dryRun?: boolean; rule?: string; project?: string; log?: Logger; unnamed?: boolean } = {}) {
  const config = configSchema.parse({
    sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE"] }],
    sinks: [
      {
        type: "gitlab-approval-rule",
        ...(options.unnamed ? {} : { name: "approvers" }),
        baseUrl: gitlab.url,
        token: "env:GITLAB_TOKEN",
        project: options.project ?? "platform/api",
        rule: options.rule ?? "On call",
        usernameDomains: ["opsguard.test"],
      },
    ],
    stateDir,
    retries: 1,
    timeoutMs: 3000,
  });
  const dep = buildDeputize(config, { env });
  try {
    return await runOnce(dep, { dryRun: options.dryRun ?? false, ...(options.log ? { log: options.log } : {}) });
  } finally {
    await dep.close();
  }
}

beforeAll(async () => {
  await Promise.all([pd.start(), gitlab.start()]);
  stateDir = mkdtempSync(join(tmpdir(), "deputize-rule-"));
  for (const name of ["alice", "bob", "carol", "lead"]) {
    pd.addUser({ id: `PU${name.toUpperCase()}`, name, email: `${name}@opsguard.test` });
    gitlab.addUser({ username: name, name, email: `${name}@opsguard.test` });
  }
  pd.addUser({ id: "PUMALLORY", name: "mallory", email: "alice@evil.example" });
  pd.addSchedule({ id: "PSRE001", name: "SRE", shifts: [] });
  gitlab.addGroup("platform/leads", { lead: GitLabAccess.DEVELOPER });
});
beforeEach(() => {
  rules.rules.length = 0;
  rules.addRule({ name: "Security", users: ["lead"] });
  rules.addRule({
    name: "On call",
    approvalsRequired: 2,
    users: ["bob"],
    groups: ["platform/leads"],
    hiddenGroups: ["platform/private"],
    protectedBranchIds: [1],
  });
  gitlab.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([pd.stop(), gitlab.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
});

describe("GitLab project approval rule sink", () => {
  it("sets the rule's users to who is on call and sends the rest of the rule back unchanged", async () => {
    onCall("alice", "carol");
    const report = await run();
    expect(report.exitCode).toBe(0);
    expect(report.sinks[0]).toMatchObject({ status: "changed", plan: { current: ["bob"], add: ["alice", "carol"], remove: ["bob"] } });
    expect(rules.rule("On call")).toMatchObject({
      users: ["alice", "carol"],
      approvalsRequired: 2,
      groups: ["platform/leads"],
      hiddenGroups: ["platform/private"],
      protectedBranchIds: [1],
    });
    // The other rule is not touched; one PUT on the named rule.
    expect(rules.rule("Security")?.users).toEqual(["lead"]);
    expect(gitlab.writes().map((r) => `${r.method} ${r.path}`)).toEqual([`PUT /api/v4/projects/platform%2Fapi/approval_rules/2`]);
  });

  it("changes nothing on a dry run, and a run with nothing to change makes no write and no user lookup", async () => {
    onCall("alice");
    const dry = await run({ dryRun: true });
    expect(dry.sinks[0]).toMatchObject({ status: "would-change", plan: { add: ["alice"], remove: ["bob"] } });
    expect(gitlab.writes()).toEqual([]);
    expect(rules.rule("On call")?.users).toEqual(["bob"]);
    onCall("bob");
    gitlab.requests.length = 0;
    const same = await run();
    expect(same.sinks[0]?.status).toBe("unchanged");
    expect(gitlab.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api/v4/projects/platform%2Fapi/approval_rules"]);
  });

  it("never gives a foreign e-mail the account of a GitLab user with the same local part", async () => {
    onCall("mallory");
    const report = await run();
    expect(report.sinks[0]).toMatchObject({
      status: "refused",
      plan: { unresolved: ["alice@evil.example: no GitLab user with this email"] },
    });
    expect(rules.rule("On call")?.users).toEqual(["bob"]);
  });

  it("names the rules there are when the configured one does not exist, and refuses a rule without users", async () => {
    onCall("alice");
    const missing = await run({ rule: "Oncall" });
    expect(missing.exitCode).toBe(78);
    expect(missing.sinks[0]?.reason).toMatch(/no approval rule named "Oncall".*its rules are "Security", "On call"/);
    rules.addRule({ name: "Anyone", ruleType: "any_approver", approvalsRequired: 0 });
    const any = await run({ rule: "Anyone" });
    expect(any.sinks[0]?.reason).toMatch(/is of type "any_approver"/);
    expect(gitlab.writes()).toEqual([]);
  });

  it("refuses a rule name with a line break in the config, and a failing sink named after a config value logs one line", async () => {
    const parsed = configSchema.safeParse({
      sources: [{ type: "pagerduty", token: "env:PD_TOKEN", schedules: ["SRE"] }],
      sinks: [{ type: "gitlab-approval-rule", token: "env:GITLAB_TOKEN", project: "p", rule: "On\ncall" }],
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(/no control characters or line breaks/);
    const lines: string[] = [];
    const log = new Logger({
      tool: "deputize",
      level: "warn",
      stream: { write: (t: string) => lines.push(t) } as unknown as NodeJS.WritableStream,
    });
    onCall("alice");
    // Unnamed, the sink is called after its project: gitlab:platform/nope\nforged: yes:On call.
    const report = await run({ project: "platform/nope\nforged: yes", log, unnamed: true });
    expect(report.sinks[0]?.status).toBe("failed");
    const text = lines.join("");
    expect(text.trimEnd().split("\n")).toHaveLength(1);
    expect(text).toMatch(/nope\\nforged/);
  });

  it("a rule listed without protected branches keeps its scope: the PUT leaves out what GitLab did not list", async () => {
    const rule = rules.rule("On call");
    if (!rule) throw new Error("no rule");
    rule.absent = ["protected_branches", "applies_to_all_protected_branches"];
    onCall("alice");
    const report = await run();
    expect(report.exitCode).toBe(0);
    const put = gitlab.writes()[0]?.body as Record<string, unknown>;
    expect(put).toMatchObject({ name: "On call", approvals_required: 2, user_ids: [expect.any(Number)] });
    expect(put).not.toHaveProperty("protected_branch_ids");
    expect(put).not.toHaveProperty("applies_to_all_protected_branches");
    expect(rules.rule("On call")).toMatchObject({ users: ["alice"], protectedBranchIds: [1], groups: ["platform/leads"] });
  });

  it("a rule listed without its groups is left as it is: exit 65 with one line, no PUT, no crash", async () => {
    const rule = rules.rule("On call");
    if (!rule) throw new Error("no rule");
    rule.absent = ["groups"];
    onCall("alice");
    const report = await run();
    expect(report.exitCode).toBe(65);
    expect(report.sinks[0]).toMatchObject({ status: "failed", reason: expect.stringMatching(/without its groups; left as it is/) });
    expect(gitlab.writes()).toEqual([]);
    expect(rules.rule("On call")).toMatchObject({ users: ["bob"], groups: ["platform/leads"] });
  });
});
