import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, openvpnConnectEnv, refusingSlackConfig, runBare } from "./fixtures";

/**
 * The process's own streams failing (issue #21's black-box try): the CLI ends the process itself once the exit
 * code is set, and must still report a stdout it could not write (exit 74), the syslog it could not reach, and
 * never turn a stderr it cannot write (OpenVPN's log on a full disk) into a non-zero exit that disconnects the client.
 */

let dir: string;
let config: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-io-"));
  mkdirSync(join(dir, "state"));
  // Slack refuses at once: a notify fails and its login stays in the spool.
  ({ config } = refusingSlackConfig(dir, join(dir, "vpnnotify.json"), { deadlineMs: 10_000 }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI (through tsx) with one of its streams on /dev/full (writes fail with ENOSPC), the other piped. */
function runOnFull(stream: "stdout" | "stderr", args: readonly string[], env: Record<string, string> = {}) {
  const full = openSync("/dev/full", "w");
  try {
    return spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
      cwd: join(import.meta.dirname, "../../.."),
      // the runner's environment (it makes @opsguard/core resolve to its sources), no VPN server's variables
      env: { ...process.env, HOME: dir, NO_COLOR: "1", T_TOKEN: "xoxb-1", ...env },
      stdio: stream === "stdout" ? ["ignore", full, "pipe"] : ["ignore", "pipe", full],
      encoding: "utf8",
      timeout: 20_000,
    });
  } finally {
    closeSync(full);
  }
}

describe("a stdout that cannot be written", () => {
  it.each([
    ["--help", ["--help"]],
    ["--json status", ["--json", "status"]],
    ["sh-hook", ["sh-hook"]],
  ])("%s exits 74 with one line saying the output is incomplete", (_name, args) => {
    const r = runOnFull("stdout", ["--config", config, ...args]);
    expect([r.status, r.stderr]).toEqual([74, "vpnnotify: cannot write to stdout (ENOSPC); the output is incomplete\n"]);
  });
});

describe("a stdout that cannot be written, to which a hook writes nothing (T30 #3: ocserv's --wait wrapper)", () => {
  it.each([
    ["ocserv", { REASON: "connect", USERNAME: "carol", IP_REAL: "81.2.69.17" }],
    ["openvpn", openvpnConnectEnv("carol", "81.2.69.17")],
  ])("a %s hook with --wait exits 0 (the VPN server lets the client in) and keeps the login", (_name, vars) => {
    const spool = join(dir, "spool");
    const before = existsSync(spool) ? readdirSync(spool).length : 0;
    const r = runOnFull("stdout", ["--wait"], { ...vars, VPNNOTIFY_CONFIG: config });
    expect([r.status, r.signal]).toEqual([0, null]);
    expect(r.stderr).not.toContain("cannot write to stdout");
    expect(readdirSync(spool).filter((f) => f.endsWith(".json")).length).toBeGreaterThan(before);
  });
});

describe("a syslog that cannot be reached", () => {
  it("a mistyped hook line still says so on stderr, with the syslog failure and the line syslog did not get", async () => {
    // The real logger(1) against a socket that does not exist: a host without /dev/log.
    const bin = mkdtempSync(join(dir, "bin-"));
    writeFileSync(join(bin, "logger"), `#!/bin/sh\nexec /usr/bin/logger "$@" -u ${join(dir, "no-such-socket")}\n`);
    chmodSync(join(bin, "logger"), 0o755);
    const env = openvpnConnectEnv("bob", "81.2.69.17");
    const r = await runBare(["--wiat"], { ...env, PATH: `${bin}:/usr/bin:/bin`, VPNNOTIFY_CONFIG: config });
    expect(r.code).toBe(0);
    const failed = `failed user=bob ip=81.2.69.17 reason="the hook line in the VPN server's config is wrong (see above), so NO login is notified until it is fixed (the client was let in)"`;
    expect(r.stderr.split("\n")).toEqual([
      "vpnnotify: unknown option '--wiat' (Did you mean --wait?) (see vpnnotify --help)",
      `vpnnotify: error: ${failed}`,
      `vpnnotify: error: syslog unavailable (logger: socket ${join(dir, "no-such-socket")}: No such file or directory); its lines go to stderr`,
      `vpnnotify: ${failed}`,
      "",
    ]);
  });
});

