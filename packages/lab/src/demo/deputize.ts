import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SlapdComponent } from "../components";
import { SLACK_SIM_TOKEN, SlackSim } from "../sim/slack";
import type { DemoSection } from "./types";

const BUNDLE = new URL("../../../deputize/dist/deputize.cjs", import.meta.url).pathname;
const CHANNEL = "C0ONCALL";

export const deputizeDemo: DemoSection = {
  title: "deputize: a rotation file drives the LDAP on-call group and the Slack topic (dry run, run, silent re-run)",
  async run(lab, out) {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs deputize" first`);
    const { slapd } = lab.get<SlapdComponent>("slapd");
    const slack = new SlackSim();
    await slack.start();
    try {
      slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@opsguard.test" });
      slack.addChannel({ id: CHANNEL, name: "oncall", topic: "On call: @bob | Runbook: <https://wiki.example/oncall>" });
      const dir = lab.dir;
      const threeDaysAgo = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
      writeFileSync(
        join(dir, "rotation.yaml"),
        `schedules:\n  sre:\n    timeZone: UTC\n    start: "${threeDaysAgo}"\n    handoff: "00:00"\n    rotationDays: 7\n    members: [alice@opsguard.test, bob@opsguard.test]\n`,
      );
      writeFileSync(join(dir, "slack.token"), `${SLACK_SIM_TOKEN}\n`, { mode: 0o600 });
      const configFile = join(dir, "deputize-demo.json");
      writeFileSync(
        configFile,
        JSON.stringify({
          sources: [{ type: "rotation", file: join(dir, "rotation.yaml") }],
          ldap: slapd.connection({ bindDn: slapd.serviceDn, bindPassword: slapd.servicePasswordFile }),
          sinks: [
            { type: "ldap-group", name: "ldap:oncall", group: slapd.groups.oncall, peopleBase: slapd.peopleDn },
            { type: "slack", name: "slack", token: `file:${join(dir, "slack.token")}`, baseUrl: slack.apiUrl, channel: CHANNEL },
          ],
          stateDir: join(dir, "deputize-state"),
        }),
      );
      out(`rotation: alice then bob, 7 days each; group ${slapd.groups.oncall} holds bob; Slack topic "On call: @bob | Runbook: …"`);
      for (const args of [["run", "--dry-run"], ["run"], ["run"]]) {
        const r = await deputize(configFile, args);
        out(`$ deputize ${args.join(" ")}   (exit ${r.code}${r.stdout ? "" : ", no output: nothing to change"})`);
        for (const line of r.stdout.trimEnd().split("\n").filter(Boolean)) out(`  ${line}`);
        for (const line of r.stderr.trimEnd().split("\n").filter(Boolean)) out(`  stderr: ${line}`);
        if (r.code !== 0) throw new Error(`deputize ${args.join(" ")} exited ${r.code}`);
      }
      out(`Slack topic now: "${slack.topic(CHANNEL)}"; messages posted: ${slack.messagesTo(CHANNEL).length}`);
    } finally {
      await slack.stop();
    }
  },
};

function deputize(configFile: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BUNDLE, "--config", configFile, ...args],
      { env: { PATH: process.env.PATH, NO_COLOR: "1" }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}
