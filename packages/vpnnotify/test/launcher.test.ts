import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { installWithLauncher } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Env, type HookCall, parseHookEnv } from "../src/event";
import { launcherFastPath } from "../src/hook";
import { hostConfig, openvpnConnectEnv, waitFor, zombieDrainLock } from "./fixtures";

const HOST_CONFIG = hostConfig();

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-launcher-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A config with its own spool and the launcher installed over a stub bundle: `bundle(starts)` is the stub's source,
 * given the file it may record its starts in.
 */
function spoolSite(name: string, bundle: (starts: string) => string) {
  const root = mkdtempSync(join(dir, `${name}-`));
  const spool = join(root, "spool");
  mkdirSync(spool, { mode: 0o700 });
  const config = join(root, "vpnnotify.json");
  writeFileSync(config, JSON.stringify({ server: { name: "x" }, spool: { dir: spool } }));
  const starts = join(root, "starts.log");
  writeFileSync(join(root, "tool.cjs"), bundle(starts));
  const { launcher } = installWithLauncher({
    bundle: join(root, "tool.cjs"),
    prefix: join(root, "lib"),
    name: "vpnnotify",
    cacheEnv: "T_CACHE",
    fastPath: launcherFastPath(parseHookEnv),
  });
  return { root, spool, config, starts, launcher };
}

