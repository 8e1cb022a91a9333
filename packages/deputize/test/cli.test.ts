import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PagerDutySim, SLACK_SIM_TOKEN, SlackSim, type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../../core/test/run-in-process";
import { createDeputizeProgram } from "../src/cli";

// The built bundle as cron and people run it: stdout/stderr discipline, exit codes, no secrets.
const BUNDLE = new URL("../dist/deputize.cjs", import.meta.url).pathname;
const CHANNEL = "C0ONCALL";

let lab: SlapdLab;
const slack = new SlackSim();
let configFile = "";
let tokenFile = "";

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs deputize" first`);
  lab = await startSlapd();
  await slack.start();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@opsguard.test" });
  slack.addChannel({ id: CHANNEL, name: "oncall", topic: "Runbook: <https://wiki.example/oncall>" });
  const rotation = join(lab.dir, "rotation.yaml");
  const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString().slice(0, 10);
  writeFileSync(
    rotation,
    `schedules:\n  sre:\n    timeZone: UTC\n    start: "${weekAgo}"\n    handoff: "00:00"\n    rotationDays: 1\n    members: [alice@opsguard.test]\n`,
  );
  tokenFile = join(lab.dir, "slack.token");
  writeFileSync(tokenFile, `${SLACK_SIM_TOKEN}\n`, { mode: 0o600 });
  configFile = join(lab.dir, "deputize.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      sources: [{ type: "rotation", file: rotation }],
      ldap: lab.connection({ bindDn: lab.serviceDn, bindPassword: lab.servicePasswordFile }),
      sinks: [
        { type: "ldap-group", name: "ldap:oncall", group: lab.groups.oncall, peopleBase: lab.peopleDn },
        { type: "slack", name: "slack", token: `file:${tokenFile}`, baseUrl: slack.apiUrl, channel: CHANNEL },
      ],
      stateDir: join(lab.dir, "deputize-state"),
    }),
  );
});
afterAll(async () => {
  await Promise.all([lab?.stop(), slack.stop()]);
});

/** deputize in this process (core's test I/O), as a user runs it; the tests that need a process spawn the bundle. */
function deputize(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runInProcess(createDeputizeProgram, args, { env: { PATH: process.env.PATH, NO_COLOR: "1" } });
}

