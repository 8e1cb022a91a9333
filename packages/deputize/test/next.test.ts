import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PagerDutySim, SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runInProcess } from "../../core/test/run-in-process";
import { buildDeputize } from "../src/build";
import { createDeputizeProgram } from "../src/cli";
import { configSchema } from "../src/config";
import { upcoming } from "../src/next";
import { runOnce } from "../src/run";

/**
 * Look-ahead: `deputize next` from PagerDuty's /oncalls (start/end per row) and, for a schedule in no
 * escalation policy, its rendered final schedule; and the once-per-shift Slack DM to whoever goes on call.
 */

const HOUR = 3_600_000;
const pd = new PagerDutySim();
const slack = new SlackSim();
const env = { PD_TOKEN: pd.token, SLACK_TOKEN: SLACK_SIM_TOKEN };
let dir = "";
const now = new Date(Math.floor(Date.now() / HOUR) * HOUR);
const at = (hours: number) => new Date(now.getTime() + hours * HOUR);

function deputize(overrides: Record<string, unknown> = {}) {
  return buildDeputize(
    configSchema.parse({
      sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE", "Shadow"] }],
      sinks: [
        {
          type: "slack",
          name: "slack",
          token: "env:SLACK_TOKEN",
          baseUrl: slack.apiUrl,
          channel: "C0ONCALL",
          topic: false,
          announce: false,
        },
      ],
      stateDir: join(dir, "state"),
      retries: 0,
      timeoutMs: 3000,
      ...overrides,
    }),
    { env },
  );
}

async function run(overrides: Record<string, unknown> = {}, options: { dryRun?: boolean } = {}) {
  const dep = deputize({ lookAhead: { hours: 12, dm: true }, ...overrides });
  try {
    return await runOnce(dep, { dryRun: options.dryRun ?? false, now });
  } finally {
    await dep.close();
  }
}

const dms = () => slack.messages.filter((m) => m.to.startsWith("U")).map((m) => m.to);

