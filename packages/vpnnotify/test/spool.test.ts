import type { ChildProcess } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withLock } from "@opsguard/core";
import {
  type BlackholeServer,
  type RedisLab,
  SLACK_SIM_TOKEN,
  SlackSim,
  type SlapdLab,
  startBlackholeServer,
  startRedis,
  startSlapd,
} from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { openvpnConnectEnv, PLACES, runCli, runInProc, waitFor, writeGeoDatabases } from "./fixtures";

/**
 * An alert that could not be delivered (Slack or LDAP hanging) must neither mark the place as
 * told nor be lost: the next login from there is notified, and the spooled alert goes out later,
 * exactly once. Real redis-server, slapd and a hung TCP port; the CLI runs as the VPN server runs it.
 */

const SECURITY = "C0SECURITY";
let dir: string;
let slack: SlackSim;
let redis: RedisLab;
let slapd: SlapdLab;
let blackhole: BlackholeServer;
let geo: { city: string; asn: string };
let n = 0;

interface Site {
  dir: string;
  log: string;
  spool: string;
  /** A config file for this site, sharing its state and spool with every other config of the site. */
  config(overrides?: Record<string, unknown>): string;
}

function site(state: Record<string, unknown> | "file"): Site {
  n++;
  const root = join(dir, `site-${n}`);
  const log = join(root, "vpnnotify.log");
  const spool = join(root, "spool");
  let configs = 0;
  return {
    dir: root,
    log,
    spool,
    config(overrides = {}) {
      const path = join(dir, `config-${n}-${++configs}.json`);
      writeFileSync(
        path,
        JSON.stringify({
          server: { name: "vpn-test" },
          slack: { token: "env:VPNNOTIFY_TEST_TOKEN", baseUrl: slack.apiUrl },
          securityChannel: SECURITY,
          directory: { emailDomain: "example.org" },
          geoip: { city: geo.city, asn: geo.asn },
          state: state === "file" ? { file: join(root, "state.json") } : { file: join(root, "state.json"), redis: state },
          // No lingering worker: the test flushes right after, and a worker still holding the spool would make that "busy".
          spool: { dir: spool, retryAfterSeconds: 0, idleSeconds: 0 },
          log: { file: log },
          deadlineMs: 15_000,
          ...overrides,
        }),
      );
      return path;
    },
  };
}

const env = (config: string, extra: Record<string, string> = {}) => ({
  VPNNOTIFY_CONFIG: config,
  VPNNOTIFY_TEST_TOKEN: SLACK_SIM_TOKEN,
  ...extra,
});
const logText = (s: Site) => (existsSync(s.log) ? readFileSync(s.log, "utf8") : "");

async function status(config: string): Promise<Record<string, unknown>> {
  const result = await runInProc(["status", "--json"], env(config));
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-spool-"));
  geo = writeGeoDatabases(dir);
  [redis, slapd, blackhole] = await Promise.all([startRedis({ password: "lab-redis-pw-3" }), startSlapd(), startBlackholeServer()]);
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addUser({ id: slapd.users.alice.slackId, name: "alice-ldap", email: slapd.users.alice.mail });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
});

afterAll(async () => {
  await slack?.stop();
  await redis?.stop();
  await slapd?.stop();
  await blackhole?.stop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  slack.up();
  slack.messages.length = 0;
});

