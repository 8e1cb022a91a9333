import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authkeysConfigSchema } from "../../authkeys/src/config";
import { configSchema as deputizeSchema } from "../../deputize/src/config";
import { policySchema } from "../../sock-check/src/policy";
import { configSchema as vpnnotifySchema } from "../../vpnnotify/src/config";
import { toolBin } from "../src/configs/sections";
import {
  GITLAB_LAB,
  type GitLabComponent,
  LAB_COMPONENTS,
  LAB_TOOL_CONFIGS,
  type PagerDutyComponent,
  type RunningLab,
  SLACK_LAB,
  type SlackComponent,
  type SlapdComponent,
  sshdSkipReason,
  startLab,
} from "../src/index";

const ROOT = new URL("../../../", import.meta.url).pathname;

/** Runs the command `pnpm lab` prints for a tool, from the repo root, as a person would paste it. */
function tryTool(lab: RunningLab, tool: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = lab.tryCommands[tool];
  if (!command) throw new Error(`no command to try ${tool}`);
  return runCommandLine(command);
}

function runCommandLine(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const [node, bundle, ...args] = command.split(" ");
  if (node !== "node" || !bundle) throw new Error(`unexpected command ${command}`);
  if (!existsSync(join(ROOT, bundle))) throw new Error(`${bundle} is missing: run "node scripts/build.mjs" first`);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bundle, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH, NO_COLOR: "1" }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let lab: RunningLab;

beforeAll(async () => {
  lab = await startLab({ components: LAB_COMPONENTS, tools: LAB_TOOL_CONFIGS });
});

afterAll(async () => {
  await lab?.stop();
});

describe.skipIf(sshdSkipReason())("pnpm lab's ready configs", () => {
  it("writes one config per service-backed tool, each valid for the tool's own config loader", async () => {
    expect(Object.keys(lab.configFiles).sort()).toEqual(["authkeys", "deputize", "sock-check", "vpnnotify"]);
    const schemas = { authkeys: authkeysConfigSchema, deputize: deputizeSchema, vpnnotify: vpnnotifySchema, "sock-check": policySchema };
    for (const [tool, schema] of Object.entries(schemas)) {
      const loaded = await loadConfig({ tool, schema, path: lab.configFiles[tool], env: {} });
      expect(loaded.filepath).toBe(lab.configFiles[tool]);
    }
  });

  it("authkeys: the printed command returns alice's keys from slapd", async () => {
    const r = await tryTool(lab, "authkeys");
    expect(r.code).toBe(0);
    const alice = lab.get<SlapdComponent>("slapd").slapd.users.alice;
    expect(alice.keys.length).toBe(3);
    for (const key of alice.keys) expect(r.stdout).toContain(key.publicKey.split(" ")[1]);
  });

  it("deputize: the dry run shows who PagerDuty, Opsgenie and the rotation put on call, and changes nothing", async () => {
    const r = await tryTool(lab, "deputize");
    expect(r.code, r.stderr).toBe(0);
    // PagerDuty has alice, Opsgenie bob (already in the group), the rotation file carol.
    expect(r.stdout).toMatch(/ldap:oncall \(ldap-group\): would change\n {2}\+ alice\n {2}\+ carol\n/);
    expect(r.stdout).toMatch(/gitlab:platform\/oncall \(gitlab-group\): would change\n {2}\+ alice\n/);
    expect(r.stdout).toContain("user group S0ONCALL01: +U0ALICEXX +U0BOBXXXX +U0CAROLXX");
    expect(lab.get<PagerDutyComponent>("pagerduty").pagerduty.requests.length).toBeGreaterThan(0);
    expect(lab.get<GitLabComponent>("gitlab").gitlab.writes()).toEqual([]);
    const { slack } = lab.get<SlackComponent>("slack");
    expect(slack.topic(SLACK_LAB.oncallChannel)).toBe("On call: <@U0BOBXXXX> | Runbook: <https://wiki.example/oncall|runbook>");
    expect(slack.messagesTo(SLACK_LAB.oncallChannel)).toEqual([]);
    expect(slack.usergroupMembers(SLACK_LAB.oncallGroup)).toEqual([]);
  });

  it("deputize: the same config applies it for real, and a second run changes nothing", async () => {
    const configFile = lab.configFiles.deputize ?? "";
    const run = (...args: string[]) => runCommandLine(`node ${toolBin("deputize")} --config ${configFile} ${args.join(" ")}`);
    const first = await run("run");
    expect(first.code, first.stderr).toBe(0);
    const { slapd } = lab.get<SlapdComponent>("slapd");
    const admin = slapd.adminClient();
    try {
      const members = (await admin.read(slapd.groups.oncall, ["member"]))?.get("member");
      expect([...(members ?? [])].sort()).toEqual([slapd.users.alice.dn, slapd.users.bob.dn, slapd.users.carol.dn].sort());
    } finally {
      await admin.close();
    }
    expect(lab.get<GitLabComponent>("gitlab").gitlab.membersOf(GITLAB_LAB.oncallGroup)).toEqual({ alice: 30, bob: 30, carol: 40 });
    const { slack } = lab.get<SlackComponent>("slack");
    expect(slack.topic(SLACK_LAB.oncallChannel)).toMatch(
      /^On call: .*<@U0ALICEXX>.* \| Runbook: <https:\/\/wiki\.example\/oncall\|runbook>$/,
    );
    expect(await run("run")).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("vpnnotify: a login for alice lands in the Slack sim as a DM to her slackId", async () => {
    const { slack } = lab.get<SlackComponent>("slack");
    const aliceSlackId = lab.get<SlapdComponent>("slapd").slapd.users.alice.slackId;
    const r = await tryTool(lab, "vpnnotify");
    expect(r.code, r.stderr).toBe(0);
    // the DM may be sent by the hook's worker after the hook itself has returned
    await slack.untilRequest(() => slack.messagesTo(aliceSlackId).length > 0, "alice's DM", 10_000);
    const [message] = slack.messagesTo(aliceSlackId);
    expect(message?.text).toContain("81.2.69.142");
  });

  it("sock-check: the lab's acme/shop checkout is blocked for its failed build and its direct push", async () => {
    const r = await tryTool(lab, "sock-check");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("✓ #1 SHOP-101 Add gift cards");
    expect(r.stdout).toContain("check-failed: required check build is failure");
    expect(r.stdout).toContain("direct-push");
  });
});
