import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The shipped systemd units, checked by systemd's own verifier, and the credential:NAME secrets they rely on.
const UNITS_DIR = new URL("../systemd/", import.meta.url).pathname;
const UNITS = ["deputize.service", "deputize.timer", "deputize-watch.service"];
const BUNDLE = new URL("../dist/deputize.cjs", import.meta.url).pathname;
let dir = "";

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The units as shipped, with ExecStart pointing at a stand-in (verify insists the program exists). */
function stage(edit: (name: string, text: string) => string = (_n, t) => t): string[] {
  const shim = join(dir, "deputize");
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${BUNDLE}" "$@"\n`);
  chmodSync(shim, 0o755);
  return UNITS.map((name) => {
    const text = readFileSync(join(UNITS_DIR, name), "utf8").replaceAll("/usr/bin/deputize", shim);
    const path = join(dir, name);
    writeFileSync(path, edit(name, text));
    return path;
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "deputize-systemd-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("systemd units", () => {
  it("pass systemd-analyze verify without a warning", async () => {
    const r = await run("systemd-analyze", ["verify", "--man=no", ...stage()]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("the check fails on a broken unit", async () => {
    const broken = stage((name, text) => (name === "deputize.timer" ? text.replace("OnUnitActiveSec=5min", "OnUnitActiveSec=five") : text));
    const r = await run("systemd-analyze", ["verify", "--man=no", ...broken]);
    expect(r.stderr).toMatch(/deputize\.timer:\d+: Failed to parse timer value, ignoring: five/);
  });

  it("run as a dynamic user with deputize's default state directory and secrets as credentials", () => {
    for (const name of ["deputize.service", "deputize-watch.service"]) {
      const text = readFileSync(join(UNITS_DIR, name), "utf8");
      expect(text).toMatch(/^DynamicUser=yes$/m);
      // /var/lib/opsguard/deputize: the stateDir default.
      expect(text).toMatch(/^StateDirectory=opsguard\/deputize$/m);
      expect(text).toMatch(/^LoadCredential=slack\.token:\/etc\/opsguard\/credentials\/slack\.token$/m);
    }
    expect(readFileSync(join(UNITS_DIR, "deputize-watch.service"), "utf8")).toMatch(/^ExecStart=\S+ .* run --watch 5$/m);
  });
});

describe("credential:NAME secrets, as the units pass them", () => {
  const slack = new SlackSim();
  beforeAll(() => slack.start());
  afterAll(() => slack.stop());

  it("deputize reads a token from $CREDENTIALS_DIRECTORY, and explains the reference outside a unit", async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs deputize" first`);
    slack.addChannel({ id: "C0CREDENT1", name: "oncall", topic: "" });
    slack.addUser({ id: "U0ALICE001", name: "alice", email: "alice@opsguard.test" });
    const credentials = join(dir, "credentials");
    mkdirSync(credentials, { mode: 0o700 });
    writeFileSync(join(credentials, "slack.token"), `${SLACK_SIM_TOKEN}\n`, { mode: 0o600 });
    const rotation = join(dir, "rotation.yaml");
    writeFileSync(rotation, 'schedules:\n  sre:\n    start: "2020-01-06"\n    members: [alice@opsguard.test]\n');
    const config = join(dir, "deputize.json");
    writeFileSync(
      config,
      JSON.stringify({
        sources: [{ type: "rotation", file: rotation }],
        sinks: [
          { type: "slack", name: "slack", token: "credential:slack.token", baseUrl: slack.apiUrl, channel: "C0CREDENT1", announce: false },
        ],
        stateDir: join(dir, "state"),
      }),
    );
    const inUnit = await run(process.execPath, [BUNDLE, "--config", config, "status"], { CREDENTIALS_DIRECTORY: credentials });
    expect(inUnit.stderr).toBe("");
    expect(inUnit.code).toBe(0);
    expect(slack.callsTo("conversations.info")[0]?.headers.authorization).toBe(`Bearer ${SLACK_SIM_TOKEN}`);
    const outside = await run(process.execPath, [BUNDLE, "--config", config, "status"]);
    expect(outside.code).toBe(78);
    expect(outside.stderr).toMatch(/sinks\[0\]\.token: credential:slack\.token needs \$CREDENTIALS_DIRECTORY/);
  });
});
