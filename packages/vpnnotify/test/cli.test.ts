import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { Spool } from "@opsguard/core";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { spoolJobSchema } from "../src/alert";
import { parseHookEnv, type VpnEvent } from "../src/event";
import { queuedLogin } from "../src/worker";
import { CLI, openvpnConnectEnv, PLACES, runCli, runInProc, syslogServer, waitFor, writeGeoDatabases } from "./fixtures";

const SECURITY = "C0SECURITY";
let dir: string;
let slack: SlackSim;
let geo: { city: string; asn: string };
let n = 0;

interface Setup {
  config: string;
  state: string;
  logFile: string;
}

/** A fresh config (and state file) per test, so tests do not see each other's places. */
function setup(overrides: Record<string, unknown> = {}): Setup {
  n++;
  const state = join(dir, `state-${n}`, "state.json");
  const logFile = join(dir, `vpnnotify-${n}.log`);
  const config = join(dir, `config-${n}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      server: { name: "vpn-test", environment: "lab" },
      slack: { token: "env:VPNNOTIFY_TEST_TOKEN", baseUrl: slack.apiUrl },
      securityChannel: SECURITY,
      directory: { emailDomain: "example.org" },
      geoip: { city: geo.city, asn: geo.asn },
      state: { file: state },
      log: { file: logFile },
      // Generous: tsx compiles the CLI on every start, which the deadline (counted from process start) includes.
      deadlineMs: 10_000,
      ...overrides,
    }),
  );
  return { config, state, logFile };
}

const base = (s: Setup) => ({ VPNNOTIFY_CONFIG: s.config, VPNNOTIFY_TEST_TOKEN: SLACK_SIM_TOKEN });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-cli-"));
  geo = writeGeoDatabases(dir);
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addUser({ id: "U0BOB", name: "bob", email: "bob@example.org" });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  slack.up();
  slack.messages.length = 0;
});

describe("OpenVPN client-connect", () => {
  it("answers at once, leaves the dynamic config file alone, and a detached worker sends the DM", async () => {
    const s = setup();
    const ccFile = join(dir, "openvpn_cc_1.tmp");
    writeFileSync(ccFile, "");
    const result = await runCli([ccFile], { ...base(s), ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect(result).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const dm = await waitFor(() => slack.messagesTo("U0ALICE")[0], 15_000, "the DM");
    expect(dm.text).toContain("London, England, United Kingdom");
    expect(readFileSync(ccFile, "utf8")).toBe("");
    const log = await waitFor(() => existsSync(s.logFile) && readFileSync(s.logFile, "utf8"), 5_000, "the log line");
    expect(log).toMatch(/^vpnnotify: notified user=alice ip=81\.2\.69\.142 .*reason=first-login dm=U0ALICE\n$/);
  });

  it("deferred: writes 2 at once, then 1 from the worker once Slack answered (onFailure reject)", async () => {
    const s = setup({ onFailure: "reject" });
    const deferred = join(dir, "openvpn_acf_1.tmp");
    writeFileSync(deferred, "");
    slack.slow(1_500);
    const result = await runCli(["openvpn", join(dir, "cc.tmp")], {
      ...base(s),
      ...openvpnConnectEnv("bob", PLACES.paris.ip, { client_connect_deferred_file: deferred }),
    });
    expect(result.code).toBe(0);
    expect(readFileSync(deferred, "utf8")).toBe("2");
    await waitFor(() => readFileSync(deferred, "utf8") === "1", 15_000, 'the deferred file to say "1"');
    expect(slack.messagesTo("U0BOB")).toHaveLength(1);
  });

  it("a FIFO planted as the spool's drain.lock hangs neither the worker nor flush: it is removed and the alert goes out", async () => {
    const s = setup({ spool: { idleSeconds: 0 } });
    const spool = join(dirname(s.state), "spool");
    const lock = join(spool, "drain.lock");
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    expect(spawnSync("mkfifo", [lock]).status).toBe(0);
    expect((await runCli([], { ...base(s), ...openvpnConnectEnv("alice", PLACES.london.ip) })).code).toBe(0);
    await waitFor(() => slack.messagesTo("U0ALICE")[0], 15_000, "the DM");
    expect(readFileSync(s.logFile, "utf8")).toContain("removed a drain.lock that was not a regular file");
    // flush ends with its documented code (0: nothing left), within runCli's bound, not hung on the FIFO.
    await waitFor(() => /worker done/.test(readFileSync(s.logFile, "utf8")), 10_000, "the worker to end");
    rmSync(lock, { force: true });
    expect(spawnSync("mkfifo", [lock]).status).toBe(0);
    const flush = await runInProc(["flush", "--json"], base(s));
    expect(flush.code).toBe(0);
    expect(JSON.parse(flush.stdout)).toMatchObject({ delivered: 0, failed: 0, pending: 0 });
    expect(existsSync(lock)).toBe(false);
  });

  it("a slow Slack (stores the post, answers after 2.5 s) gets each alert once: the worker's Slack timeout is not the hook's deadline", async () => {
    const s = setup({ deadlineMs: 2_000, spool: { retryAfterSeconds: 0, maxAttempts: 3, idleSeconds: 0 } });
    slack.slow(2_500);
    const result = await runCli([], { ...base(s), ...openvpnConnectEnv("bob", PLACES.paris.ip) });
    expect(result.code).toBe(0);
    await waitFor(() => existsSync(s.logFile) && /worker done/.test(readFileSync(s.logFile, "utf8")), 20_000, "the worker to finish");
    expect(slack.messagesTo("U0BOB")).toHaveLength(1);
    expect(readFileSync(s.logFile, "utf8")).not.toMatch(/failed|timed out/);
  });

  it("onFailure reject: a worker killed before answering leaves the client to the next run, which answers 0 once the deadline passed", async () => {
    // A deadline that a worker started on a loaded machine (CI: 2 cores, every test file at once) still reaches
    // Slack well before: killed after it, the worker would have answered itself.
    const s = setup({ onFailure: "reject", deadlineMs: 8_000, spool: { idleSeconds: 0 } });
    const spool = join(dirname(s.state), "spool");
    const deferred = join(dir, "openvpn_acf_killed.tmp");
    writeFileSync(deferred, "");
    slack.slow(16_000);
    const result = await runCli([], {
      ...base(s),
      ...openvpnConnectEnv("bob", PLACES.london.ip, { client_connect_deferred_file: deferred }),
    });
    expect(result.code).toBe(0);
    expect(readFileSync(deferred, "utf8")).toBe("2");
    // The worker has turned the login into its alert and waits on Slack: killed there.
    const holder = await waitFor(
      () => {
        try {
          const names = readdirSync(spool).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f));
          const entry = names.length === 1 && JSON.parse(readFileSync(join(spool, names[0] as string), "utf8"));
          const lock = entry?.payload.event && (JSON.parse(readFileSync(join(spool, "drain.lock"), "utf8")) as { pid: number });
          return lock && { pid: lock.pid, leaseUntil: entry.leaseUntil as number };
        } catch {
          return undefined;
        }
      },
      15_000,
      "the worker to wait on Slack",
    );
    process.kill(holder.pid, "SIGKILL");
    slack.up();
    expect(readFileSync(deferred, "utf8")).toBe("2");
    // The killed worker's lease on the entry (a second past the answer's deadline) runs out: the next run may take it.
    await waitFor(() => Date.now() > holder.leaseUntil + 50, 30_000, "the killed worker's lease to run out");
    const flush = await runInProc(["flush"], base(s));
    expect(flush.code).toBe(0);
    expect(readFileSync(deferred, "utf8")).toBe("0");
    expect(flush.stderr).toMatch(/a stopped worker left OpenVPN waiting; answered 0 user=bob/);
  });

  it("a queued login that fails for good (no IP address) is counted failed, not delivered", async () => {
    const s = setup();
    const spool = join(dirname(s.state), "spool");
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    const id = `${Date.now()}-0badc0de`;
    const login = { kind: "connect", source: "openvpn", user: "bob", ip: "not-an-ip", time: Date.now() };
    writeFileSync(
      join(spool, `${id}.json`),
      JSON.stringify({ id, createdAt: Date.now(), attempts: 0, leaseUntil: 0, nextAttemptAt: 0, payload: { login } }),
      {
        mode: 0o600,
      },
    );
    const flush = await runInProc(["flush", "--json"], base(s));
    // Not alerted, and nothing left to retry: flush says so (69), once.
    expect(flush.code).toBe(69);
    expect(JSON.parse(flush.stdout)).toMatchObject({ delivered: 0, failed: 1, pending: 0 });
  });

  it("a deferred file it cannot write (a directory) is one log line and exit 0, and the worker still notifies", async () => {
    const s = setup();
    const deferred = mkdtempSync(join(dir, "acf-dir-"));
    const result = await runCli([], {
      ...base(s),
      ...openvpnConnectEnv("bob", PLACES.london.ip, { client_connect_deferred_file: deferred }),
    });
    expect(result).toMatchObject({ code: 0, stdout: "" });
    expect(result.stderr).toMatch(/^vpnnotify: warn: cannot write client_connect_deferred_file ".*acf-dir-.*" \(EISDIR\); .*\n$/);
    await waitFor(() => slack.messagesTo("U0BOB")[0], 15_000, "the DM");
  });

  it("deferred with onFailure reject: Slack down makes the worker write 0", async () => {
    const s = setup({ onFailure: "reject" });
    const deferred = join(dir, "openvpn_acf_2.tmp");
    writeFileSync(deferred, "");
    slack.down();
    const result = await runCli([], {
      ...base(s),
      ...openvpnConnectEnv("alice", PLACES.sydney.ip, { client_connect_deferred_file: deferred }),
    });
    expect(result.code).toBe(0);
    await waitFor(() => readFileSync(deferred, "utf8") === "0", 15_000, 'the deferred file to say "0"');
    expect(readFileSync(s.logFile, "utf8")).toMatch(/^vpnnotify: error: failed user=alice .*service_unavailable/m);
  });

  it("deferred with the default onFailure accept: the worker lets the client in even though Slack is down", async () => {
    const s = setup();
    const deferred = join(dir, "openvpn_acf_3.tmp");
    writeFileSync(deferred, "");
    slack.down();
    const result = await runCli([], {
      ...base(s),
      ...openvpnConnectEnv("alice", PLACES.london.ip, { client_connect_deferred_file: deferred }),
    });
    expect(result.code).toBe(0);
    await waitFor(() => readFileSync(deferred, "utf8") === "1", 15_000, 'the deferred file to say "1"');
    const log = await waitFor(() => existsSync(s.logFile) && readFileSync(s.logFile, "utf8"), 15_000, "the worker's log line");
    expect(log).toMatch(/^vpnnotify: error: failed user=alice /);
  });

  it("--wait with a hung Slack: exits 0 within the deadline, says why in one log line and that the alert waits in the spool", async () => {
    // Slack's own timeout longer than the job's, so the deadline ends it however fast the start was.
    const s = setup({ deadlineMs: 3_000, slack: { token: "env:VPNNOTIFY_TEST_TOKEN", baseUrl: slack.apiUrl, timeoutMs: 20_000 } });
    slack.fault({ hang: true }, { times: 10 });
    const result = await runCli(["openvpn", "--wait"], { ...base(s), ...openvpnConnectEnv("alice", PLACES.reading.ip) });
    expect(result.code).toBe(0);
    // Far under Slack's own 20 s timeout, with room for tsx starting on a busy machine.
    expect(result.ms).toBeLessThan(3_000 + 10_000);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toEqual([
      expect.stringMatching(/^vpnnotify: error: failed user=alice ip=86\.10\.1\.1 reason=.*deadline/),
      expect.stringMatching(/^vpnnotify: warn: undelivered alerts pending=1 oldest=/),
    ]);
  });

  it("notify with a hung Slack: exits 75 at the deadline, not when Slack's own timeout runs out", async () => {
    const s = setup({ deadlineMs: 3_000, slack: { token: "env:VPNNOTIFY_TEST_TOKEN", baseUrl: slack.apiUrl, timeoutMs: 20_000 } });
    slack.fault({ hang: true }, { times: 10 });
    const result = await runCli(["notify", "--user", "alice", "--ip", PLACES.reading.ip], base(s));
    expect(result.code).toBe(75);
    // Far under Slack's own 20 s timeout, with room for tsx starting on a busy machine.
    expect(result.ms).toBeLessThan(3_000 + 10_000);
    expect(result.stderr).toBe("vpnnotify: gave up at the 3000 ms deadline (check Slack, LDAP and the state store)\n");
  });

  it("notify --json cut off at the deadline still prints its result: failed, why, and the spool entry keeping the alert; exit 75", async () => {
    // Slack's default timeout (60% of the deadline) and one retry outlast the deadline.
    const s = setup({ deadlineMs: 1_500 });
    slack.fault({ hang: true }, { times: 10 });
    const result = await runInProc(["--json", "notify", "--user", "alice", "--ip", PLACES.reading.ip], base(s));
    expect(result.code).toBe(75);
    expect(result.stderr).toBe("vpnnotify: gave up at the 1500 ms deadline (check Slack, LDAP and the state store)\n");
    const outcome = JSON.parse(result.stdout);
    expect(outcome).toMatchObject({
      verdict: "failed",
      reason: "gave up at the 1500 ms deadline (check Slack, LDAP and the state store)",
      user: "alice",
      ip: PLACES.reading.ip,
      spooled: expect.stringMatching(/^\d+-[0-9a-f]{8}$/),
    });
    // The entry it names is there for the worker or flush to retry.
    expect(readdirSync(join(dirname(s.state), "spool"))).toContain(`${outcome.spooled}.json`);
  });

  it("notify refuses a --user with nothing visible (empty, spaces, control characters) with 64, as a hook without a user logs it", async () => {
    const s = setup();
    for (const user of ["", "   ", "\u0001\u001b", "\u200b\t"]) {
      const result = await runInProc(["notify", "--user", user, "--ip", PLACES.paris.ip, "--json"], base(s));
      expect(result.code).toBe(64);
      expect(result.stderr).toBe("vpnnotify: --user is empty (or only spaces or control characters) (pass the VPN user's name)\n");
      expect(result.stdout).toBe("");
    }
    expect(slack.messages).toEqual([]);
    // The hook: OpenVPN's common_name of control characters only is no user either (logged, the client let in).
    const hook = await runInProc(["--wait"], { ...base(s), ...openvpnConnectEnv("\u0001", PLACES.paris.ip) });
    expect(hook.code).toBe(0);
    expect(hook.stderr).toMatch(/^vpnnotify: error: failed reason="OpenVPN gave neither username nor common_name/);
    expect(slack.messages).toEqual([]);
  });

  it("notify --time more than a day ahead is refused (64): remembered as the place's latest login, it kept every real one quiet (T38 F2)", async () => {
    const s = setup();
    const future = await runInProc(["notify", "--user", "alice", "--ip", PLACES.paris.ip, "--time", "2099-01-01T00:00:00Z"], base(s));
    expect(future.code).toBe(64);
    expect(future.stderr).toMatch(/^vpnnotify: --time "2099-01-01T00:00:00Z" is more than a day ahead of this host's clock/);
    expect(slack.messages).toEqual([]);
    // what Date.parse would take but is no ISO 8601 time, or no date at all, is refused too (T42 N3: "0" was 2000-01-01)
    for (const text of ["0", "-1", "2026-02-30", "12/07/2026"]) {
      const odd = await runInProc(["notify", "--user", "alice", "--ip", PLACES.paris.ip, "--time", text], base(s));
      expect(odd.code).toBe(64);
      expect(odd.stderr).toBe(`vpnnotify: --time "${text}" is not a date (use ISO 8601, e.g. 2026-11-23T10:00:00Z)\n`);
    }
    // a past time replays a login: told, and the next real login from the same place is known
    const replay = await runInProc(
      ["--json", "notify", "--user", "alice", "--ip", PLACES.paris.ip, "--time", "2026-01-05T09:00:00Z"],
      base(s),
    );
    expect(replay.code).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ verdict: "notified" });
  });

  it("a user name that is not UTF-8: notify --user refuses it (64); a hook's logins under such names share no history, each reaches security", async () => {
    const s = setup();
    /** The CLI under /bin/sh, so that `prelude` can put raw bytes (printf) into its arguments or environment. */
    const raw = (prelude: string, args: string, env: Record<string, string> = {}) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const cli = `"${process.execPath}" --import tsx "${CLI}"`;
        const child = spawn("/bin/sh", ["-c", `${prelude} exec ${cli} ${args}`], {
          cwd: join(import.meta.dirname, "../../.."),
          env: { PATH: process.env.PATH, HOME: process.env.HOME, ...base(s), ...env },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => {
          stderr += c;
        });
        child.on("close", (code) => resolve({ code, stderr }));
      });
    const notify = await raw("", `notify --user "$(printf 'al\\377ce')" --ip ${PLACES.paris.ip}`);
    expect(notify).toEqual({
      code: 64,
      stderr:
        "vpnnotify: --user is not valid UTF-8 (or holds U+FFFD, what such bytes decode to) (pass the VPN user's name in UTF-8, as the directory spells it)\n",
    });
    // (An earlier test's worker may still post its own late alert meanwhile: only these names' messages count.)
    const ours = () => slack.messagesTo(SECURITY).filter((m) => m.text?.includes("al\ufffdce"));
    expect(ours()).toEqual([]);
    // Two names that differ only in bytes that are not UTF-8, one after the other from one place: neither
    // silences the other (before, the second was "suppressed" as a known place), and nothing is remembered.
    for (const bytes of ["al\\377ce", "al\\376ce"]) {
      const hook = await raw(`username=$(printf '${bytes}'); export username;`, "--wait", openvpnConnectEnv("fallback", PLACES.paris.ip));
      expect(hook.code).toBe(0);
      expect(hook.stderr).toMatch(
        /^vpnnotify: warn: escalated user=al\ufffdce .*reason=state-unavailable .*state="unavailable \(no history is kept for a user name that is not valid UTF-8/,
      );
    }
    expect(ours()).toHaveLength(2);
    expect(existsSync(s.state) ? Object.keys(JSON.parse(readFileSync(s.state, "utf8")).users ?? {}) : []).toEqual([]);
  });

  it("two concurrent connects for one user leave one valid state and one DM", async () => {
    const s = setup();
    const env = { ...base(s), ...openvpnConnectEnv("alice", PLACES.paris.ip) };
    const results = await Promise.all([runCli(["--wait"], env), runCli(["--wait"], env)]);
    expect(results.map((r) => r.code)).toEqual([0, 0]);
    const verdicts = results.map((r) => /vpnnotify: (?:\w+: )?(\w+) /.exec(r.stderr)?.[1]).sort();
    expect(verdicts).toEqual(["notified", "suppressed"]);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    const state = JSON.parse(readFileSync(s.state, "utf8"));
    expect(Object.keys(state.users.alice.places)).toEqual(expect.arrayContaining([`ip:${PLACES.paris.ip}`, "country:FR"]));
  });

  it("client-disconnect logs the session's end and length", async () => {
    const s = setup();
    const result = await runInProc(["--wait"], {
      ...base(s),
      ...openvpnConnectEnv("alice", PLACES.london.ip, { script_type: "client-disconnect", time_duration: "3600" }),
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^vpnnotify: session ended user=alice ip=81\.2\.69\.142 duration=3600s$/m);
  });

  it("a broken config never disconnects the client: exit 0 and one line naming the problem", async () => {
    const config = join(dir, "broken.json");
    writeFileSync(config, JSON.stringify({ server: { name: "x" }, securityChannel: "#not-an-id" }));
    const result = await runInProc(["--wait"], { VPNNOTIFY_CONFIG: config, ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^vpnnotify: error: failed user=alice ip=81\.2\.69\.142 reason=".*NO login is notified.*invalid config.*slack/,
    );
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });
  it("a broken config in the detached worker still reaches syslog, saying that no login is notified", async () => {
    const config = join(dir, "broken-detached.json");
    // A spool of the test's own (that does not exist, as none did): without one the launcher looks at the default,
    // /var/lib/opsguard/vpnnotify/spool, and on a host that has it would queue this login there.
    const spool = { dir: join(dir, "broken-detached-spool") };
    writeFileSync(config, JSON.stringify({ server: { name: "x" }, securityChannel: "#not-an-id", spool }));
    const syslog = await syslogServer();
    try {
      const deferred = join(dir, "deferred-broken");
      const env = openvpnConnectEnv("alice", PLACES.london.ip, { client_connect_deferred_file: deferred });
      const result = await runCli([], { VPNNOTIFY_CONFIG: config, PATH: syslog.path, ...env });
      expect(result).toMatchObject({ code: 0, stderr: "" });
      const line = await waitFor(() => syslog.lines.find((l) => l.includes("vpnnotify")), 15_000, "the syslog line");
      // <27> is daemon.err; the line names the key at fault and that alerts are off.
      expect(line).toMatch(
        /^<27>.* vpnnotify .* failed user=alice ip=81\.2\.69\.142 reason=".*NO login is notified.*invalid config.*slack/,
      );
      expect(readFileSync(deferred, "utf8")).toBe("1");
    } finally {
      await syslog.close();
    }
  });

  it("a valid config naming a token file that cannot be read answers the waiting client as onFailure says and says so in syslog (T42 N6: it waited on 2)", async () => {
    for (const [onFailure, answer, client] of [
      ["accept", "1", "the client was let in"],
      ["reject", "0", "the client was refused: onFailure is reject"],
    ] as const) {
      const config = join(dir, `missing-token-${onFailure}.yaml`);
      writeFileSync(
        config,
        `server: {name: x}\nslack: {token: "file:${join(dir, "no-such-token")}", baseUrl: "${slack.apiUrl}"}\nsecurityChannel: ${SECURITY}\nonFailure: ${onFailure}\nstate: {file: ${join(dir, `missing-token-${onFailure}`, "state.json")}}\n`,
      );
      const syslog = await syslogServer();
      try {
        const deferred = join(dir, `deferred-missing-token-${onFailure}`);
        const env = openvpnConnectEnv("alice", PLACES.london.ip, { client_connect_deferred_file: deferred });
        const result = await runCli([], { VPNNOTIFY_CONFIG: config, PATH: syslog.path, ...env });
        expect(result).toMatchObject({ code: 0 });
        await waitFor(() => readFileSync(deferred, "utf8") === answer, 15_000, `the deferred answer ${answer}`);
        const line = await waitFor(() => syslog.lines.find((l) => l.includes("vpnnotify")), 15_000, "the syslog line");
        expect(line).toContain(
          `NO login is notified until it is fixed (${client}): slack.token: the secret file it names cannot be read (ENOENT`,
        );
        expect(line).toMatch(/failed user=alice ip=81\.2\.69\.142 /);
      } finally {
        await syslog.close();
      }
    }
  });

  it("a config that cannot be read or is not JSON is said in OpenVPN's log by the hook itself, not only in the worker's syslog (T38 F6)", async () => {
    const truncated = join(dir, "truncated.json");
    writeFileSync(truncated, '{"server": {');
    for (const [config, why] of [
      [join(dir, "no-such-config.json"), "cannot read \\S+no-such-config\\.json \\(ENOENT\\)"],
      [truncated, "\\S+truncated\\.json is not valid JSON"],
    ] as const) {
      const deferred = join(dir, `deferred-${basename(config)}`);
      const env = openvpnConnectEnv("alice", PLACES.london.ip, { client_connect_deferred_file: deferred });
      const result = await runCli([], { VPNNOTIFY_CONFIG: config, ...env });
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(
        new RegExp(
          `^vpnnotify: error: failed reason="unusable config, so NO login is notified until it is fixed \\(the client was let in\\): ${why}"\n$`,
        ),
      );
      await waitFor(() => readFileSync(deferred, "utf8") === "1", 15_000, "the deferred answer");
    }
  });

  it("a config broken after the spool was made: each hook's login waits queued, OpenVPN gets 1, and every worker says so", async () => {
    const root = mkdtempSync(join(dir, "broken-queued-"));
    const spool = join(root, "spool");
    mkdirSync(spool, { mode: 0o700 });
    const config = join(root, "vpnnotify.json");
    writeFileSync(
      config,
      JSON.stringify({ server: { name: "x" }, securityChannel: "#not-an-id", spool: { dir: spool }, onFailure: "reject" }),
    );
    const syslog = await syslogServer();
    try {
      for (const [n, name] of [
        [1, "alice"],
        [2, "bob"],
      ] as const) {
        const deferred = join(root, `acf-${name}`);
        const env = openvpnConnectEnv(name, PLACES.london.ip, { client_connect_deferred_file: deferred });
        const result = await runCli([], { VPNNOTIFY_CONFIG: config, PATH: syslog.path, ...env });
        expect(result).toMatchObject({ code: 0, stderr: "" });
        // The raw config says reject, so the hook deferred; the worker, unable to validate it, lets the client in.
        await waitFor(() => readFileSync(deferred, "utf8") === "1", 15_000, `${name}'s deferred answer`);
        const line = await waitFor(() => syslog.lines.find((l) => l.includes(`user=${name} `)), 15_000, "the syslog line");
        expect(line).toMatch(new RegExp(`failed user=${name} .*NO login is notified.*invalid config.* queued=${n}$`));
      }
      expect(readdirSync(spool).filter((f) => f.endsWith(".json"))).toHaveLength(2);
    } finally {
      await syslog.close();
    }
  });

  it("an OpenVPN environment without the client's address is logged, and the client still connects", async () => {
    const s = setup();
    const env = openvpnConnectEnv("alice", PLACES.london.ip);
    delete env.trusted_ip;
    const result = await runInProc([], { ...base(s), ...env });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'vpnnotify: error: failed reason="OpenVPN gave neither trusted_ip nor trusted_ip6 (check the VPN server\'s script settings)"\n',
    );
    const json = await runInProc(["--log-format", "json"], { ...base(s), ...env });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stderr)).toMatchObject({
      level: "error",
      tool: "vpnnotify",
      msg: "failed",
      reason: expect.stringMatching(/trusted_ip6/),
    });
  });
});