describe("a stderr that cannot be written (OpenVPN's log on a full disk)", () => {
  it("a hook with --wait still exits 0 (the client stays connected) and keeps the login", () => {
    const spool = join(dir, "spool");
    const before = existsSync(spool) ? readdirSync(spool).length : 0;
    const r = runOnFull("stderr", ["--wait"], { ...openvpnConnectEnv("carol", "81.2.69.17"), VPNNOTIFY_CONFIG: config });
    expect([r.status, r.signal]).toEqual([0, null]);
    // Slack refuses: the alert is in the spool for the next worker, not lost with the diagnostics.
    expect(readdirSync(spool).filter((f) => f.endsWith(".json")).length).toBeGreaterThan(before);
  });

  it("the fast hook path, warning that OpenVPN's deferred file cannot be written, still exits 0", () => {
    const env = openvpnConnectEnv("dave", "81.2.69.17", { client_connect_deferred_file: join(dir, "no-such-dir", "answer") });
    const r = runOnFull("stderr", [], { ...env, VPNNOTIFY_CONFIG: config });
    expect([r.status, r.signal]).toEqual([0, null]);
  });
});

describe("a spool this user cannot read or write (root's, mode 0700, with the flush timer or hooks run as nobody)", () => {
  /** The CLI as nobody when the tests run as root (root reads anything); else as this user, the spool closed to it by its mode. */
  function runAs(args: readonly string[], env: Record<string, string> = {}, configArgs = ["--config", config]) {
    const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    const node = [process.execPath, "--conditions=@opsguard/source", "--import", "tsx", CLI, ...configArgs, ...args];
    const argv = [...asNobody, ...node];
    return spawnSync(argv[0] as string, argv.slice(1), {
      cwd: join(import.meta.dirname, "../../.."),
      env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", NO_COLOR: "1", T_TOKEN: "xoxb-1", ...env },
      encoding: "utf8",
      timeout: 20_000,
    });
  }

  it("a spool directory that does not exist and cannot be made (the default one, /var/lib/opsguard missing): status and flush exit 78 naming it and the fix, not 'pending: 0'; a LOST alert's fix says so (T62 F4)", () => {
    // Root's directory, 0755: the default spool beside state.file cannot be made under it by nobody (as root: a file in its way).
    const closed = join(dir, "closed");
    mkdirSync(closed, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const root = process.getuid?.() === 0;
    const blocker = join(dir, "a-file");
    writeFileSync(blocker, "");
    const cases = [
      ...(root ? [{ state: join(closed, "vpnnotify", "state.json"), why: `${closed} is not writable by uid 65534 (EACCES)` }] : []),
      { state: join(blocker, "vpnnotify", "state.json"), why: `${blocker} is not a directory` },
    ];
    for (const { state, why } of cases) {
      const missing = join(dirname(state), "spool");
      const noSpool = join(dir, "no-spool.json");
      const { spool: _, ...rest } = JSON.parse(readFileSync(config, "utf8"));
      writeFileSync(noSpool, JSON.stringify({ ...rest, state: { file: state }, spool: { retryUnspooledSeconds: 0 } }));
      const fix = `create it for the user the VPN server runs hooks as (install -d -o USER -m 700 ${missing}), or set spool.dir to a directory that user owns`;
      const line = `vpnnotify: the spool directory ${missing} does not exist and cannot be created: ${why} (${fix})\n`;
      for (const args of [["status"], ["--json", "status"], ["flush"]]) {
        const r = runAs(args, {}, ["--config", noSpool]);
        expect([r.status, r.stdout, r.stderr], `${state} ${args.join(" ")}`).toEqual([78, "", line]);
      }
      // Slack refuses and the spool cannot take it: LOST, and the fix is the missing directory, not free space.
      const lost = runAs(["notify", "--user", "alice", "--ip", "81.2.69.17"], {}, ["--config", noSpool]);
      expect(lost.status).toBe(69);
      expect(lost.stderr).toContain("LOST (not delivered, and not kept for a retry)");
      expect(lost.stderr).toContain(`fix="${fix}"`);
      expect(lost.stderr).not.toContain("free space");
    }
  });

  it("status and flush exit 78 with one line naming the directory, its owner and mode, and the fix; the --wait hook warns the same", () => {
    const spool = join(dir, "spool");
    mkdirSync(spool, { recursive: true });
    writeFileSync(join(spool, "1-0000abcd.json"), "{}\n", { mode: 0o600 });
    chmodSync(dir, 0o755);
    const root = process.getuid?.() === 0;
    try {
      // Closed (0700 as root's; 0000 as our own), then readable but not writable (0755 root's; 0555 our own).
      for (const mode of root ? [0o700, 0o755] : [0o000, 0o555]) {
        chmodSync(spool, mode);
        const owner = `it belongs to uid ${process.getuid?.()}, mode ${mode.toString(8).padStart(4, "0")}, and this is uid ${root ? 65534 : process.getuid?.()}`;
        // Our own spool closed by its mode: the fix is its mode, not another user (T30 #6b).
        const fix = root
          ? `run vpnnotify as its owner, the user OpenVPN runs scripts as, or make that user the owner: chown USER ${spool} && chmod 700 ${spool}`
          : `give its owner access back: chmod 700 ${spool}`;
        const line = `vpnnotify: cannot read or write the spool directory ${spool}: ${owner} (${fix})\n`;
        // A readable spool the hooks cannot write is as broken as a closed one: status says so too (T62 F4).
        for (const args of [["status"], ["--json", "status"], ["flush"], ["flush", "--force"]]) {
          const r = runAs(args);
          expect([r.status, r.stdout, r.stderr], `${mode.toString(8)} ${args.join(" ")}`).toEqual([78, "", line]);
        }
      }
      if (root) {
        // nobody's own spool, mode 0500: nobody is told to give itself access back, not to become the owner it is
        chownSync(spool, 65534, 65534);
        chmodSync(spool, 0o500);
        const r = runAs(["flush"]);
        expect([r.status, r.stderr]).toEqual([
          78,
          `vpnnotify: cannot read or write the spool directory ${spool}: it belongs to uid 65534, mode 0500, and this is uid 65534 (give its owner access back: chmod 700 ${spool})\n`,
        ]);
        chownSync(spool, 0, 0);
      }
      chmodSync(spool, root ? 0o700 : 0o000);
      // A spool path holding a newline and an ESC sequence is still one line, escaped.
      const odd = join(dir, "odd\n\u001b[31mspool");
      mkdirSync(odd, { mode: root ? 0o700 : 0o000 });
      chmodSync(odd, root ? 0o700 : 0o000);
      const oddConfig = join(dir, "odd.json");
      writeFileSync(oddConfig, JSON.stringify({ ...JSON.parse(readFileSync(config, "utf8")), spool: { dir: odd } }));
      const shown = odd.replace("\n", "\\n").replace("\u001b", "\\x1b");
      const oddRun = runAs(["status"], { VPNNOTIFY_CONFIG: oddConfig }, []);
      expect([oddRun.status, oddRun.stderr.split("\n")]).toEqual([
        78,
        [expect.stringContaining(`spool directory ${shown}: it belongs`), ""],
      ]);
      chmodSync(odd, 0o700);
      const hook = runAs(["--wait"], openvpnConnectEnv("bob", "81.2.69.17"));
      expect(hook.status).toBe(0);
      expect(hook.stderr).toContain(
        `warn: cannot read the spool of undelivered alerts spool=${spool} error="cannot read or write the spool directory`,
      );
      expect(hook.stderr).not.toContain("EACCES");
    } finally {
      chmodSync(spool, 0o700);
      rmSync(join(spool, "1-0000abcd.json"), { force: true });
    }
  });
});