describe("the installed launcher answers hooks without loading the bundle", () => {
  it("parseHookEnv runs from its source alone, in an empty context", () => {
    const isolated = runInNewContext(`(${parseHookEnv.toString()})`, {}) as (env: Env, now: number) => HookCall | undefined;
    const call = isolated(openvpnConnectEnv("alice", "81.2.69.142", { time_unix: "1763900000" }), 1763900004321);
    expect(JSON.parse(JSON.stringify(call))).toEqual({
      source: "openvpn",
      event: { kind: "connect", source: "openvpn", user: "alice", ip: "81.2.69.142", port: 51413, vpnIp: "10.8.0.6", time: 1763900000000 },
    });
    // T30 #1: a time_unix no Date can hold (its alert could never be written) or a day and more away from the
    // host's clock is no login time: the login is stamped now, as for a time_unix that is no number.
    const now = 1763900004321;
    for (const time_unix of ["8640000000001", "99999999999999999999", "4102444800", "1", "1e3", "abc"]) {
      expect(isolated(openvpnConnectEnv("alice", "81.2.69.142", { time_unix }), now)?.event?.time, time_unix).toBe(now);
    }
    const disconnect = { ...openvpnConnectEnv("alice", "81.2.69.142"), script_type: "client-disconnect" };
    expect(isolated({ ...disconnect, time_unix: "1763800000", time_duration: "100000" }, now)?.event?.time).toBe(1763900000000);
    expect(isolated({ PLUTO_VERB: "up-client", PLUTO_PEER: "1.2.3.4", PLUTO_PEER_ID: "C=DE, O=X, CN=bob" }, 5)?.event?.user).toBe("bob");
    // RFC 4514 escapes are honoured in the one CN; a subject with two CNs (also one behind an escaped comma, which
    // strongSwan would print unescaped) names nobody: it stays the user as it is, and the directory refuses it.
    const peer = (id: string) => isolated({ PLUTO_VERB: "up-client", PLUTO_PEER: "1.2.3.4", PLUTO_PEER_ID: id }, 5)?.event?.user;
    expect(peer("C=DE, O=X, CN=Bob\\2C Jr\\2e \\c3\\a9")).toBe("Bob, Jr. é");
    expect(peer("C=DE, O=X\\, Ltd, CN=bob")).toBe("bob");
    for (const id of ["C=GB, CN=lbob, O=Ex, CN=lalice", "O=Ex\\, CN=lbob, CN=lalice", "CN=lbob\\, CN=lalice"]) expect(peer(id)).toBe(id);
    // T64 N8: an escaped control character (NUL, newline) is never part of a user name, and a CN in a multi-valued RDN
    // (RFC 4514 "+", which strongSwan would print unescaped inside a value too) is taken neither way: the DN stays the user.
    for (const id of ["CN=\\00x", "C=GB, CN=a\\0Ab", "CN=dn3+UID=x", "UID=mallory+CN=dn4", "CN="]) expect(peer(id)).toBe(id);
    expect(peer("C=GB, CN=a\\+b")).toBe("a+b");
    expect(isolated({ script_type: "up" }, 0)).toEqual({ source: "openvpn" });
    expect(isolated({ script_type: "client-connect", trusted_ip: "1.2.3.4" }, 0)?.problem).toMatch(/common_name/);
    // A name with nothing visible is no name (as notify --user refuses it): no history shared by every such login.
    expect(
      isolated({ script_type: "client-connect", username: "\u001b", common_name: "\u200b", trusted_ip: "1.2.3.4" }, 0)?.problem,
    ).toMatch(/common_name/);
    expect(isolated({ REASON: "connect", USERNAME: " \u0007 ", IP_REAL: "1.2.3.4" }, 0)?.problem).toBe("ocserv gave no USERNAME");
    expect(isolated({ PATH: "/bin" }, 0)).toBeUndefined();
    const v6 = isolated({ script_type: "client-connect", username: "carol", common_name: "laptop-7", trusted_ip6: "2a02:8100::1" }, 7);
    expect(v6?.event).toMatchObject({ user: "carol", ip: "2a02:8100::1", time: 7 });
    const ended = isolated({ REASON: "disconnect", USERNAME: "dave", IP_REAL: "1.2.3.4", STATS_DURATION: "95" }, 9);
    expect(ended?.event).toMatchObject({ kind: "disconnect", source: "ocserv", user: "dave", durationSec: 95 });
  });

  // Only where the host has no vpnnotify config: the launcher finds one in /etc/opsguard by design (no switch hides it
  // short of a mount namespace, root-only), and with one there it would read it and queue this login in its spool.
  it.skipIf(HOST_CONFIG !== undefined)(
    "no config anywhere: OpenVPN's log hears from the hook why no login is notified (T38 F6); skipped on a host with /etc/opsguard/vpnnotify.*",
    () => {
      const bundle = join(dir, "no-config.cjs");
      writeFileSync(bundle, "");
      const { launcher } = installWithLauncher({
        bundle,
        prefix: join(dir, "lib-no-config"),
        name: "vpnnotify",
        cacheEnv: "T_CACHE",
        fastPath: launcherFastPath(parseHookEnv),
      });
      // No config in the working directory or the home either (the test's own, empty).
      const home = join(dir, "no-config-home");
      mkdirSync(home, { recursive: true });
      const deferred = join(dir, "acf-no-config");
      writeFileSync(deferred, "");
      const result = spawnSync(launcher, [], {
        cwd: home,
        env: {
          PATH: "/usr/bin:/bin",
          HOME: home,
          ...openvpnConnectEnv("alice", "81.2.69.142", { client_connect_deferred_file: deferred }),
        },
        encoding: "utf8",
      });
      expect(result.status).toBe(0);
      expect(result.stderr).toBe(
        'vpnnotify: error: failed reason="unusable config, so NO login is notified until it is fixed (the client was let in): no config file (set VPNNOTIFY_CONFIG, or write /etc/opsguard/vpnnotify.json)"\n',
      );
      expect(readFileSync(deferred, "utf8")).toBe("2");
    },
  );

  it("deferred connect: the launcher writes 2, and the worker it detaches runs the bundle with the same arguments", () => {
    const marker = join(dir, "worker-ran.json");
    const bundle = join(dir, "tool.cjs");
    // A stand-in for the real bundle: records how the detached worker was started.
    writeFileSync(
      bundle,
      `if (process.argv.includes("--version")) process.exit(0);
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ argv: process.argv.slice(2), detached: process.env.VPNNOTIFY_DETACHED, user: process.env.common_name }));`,
    );
    const { launcher } = installWithLauncher({
      bundle,
      prefix: join(dir, "lib"),
      name: "vpnnotify",
      cacheEnv: "T_CACHE",
      fastPath: launcherFastPath(parseHookEnv),
    });
    const deferred = join(dir, "acf");
    writeFileSync(deferred, "");
    // A config of the test's own, whose spool does not exist (so the launcher queues nothing and leaves the worker to
    // decide): without one it would read the host's /etc/opsguard/vpnnotify.json, and queue this login in its spool.
    const config = join(dir, "no-spool.json");
    writeFileSync(config, JSON.stringify({ server: { name: "x" }, spool: { dir: join(dir, "no-such-spool") } }));
    const result = spawnSync(launcher, ["/tmp/openvpn_cc_x.tmp"], {
      env: {
        PATH: "/usr/bin:/bin",
        VPNNOTIFY_CONFIG: config,
        ...openvpnConnectEnv("alice", "81.2.69.142", { client_connect_deferred_file: deferred }),
      },
      encoding: "utf8",
    });
    expect([result.status, result.stderr]).toEqual([0, ""]);
    expect(readFileSync(deferred, "utf8")).toBe("2");
    return waitFor(
      () => {
        try {
          return JSON.parse(readFileSync(marker, "utf8"));
        } catch {
          return undefined;
        }
      },
      10_000,
      "the worker",
    ).then((ran) => expect(ran).toEqual({ argv: ["/tmp/openvpn_cc_x.tmp"], detached: "1", user: "alice" }));
  });

  it("with a JSON config and its spool, the launcher queues each login itself, answers 1, and only the first hook starts a worker", () => {
    const { root, spool, config, starts, launcher } = spoolSite(
      "queue",
      (starts) =>
        `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(starts)}, (process.env.VPNNOTIFY_QUEUED ?? "-") + " " + (process.env.client_connect_deferred_file ?? "none") + "\\n");`,
    );
    for (const name of ["alice", "bob", "carol"]) {
      const deferred = join(root, `acf-${name}`);
      writeFileSync(deferred, "");
      const result = spawnSync(launcher, [], {
        env: {
          PATH: "/usr/bin:/bin",
          VPNNOTIFY_CONFIG: config,
          ...openvpnConnectEnv(name, "81.2.69.142", { client_connect_deferred_file: deferred }),
        },
        encoding: "utf8",
      });
      expect(result).toMatchObject({ status: 0, stderr: "" });
      expect(readFileSync(deferred, "utf8")).toBe("1");
    }
    const queued = readdirSync(spool)
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(spool, f), "utf8")));
    expect(queued.map((e) => e.payload.login.user).sort()).toEqual(["alice", "bob", "carol"]);
    expect(queued[0]).toMatchObject({
      attempts: 0,
      leaseUntil: 0,
      payload: { login: { kind: "connect", source: "openvpn", ip: "81.2.69.142" } },
    });
    expect(existsSync(join(spool, "worker.starting"))).toBe(true);
    return waitFor(() => existsSync(starts) && readFileSync(starts, "utf8"), 10_000, "the worker").then((text) =>
      expect(text).toBe("1 none\n"),
    );
  });

  it("onFailure reject: writes 2 before the login is in the spool, so a worker that answers it at once is not undone (T50 N6)", () => {
    const { root, spool, config, launcher } = spoolSite("reject-order", () => "");
    writeFileSync(config, JSON.stringify({ server: { name: "x" }, spool: { dir: spool }, onFailure: "reject" }));
    const deferred = join(root, "acf");
    writeFileSync(deferred, "");
    // plays a running worker: the moment the entry is renamed into the spool, it answers the login "1"
    const worker = join(root, "worker.cjs");
    const seen = join(root, "seen");
    writeFileSync(
      worker,
      `const fs = require("node:fs"); const rename = fs.renameSync;
fs.renameSync = (from, to) => { rename(from, to); if (String(to).startsWith(${JSON.stringify(spool)})) { fs.writeFileSync(${JSON.stringify(seen)}, fs.readFileSync(${JSON.stringify(deferred)})); fs.writeFileSync(${JSON.stringify(deferred)}, "1"); } };`,
    );
    const result = spawnSync(launcher, [], {
      env: {
        PATH: "/usr/bin:/bin",
        NODE_OPTIONS: `--require ${worker}`,
        VPNNOTIFY_CONFIG: config,
        ...openvpnConnectEnv("alice", "81.2.69.142", { client_connect_deferred_file: deferred }),
      },
      encoding: "utf8",
    });
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect([readFileSync(seen, "utf8"), readFileSync(deferred, "utf8")]).toEqual(["2", "1"]);
  });

  it("a stale worker.starting another hook holds the takeover token for is left to that hook: no second worker (CI, 10 racing hooks)", async () => {
    const record = (starts: string) =>
      `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(starts)}, "started\\n");`;
    const login = (config: string) => ({ PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: config, ...openvpnConnectEnv("alice", "81.2.69.142") });
    const old = Date.now() - 60_000;
    // Its token taken: the other hook is between creating the token and replacing the claim.
    const held = spoolSite("held", record);
    writeFileSync(join(held.spool, "worker.starting"), `${old}\n`);
    writeFileSync(join(held.spool, `.worker.starting.${old}.taken`), "");
    expect(spawnSync(held.launcher, [], { env: login(held.config), encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
    expect(readFileSync(join(held.spool, "worker.starting"), "utf8")).toBe(`${old}\n`);
    // No token: this hook takes the claim over (and leaves the token for the worker to clear).
    const free = spoolSite("free", record);
    writeFileSync(join(free.spool, "worker.starting"), `${old}\n`);
    expect(spawnSync(free.launcher, [], { env: login(free.config), encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
    expect(existsSync(join(free.spool, `.worker.starting.${old}.taken`))).toBe(true);
    expect(Number(readFileSync(join(free.spool, "worker.starting"), "utf8"))).toBeGreaterThan(old);
    // Dated a minute ahead (the clock stepped back since): stale too.
    const ahead = spoolSite("ahead", record);
    writeFileSync(join(ahead.spool, "worker.starting"), `${Date.now() + 60_000}\n`);
    expect(spawnSync(ahead.launcher, [], { env: login(ahead.config), encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
    await waitFor(() => existsSync(free.starts) && existsSync(ahead.starts), 10_000, "the workers");
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(held.starts)).toBe(false);
    expect(readFileSync(free.starts, "utf8")).toBe("started\n");
    expect(readFileSync(ahead.starts, "utf8")).toBe("started\n");
  });

  it("all nine takeover tokens left over (files or directories): the hook names them and the fix on stderr, starts no worker (r18b finding 4)", async () => {
    const record = (starts: string) =>
      `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(starts)}, "started\\n");`;
    const site = spoolSite("nine", record);
    const old = Date.now() - 3_600_000;
    writeFileSync(join(site.spool, "worker.starting"), `${old}\n`);
    const token = join(site.spool, `.worker.starting.${old}.taken`);
    for (const n of ["", "2", "3", "4", "5", "6", "7", "8", "9"]) {
      if (n === "" || Number(n) % 2 === 1) writeFileSync(`${token}${n}`, "");
      else mkdirSync(`${token}${n}`);
      utimesSync(`${token}${n}`, new Date(old), new Date(old));
    }
    const env = { PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: site.config, ...openvpnConnectEnv("alice", "81.2.69.142") };
    expect(spawnSync(site.launcher, [], { env, encoding: "utf8" })).toMatchObject({
      status: 0,
      stderr: `vpnnotify: error: the takeover tokens ${token} … ${token}9 are all left over, so no hook can start a worker (this login waits in the spool); run vpnnotify flush as the spool's owner (it removes them and delivers what waits)\n`,
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(site.starts)).toBe(false);
  });

  it("a takeover token left 11 s ago (a killed hook, or a dangling-symlink claim's junk token): exactly one of 10 racing hooks starts the worker (r18 finding 3)", async () => {
    const record = (starts: string) =>
      `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(starts)}, "started\\n");`;
    const old = Date.now() - 300_000;
    const sites = [
      {
        site: spoolSite("left", record),
        claim: (spool: string) => writeFileSync(join(spool, "worker.starting"), `${old}\n`),
        token: `${old}`,
      },
      {
        site: spoolSite("junk", record),
        claim: (spool: string) => symlinkSync(join(spool, "nowhere"), join(spool, "worker.starting")),
        token: "junk",
      },
    ];
    const login = (config: string, i: number) => ({
      PATH: "/usr/bin:/bin",
      VPNNOTIFY_CONFIG: config,
      ...openvpnConnectEnv(`u${i}`, "81.2.69.142"),
    });
    for (const { site, claim, token } of sites) {
      claim(site.spool);
      const file = join(site.spool, `.worker.starting.${token}.taken`);
      writeFileSync(file, "");
      // Fresh, it is another hook's takeover under way: left to that hook.
      expect(spawnSync(site.launcher, [], { env: login(site.config, 0), encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
      utimesSync(file, new Date(Date.now() - 11_000), new Date(Date.now() - 11_000));
      const racing = Array.from(
        { length: 10 },
        (_, i) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(site.launcher, [], { env: login(site.config, i + 1), stdio: "ignore" });
            child.on("close", resolve);
          }),
      );
      expect(await Promise.all(racing)).toEqual(Array(10).fill(0));
      expect(existsSync(`${file}2`)).toBe(true);
    }
    await waitFor(() => sites.every(({ site }) => existsSync(site.starts)), 10_000, "the workers");
    await new Promise((r) => setTimeout(r, 300));
    for (const { site } of sites) expect(readFileSync(site.starts, "utf8")).toBe("started\n");
  });

  it("a worker.starting directory: an empty one is removed and the worker started; one with files is named on stderr (r18 finding 4)", async () => {
    const record = (starts: string) =>
      `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(starts)}, "started\\n");`;
    const login = (config: string) => ({ PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: config, ...openvpnConnectEnv("alice", "81.2.69.142") });
    const empty = spoolSite("dir-empty", record);
    mkdirSync(join(empty.spool, "worker.starting"));
    expect(spawnSync(empty.launcher, [], { env: login(empty.config), encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
    const full = spoolSite("dir-full", record);
    const marker = join(full.spool, "worker.starting");
    mkdirSync(marker);
    writeFileSync(join(marker, "x"), "");
    expect(spawnSync(full.launcher, [], { env: login(full.config), encoding: "utf8" })).toMatchObject({
      status: 0,
      stderr: `vpnnotify: error: ${marker} is a directory with files in it, not a start claim: no worker was started (this login waits in the spool); remove it: rm -r -- ${marker}\n`,
    });
    await waitFor(() => existsSync(empty.starts), 10_000, "the worker");
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(full.starts)).toBe(false);
    expect(readdirSync(full.spool).filter((f) => f.endsWith(".json"))).toHaveLength(1);
  });

  it("a spool the hook's user cannot enter (root's, mode 700) never fails the login: exit 0, 2, and the worker handles it", () => {
    const root = mkdtempSync(join(dir, "private-"));
    chmodSync(dir, 0o755);
    chmodSync(root, 0o755);
    const spool = join(root, "spool");
    mkdirSync(spool, { mode: 0o700 });
    const config = join(root, "vpnnotify.json");
    writeFileSync(config, JSON.stringify({ server: { name: "x" }, spool: { dir: spool } }), { mode: 0o644 });
    const ran = join(root, "ran.log");
    writeFileSync(ran, "");
    chmodSync(ran, 0o666);
    const bundle = join(root, "tool.cjs");
    writeFileSync(
      bundle,
      `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(ran)}, (process.env.VPNNOTIFY_QUEUED ?? "-") + " " + (process.env.client_connect_deferred_file ? "deferred" : "none") + "\\n");`,
    );
    const { launcher } = installWithLauncher({
      bundle,
      prefix: join(root, "lib"),
      name: "vpnnotify",
      cacheEnv: "T_CACHE",
      fastPath: launcherFastPath(parseHookEnv),
    });
    const deferred = join(root, "acf");
    writeFileSync(deferred, "");
    chmodSync(deferred, 0o666);
    // The hook runs as an unprivileged user (OpenVPN's --user nobody); the spool is root's.
    const result = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", launcher], {
      env: {
        PATH: "/usr/bin:/bin",
        VPNNOTIFY_CONFIG: config,
        ...openvpnConnectEnv("alice", "81.2.69.142", { client_connect_deferred_file: deferred }),
      },
      encoding: "utf8",
    });
    expect(result).toMatchObject({ status: 0, stderr: "" });
    expect(readFileSync(deferred, "utf8")).toBe("2");
    return waitFor(() => readFileSync(ran, "utf8"), 10_000, "the worker").then((text) => expect(text).toBe("- deferred\n"));
  });

  it("a drain lock naming a zombie (a worker killed, never reaped) is no worker: the launcher starts one", async () => {
    const { spool, config, starts, launcher } = spoolSite(
      "zombie",
      (starts) => `if (!process.argv.includes("--version")) require("node:fs").appendFileSync(${JSON.stringify(starts)}, "started\\n");`,
    );
    const zombie = await zombieDrainLock(spool);
    try {
      const env = { PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: config, ...openvpnConnectEnv("alice", "81.2.69.142") };
      expect(spawnSync(launcher, [], { env, encoding: "utf8" })).toMatchObject({ status: 0, stderr: "" });
      expect(await waitFor(() => existsSync(starts) && readFileSync(starts, "utf8"), 10_000, "the worker")).toBe("started\n");
    } finally {
      zombie.end();
    }
  });

  it("a FIFO planted as the spool's drain.lock never holds up the hook", () => {
    const { spool, config, launcher } = spoolSite("lockfifo", () => "");
    expect(spawnSync("mkfifo", [join(spool, "drain.lock")]).status).toBe(0);
    const result = spawnSync(launcher, [], {
      env: { PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: config, ...openvpnConnectEnv("alice", "81.2.69.142") },
      timeout: 10_000,
    });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
    expect(readdirSync(spool).filter((f) => f.endsWith(".json"))).toHaveLength(1);
  });

  it("a config that is a FIFO never holds up the hook: it leaves the config to the worker", () => {
    const root = mkdtempSync(join(dir, "fifo-"));
    const config = join(root, "vpnnotify.json");
    expect(spawnSync("mkfifo", [config]).status).toBe(0);
    const bundle = join(root, "tool.cjs");
    writeFileSync(bundle, "");
    const { launcher } = installWithLauncher({
      bundle,
      prefix: join(root, "lib"),
      name: "vpnnotify",
      cacheEnv: "T_CACHE",
      fastPath: launcherFastPath(parseHookEnv),
    });
    const result = spawnSync(launcher, [], {
      env: { PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: config, ...openvpnConnectEnv("alice", "81.2.69.142") },
      timeout: 10_000,
    });
    expect(result.signal).toBeNull();
    expect(result.status).toBe(0);
  });

  it("anything but a plain hook call (here --help) goes to the bundle", () => {
    const marker = join(dir, "help.txt");
    const bundle = join(dir, "help-tool.cjs");
    writeFileSync(
      bundle,
      `if (!process.argv.includes("--version")) require("node:fs").writeFileSync(${JSON.stringify(marker)}, process.argv.slice(2).join(" "));`,
    );
    const { launcher } = installWithLauncher({
      bundle,
      prefix: join(dir, "lib2"),
      name: "vpnnotify",
      cacheEnv: "T_CACHE",
      fastPath: launcherFastPath(parseHookEnv),
    });
    const result = spawnSync(launcher, ["--help"], { env: { PATH: "/usr/bin:/bin", ...openvpnConnectEnv("alice", "81.2.69.142") } });
    expect(result.status).toBe(0);
    expect(readFileSync(marker, "utf8")).toBe("--help");
  });
});