/** The per-host worker as a hook starts it for logins already queued; its exit code (a signal's as 128 + its number). */
function startWorker(s: Setup): { exited: Promise<number | null>; pid: number } {
  const child = spawn(process.execPath, ["--import", "tsx", CLI], {
    cwd: join(import.meta.dirname, "../../.."),
    env: { ...process.env, ...base(s), VPNNOTIFY_DETACHED: "1", VPNNOTIFY_QUEUED: "1", ...openvpnConnectEnv("alice", PLACES.london.ip) },
    stdio: "ignore",
  });
  return {
    exited: new Promise((resolve) => child.on("close", (code, signal) => resolve(code ?? (signal ? -1 : null)))),
    pid: child.pid ?? 0,
  };
}

/** A spool entry for the login (or disconnect) of this OpenVPN environment, as the hooks queue it. */
function queueLogin(s: Setup, env: Record<string, string>) {
  const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
  return spool.enqueue(queuedLogin(parseHookEnv(env, Date.now())?.event as VpnEvent));
}

describe("what the worker and flush count", () => {
  it("delivered counts alerts sent; logins from a known place and disconnects are counted apart (log line and --json)", async () => {
    const s = setup({ spool: { idleSeconds: 0 } });
    await queueLogin(s, openvpnConnectEnv("alice", PLACES.london.ip));
    expect(JSON.parse((await runInProc(["flush", "--json"], base(s))).stdout)).toMatchObject({
      delivered: 1,
      suppressed: 0,
      disconnects: 0,
    });
    await queueLogin(s, openvpnConnectEnv("alice", PLACES.london.ip));
    await queueLogin(s, openvpnConnectEnv("alice", PLACES.london.ip, { script_type: "client-disconnect", time_duration: "60" }));
    const flush = await runInProc(["flush", "--json"], base(s));
    expect([flush.code, JSON.parse(flush.stdout)]).toMatchObject([0, { delivered: 0, suppressed: 1, disconnects: 1, failed: 0 }]);
    await queueLogin(s, openvpnConnectEnv("bob", PLACES.paris.ip));
    await queueLogin(s, openvpnConnectEnv("alice", PLACES.london.ip));
    await queueLogin(s, openvpnConnectEnv("bob", PLACES.paris.ip, { script_type: "client-disconnect", time_duration: "5" }));
    expect(await startWorker(s).exited).toBe(0);
    expect(readFileSync(s.logFile, "utf8")).toMatch(/^vpnnotify: worker done delivered=1 suppressed=1 disconnects=1 peakRssMiB=\d+$/m);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    expect(slack.messagesTo("U0BOB")).toHaveLength(1);
  }, 30_000);
});