describe("deputize CLI", () => {
  it("--dry-run prints the per-sink diff and writes nothing", async () => {
    const r = await deputize("--config", configFile, "run", "--dry-run");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "ldap:oncall (ldap-group): would change",
        "  + alice",
        "  - bob",
        "slack (slack): would change",
        "  + alice",
        '  ~ topic: "Runbook: https://wiki.example/oncall" → "On call: <@U0ALICE> | Runbook: https://wiki.example/oncall"',
        '  ~ message: "On-call hand-off: on call now: <@U0ALICE>"',
        "",
      ].join("\n"),
    );
    expect(slack.writes()).toEqual([]);
  });

  it("status shows schedules, sink members and the next run's changes", async () => {
    const r = await deputize("--config", configFile, "status");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^SCHEDULE\s+SOURCE\s+ON CALL\nsre\s+rotation\s+alice@opsguard.test\n/);
    expect(r.stdout).toMatch(/\nldap:oncall\s+ldap-group\s+bob\s+\+alice -bob\n/);
    expect(r.stdout).toMatch(/\nslack\s+slack\s+-\s+\+alice 2 other updates\n/);
  });

  it("run applies, then a second run is silent and changes nothing", async () => {
    const first = await deputize("--config", configFile, "run");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^ldap:oncall \(ldap-group\): changed\n {2}\+ alice\n {2}- bob\n/);
    expect(slack.topic(CHANNEL)).toBe("On call: <@U0ALICE> | Runbook: <https://wiki.example/oncall>");
    const admin = lab.adminClient();
    try {
      expect((await admin.read(lab.groups.oncall, ["member"]))?.get("member")).toEqual([lab.users.alice.dn]);
    } finally {
      await admin.close();
    }
    const writes = slack.writes().length;
    const second = await deputize("--config", configFile, "run");
    expect(second).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(slack.writes().length).toBe(writes);
  });

  it("status --json is machine-readable", async () => {
    const r = await deputize("--config", configFile, "--json", "status");
    const status = JSON.parse(r.stdout);
    expect(status.sinks[0]).toMatchObject({
      sink: "ldap:oncall",
      members: ["alice"],
      nextRun: { status: "unchanged", add: [], remove: [] },
    });
  });

  it("status and run --dry-run report a state file they cannot use and leave it; only a real run moves it aside (T56 F7)", async () => {
    // What a newer deputize would write: an older binary's read-only look must not discard it.
    const stateDir = join(lab.dir, "state-unreadable");
    mkdirSync(stateDir, { mode: 0o700 });
    const file = join(stateDir, "state.json");
    writeFileSync(file, '{"version":2}', { mode: 0o600 });
    const config = join(lab.dir, "deputize-unreadable.json");
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(configFile, "utf8")), stateDir }));
    for (const args of [["status"], ["run", "--dry-run"]]) {
      const r = await deputize("--config", config, ...args);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/warn: state file cannot be used; left as it is \(the next real run moves it aside/);
      expect(readdirSync(stateDir)).toEqual(["state.json"]);
      expect(readFileSync(file, "utf8")).toBe('{"version":2}');
    }
    await deputize("--config", config, "run");
    expect(readdirSync(stateDir).filter((f) => f.startsWith("state.json.corrupt-"))).toHaveLength(1);
  });

  it("never prints a secret, even with -vv, in either log format", async () => {
    for (const format of ["human", "json"]) {
      const r = await deputize("--config", configFile, "-vv", "--log-format", format, "run", "--dry-run");
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/schedule sre \(rotation\): alice@opsguard\.test on call/);
      for (const secret of [lab.servicePassword, SLACK_SIM_TOKEN]) {
        expect(r.stdout).not.toContain(secret);
        expect(r.stderr).not.toContain(secret);
      }
    }
  });

  it("redacts a token an API error echoes from every byte of stdout, --json and stderr", async () => {
    // A token with characters JSON escapes: a scrub of the encoded text alone would miss it.
    const pdToken = 'pd"tok\\en-SECRET-4242';
    const pd = new PagerDutySim({ token: pdToken });
    await pd.start();
    try {
      const echoing = join(lab.dir, "echoing.json");
      const pdTokenFile = join(lab.dir, "pd.token");
      writeFileSync(pdTokenFile, `${pdToken}\n`, { mode: 0o600 });
      writeFileSync(
        echoing,
        JSON.stringify({
          sources: [
            { type: "pagerduty", token: `file:${pdTokenFile}`, baseUrl: pd.url, schedules: ["PSRE001"] },
            { type: "rotation", file: join(lab.dir, "rotation.yaml") },
          ],
          sinks: [
            { type: "slack", name: "slack", token: `file:${tokenFile}`, baseUrl: slack.apiUrl, channel: CHANNEL, schedules: ["sre"] },
          ],
          stateDir: join(lab.dir, "echo-state"),
          retries: 0,
        }),
      );
      const outputs: string[] = [];
      for (const args of [["run"], ["--json", "run"], ["status"], ["--json", "status"], ["--log-format", "json", "-vv", "run"]]) {
        // ...and terminal escapes (ESC, BEL, a C1 CSI) that must reach the screen only as visible text.
        const message = `Invalid token ${pdToken} \u001b]0;pwned\u0007\u009b2J`;
        pd.fault({ status: 401, body: { error: { message, code: 2006 } } }, { times: 5 });
        slack.fault({ status: 200, body: { ok: false, error: `invalid_auth for ${SLACK_SIM_TOKEN}` } }, { times: 10 });
        const r = await deputize("--config", echoing, ...args);
        expect(r.code).not.toBe(0);
        // The failures are reported, with the tokens replaced.
        expect(`${r.stdout}${r.stderr}`).toMatch(/Invalid token \[redacted\]/);
        expect(`${r.stdout}${r.stderr}`).toMatch(/invalid_auth for \[redacted\]/);
        outputs.push(r.stdout, r.stderr);
        expect(`${r.stdout}${r.stderr}`).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
        if (args.includes("--json")) expect(JSON.stringify(JSON.parse(r.stdout))).toContain("\\u001b]0;pwned\\u0007\u009b2J");
        else expect(`${r.stdout}${r.stderr}`).toContain("\\x1b]0;pwned\\x07\\x9b2J");
        slack.clearFaults();
        pd.clearFaults();
      }
      const all = outputs.join("\n");
      for (const secret of [pdToken, SLACK_SIM_TOKEN]) {
        for (const form of [secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)]) expect(all).not.toContain(form);
      }
      expect(all).not.toContain("SECRET-4242");
    } finally {
      slack.clearFaults();
      await pd.stop();
    }
  });

  it("a bad config is one line naming the key, exit 78", async () => {
    const bad = join(lab.dir, "bad.json");
    writeFileSync(
      bad,
      JSON.stringify({ sources: [{ type: "rotation", file: "/x" }], sinks: [{ type: "slack", token: "xoxb-literal", channel: "C1" }] }),
    );
    const r = await deputize("--config", bad, "run");
    expect(r.code).toBe(78);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^deputize: invalid config in .*bad\.json: sinks\[0\]\.token: expected "env:NAME"/);
    expect(r.stderr).not.toContain("xoxb-literal");
  });

  /**
   * `run --watch 1` stopped by SIGTERM once its first pass has looked up the channel: its exit code and stderr.
   * The watcher is killed whatever happens, so a failed wait never leaves it running.
   */
  async function watchStoppedInFirstPass(): Promise<{ code: number | null; stderr: string }> {
    const before = slack.callsTo("conversations.info").length;
    const child = spawn(process.execPath, [BUNDLE, "--config", configFile, "run", "--watch", "1"], {
      env: { PATH: process.env.PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      await slack.untilRequest(() => slack.callsTo("conversations.info").length >= before + 1, "the first pass's channel look-up");
      child.kill("SIGTERM");
      return { code: await exited, stderr };
    } finally {
      child.kill("SIGKILL");
    }
  }

  it("--watch runs a pass, waits, and ends on SIGTERM with exit 0", async () => {
    expect(await watchStoppedInFirstPass()).toEqual({ code: 0, stderr: "" });
  });

  it("--watch stopped by SIGTERM during a failing pass says there is no next pass, and exits 0 (T30 #4)", async () => {
    // Slack answers the channel look-up late and with a failure: the pass is under way when SIGTERM comes, and fails.
    slack.fault({ status: 503, delayMs: 1_500, body: { ok: false, error: "service_unavailable" } }, { times: 10 });
    const stopped = await watchStoppedInFirstPass().finally(() => slack.clearFaults());
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toMatch(/pass ended with exit code \d+; stopping \(SIGTERM\): no next pass/);
    expect(stopped.stderr).not.toContain("next in");
  });

  it("a word naming no command is an unknown command, not an extra argument of the default 'run' (T30 #6a)", async () => {
    const r = await deputize("bogus");
    expect([r.code, r.stdout, r.stderr]).toEqual([64, "", "deputize: unknown command 'bogus' (see deputize --help)\n"]);
    const extra = await deputize("run", "bogus");
    expect([extra.code, extra.stderr]).toEqual([64, expect.stringMatching(/^deputize: too many arguments for 'run'/)]);
  });

  it("--watch with a bad interval is a usage error", async () => {
    const r = await deputize("--config", configFile, "run", "--watch", "soon");
    expect(r.code).toBe(64);
    expect(r.stderr).toBe('deputize: --watch expects minutes between 1 and 10080 (one week), got "soon" (for example --watch 5)\n');
  });

  it("--watch outside 1 minute .. 1 week is refused (a huge value would overflow the timer into a busy loop)", async () => {
    const calls = slack.callsTo("conversations.info").length;
    for (const minutes of ["99999999", "0.001", "0", "-5", "Infinity"]) {
      const r = await deputize("--config", configFile, "run", "--watch", minutes);
      expect(r.code).toBe(64);
      expect(r.stderr).toBe(`deputize: --watch expects minutes between 1 and 10080 (one week), got "${minutes}" (for example --watch 5)\n`);
    }
    expect(slack.callsTo("conversations.info").length).toBe(calls);
  });

  it("a stdout that cannot be written is exit 74 with one line, not a success or a stack trace", async () => {
    const fd = openSync(configFile, "r"); // a descriptor that refuses writes (EBADF)
    try {
      const child = spawn(process.execPath, [BUNDLE, "--config", configFile, "run", "--dry-run"], {
        env: { PATH: process.env.PATH },
        stdio: ["ignore", fd, "pipe"],
      });
      let stderr = "";
      child.stderr?.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
      expect(code).toBe(74);
      expect(stderr).toBe(
        "deputize: cannot write to stdout (EBADF); the output is incomplete (give deputize an open stdout read to its end)\n",
      );
    } finally {
      closeSync(fd);
    }
  });

  it("a stdout closed at start (>&-) or whose reader left (EPIPE) is exit 74 with one line, never a success (T41 F7)", async () => {
    for (const [stdout, why] of [
      ["closed", "EBADF: it was closed at start, or is /dev/null opened read-write as node leaves a closed one"],
      ["reader-gone", "EPIPE: its reader closed it"],
    ] as const) {
      for (const args of [["status"], ["--json", "status"], ["run", "--dry-run"]]) {
        // a shell closes fd 1 for it (>&-): a spawn's stdio cannot; a pipe whose read end is gone before the run starts
        const child =
          stdout === "closed"
            ? spawn("sh", ["-c", 'exec "$0" "$@" >&-', process.execPath, BUNDLE, "--config", configFile, ...args], {
                env: { PATH: process.env.PATH },
                stdio: ["ignore", "ignore", "pipe"],
              })
            : spawn(process.execPath, [BUNDLE, "--config", configFile, ...args], {
                env: { PATH: process.env.PATH },
                stdio: ["ignore", "pipe", "pipe"],
              });
        if (stdout === "reader-gone") child.stdout?.destroy();
        let stderr = "";
        child.stderr?.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
        expect({ stdout, args, code, stderr }).toEqual({
          stdout,
          args,
          code: 74,
          stderr: `deputize: cannot write to stdout (${why}); the output is incomplete (give deputize an open stdout read to its end)\n`,
        });
      }
    }
  }, 60_000);

  it("SIGTERM mid-run ends with one line saying what was already applied", async () => {
    const admin = lab.adminClient();
    try {
      await admin.modify(lab.groups.oncall, [{ operation: "replace", attribute: "member", values: [lab.users.bob.dn] }]);
    } finally {
      await admin.close();
    }
    slack.slow(30_000);
    const child = spawn(process.execPath, [BUNDLE, "--config", configFile, "run"], {
      env: { PATH: process.env.PATH },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      // The LDAP change is applied while Slack still holds its first answer.
      const check = lab.adminClient();
      try {
        for (let i = 0; i < 200; i++) {
          const members = (await check.read(lab.groups.oncall, ["member"]))?.get("member");
          if (members?.length === 1 && members[0] === lab.users.alice.dn) break;
          await new Promise((r) => setTimeout(r, 50));
        }
      } finally {
        await check.close();
      }
      await new Promise((r) => setTimeout(r, 200)); // let the run record it before the signal
      child.kill("SIGTERM");
      expect(await exited).toBe(143);
    } finally {
      slack.slow(0);
    }
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^deputize: interrupted by SIGTERM; applied: ldap:oncall changed \(\+alice -bob\); /);
    expect(stderr.trim().split("\n")).toHaveLength(1);
  });
});
