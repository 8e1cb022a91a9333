import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embeddedDatabaseFiles } from "../src/geoip";
import { openvpnConnectEnv, refusingSlackConfig, waitFor } from "./fixtures";

/**
 * The built bundle as a user handles it: copied somewhere else, installed with a config outside
 * the default place, and the installed sh hook handing logins to the installed Node hook.
 */

const BUNDLE = new URL("../dist/vpnnotify.cjs", import.meta.url).pathname;
let dir: string;

beforeAll(() => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs vpnnotify" first`);
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-copy-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A config in a non-default place (a space in its path) whose Slack refuses at once: every login stays in the spool. */
const writeConfig = (root: string) => refusingSlackConfig(root, join(root, "etc", "vpn notify.json"));

const run = (argv: string[], env: Record<string, string> = {}, cwd?: string) =>
  spawnSync(argv[0] as string, argv.slice(1), {
    env: { PATH: "/usr/bin:/bin", T_TOKEN: "xoxb-1", ...env },
    ...(cwd ? { cwd } : {}),
    encoding: "utf8",
    timeout: 20_000,
  });

const queuedUsers = (spool: string): string[] =>
  existsSync(spool)
    ? readdirSync(spool)
        .filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f))
        .map((f) => JSON.parse(readFileSync(join(spool, f), "utf8")).payload)
        .map((p: { login?: { user: string }; event?: { user: string }; openvpn?: { common_name: string } }) =>
          String(p.login?.user ?? p.event?.user ?? p.openvpn?.common_name),
        )
    : [];