describe("a worker that ends idle (T50 N1)", () => {
  it("leaves when Slack last accepted its posts beside the spool, for the next worker's first logins", async () => {
    const s = setup({ onFailure: "reject", spool: { idleSeconds: 0 } });
    const before = Date.now();
    await queueLogin(s, openvpnConnectEnv("alice", PLACES.london.ip));
    expect(await startWorker(s).exited).toBe(0);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    const kept = JSON.parse(readFileSync(join(dirname(s.state), "spool", "slack-refusals.json"), "utf8"));
    expect(kept).toEqual({ channels: {}, users: {}, lastPost: { acceptedAt: expect.any(Number) } });
    expect(kept.lastPost.acceptedAt).toBeGreaterThanOrEqual(before);
  }, 30_000);
});

describe("a queued login whose time no Date can hold (queued before T30 #1's fix)", () => {
  it("is unreadable, moved to dead/ at once, not retried for hours as an alert; the user's next login is told", async () => {
    const s = setup({ spool: { idleSeconds: 0 } });
    const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
    const login = parseHookEnv(openvpnConnectEnv("alice", PLACES.london.ip), Date.now())?.event as VpnEvent;
    await spool.enqueue(queuedLogin({ ...login, time: 8.64e15 + 1 }));
    await queueLogin(s, openvpnConnectEnv("alice", PLACES.london.ip));
    const flush = await runInProc(["flush", "--json"], base(s));
    // the next login went out; the unreadable one was never sent, so flush fails until someone deals with it (T48 F1)
    expect([flush.code, JSON.parse(flush.stdout)]).toMatchObject([69, { delivered: 1, failed: 0, gaveUp: 0, unreadable: 1, pending: 0 }]);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    const status = await runInProc(["status", "--json"], base(s));
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0, gaveUp: 0, unreadable: 1 });
  }, 30_000);
});