describe.each([
  ["a state file", () => site("file")],
  // Generous Redis timeouts: this is about Slack, and the test machine may be busy.
  [
    "Redis",
    () =>
      site({
        url: redis.url,
        password: `file:${redis.passwordFile}`,
        keyPrefix: `s${n}:`,
        connectTimeoutMs: 5_000,
        commandTimeoutMs: 5_000,
      }),
  ],
])("Slack hanging, state in %s", (_name, makeSite) => {
  it("the next login is notified, not suppressed, and the spooled alert is delivered later exactly once", async () => {
    const s = makeSite();
    // Slack's own timeout is longer than the job's: the worker is cut off at its deadline, mid-request.
    slack.fault({ hang: true }, { times: 10 });
    // Generous: tsx compiles the CLI at every start, which the deadline (from process start) includes.
    const hung = s.config({ deadlineMs: 8_000, slack: { token: "env:VPNNOTIFY_TEST_TOKEN", baseUrl: slack.apiUrl, timeoutMs: 30_000 } });
    const first = await runCli(["--wait"], { ...env(hung), ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/^vpnnotify: error: failed user=alice ip=81\.2\.69\.142 reason=".*8000 ms deadline/m);
    expect(first.stderr).toMatch(/^vpnnotify: warn: undelivered alerts pending=1 oldest=\S+ lastError=".*cut off.*deadline.*" spool=/m);
    expect(slack.messages).toEqual([]);
    expect(await status(hung)).toMatchObject({ pending: 1, gaveUp: 0, lastError: expect.stringMatching(/cut off/) });

    slack.up();
    const config = s.config();
    // The next login from the same address, through the detached worker as OpenVPN runs it.
    const second = await runCli([], { ...env(config), ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect(second).toMatchObject({ code: 0, stderr: "" });
    await waitFor(() => /delivered late/.test(logText(s)), 20_000, "the spooled alert to go out");
    expect(logText(s)).toMatch(/^vpnnotify: notified user=alice ip=81\.2\.69\.142 .*reason=new-place dm=U0ALICE$/m);
    expect(logText(s)).toMatch(/^vpnnotify: delivered late user=alice ip=81\.2\.69\.142 .*attempts=2 dm=U0ALICE$/m);
    const dms = slack.messagesTo("U0ALICE");
    expect(dms).toHaveLength(2);
    expect(dms.filter((m) => /this message is under a minute late/.test(m.text ?? ""))).toHaveLength(1);

    // Nothing is left to send, however often the timer runs; the place is known now.
    const flush = await runInProc(["flush", "--force", "--json"], env(config));
    expect(flush.code).toBe(0);
    expect(JSON.parse(flush.stdout)).toMatchObject({ busy: false, delivered: 0, failed: 0, pending: 0 });
    const third = await runInProc(["--wait"], { ...env(config), ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect(third.stderr).toMatch(/^vpnnotify: suppressed user=alice .*reason=known-place$/m);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(2);
    // Five CLI runs (tsx compiles each) and an 8 s deadline: past 30 s when the shared machine is busy.
  }, 60_000);
});

describe("LDAP hanging", () => {
  it("security hears of it within the deadline, the DM stays spooled; once LDAP answers, the user gets it, once", async () => {
    const s = site("file");
    const hung = s.config({
      deadlineMs: 8_000,
      // LDAP's own deadline is longer than the job's: it is cut to a share of the job's, leaving Slack the rest.
      directory: {
        ldap: { urls: [blackhole.url], baseDn: slapd.baseDn, deadlineMs: 30_000, connectTimeoutMs: 30_000 },
        slackIdAttribute: "slackId",
      },
    });
    const first = await runCli(["--wait"], { ...env(hung), ...openvpnConnectEnv("alice", PLACES.paris.ip) });
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(
      /^vpnnotify: warn: escalated user=alice ip=90\.100\.1\.2 .*security="nobody to tell: directory lookup failed: .*spooled=\S+ error="the DM waits for the user's lookup/m,
    );
    expect(slack.messages.map((m) => m.to)).toEqual([SECURITY]);
    expect(readdirSync(s.spool).filter((f) => f.endsWith(".json"))).toHaveLength(1);

    const healthy = s.config({ directory: { ldap: slapd.connection(), slackIdAttribute: "slackId" } });
    const second = await runCli([], { ...env(healthy), ...openvpnConnectEnv("alice", PLACES.paris.ip) });
    expect(second).toMatchObject({ code: 0, stderr: "" });
    await waitFor(() => /delivered late/.test(logText(s)), 20_000, "the spooled alert to go out");
    const to = slapd.users.alice.slackId;
    expect(logText(s)).toMatch(new RegExp(`^vpnnotify: notified user=alice ip=90\\.100\\.1\\.2 .*reason=new-place dm=${to}$`, "m"));
    expect(slack.messagesTo(to)).toHaveLength(2);
    expect(slack.messagesTo(to).filter((m) => / late: /.test(m.text ?? ""))).toHaveLength(1);
    expect(slack.messagesTo(SECURITY)).toHaveLength(1);
    expect(await status(healthy)).toMatchObject({ pending: 0, gaveUp: 0 });
  });
});

describe("a spool that cannot take the login (its disk full, or not writable; r18 finding 2)", () => {
  /** A site whose spool directory cannot be made (a regular file where its parent should be), as a full disk refuses it. */
  function noSpool(extra: Record<string, unknown> = {}) {
    const s = site("file");
    mkdirSync(s.dir, { recursive: true });
    writeFileSync(join(s.dir, "file"), "");
    const config = s.config({ spool: { dir: join(s.dir, "file", "spool"), idleSeconds: 0, ...extra } });
    const login = { ...env(config), VPNNOTIFY_DETACHED: "1", ...openvpnConnectEnv("alice", PLACES.london.ip) };
    return { s, login };
  }

  it("Slack down for a moment: the process handling the login alone keeps it in memory, retries, and delivers it once", async () => {
    const { s, login } = noSpool();
    slack.down();
    const run = runInProc([], login);
    await waitFor(() => /kept in memory and retried/.test(logText(s)), 15_000, "the alert kept in memory");
    expect(logText(s)).toMatch(
      /^vpnnotify: warn: not delivered, and the spool cannot keep it: kept in memory and retried user=alice .*for=600s spool="unavailable \(/m,
    );
    slack.up();
    expect((await run).code).toBe(0);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    expect(logText(s)).toMatch(/^vpnnotify: notified user=alice ip=81\.2\.69\.142 .*reason=first-login dm=U0ALICE spool="unavailable \(/m);
    expect(logText(s)).not.toMatch(/^vpnnotify: error: (failed|LOST)/m);
  });

  it.each([
    ["SIGTERM", 143],
    ["SIGINT", 130],
    ["SIGHUP", 129],
  ] as const)(
    "stopped by %s while retrying in memory: logged as LOST, naming the signal, before it exits %i (r18b finding 1)",
    async (signal, code) => {
      const { s, login } = noSpool();
      slack.down();
      let child: ChildProcess | undefined;
      const run = runCli([], login, 30_000, (c) => {
        child = c;
      });
      await waitFor(() => /kept in memory and retried/.test(logText(s)), 20_000, "the alert kept in memory");
      child?.kill(signal);
      expect((await run).code).toBe(code);
      expect(slack.messages).toEqual([]);
      expect(logText(s)).toMatch(
        new RegExp(
          `^vpnnotify: error: LOST \\(not delivered, and not kept for a retry\\) user=alice ip=81\\.2\\.69\\.142 .*spool="unavailable \\(.*\\)" error=".*stopped by ${signal} while retrying it in memory" fix=`,
          "m",
        ),
      );
    },
    40_000,
  );

  it("back in the spool by the in-memory retry (space again): this process drains it at once, no backoff, no later hook needed (r18b finding 6)", async () => {
    const { s, login } = noSpool();
    slack.down();
    const run = runInProc([], login);
    await waitFor(() => /kept in memory and retried/.test(logText(s)), 15_000, "the alert kept in memory");
    // Space again and Slack back: the next retry puts it in the spool first; nothing else will start a worker.
    rmSync(join(s.dir, "file"));
    slack.up();
    expect((await run).code).toBe(0);
    expect(slack.messagesTo("U0ALICE")).toHaveLength(1);
    // Its entries (slack-refusals.json beside them keeps the worker's Slack state for the next one).
    expect(readdirSync(join(s.dir, "file", "spool")).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f))).toEqual([]);
    // Logged as kept in the spool (not LOST), then as it went out from there.
    expect(logText(s)).toMatch(/^vpnnotify: error: failed user=alice .*spooled=\S+ /m);
    expect(logText(s)).toMatch(/^vpnnotify: delivered late user=alice .*dm=U0ALICE$/m);
    expect(logText(s)).not.toMatch(/LOST/);
  });

  it("handled alone, it still says what waits in the spool: the undelivered alerts warning (r18b finding 2)", async () => {
    const s = site("file");
    const config = s.config({ spool: { dir: s.spool, idleSeconds: 0, retryAfterSeconds: 60 } });
    const worker = (user: string, ip: string) => ({ ...env(config), VPNNOTIFY_DETACHED: "1", ...openvpnConnectEnv(user, ip) });
    slack.down();
    expect((await runInProc([], worker("alice", PLACES.london.ip))).code).toBe(0);
    expect(readdirSync(s.spool).filter((f) => f.endsWith(".json"))).toHaveLength(1);
    // The spool can no longer take a login (as on a full disk; here a directory this user may not write to),
    // but can still be read: the next login is handled alone, and the alert waiting there must not go unmentioned.
    chownSync(s.spool, 4242, 4242);
    slack.up();
    const before = logText(s).length;
    expect((await runInProc([], worker("alice", PLACES.paris.ip))).code).toBe(0);
    const second = logText(s).slice(before);
    expect(second).toMatch(/^vpnnotify: warn: cannot queue the login in the spool; handling it alone /m);
    expect(second).toMatch(/^vpnnotify: (warn: )?(notified|escalated) user=alice ip=90\.100\.1\.2 /m);
    expect(second).toMatch(/^vpnnotify: warn: undelivered alerts pending=1 .*spool=/m);
  });

  it("still undelivered when its time is up: logged as LOST, naming the spool's problem and the fix, never as kept", async () => {
    const { s, login } = noSpool({ retryUnspooledSeconds: 0 });
    slack.down();
    expect((await runInProc([], login)).code).toBe(0);
    expect(slack.messages).toEqual([]);
    // The spool directory could not even be made (a file in its way): the fix is to make it, not to free space (T62 F4).
    const missing = join(s.dir, "file", "spool");
    expect(logText(s)).toMatch(
      /^vpnnotify: error: LOST \(not delivered, and not kept for a retry\) user=alice ip=81\.2\.69\.142 .*spool="unavailable \(.*\)" error=".*" fix="create it for the user the VPN server runs hooks as \(install -d -o USER -m 700 (\S+)\), or set spool.dir to a directory that user owns"$/m,
    );
    expect(/install -d -o USER -m 700 (\S+)\)/.exec(logText(s))?.[1]).toBe(missing);
    expect(logText(s)).not.toMatch(/spooled=/);
  });

  it("a spool directory that exists but is not this user's: the LOST line's fix is its disk or its access", async () => {
    const s = site("file");
    const spool = join(s.dir, "spool");
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    // Another user's (root runs the tests here: core refuses a state directory it does not own), or closed by its mode.
    if (process.getuid?.() === 0) chownSync(spool, 65534, 65534);
    else chmodSync(spool, 0o500);
    const config = s.config({ spool: { dir: spool, idleSeconds: 0, retryUnspooledSeconds: 0 } });
    slack.down();
    expect((await runInProc([], { ...env(config), VPNNOTIFY_DETACHED: "1", ...openvpnConnectEnv("alice", PLACES.london.ip) })).code).toBe(
      0,
    );
    expect(logText(s)).toMatch(
      /^vpnnotify: error: LOST \(not delivered, and not kept for a retry\) user=alice .*fix="free space on the spool's file system, or make the spool directory writable by the user the VPN server runs hooks as"$/m,
    );
  });
});

describe("the state file's lock held by another process for longer than half the hook's deadline", () => {
  it("the worker, which nobody waits on, waits for it: the login is remembered, not decided with the state unavailable", async () => {
    const s = site("file");
    const config = s.config({ deadlineMs: 1_000 });
    mkdirSync(s.dir, { recursive: true });
    // A hook or flush holding it for 2 s: a hook would give up after 500 ms, and so did the worker.
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const holding = withLock(join(s.dir, "state.json"), () => held);
    const timer = setTimeout(release, 2_000);
    const run = runInProc([], { ...env(config), VPNNOTIFY_DETACHED: "1", ...openvpnConnectEnv("alice", PLACES.london.ip) });
    expect((await run).code).toBe(0);
    clearTimeout(timer);
    release();
    await holding;
    expect(logText(s)).toMatch(/^vpnnotify: notified user=alice ip=81\.2\.69\.142 .*reason=first-login dm=U0ALICE$/m);
    expect(logText(s)).not.toMatch(/state="unavailable/);
    expect(Object.keys(JSON.parse(readFileSync(join(s.dir, "state.json"), "utf8")).users)).toEqual(["alice"]);
  });
});

describe("the hooks' start claim", () => {
  it("flush removes a worker.starting older than 10 s (a hook killed between creating and writing it), not a fresh one", async () => {
    const s = site("file");
    const spool = join(dir, `spool-claim-${n}`);
    const config = s.config({ spool: { dir: spool } });
    mkdirSync(spool, { mode: 0o700 });
    const marker = join(spool, "worker.starting");
    writeFileSync(marker, "");
    expect((await runInProc(["flush"], env(config))).code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    const old = new Date(Date.now() - 11_000);
    utimesSync(marker, old, old);
    // The sh hook's takeover tokens go with it once 10 s old (a racing hook no longer needs them), a fresh one stays.
    const [staleToken, freshToken] = [join(spool, ".worker.starting.1.taken"), join(spool, ".worker.starting.junk.taken")];
    writeFileSync(staleToken, "");
    writeFileSync(freshToken, "");
    utimesSync(staleToken, old, old);
    expect((await runInProc(["flush"], env(config))).code).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect([existsSync(staleToken), existsSync(freshToken)]).toEqual([false, true]);
    // A directory by a token's name stops worker starts as a token does: an old one goes too, with what is in it (r18b finding 4).
    const staleDir = join(spool, ".worker.starting.1.taken2");
    mkdirSync(staleDir);
    writeFileSync(join(staleDir, "x"), "");
    utimesSync(staleDir, old, old);
    expect((await runInProc(["flush"], env(config))).code).toBe(0);
    expect(existsSync(staleDir)).toBe(false);
  });
});

describe("bounded retries", () => {
  it("gives up after spool.maxAttempts, keeps the alert in dead/, and status says so", async () => {
    const s = site("file");
    const config = s.config({ spool: { dir: join(dir, `spool-bounded-${n}`), maxAttempts: 2, retryAfterSeconds: 0 } });
    slack.down();
    const first = await runInProc(["--wait"], { ...env(config), ...openvpnConnectEnv("alice", PLACES.reading.ip) });
    expect(first.stderr).toMatch(/^vpnnotify: error: failed user=alice .*spooled=/m);
    const flush = await runInProc(["flush"], env(config));
    expect(flush.code).toBe(69);
    expect(flush.stderr).toMatch(/^vpnnotify: warn: still undelivered user=alice ip=86\.10\.1\.1 .*attempts=2 .*service_unavailable/m);
    expect(flush.stderr).toMatch(/^vpnnotify: error: gave up on a spooled message .*attempts=2 .*kept=\S+\/dead\//m);
    expect(await status(config)).toMatchObject({ pending: 0, gaveUp: 1 });
    const human = await runInProc(["status"], env(config));
    expect(human.stdout).toMatch(
      /^pending: 0\ngiven up: 1 \(kept in \S+\/dead\)\nfix: mv \S+\/dead\/\*\.json \S+ && vpnnotify flush\nspool: \S+$/m,
    );
    expect(slack.messages).toEqual([]);
    // Slack back: the timer's next flush has nothing pending, but the alert given up on was never sent (T38 F7): it
    // keeps failing, naming dead/ and the fix, rather than passing every minute in silence
    slack.up();
    const later = await runInProc(["flush"], env(config));
    expect(later.code).toBe(69);
    expect(later.stderr).toMatch(
      /^vpnnotify: error: alerts given up on were never sent: move them back to retry them gaveUp=1 dead=\S+\/dead /m,
    );
    expect(slack.messages).toEqual([]);
  });
});

describe("alerts put aside as unreadable (T48 F1)", () => {
  it("an entry made group-writable is never sent: every flush exits 69 saying how many and the fix, and status says the same", async () => {
    const s = site("file");
    const config = s.config();
    slack.down();
    expect((await runInProc(["notify", "--user", "alice", "--ip", PLACES.reading.ip], env(config))).code).toBe(69);
    const [entry] = readdirSync(s.spool).filter((f) => f.endsWith(".json"));
    // a restore or a `chmod -R g+w` by an admin: the entry can no longer be trusted
    chmodSync(join(s.spool, entry as string), 0o664);
    slack.up();
    const first = await runInProc(["flush"], env(config));
    expect(first.stderr).toMatch(/^vpnnotify: warn: spooled message is unreadable; moved it to dead\/ .*writable by group or others/m);
    const unsent =
      /^vpnnotify: error: alerts put aside as unreadable were never sent: inspect each, then repair it or remove it unreadable=1 dead=\S+\/dead fix="inspect \S+\/dead\/\*\.corrupt; /m;
    expect([first.code, first.stderr]).toEqual([69, expect.stringMatching(unsent)]);
    // the timer's next runs: still failing, not a silent 0
    for (let run = 0; run < 2; run++) {
      const later = await runInProc(["flush", "--json"], env(config));
      expect([later.code, later.stderr]).toEqual([69, expect.stringMatching(unsent)]);
      expect(JSON.parse(later.stdout)).toMatchObject({
        pending: 0,
        unreadable: 1,
        fix: [expect.stringMatching(/^inspect \S+\/dead\/\*\.corrupt; /)],
      });
    }
    expect(slack.messages).toEqual([]);
    const human = await runInProc(["status"], env(config));
    expect(human.stdout).toMatch(
      /^unreadable: 1 \(never sent; kept in \S+\/dead as \*\.corrupt, .*\)\nfix: inspect \S+\/dead\/\*\.corrupt; /m,
    );
    expect(await status(config)).toMatchObject({ unreadable: 1, fix: [expect.stringMatching(/^inspect /)] });
    // removed (the fix): flush passes again
    rmSync(join(s.spool, "dead"), { recursive: true });
    expect((await runInProc(["flush"], env(config))).code).toBe(0);
    expect(await status(config)).toMatchObject({ unreadable: 0, fix: [] });
  });

  it("a half-written temp file (a hook stopped mid-write) is removed by flush once ten minutes old, with a warn line; a fresh one stays", async () => {
    const s = site("file");
    const config = s.config();
    mkdirSync(s.spool, { recursive: true, mode: 0o700 });
    const [stale, fresh] = [".1796640000001-0000aaaa.json.999.abcd.tmp", `.${Date.now()}-0000bbbb.json.${process.pid}.0000bbbb.tmp`].map(
      (f) => join(s.spool, f),
    );
    for (const file of [stale, fresh] as string[]) writeFileSync(file, '{"id":"1796640000001-0000aaaa","createdAt":17966', { mode: 0o600 });
    const old = new Date(Date.now() - 601_000);
    utimesSync(stale as string, old, old);
    const flush = await runInProc(["flush"], env(config));
    expect(flush.code).toBe(0);
    expect(flush.stderr).toMatch(
      /^vpnnotify: warn: removed a half-written spool file its writer left .* file=\S+0000aaaa\.json\.999\.abcd\.tmp$/m,
    );
    expect([existsSync(stale as string), existsSync(fresh as string)]).toEqual([false, true]);
  });
});