describe("a copied bundle", () => {
  it("without its GeoIP database: install exits 78 with one line naming the fix and installs nothing; notify warns with the fix", () => {
    const root = mkdtempSync(join(dir, "bare-"));
    const copy = join(root, "x.cjs");
    copyFileSync(BUNDLE, copy);
    const { config } = writeConfig(root);
    const r = run([process.execPath, copy, "--config", config, "install", "--prefix", join(root, "P")]);
    expect(r.status).toBe(78);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("the embedded GeoIP database");
    expect(r.stderr).toContain("copy those files beside it");
    expect(r.stderr).not.toMatch(/internal error|Cannot find module/);
    expect(existsSync(join(root, "P"))).toBe(false);
    // notify still goes out (here: is spooled, Slack refusing), its GeoIP warning naming the fix.
    const notify = run([process.execPath, copy, "--config", config, "notify", "--user", "alice", "--ip", "81.2.69.142"]);
    expect(notify.stderr).toMatch(/warn: GeoIP lookup failed; .*the embedded GeoIP database .*copy those files beside it/);
    expect(notify.stderr).not.toContain("internal error");
  });

  it("a config the hooks cannot use (invalid, or naming a secret file that cannot be read): install installs the files, then exits 78 naming the problem (T62 F8)", () => {
    const root = mkdtempSync(join(dir, "badconfig-"));
    const copy = join(root, "x.cjs");
    copyFileSync(BUNDLE, copy);
    for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
    const { config } = writeConfig(root);
    const valid = JSON.parse(readFileSync(config, "utf8"));
    for (const [answers, why] of [
      [{ signingSecret: "a-literal-secret" }, "invalid config in"],
      [{ signingSecret: `file:${join(root, "no-such-secret")}` }, "answers.signingSecret: the secret file it names cannot be read (ENOENT"],
    ] as const) {
      writeFileSync(config, JSON.stringify({ ...valid, answers }));
      const prefix = join(root, `P-${answers.signingSecret.length}`);
      const install = run([process.execPath, copy, "--config", config, "install", "--prefix", prefix]);
      expect(install.status, install.stderr).toBe(78);
      const [skipped, error, ...rest] = install.stderr.split("\n");
      expect(skipped).toBe("vpnnotify: sh hook not written (client-connect stays on the launcher): the config is not usable (see below)");
      expect(error).toContain("vpnnotify: installed, but the config is not usable: no login is notified until it is fixed: ");
      expect(error).toContain(why);
      expect(error).toMatch(/run vpnnotify install again\)$/);
      expect(rest).toEqual([""]);
      expect(install.stderr).not.toContain("a-literal-secret");
      // what could be installed is: the launcher, and the lines for the VPN server
      expect(existsSync(join(prefix, "vpnnotify"))).toBe(true);
      expect(install.stdout).toContain(`client-connect ${join(prefix, "vpnnotify-hook")}`);
    }
  });

  it("without touch(1) on PATH: installs on the launcher alone, one warning naming the missing touch and the fix, no internal error", () => {
    const root = mkdtempSync(join(dir, "notouch-"));
    const copy = join(root, "x.cjs");
    copyFileSync(BUNDLE, copy);
    for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
    const { config } = writeConfig(root);
    // a minimal image's PATH: what install runs, but no coreutils touch
    const bin = join(root, "bin");
    mkdirSync(bin);
    for (const tool of ["id", "sh", "test", "setpriv"]) {
      const at = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).stdout.trim();
      if (at !== "") symlinkSync(at, join(bin, tool));
    }
    const prefix = join(root, "P");
    const install = run([process.execPath, copy, "--config", config, "install", "--prefix", prefix], { PATH: bin });
    // the sh hook only speeds logins up: client-connect works on the launcher, so the install itself succeeds
    expect(install.status, install.stderr).toBe(0);
    expect(install.stderr.split("\n").filter((l) => l !== "")).toEqual([
      `vpnnotify: sh hook not written (client-connect stays on the launcher): cannot date the sh hook as its config ${config} (touch: not found on PATH) (check that touch(1) is on PATH and the install directory's file system keeps nanosecond times)`,
    ]);
    expect(existsSync(join(prefix, "vpnnotify-connect"))).toBe(false);
    expect(install.stdout).toContain(`client-connect ${join(prefix, "vpnnotify-hook")}`);
  });

  it.runIf(process.getuid?.() === 0)(
    "install and status as root check the secret files as the hooks' user (the spool's owner, or --hook-user): a token only root can read is 78 (T64 N7)",
    () => {
      const root = mkdtempSync(join(dir, "hookuser-"));
      // the hooks' user (nobody) may walk to its files, as on a real host
      for (const d of [dir, root]) chmodSync(d, 0o755);
      const copy = join(root, "x.cjs");
      copyFileSync(BUNDLE, copy);
      for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
      const token = join(root, "token");
      // as `sudo tee` leaves it: root's, 0600
      writeFileSync(token, "xoxb-1\n", { mode: 0o600 });
      const { config, spool } = writeConfig(root);
      writeFileSync(
        config,
        JSON.stringify({
          ...JSON.parse(readFileSync(config, "utf8")),
          slack: { token: `file:${token}`, baseUrl: "http://127.0.0.1:9/api/" },
        }),
      );
      const install = (...more: string[]) =>
        run([process.execPath, copy, "--config", config, "install", "--prefix", join(root, "P"), ...more]);
      const status = () => run([process.execPath, copy, "--config", config, "status"]);
      const unreadable = `slack.token: ${token} cannot be read by nobody (uid 65534), the user the hooks run as (let that user read it, e.g. chown nobody ${token} && chmod 600 ${token}`;
      // no spool yet: nobody to check as, and install says it checked as root only
      const before = install();
      expect([before.status, before.stderr]).toEqual([
        0,
        `vpnnotify: warn: checked the config's files as root, who can read them all: the hooks' user may not (no spool directory ${spool} yet to tell who that is; create it for them with install -d -o USER -m 700 ${spool}, or give --hook-user USER)\n`,
      ]);
      // told who the hooks run as
      const told = install("--hook-user", "nobody");
      expect(told.status).toBe(78);
      expect(told.stderr).toContain(unreadable);
      // the spool made for the hooks' user, as the README says: install and status find the user by it
      mkdirSync(spool, { mode: 0o700 });
      chownSync(spool, 65534, 65534);
      for (const r of [install(), status()]) {
        expect(r.status, r.stderr).toBe(78);
        expect(r.stderr).toContain(unreadable);
      }
      chownSync(token, 65534, 65534);
      for (const r of [install(), status()]) expect([r.status, r.stderr]).toEqual([0, ""]);
    },
  );

  it.runIf(process.getuid?.() === 0)(
    "without setpriv, install and status as root judge the secret files by owner and mode for the hooks' user: a root-only token is still 78, and they say ACLs were not checked (T66 P6)",
    () => {
      const root = mkdtempSync(join(dir, "nosetpriv-"));
      for (const d of [dir, root]) chmodSync(d, 0o755);
      const copy = join(root, "x.cjs");
      copyFileSync(BUNDLE, copy);
      for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
      const token = join(root, "token");
      writeFileSync(token, "xoxb-1\n", { mode: 0o600 });
      const { config, spool } = writeConfig(root);
      writeFileSync(
        config,
        JSON.stringify({
          ...JSON.parse(readFileSync(config, "utf8")),
          slack: { token: `file:${token}`, baseUrl: "http://127.0.0.1:9/api/" },
        }),
      );
      mkdirSync(spool, { mode: 0o700 });
      chownSync(spool, 65534, 65534);
      // a PATH with what install runs but no setpriv (a minimal image, util-linux not installed)
      const bin = join(root, "bin");
      mkdirSync(bin);
      for (const tool of ["id", "sh", "touch", "test"])
        symlinkSync(execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" }).trim(), join(bin, tool));
      const env = { PATH: bin };
      const install = () => run([process.execPath, copy, "--config", config, "install", "--prefix", join(root, "P")], env);
      const status = () => run([process.execPath, copy, "--config", config, "status"], env);
      const note =
        "vpnnotify: warn: checked the config's files by their owner, group and mode bits for nobody (uid 65534): setpriv is missing, so it could not be asked as that user (ACLs and the directories on the way were not checked)";
      for (const r of [install(), status()]) {
        expect(r.status, r.stderr).toBe(78);
        expect(r.stderr).toContain(note);
        expect(r.stderr).toContain(
          `slack.token: ${token} cannot be read by nobody (uid 65534), the user the hooks run as (let that user read it, e.g. chown nobody ${token} && chmod 600 ${token}`,
        );
      }
      chownSync(token, 65534, 65534);
      const fixed = install();
      expect([fixed.status, fixed.stderr]).toEqual([0, `${note}\n`]);
    },
  );

  it.runIf(process.getuid?.() === 0)(
    "install as root: --hook-user root on a spool owned by another user is said and checked as that owner too; a uid with no name gets a chown that runs (T66 P8)",
    () => {
      const root = mkdtempSync(join(dir, "hookowner-"));
      for (const d of [dir, root]) chmodSync(d, 0o755);
      const copy = join(root, "x.cjs");
      copyFileSync(BUNDLE, copy);
      for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
      const token = join(root, "token");
      writeFileSync(token, "xoxb-1\n", { mode: 0o600 });
      const { config, spool } = writeConfig(root);
      writeFileSync(
        config,
        JSON.stringify({
          ...JSON.parse(readFileSync(config, "utf8")),
          slack: { token: `file:${token}`, baseUrl: "http://127.0.0.1:9/api/" },
        }),
      );
      mkdirSync(spool, { mode: 0o700 });
      chownSync(spool, 65534, 65534);
      const install = (...more: string[]) =>
        run([process.execPath, copy, "--config", config, "install", "--prefix", join(root, "P"), ...more]);
      const asRoot = install("--hook-user", "root");
      expect(asRoot.status).toBe(78);
      expect(asRoot.stderr).toContain(
        `vpnnotify: warn: --hook-user root (uid 0) is not the owner of the spool directory ${spool}, nobody (uid 65534): the hooks must run as its owner to spool their alerts`,
      );
      expect(asRoot.stderr).toContain(`cannot be read by nobody (uid 65534)`);
      // a spool owned by a uid no passwd entry names (a user removed, an id from another host)
      chownSync(spool, 4242, 4242);
      const unnamed = install();
      expect(unnamed.status).toBe(78);
      expect(unnamed.stderr).toContain(`slack.token: ${token} cannot be read by uid 4242, the user the hooks run as`);
      expect(unnamed.stderr).toContain(`chown 4242 ${token} && chmod 600 ${token}`);
      chownSync(token, 4242, 4242);
      const fixed = install();
      expect([fixed.status, fixed.stderr]).toEqual([0, ""]);
    },
  );

  it("a relative --prefix is made absolute: the hook runs from any directory; an empty VPNNOTIFY_CONFIG keeps its config (r18b findings 3, 7)", () => {
    const root = mkdtempSync(join(dir, "relative-"));
    const copy = join(root, "x.cjs");
    copyFileSync(BUNDLE, copy);
    for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
    const { config } = writeConfig(root);
    mkdirSync(join(root, "cwd"));
    const empty = run([process.execPath, copy, "--config", config, "install", "--prefix", ""], {}, join(root, "cwd"));
    expect([empty.status, empty.stderr]).toEqual([
      64,
      "vpnnotify: --prefix is empty (name the directory, e.g. --prefix /usr/local/lib/vpnnotify)\n",
    ]);
    expect(readdirSync(join(root, "cwd"))).toEqual([]);
    const install = run([process.execPath, copy, "--config", config, "install", "--prefix", "../P"], {}, join(root, "cwd"));
    expect(install.stderr).toBe("");
    expect(install.status).toBe(0);
    const hook = join(root, "P", "vpnnotify-hook");
    expect(install.stdout).toContain(`ocserv: connect-script = ${hook}`);
    expect(install.stdout).not.toMatch(/\.\.\/P/);
    // From elsewhere, as a VPN server runs it, with an empty VPNNOTIFY_CONFIG in its environment.
    const status = run([hook, "--json", "status"], { VPNNOTIFY_CONFIG: "" }, "/");
    expect(status.stderr).toBe("");
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0 });
  });

  it("with the database beside it: installs; the sh hook, dated as a config with nanoseconds, stays on the sh path; every hand-over keeps the config", async () => {
    const root = mkdtempSync(join(dir, "full-"));
    const copy = join(root, "x.cjs");
    copyFileSync(BUNDLE, copy);
    for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
    const { config, spool } = writeConfig(root);
    expect(run(["touch", "-d", "2026-12-05 03:45:01.123456789", config]).status).toBe(0);
    const prefix = join(root, "P");
    const install = run([process.execPath, copy, "--config", config, "install", "--prefix", prefix]);
    expect(install.stderr).toBe("");
    expect(install.status).toBe(0);
    const hook = join(prefix, "vpnnotify-connect");
    expect(statSync(hook, { bigint: true }).mtimeNs).toBe(statSync(config, { bigint: true }).mtimeNs);
    // Moved away from the copy's directory, the installed bundle still has its database.
    rmSync(copy);
    expect(existsSync(join(prefix, "dbip-country-ipv4.mmdb"))).toBe(true);

    const login = (user: string) => run([hook], openvpnConnectEnv(user, "81.2.69.142"));
    // The sh path: no warning, queued.
    expect(login("alice")).toMatchObject({ status: 0, stderr: "" });
    await waitFor(() => queuedUsers(spool).includes("alice"), 15_000, "alice's login in the spool");

    // Spool missing: the Node hook, told the config, makes it and queues the login. Removed only once
    // alice's worker has tried Slack, kept her login for a retry and let go of the spool (it writes there until then).
    const entries = () => readdirSync(spool).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f));
    const workersDone = (who: string) =>
      waitFor(
        () =>
          entries().every((f) => JSON.parse(readFileSync(join(spool, f), "utf8")).lastError !== undefined) &&
          !existsSync(join(spool, "drain.lock")) &&
          !existsSync(join(spool, "worker.starting")),
        15_000,
        `${who} worker to finish`,
      );
    await workersDone("alice's");
    rmSync(spool, { recursive: true, force: true });
    expect(login("bob").status).toBe(0);
    await waitFor(() => queuedUsers(spool).includes("bob"), 15_000, "bob's login in the spool");

    // Config edited after install: the Node hook reads the edited config (not /etc/opsguard's).
    writeFileSync(config, readFileSync(config, "utf8").replace('"name":"x"', '"name":"y"'));
    const stale = login("carol");
    expect(stale.status).toBe(0);
    expect(stale.stderr).toContain("changed after");
    await waitFor(() => queuedUsers(spool).includes("carol"), 15_000, "carol's login in the spool");
    // afterAll removes the spool: not while a worker still writes there (ENOTEMPTY).
    await workersDone("the last");
  });

  it("installed with --config FILE: every hook line install prints carries the config (ocserv, updown, client-disconnect)", async () => {
    const root = mkdtempSync(join(dir, "lines-"));
    const copy = join(root, "x.cjs");
    copyFileSync(BUNDLE, copy);
    for (const file of embeddedDatabaseFiles()) copyFileSync(file, join(root, file.slice(file.lastIndexOf("/") + 1)));
    const { config, spool } = writeConfig(root);
    const install = run([process.execPath, copy, "--config", config, "install", "--prefix", join(root, "P")]);
    expect(install.status).toBe(0);
    // Each line as the VPN server reads it: one program, no arguments (ocserv passes none).
    const line = (pattern: RegExp) => pattern.exec(install.stdout)?.[1] ?? "(none printed)";
    const disconnect = line(/^ {2}client-disconnect (\S+)$/m);
    const updown = line(/leftupdown=(\S+)/);
    const ocserv = line(/connect-script = (\S+)$/m);
    expect([disconnect, updown]).toEqual([ocserv, ocserv]);
    // Run from elsewhere with none of the config's places at hand: only what the line carries can name it.
    const asServer = (env: Record<string, string>) =>
      spawnSync(ocserv, [], {
        env: { PATH: "/usr/bin:/bin", HOME: root, T_TOKEN: "xoxb-1", ...env },
        cwd: root,
        encoding: "utf8",
        timeout: 20_000,
      });
    expect(asServer({ REASON: "connect", USERNAME: "dave", IP_REAL: "81.2.69.142" })).toMatchObject({ status: 0, stderr: "" });
    expect(asServer({ PLUTO_VERB: "up-client", PLUTO_PEER_ID: "erin", PLUTO_PEER: "81.2.69.142" })).toMatchObject({
      status: 0,
      stderr: "",
    });
    await waitFor(() => ["dave", "erin"].every((u) => queuedUsers(spool).includes(u)), 15_000, "dave's and erin's logins in the spool");
    // A worker ran them against the refusing Slack: they stay, failed for now. Removed only once it let go of the spool.
    await waitFor(
      () =>
        readdirSync(spool)
          .filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f))
          .every((f) => JSON.parse(readFileSync(join(spool, f), "utf8")).lastError !== undefined) &&
        !existsSync(join(spool, "drain.lock")) &&
        !existsSync(join(spool, "worker.starting")),
      15_000,
      "the worker to finish",
    );
  });
});