describe("a worker stopped by SIGTERM (systemd, a container, a person)", () => {
  it("says so in one line, hands back the alert under way at once (what went out stays sent), exits 143; flush then delivers it", async () => {
    const s = setup({ spool: { idleSeconds: 120, slackTimeoutSeconds: 120 } });
    const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
    const queue = (user: string, ip: string) => {
      const call = parseHookEnv(openvpnConnectEnv(user, ip), Date.now());
      return spool.enqueue(queuedLogin(call?.event as VpnEvent));
    };
    await queue("alice", PLACES.london.ip);
    const worker = startWorker(s);
    await waitFor(() => slack.messagesTo("U0ALICE")[0], 20_000, "alice's DM");
    // Slack now takes two minutes to answer: bob's alert is under way, its lease far ahead, when the worker is stopped.
    slack.slow(120_000);
    const bob = await queue("bob", PLACES.paris.ip);
    const bobFile = join(spool.dir, `${bob.id}.json`);
    await waitFor(() => JSON.parse(readFileSync(bobFile, "utf8")).leaseUntil > Date.now() + 60_000, 20_000, "bob's alert under way");
    process.kill(worker.pid, "SIGTERM");
    expect(await worker.exited).toBe(143);
    expect(existsSync(join(spool.dir, "drain.lock"))).toBe(false);
    const log = readFileSync(s.logFile, "utf8");
    expect(log.match(/^vpnnotify: warn: worker stopped by SIGTERM .*$/gm)).toEqual([
      "vpnnotify: warn: worker stopped by SIGTERM delivered=1 suppressed=0 disconnects=0 handedBack=1",
    ]);
    const [entry] = await spool.list({ readOnly: true });
    expect(entry?.leaseUntil).toBeLessThanOrEqual(Date.now());
    expect(entry?.lastError).toBe("the worker was stopped (SIGTERM) before this alert went out");
    slack.up();
    const flush = await runInProc(["flush", "--json"], base(s));
    expect([flush.code, JSON.parse(flush.stdout)]).toMatchObject([0, { delivered: 1, leased: 0, pending: 0 }]);
    // Bob's DM was posted (Slack stores a post before its slow answer) and again by flush: at least once. Alice's went once.
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    expect(slack.messagesTo("U0BOB").length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("onFailure reject: the alert OpenVPN waits on gets its 0 at the stop, not when its deadline has passed", async () => {
    const s = setup({ onFailure: "reject", spool: { idleSeconds: 120, slackTimeoutSeconds: 120 } });
    const deferred = join(dir, "openvpn_acf_sigterm.tmp");
    writeFileSync(deferred, "2");
    slack.slow(120_000);
    const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
    const event = parseHookEnv(openvpnConnectEnv("bob", PLACES.paris.ip, { client_connect_deferred_file: deferred }), Date.now())?.event;
    const entry = await spool.enqueue(queuedLogin(event as VpnEvent, Date.now() + 60_000));
    const worker = startWorker(s);
    const file = join(spool.dir, `${entry.id}.json`);
    await waitFor(() => JSON.parse(readFileSync(file, "utf8")).leaseUntil > Date.now(), 20_000, "the alert under way");
    process.kill(worker.pid, "SIGTERM");
    expect(await worker.exited).toBe(143);
    expect(readFileSync(deferred, "utf8")).toBe("0");
    expect(readFileSync(s.logFile, "utf8")).toContain(
      `warn: answered 0 user=bob ip=${PLACES.paris.ip} reason="stopped (SIGTERM) before the verdict OpenVPN waits on"`,
    );
    expect(JSON.parse(readFileSync(file, "utf8")).payload.answer).toBeUndefined();
  }, 60_000);

  it("onFailure reject: every queued login OpenVPN waits on gets its 0 at the stop, not only the one under way; each alert stays spooled and its DM says the login was refused (T50 N7)", async () => {
    // One alert at a time: bob's is under way (Slack slow) while alice's waits in the queue, not started.
    const s = setup({ onFailure: "reject", spool: { idleSeconds: 120, slackTimeoutSeconds: 120, concurrency: 1 } });
    slack.slow(120_000);
    const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
    const queue = async (user: string, ip: string) => {
      const deferred = join(dir, `openvpn_acf_sigterm_${n}_${user}.tmp`);
      writeFileSync(deferred, "2");
      const event = parseHookEnv(openvpnConnectEnv(user, ip, { client_connect_deferred_file: deferred }), Date.now())?.event;
      const entry = await spool.enqueue(queuedLogin(event as VpnEvent, Date.now() + 60_000));
      return { deferred, file: join(spool.dir, `${entry.id}.json`) };
    };
    const bob = await queue("bob", PLACES.paris.ip);
    const alice = await queue("alice", PLACES.london.ip);
    const worker = startWorker(s);
    await waitFor(() => JSON.parse(readFileSync(bob.file, "utf8")).leaseUntil > Date.now(), 20_000, "bob's alert under way");
    process.kill(worker.pid, "SIGTERM");
    expect(await worker.exited).toBe(143);
    expect([readFileSync(bob.deferred, "utf8"), readFileSync(alice.deferred, "utf8")]).toEqual(["0", "0"]);
    const log = readFileSync(s.logFile, "utf8");
    for (const [user, place] of [
      ["bob", PLACES.paris],
      ["alice", PLACES.london],
    ] as const) {
      expect(log).toContain(`warn: answered 0 user=${user} ip=${place.ip} reason="stopped (SIGTERM) before the verdict OpenVPN waits on"`);
    }
    // One line for the stop, counting both refusals: bob's (handed back) and alice's (queued).
    expect(log.match(/^vpnnotify: warn: worker stopped by SIGTERM .*$/gm)).toEqual([
      "vpnnotify: warn: worker stopped by SIGTERM delivered=0 suppressed=0 disconnects=0 handedBack=1 refused=2",
    ]);
    // alice's login is still queued, answered: the next worker does not answer it again, and tells her it was refused
    expect(JSON.parse(readFileSync(alice.file, "utf8")).payload).toMatchObject({ loginRefused: true, login: { user: "alice" } });
    expect(JSON.parse(readFileSync(alice.file, "utf8")).payload.answer).toBeUndefined();
    slack.up();
    expect((await runInProc(["flush", "--force"], base(s))).code).toBe(0);
    expect(slack.messagesTo("U0ALICE").map((m) => m.text)).toEqual([
      expect.stringMatching(/^Hi alice, someone just tried to start a VPN session \(it was refused/),
    ]);
    expect(slack.messagesTo("U0BOB").at(-1)?.text).toMatch(/^Hi bob, someone just tried to start a VPN session \(it was refused/);
  }, 60_000);

  it("flush stopped by SIGTERM mid-alert (Slack hangs): hands the alert back at once, exits 143; the next flush delivers it exactly once", async () => {
    const s = setup({ spool: { slackTimeoutSeconds: 120 } });
    const bob = await queueLogin(s, openvpnConnectEnv("bob", PLACES.paris.ip));
    const spool = join(dirname(s.state), "spool");
    const bobFile = join(spool, `${bob.id}.json`);
    // Slack takes every call but answers none for two minutes: the flush is stuck in its user lookup, before any post.
    slack.slow(120_000);
    const before = slack.requests.length;
    const flush = spawn(process.execPath, ["--import", "tsx", CLI, "--json", "flush"], {
      cwd: join(import.meta.dirname, "../../.."),
      env: { ...process.env, ...base(s) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    flush.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    flush.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    const exited = new Promise<number | string | null>((resolve) => flush.on("close", (code, signal) => resolve(code ?? signal)));
    await waitFor(
      () => slack.requests.length > before && JSON.parse(readFileSync(bobFile, "utf8")).leaseUntil > Date.now() + 20_000,
      20_000,
      "flush working on bob's alert",
    );
    flush.kill("SIGTERM");
    expect(await exited).toBe(143);
    expect(stderr).toBe("vpnnotify: warn: flush stopped by SIGTERM delivered=0 suppressed=0 disconnects=0 handedBack=1\n");
    expect(JSON.parse(stdout)).toMatchObject({ stoppedBy: "SIGTERM", handedBack: 1, delivered: 0, spool });
    expect(existsSync(join(spool, "drain.lock"))).toBe(false);
    // Back in the spool, due now, not recorded as delivered.
    const [entry] = await new Spool({ dir: spool, payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 }).list({ readOnly: true });
    expect(entry).toMatchObject({ id: bob.id, lastError: "flush was stopped (SIGTERM) before this alert went out" });
    expect(entry?.leaseUntil).toBeLessThanOrEqual(Date.now());
    expect(slack.requests.slice(before).map((r) => r.path)).toEqual(["/api/users.lookupByEmail"]);
    slack.up();
    const later = await runInProc(["flush", "--json"], base(s));
    expect([later.code, JSON.parse(later.stdout)]).toMatchObject([0, { delivered: 1, leased: 0, pending: 0 }]);
    expect(slack.messagesTo("U0BOB")).toHaveLength(1);
  }, 60_000);

  it("flush while a live worker drains the spool: exit 75 and a line saying the worker delivers what is pending", async () => {
    const s = setup();
    await queueLogin(s, openvpnConnectEnv("bob", PLACES.paris.ip));
    const spool = join(dirname(s.state), "spool");
    const stat = readFileSync("/proc/self/stat", "utf8");
    const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
    writeFileSync(join(spool, "drain.lock"), JSON.stringify({ pid: process.pid, start, host: hostname(), token: "t", time: Date.now() }));
    const flush = await runInProc(["flush"], base(s));
    expect([flush.code, flush.stderr]).toEqual([
      75,
      `vpnnotify: warn: another vpnnotify (the worker, or a flush) is draining the spool: it delivers what is due; nothing done here pending=1 spool=${spool}\n`,
    ]);
    rmSync(join(spool, "drain.lock"));
  });

  it("flush says when alerts are leased by another process (a worker killed with SIGKILL): exit 75, not a silent 0", async () => {
    const s = setup();
    const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
    const call = parseHookEnv(openvpnConnectEnv("bob", PLACES.paris.ip), Date.now());
    const entry = await spool.enqueue(queuedLogin(call?.event as VpnEvent));
    const until = Date.now() + 60_000;
    await spool.save({ ...entry, attempts: 1, leaseUntil: until });
    const flush = await runInProc(["flush", "--force", "--json"], base(s));
    expect(flush.code).toBe(75);
    expect(JSON.parse(flush.stdout)).toMatchObject({ delivered: 0, leased: 1, leasedUntil: new Date(until).toISOString(), pending: 1 });
    expect(flush.stderr).toContain(
      `vpnnotify: warn: alerts leased by another process, not retried now (one working on them, or one stopped without handing them back) leased=1 until=${new Date(until).toISOString()}`,
    );
    expect(slack.messagesTo("U0BOB")).toEqual([]);
  });
});

describe("setup mistakes never disconnect a client", () => {
  it("a mistyped flag in the hook line is printed, and the client goes in (deferred: 1)", async () => {
    const s = setup();
    const deferred = join(dir, "deferred-typo");
    const env = openvpnConnectEnv("alice", PLACES.london.ip, { client_connect_deferred_file: deferred });
    const syslog = await syslogServer();
    try {
      const result = await runCli(["--wiat"], { ...base(s), PATH: syslog.path, ...env });
      expect(result.code).toBe(0);
      const [usage, alertsOff, ...rest] = result.stderr.split("\n");
      expect(usage).toBe("vpnnotify: unknown option '--wiat' (Did you mean --wait?) (see vpnnotify --help)");
      expect(alertsOff).toMatch(/^vpnnotify: error: failed user=alice ip=81\.2\.69\.142 reason=".*hook line.*NO login is notified/);
      expect(rest).toEqual([""]);
      expect(readFileSync(deferred, "utf8")).toBe("1");
      const line = await waitFor(() => syslog.lines.find((l) => l.includes("NO login")), 15_000, "the syslog line");
      expect(line).toMatch(/^<27>.* failed user=alice .*hook line/);
      // Two positionals (OpenVPN passes one) are a wrong hook line too.
      const two = await runCli(["a", "b"], { ...base(s), PATH: syslog.path, ...env });
      expect(two.code).toBe(0);
      expect(two.stderr).toMatch(/^vpnnotify: error: failed user=alice .*NO login is notified/m);
    } finally {
      await syslog.close();
    }
  });

  it("a token file with a second line is a configuration error naming slack.token and the file (78), not an unreachable Slack (T38 F1)", async () => {
    const tokenFile = join(dir, "token-two-lines");
    writeFileSync(tokenFile, `${SLACK_SIM_TOKEN} extra\nline2\n`, { mode: 0o600 });
    const s = setup({ slack: { token: `file:${tokenFile}`, baseUrl: slack.apiUrl } });
    const result = await runInProc(["notify", "--user", "alice", "--ip", PLACES.london.ip], base(s));
    expect(result.code).toBe(78);
    expect(result.stderr).toContain(`slack.token: the secret from file ${tokenFile} has a line break or control character inside`);
    expect(result.stderr).not.toContain(SLACK_SIM_TOKEN);
    // the same for what fetch refuses in a header too: an editor's byte-order mark, a character beyond ASCII, a C1 control (T42 N2)
    for (const [content, why] of [
      [`\ufeff${SLACK_SIM_TOKEN}\n`, "starts with a byte-order mark"],
      [`${SLACK_SIM_TOKEN}€\n`, "holds a character that is not ASCII"],
      [`${SLACK_SIM_TOKEN}\u0085\n`, "has a line break or control character inside"],
    ]) {
      writeFileSync(tokenFile, content ?? "", { mode: 0o600 });
      const refused = await runInProc(["notify", "--user", "alice", "--ip", PLACES.london.ip], base(s));
      expect(refused.code).toBe(78);
      expect(refused.stderr).toContain(`slack.token: the secret from file ${tokenFile} ${why}`);
    }
  });

  it("status checks the secrets flush needs: a token file that cannot be read, or an unset env: token, is 78 with flush's line (T48 F3)", async () => {
    const secret = join(dir, "unreadable-token");
    writeFileSync(secret, `${SLACK_SIM_TOKEN}\n`, { mode: 0o000 });
    for (const [token, env, why] of [
      [`file:${join(dir, "no-such-token")}`, {}, "slack.token: the secret file it names cannot be read (ENOENT: no such file)"],
      ["env:VPNNOTIFY_UNSET_TOKEN", { VPNNOTIFY_UNSET_TOKEN: undefined }, "slack.token: environment variable VPNNOTIFY_UNSET_TOKEN"],
      ...(process.getuid?.() === 0
        ? []
        : [[`file:${secret}`, {}, "slack.token: the secret file it names cannot be read (EACCES: permission denied)"] as const]),
    ] as const) {
      const s = setup({ slack: { token, baseUrl: slack.apiUrl } });
      const flush = await runInProc(["flush"], { ...base(s), ...env });
      expect(flush.code).toBe(78);
      const line = flush.stderr.trim();
      expect(line).toContain(why);
      for (const args of [["status"], ["status", "--json"]]) {
        const status = await runInProc(args, { ...base(s), ...env });
        expect([status.code, status.stdout, status.stderr.trim()]).toEqual([78, "", line]);
      }
    }
    // a readable token: status answers as before, and never prints it
    const s = setup();
    const ok = await runInProc(["status"], base(s));
    expect(ok.code).toBe(0);
    expect(ok.stdout + ok.stderr).not.toContain(SLACK_SIM_TOKEN);
  });

  it("an answers.signingSecret file that cannot be read, or is empty, is an unusable config: status and notify 78 naming it, no DM with buttons nobody can answer (T62 F5)", async () => {
    const empty = join(dir, "empty-signing-secret");
    writeFileSync(empty, "");
    for (const [file, why] of [
      [join(dir, "no-such-signing-secret"), "answers.signingSecret: the secret file it names cannot be read (ENOENT: no such file)"],
      [empty, "answers.signingSecret: the secret file it names is empty"],
    ] as const) {
      const s = setup({ answers: { signingSecret: `file:${file}` } });
      for (const args of [["status"], ["status", "--json"], ["notify", "--user", "alice", "--ip", PLACES.london.ip]]) {
        const result = await runInProc(args, base(s));
        expect([result.code, result.stdout], args.join(" ")).toEqual([78, ""]);
        expect(result.stderr).toContain(why);
        // The empty file's line says what to do too (T64 N9).
        if (file === empty) expect(result.stderr).toContain("write the secret into the file answers.signingSecret names");
      }
    }
    expect(slack.messages).toEqual([]);
  });

  it("directory.ldap with ldap:// to another host and a bind password is a config error (78) at status and notify, not a security post at every login (T62 F2)", async () => {
    const ldap = (url: string, extra: Record<string, unknown> = {}) => ({
      directory: {
        ldap: {
          urls: [url],
          baseDn: "dc=example,dc=org",
          bindDn: "cn=vpnnotify,dc=example,dc=org",
          bindPassword: "env:T62_BIND_PW",
          ...extra,
        },
        slackIdAttribute: "employeeNumber",
      },
    });
    const env = { T62_BIND_PW: "BINDPW-SECRET-t62" };
    const s = setup(ldap("ldap://192.0.2.10:389"));
    for (const args of [["status"], ["notify", "--user", "alice", "--ip", PLACES.london.ip]]) {
      const result = await runInProc(args, { ...base(s), ...env });
      expect([result.code, result.stdout], args.join(" ")).toEqual([78, ""]);
      expect(result.stderr).toContain("directory.ldap.urls: ldap:// to a host other than");
      expect(result.stderr).toContain("would carry the bind password in clear text");
      expect(result.stderr).not.toContain("BINDPW-SECRET");
    }
    expect(slack.messages).toEqual([]);
    // TLS (StartTLS or ldaps://), this host, no password, or the explicit allowPlaintext: nothing sent in clear, or said so
    for (const fine of [
      ldap("ldap://192.0.2.10:389", { startTls: true }),
      ldap("ldaps://192.0.2.10:636"),
      ldap("ldap://127.0.0.1:389"),
      ldap("ldap://192.0.2.10:389", { allowPlaintext: true }),
      ldap("ldap://192.0.2.10:389", { bindDn: undefined, bindPassword: undefined }),
    ]) {
      const status = await runInProc(["status"], { ...base(setup(fine)), ...env });
      expect([status.code, status.stderr], JSON.stringify(fine)).toEqual([0, ""]);
    }
  });

  it("a slack.baseUrl holding credentials, a query or plain http to another host is refused at load (78), the password never printed (T38 F5)", async () => {
    const port = new URL(slack.apiUrl).port;
    const refused = {
      [`http://proxy:PROXYPASS-SECRET@127.0.0.1:${port}/api/`]: "must not hold a user name or password",
      [`http://127.0.0.1:${port}/api/?sig=QUERYSECRET`]: "must not hold a query",
      "http://slack.example.org/api/": "plain http:// would send the token in clear",
    };
    for (const [baseUrl, why] of Object.entries(refused)) {
      const s = setup({ slack: { token: "env:VPNNOTIFY_TEST_TOKEN", baseUrl } });
      const result = await runInProc(["--json", "notify", "--user", "alice", "--ip", PLACES.london.ip], base(s));
      expect(result.code).toBe(78);
      expect(result.stderr).toContain(why);
      expect(result.stderr + result.stdout).not.toMatch(/PROXYPASS|QUERYSECRET/);
    }
    expect(slack.messages).toEqual([]);
  });

  it("the command of another VPN server (updown under OpenVPN) is logged, and the client still connects", async () => {
    const s = setup();
    const result = await runInProc(["updown"], { ...base(s), ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      'vpnnotify: error: failed reason="\\"vpnnotify updown\\" was called with an openvpn environment (use the command of your VPN server, or plain vpnnotify)"\n',
    );
  });
});

describe("other VPN servers", () => {
  it("strongSwan updown up-client: the XAuth id is the user, PLUTO_PEER the address", async () => {
    const s = setup();
    const result = await runInProc(["--wait"], {
      ...base(s),
      PLUTO_VERB: "up-client",
      PLUTO_VERSION: "1.1",
      PLUTO_CONNECTION: "rw",
      PLUTO_PEER: PLACES.berlin6.ip,
      PLUTO_PEER_ID: "C=DE, O=Example, CN=alice",
      PLUTO_XAUTH_ID: "bob",
      PLUTO_PEER_SOURCEIP: "10.10.0.2",
    });
    expect(result.code).toBe(0);
    expect(slack.messagesTo("U0BOB")[0]?.text).toContain("2a02:8100::1: Berlin, Land Berlin, Germany");
  });

  it("libreswan updown without XAuth: the certificate's CN names the user", async () => {
    const s = setup();
    const result = await runInProc(["updown", "--wait"], {
      ...base(s),
      PLUTO_VERB: "up-client",
      PLUTO_PEER: PLACES.london.ip,
      PLUTO_PEER_ID: "C=GB, O=Example, CN=alice",
    });
    expect(result.code).toBe(0);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
  });

  it("strongSwan's subject with more than one CN names nobody: the security channel hears of it with the DN, no DM is guessed (T62 F9)", async () => {
    const s = setup();
    // As strongSwan prints a subject: ", " between attributes, values unescaped (identification.c, dntoa). The second
    // may be an O holding ", CN=bob" (RFC 4514-escaped) or an O ending in "\" and a real CN=bob: either way, whose?
    for (const dn of ["C=GB, CN=bob, O=Ex, CN=alice", "C=GB, O=Ex\\, CN=bob, CN=alice <!here>"]) {
      slack.messages.length = 0;
      const result = await runInProc(["updown", "--wait"], {
        ...base(s),
        PLUTO_VERB: "up-client",
        PLUTO_PEER: PLACES.london.ip,
        PLUTO_PEER_ID: dn,
      });
      expect(result.code).toBe(0);
      expect(slack.messagesTo("U0ALICE")).toEqual([]);
      expect(slack.messagesTo("U0BOB")).toEqual([]);
      const post = slack.messagesTo(SECURITY)[0]?.text ?? "";
      expect(post).toContain("nobody to tell: ambiguous user: a certificate subject with more than one CN");
      expect(post).toContain(dn.replace("<!here>", "&lt;!here&gt;"));
    }
    // An escaped comma inside the one CN's value (as libreswan prints it) is part of the name, not a separator.
    slack.messages.length = 0;
    const escaped = await runInProc(["updown", "--wait"], {
      ...base(s),
      PLUTO_VERB: "up-client",
      PLUTO_PEER: PLACES.london.ip,
      PLUTO_PEER_ID: "C=GB, O=Example\\, Ltd, CN=alice",
    });
    expect(escaped.code).toBe(0);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
  });

  it("a subject whose one CN is no user name (empty, a NUL, '+') names nobody, and the security post says why, not 'more than one CN' (T64 N8)", async () => {
    const s = setup();
    for (const dn of ["C=GB, CN=", "C=GB, CN=alice\\00", "C=GB, CN=alice+UID=x"]) {
      slack.messages.length = 0;
      const result = await runInProc(["updown", "--wait"], {
        ...base(s),
        PLUTO_VERB: "up-client",
        PLUTO_PEER: PLACES.london.ip,
        PLUTO_PEER_ID: dn,
      });
      expect(result.code).toBe(0);
      expect(slack.messagesTo("U0ALICE")).toEqual([]);
      const post = slack.messagesTo(SECURITY)[0]?.text ?? "";
      expect(post).toContain("nobody to tell: ambiguous user: a certificate subject whose one CN is no user name");
      expect(post).not.toContain("more than one CN");
    }
  });

  it("ocserv connect-script", async () => {
    const s = setup();
    const result = await runInProc(["--wait"], {
      ...base(s),
      REASON: "connect",
      USERNAME: "bob",
      IP_REAL: PLACES.sydney.ip,
      IP_REAL_LOCAL: "192.0.2.1",
      IP_REMOTE: "10.20.0.5",
      DEVICE: "vpns0",
    });
    expect(result.code).toBe(0);
    expect(slack.messagesTo("U0BOB")[0]?.text).toContain("Sydney, New South Wales, Australia");
  });

  it("ocserv with --wait and onFailure reject: Slack down refuses the login with a non-zero exit", async () => {
    const s = setup({ onFailure: "reject" });
    slack.down();
    const env = { ...base(s), REASON: "connect", USERNAME: "bob", IP_REAL: PLACES.paris.ip };
    const result = await runInProc(["--wait"], env);
    expect(result.code).toBe(69);
    expect(result.stderr).toMatch(/^vpnnotify: error: failed user=bob ip=90\.100\.1\.2 .*error=/m);
    // The alert kept in the spool goes out once Slack is back: a refused attempt, not a session that started (T50 N2).
    slack.up();
    expect((await runInProc(["flush", "--force"], base(s))).code).toBe(0);
    expect(slack.messagesTo("U0BOB").map((m) => m.text)).toEqual([
      expect.stringMatching(
        /^Hi bob, someone just tried to start a VPN session \(it was refused: this alert could not be sent in time\) under your name/,
      ),
    ]);
  });

  it("ocserv with --wait stopped by SIGTERM before its verdict: the exit (143) refuses the login, and the alert kept in the spool says it was refused (T54 N2b)", async () => {
    // A deadline far off: the stop, not the deadline, ends the hook.
    const s = setup({ onFailure: "reject", deadlineMs: 60_000 });
    const spool = join(dirname(s.state), "spool");
    // Slack takes every call but answers none: the hook is stuck in the user's lookup, before any post (none stored).
    slack.slow(120_000);
    const before = slack.requests.length;
    let hook: ChildProcess | undefined;
    const env = { ...base(s), REASON: "connect", USERNAME: "bob", IP_REAL: PLACES.paris.ip };
    const running = runCli(["--wait"], env, 30_000, (child) => {
      hook = child;
    });
    await waitFor(
      () => slack.requests.length > before && existsSync(spool) && readdirSync(spool).some((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f)),
      20_000,
      "bob's alert spooled, its lookup at Slack",
    );
    hook?.kill("SIGTERM");
    const result = await running;
    expect(result.code).toBe(143);
    expect(result.stderr).toMatch(
      /^vpnnotify: warn: stopped by SIGTERM before the verdict user=bob ip=90\.100\.1\.2 reason="the exit refuses the login/m,
    );
    // The hook's lease on the alert runs out (its deadline + 30 s) before the next worker or flush takes it: skip that wait.
    const [name] = readdirSync(spool).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f));
    const file = join(spool, name ?? "");
    writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, "utf8")), leaseUntil: 0 }));
    slack.up();
    expect((await runInProc(["flush", "--force"], base(s))).code).toBe(0);
    expect(slack.messagesTo("U0BOB").map((m) => m.text)).toEqual([
      expect.stringMatching(/^Hi bob, someone just tried to start a VPN session \(it was refused/),
    ]);
  }, 60_000);

  it("notify --json prints the decision; a bad address is a usage-level error", async () => {
    const s = setup();
    const ok = await runInProc(["notify", "--user", "alice", "--ip", PLACES.paris.ip, "--json"], base(s));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      verdict: "notified",
      user: "alice",
      place: "Paris, Île-de-France, France",
      dm: "U0ALICE",
    });
    const bad = await runInProc(["notify", "--user", "alice", "--ip", "not-an-ip"], base(s));
    expect(bad.code).toBe(65);
    expect(bad.stderr.trim()).toBe('vpnnotify: "not-an-ip" is not an IP address (pass the client\'s public address)');
  });
});

describe("two logins of one user from one place at once (T48 F5)", () => {
  // Two ocserv connect-scripts run with --wait, as ocserv runs them for two sessions: the first (a process of its
  // own) is held in flight at Slack, holding the lease on telling the user about this place, while the second is
  // decided; only then does the first get Slack's answer.
  async function race(onFailure: "accept" | "reject", slackForSecond: "up" | "down") {
    const s = setup({ onFailure });
    const env = { ...base(s), REASON: "connect", USERNAME: "alice", IP_REAL: PLACES.paris.ip };
    const posts = () => slack.callsTo("chat.postMessage").length;
    const before = posts();
    const release = slack.hold("chat.postMessage");
    const first = runCli(["--wait"], { ...env, IP_REMOTE: "10.20.0.5" });
    await slack.untilRequest(() => posts() > before, "the first login's DM");
    if (slackForSecond === "down") slack.down();
    const second = await runInProc(["--wait"], { ...env, IP_REMOTE: "10.20.0.6" });
    slack.up();
    release();
    return { first: await first, second, posts: posts() - before, dms: slack.messagesTo("U0ALICE").length };
  }

  it("onFailure reject, Slack down: the second login sends its own alert, which fails, so it is refused", async () => {
    const { first, second, dms } = await race("reject", "down");
    expect(second.code).toBe(69);
    expect(second.stderr).toMatch(/^vpnnotify: error: failed user=alice ip=90\.100\.1\.2 .*reason=new-place/m);
    expect(second.stderr).not.toContain("being-told");
    expect(first.code).toBe(0);
    expect(dms).toBe(1);
  });

  it("onFailure reject, Slack up: each session is let in on its own DM", async () => {
    const { first, second, dms } = await race("reject", "up");
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(second.stderr).toMatch(/^vpnnotify: notified user=alice ip=90\.100\.1\.2 .*reason=new-place dm=U0ALICE/m);
    expect(dms).toBe(2);
  });

  it("OpenVPN deferred client-connect, onFailure reject, Slack down: both clients are refused, neither let in as being-told", async () => {
    const s = setup({ onFailure: "reject" });
    slack.down();
    // Both hooks queued before the worker drains (as when they run at once), so it works on them side by side.
    const spool = new Spool({ dir: join(dirname(s.state), "spool"), payload: spoolJobSchema, maxAttempts: 5, backoffMs: 60_000 });
    const answers = [1, 2].map((i) => join(dir, `openvpn_acf_race_${n}_${i}.tmp`));
    for (const [i, file] of answers.entries()) {
      writeFileSync(file, "2");
      const env = openvpnConnectEnv("alice", PLACES.paris.ip, { trusted_port: String(1001 + i), client_connect_deferred_file: file });
      await spool.enqueue(queuedLogin(parseHookEnv(env, Date.now())?.event as VpnEvent, Date.now() + 10_000));
    }
    const flush = await runInProc(["flush"], base(s));
    expect(flush.code).toBe(69);
    expect(answers.map((file) => readFileSync(file, "utf8"))).toEqual(["0", "0"]);
    expect(flush.stderr).not.toContain("being-told");
  });

  it("onFailure accept: the second stays quiet while the first tells the user, who gets one DM", async () => {
    const { first, second, posts, dms } = await race("accept", "down");
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(second.stderr).toMatch(/^vpnnotify: suppressed user=alice ip=90\.100\.1\.2 .*reason=being-told/m);
    expect(posts).toBe(1);
    expect(dms).toBe(1);
  });
});

describe("--help", () => {
  it("names every config key the README documents, and the install command", async () => {
    const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8");
    const table = readme.slice(readme.indexOf("## Config keys"), readme.indexOf("### Templates"));
    const keys = [...table.matchAll(/^\| (.+?) \|/gm)].flatMap((row) => [...(row[1] ?? "").matchAll(/`([\w.]+)`/g)].map((m) => m[1] ?? ""));
    expect(keys.length).toBeGreaterThan(20);
    const result = await runInProc(["--help"], {});
    expect(result.code).toBe(0);
    const missing = keys.filter((key) => !result.stdout.includes(key.split(".").pop() ?? key));
    expect(missing).toEqual([]);
    expect(result.stdout).toContain("vpnnotify install");
  });

  it("lists every exit code of the README's table (74 too: flush on a full disk; r18b finding 2)", async () => {
    const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8");
    const table = readme.slice(readme.indexOf("## Exit codes"), readme.indexOf("## Code layout"));
    const codes = [...table.matchAll(/^\| (\d+) +\|/gm)].map((row) => row[1] ?? "");
    expect(codes).toContain("74");
    const help = (await runInProc(["--help"], {})).stdout;
    expect(codes.filter((code) => !new RegExp(`^ +${code} `, "m").test(help))).toEqual([]);
  });
});
