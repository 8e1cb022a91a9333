import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Two copies of the bundle started at once on one host (cron overlapping a manual run), without
// Redis: the lock file in stateDir makes them take turns, so the hand-off is posted once.
const BUNDLE = new URL("../dist/deputize.cjs", import.meta.url).pathname;
const slack = new SlackSim();
let dir = "";
let config = "";

function run(): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BUNDLE, "--config", config, "run"],
      { env: { PATH: process.env.PATH, NO_COLOR: "1", SLACK_TOKEN: SLACK_SIM_TOKEN }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs deputize" first`);
  await slack.start();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@opsguard.test" });
  slack.addChannel({ id: "C0ONCALL", name: "oncall" });
  dir = mkdtempSync(join(tmpdir(), "deputize-onehost-"));
  const rotation = join(dir, "rotation.yaml");
  writeFileSync(rotation, `schedules:\n  sre:\n    start: "2020-01-01"\n    members: [alice@opsguard.test]\n`);
  config = join(dir, "deputize.json");
  writeFileSync(
    config,
    JSON.stringify({
      sources: [{ type: "rotation", file: rotation }],
      sinks: [{ type: "slack", token: "env:SLACK_TOKEN", baseUrl: slack.apiUrl, channel: "C0ONCALL" }],
      stateDir: join(dir, "state"),
    }),
  );
});
afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("two copies on one host", () => {
  it("take turns through the stateDir lock: one hand-off message, both exit 0", async () => {
    // Each Slack answer is slowed, so the copies' passes would overlap without the lock.
    slack.slow(150);
    const [a, b] = await Promise.all([run(), run()]);
    slack.slow(0);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(slack.messagesTo("C0ONCALL")).toHaveLength(1);
    // One printed the change; the other found nothing to do and stayed quiet.
    expect([a.stdout, b.stdout].filter((s) => s.includes("changed"))).toHaveLength(1);
  });
});