beforeAll(async () => {
  await Promise.all([pd.start(), slack.start()]);
  dir = mkdtempSync(join(tmpdir(), "deputize-next-"));
  for (const name of ["alice", "bob", "carol", "dave"]) {
    pd.addUser({ id: `PU${name.toUpperCase()}`, name, email: `${name}@opsguard.test` });
    slack.addUser({ id: `U0${name.toUpperCase()}`, name, email: `${name}@opsguard.test` });
  }
  slack.addChannel({ id: "C0ONCALL", name: "oncall", is_member: true });
  pd.addSchedule({
    id: "PSRE001",
    name: "SRE",
    shifts: [
      { userId: "PUALICE", start: at(-2), end: at(1) },
      { userId: "PUBOB", start: at(1), end: at(9) },
      { userId: "PUCAROL", start: at(30), end: at(40) },
    ],
  });
  // In no escalation policy: /oncalls never lists it.
  pd.addSchedule({ id: "PSHADOW", name: "Shadow", shifts: [{ userId: "PUDAVE", start: at(2), end: at(4) }] });
  pd.addEscalationPolicy({ id: "PEP0001", name: "SRE", rules: [{ schedules: ["PSRE001"] }] });
});
beforeEach(() => {
  rmSync(join(dir, "state"), { recursive: true, force: true });
  slack.messages.length = 0;
  slack.clearFaults();
});
afterAll(async () => {
  await Promise.all([pd.stop(), slack.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("deputize next", () => {
  it("lists each schedule's shifts in the next hours with their times, also for a schedule in no escalation policy", async () => {
    const report = await upcoming(deputize(), now, 12);
    expect(report.exitCode).toBe(0);
    expect(report.schedules).toEqual([
      {
        source: "pagerduty",
        schedule: "SRE",
        shifts: [
          { person: "alice@opsguard.test", name: "alice", start: at(-2).toISOString(), end: at(1).toISOString(), onCallNow: true },
          { person: "bob@opsguard.test", name: "bob", start: at(1).toISOString(), end: at(9).toISOString(), onCallNow: false },
        ],
      },
      {
        source: "pagerduty",
        schedule: "Shadow",
        shifts: [{ person: "dave@opsguard.test", name: "dave", start: at(2).toISOString(), end: at(4).toISOString(), onCallNow: false }],
      },
    ]);
    const longer = await upcoming(deputize(), now, 48);
    expect(longer.schedules[0]?.shifts.map((s) => s.person)).toContain("carol@opsguard.test");
  });
});

describe("look-ahead DM", () => {
  it("tells whoever goes on call within the hours, once per shift, and not who is already on call", async () => {
    const first = await run();
    expect(first.exitCode).toBe(0);
    expect(dms().sort()).toEqual(["U0BOB", "U0DAVE"]);
    const text = slack.messages.find((m) => m.to === "U0BOB")?.text ?? "";
    expect(text).toMatch(/^You are on call for SRE from <!date\^\d+\^\{date_short_pretty\} \{time\}\|.* UTC> to <!date\^\d+\^/);
    expect(first.dms?.map((d) => `${d.person} ${d.status}`).sort()).toEqual(["bob@opsguard.test sent", "dave@opsguard.test sent"]);
    await run();
    expect(dms()).toHaveLength(2);
    const state = JSON.parse(readFileSync(join(dir, "state", "state.json"), "utf8"));
    expect(Object.keys(state.dms)).toHaveLength(2);
  });

  it("tells someone on call now of their turn resuming after an override as on call again (T41 F9)", async () => {
    pd.addSchedule({
      id: "PRESUME",
      name: "Resume",
      shifts: [
        { userId: "PUCAROL", start: at(-1), end: at(1) },
        { userId: "PUDAVE", start: at(1), end: at(3) },
        { userId: "PUCAROL", start: at(3), end: at(8) },
      ],
    });
    pd.addEscalationPolicy({ id: "PEPRESU", name: "Resume", rules: [{ schedules: ["PRESUME"] }] });
    const report = await run({ sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["Resume"] }] });
    expect(report.exitCode).toBe(0);
    const textTo = (to: string) => slack.messages.find((m) => m.to === to)?.text ?? "";
    expect(textTo("U0CAROL")).toMatch(/^You are on call for Resume again from <!date\^/);
    expect(textTo("U0DAVE")).toMatch(/^You are on call for Resume from <!date\^/);
  });

  it("a DM Slack did not take is not recorded, the run exits 2, and the next run sends it", async () => {
    slack.fault({ status: 200, body: { ok: false, error: "internal_error" } }, { path: /chat\.postMessage$/, times: 1 });
    const failed = await run();
    expect(failed.exitCode).toBe(2);
    expect(failed.dms?.filter((d) => d.status === "failed")).toHaveLength(1);
    expect(dms()).toHaveLength(1);
    const retried = await run();
    expect(retried.exitCode).toBe(0);
    expect(retried.dms?.map((d) => d.status)).toEqual(["sent"]);
    expect(dms().sort()).toEqual(["U0BOB", "U0DAVE"]);
  });

  it("a DM Slack answers channel_not_found says so, not that the e-mail has no Slack user", async () => {
    slack.fault({ status: 200, body: { ok: false, error: "channel_not_found" } }, { path: /chat\.postMessage$/, times: 1 });
    const failed = await run();
    const reasons = failed.dms?.filter((d) => d.status === "failed").map((d) => d.reason) ?? [];
    expect(reasons).toEqual([expect.stringMatching(/chat\.postMessage failed: channel_not_found/)]);
    expect(reasons.join()).not.toMatch(/no Slack user/);
  });

  it("sends nothing on a dry run or without lookAhead.dm", async () => {
    await run({}, { dryRun: true });
    await run({ lookAhead: { hours: 12 } });
    expect(dms()).toEqual([]);
  });

  it("needs a Slack token: a config without one is refused", () => {
    const parsed = configSchema.safeParse({
      sources: [{ type: "pagerduty", token: "env:PD_TOKEN", schedules: ["SRE"] }],
      sinks: [{ type: "webhook", url: "https://hooks.example/x" }],
      lookAhead: { dm: true },
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(/lookAhead.dm needs a Slack bot token/);
  });
});

describe("deputize next (the CLI)", () => {
  function cli(config: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return runInProcess(createDeputizeProgram, ["--config", config, ...args], { env: { PATH: process.env.PATH, NO_COLOR: "1" } });
  }

  it("prints the rotation's next hand-off, and refuses --hours outside 1..168 with exit 64", async () => {
    const rotation = join(dir, "rotation.yaml");
    const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
    writeFileSync(
      rotation,
      `schedules:\n  sre:\n    start: "${weekAgo}"\n    handoff: "00:00"\n    rotationDays: 1\n    members: [alice@opsguard.test, bob@opsguard.test]\n`,
    );
    const config = join(dir, "next.json");
    writeFileSync(
      config,
      JSON.stringify({
        sources: [{ type: "rotation", file: rotation }],
        sinks: [{ type: "webhook", url: "http://127.0.0.1:9/x" }],
        stateDir: join(dir, "cli-state"),
      }),
    );
    const json = await cli(config, "--json", "next", "--hours", "24");
    expect(json.code).toBe(0);
    const shifts = JSON.parse(json.stdout).schedules[0].shifts;
    const midnight = `${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10)}T00:00:00.000Z`;
    expect(shifts).toHaveLength(2);
    expect(shifts[0]).toMatchObject({ onCallNow: true, end: midnight });
    expect(shifts[1]).toMatchObject({ onCallNow: false, start: midnight });
    expect(shifts[0].person).not.toBe(shifts[1].person);
    const text = await cli(config, "next");
    expect(text.stdout).toMatch(/^SCHEDULE +WHO +FROM \(UTC\) +TO \(UTC\)\nsre +\S+ +now \(since/);
    for (const bad of ["0", "169", "1.5", "x", "0x10", "0b11", "1e1", " 12", ""]) {
      const r = await cli(config, "next", "--hours", bad);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/--hours expects a whole number of hours from 1 to 168/);
    }
    // Every source failed: that failure's documented code and one line naming the source, never 70.
    rmSync(rotation);
    const missing = await cli(config, "next");
    expect(missing.code).toBe(66);
    expect(missing.stderr).toMatch(/source rotation.* failed: .*rotation\.yaml/);
    expect(missing.stderr).not.toMatch(/internal error|\n\s+at /);
    writeFileSync(rotation, "schedules: [unclosed\n");
    const invalid = await cli(config, "next");
    // An invalid rotation file is a configuration error (78, the README's exit-code table), and README and --help say so (T59 N5).
    expect(invalid.code).toBe(78);
    expect(invalid.stderr).not.toMatch(/internal error|\n\s+at /);
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    expect(readme).toContain("78 (a configuration error, e.g. an unknown schedule name or an invalid rotation file)");
    expect(readme).not.toMatch(/65 \([^)]*invalid rotation file/);
    const help = (await runInProcess(createDeputizeProgram, ["--help"], { env: { PATH: process.env.PATH, NO_COLOR: "1" } })).stdout;
    expect(help.replace(/\s+/g, " ")).toContain("78 an invalid rotation file");
  });
});
