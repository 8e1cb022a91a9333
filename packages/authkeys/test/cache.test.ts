import { execFileSync } from "node:child_process";
import { chownSync, copyFileSync, existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LdapOperationError, LdapUnavailableError } from "@opsguard/core";
import { closedPort, type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type AuthkeysConfig, authkeysConfigSchema, lookupKeys } from "../src/index";
import { bundleLookup, collectingLogger, writeConfig } from "./harness";

// The offline cache's and revocation's edges (mutation testing, issue 19, found these unpinned): exactly when
// cached keys are served, refused or deleted, and that a cache which cannot do its part fails closed.

let lab: SlapdLab;
let deadUrl: string;
let n = 0;
const { log, lines } = collectingLogger();

beforeAll(async () => {
  lab = await startSlapd();
  deadUrl = `ldap://127.0.0.1:${await closedPort()}`;
});
afterAll(() => lab?.stop());
beforeEach(() => {
  lines.length = 0;
});

/** A fresh cache dir per config, so tests do not see each other's cached keys. */
function config(overrides: Record<string, unknown> = {}): AuthkeysConfig {
  n++;
  return authkeysConfigSchema.parse({
    ldap: lab.connection(),
    cache: { dir: join(lab.dir, "cache-edges", String(n)) },
    syslog: false,
    ...overrides,
  });
}
const offline = (cfg: AuthkeysConfig): AuthkeysConfig => ({ ...cfg, ldap: { ...cfg.ldap, urls: [deadUrl] } });

describe("when cached keys are served", () => {
  it("up to maxStaleSeconds old exactly, and not a millisecond more", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const mtime = statSync(join(cfg.cache.dir, "alice.json")).mtimeMs;
    const max = cfg.cache.maxStaleSeconds * 1000;
    const atLimit = await lookupKeys(offline(cfg), { user: "alice" }, { log, now: () => mtime + max });
    expect(atLimit).toMatchObject({ result: "keys", source: "cache", cacheAgeMs: max });
    expect(atLimit.lines).toEqual(lab.users.alice.keys.map((k) => k.publicKey));
    await expect(lookupKeys(offline(cfg), { user: "alice" }, { log, now: () => mtime + max + 1 })).rejects.toBeInstanceOf(
      LdapUnavailableError,
    );
    expect(lines.join("")).toMatch(/cached keys are too old; refusing/);
  });

  it("a cache file up to 5 minutes in the future (clock skew) is fresh; further ahead it is never served", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const file = join(cfg.cache.dir, "alice.json");
    const skewed = new Date(Date.now() + 120_000);
    utimesSync(file, skewed, skewed);
    expect(await lookupKeys(offline(cfg), { user: "alice" }, { log })).toMatchObject({ source: "cache", cacheAgeMs: 0 });
    const future = new Date(Date.now() + 3_600_000);
    utimesSync(file, future, future);
    await expect(lookupKeys(offline(cfg), { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(lines.join("")).toMatch(/cached keys are dated in the future; refusing .*aheadSeconds=3[56]\d\d/);
  });

  it("when the bind is refused (the password rotated on the servers first), with an error line saying so", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "bob" }, { log });
    const wrongPassword = join(lab.dir, "wrong-password");
    writeFileSync(wrongPassword, "not-the-password\n", { mode: 0o600 });
    const rotated = { ...cfg, ldap: { ...cfg.ldap, bindPassword: `file:${wrongPassword}` } };
    expect(await lookupKeys(rotated, { user: "bob" }, { log })).toMatchObject({ result: "keys", source: "cache" });
    expect(lines.join("")).toMatch(/error: .*serving cached keys until it is fixed/);
  });

  it("not when the cache is disabled, though a file from before is there", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const disabled = offline({ ...cfg, cache: { ...cfg.cache, enabled: false } });
    await expect(lookupKeys(disabled, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
  });

  it("not when LDAP answered with an error about the query itself, a userBase it lacks (65: only an outage is covered)", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const wrongBase = { ...cfg, userBase: `ou=nowhere,${lab.connection().baseDn}` };
    await expect(lookupKeys(wrongBase, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapOperationError);
  });

  it("cached keys the key policy no longer allows are not served: no keys", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    const stricter = offline({ ...cfg, keyTypes: ["sk-ssh-ed25519@openssh.com"] });
    expect(await lookupKeys(stricter, { user: "alice" }, { log })).toMatchObject({ result: "no-keys", source: "cache", lines: [] });
  });

  it("never another user's keys, whatever file holds them", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    copyFileSync(join(cfg.cache.dir, "alice.json"), join(cfg.cache.dir, "bob.json"));
    await expect(lookupKeys(offline(cfg), { user: "bob" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(lines.join("")).toMatch(/cached keys belong to another user; ignoring them/);
  });

  it.skipIf(process.getuid?.() !== 0)("never a file another account owns, private or not (needs root to chown)", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    chownSync(join(cfg.cache.dir, "alice.json"), 12345, 12345);
    await expect(lookupKeys(offline(cfg), { user: "alice" }, { log })).rejects.toThrow(
      /not private to this user \(owner uid 12345, mode 600\)/,
    );
  });

  it("a cache directory that cannot be read is a permission error naming it, not a miss", async () => {
    const cfg = config();
    mkdirSync(join(lab.dir, "cache-edges"), { recursive: true });
    const notADir = join(lab.dir, "cache-edges", `file-${n}`);
    writeFileSync(notADir, "");
    const broken = offline({ ...cfg, cache: { ...cfg.cache, dir: notADir } });
    await expect(lookupKeys(broken, { user: "alice" }, { log })).rejects.toThrow(/cannot read the key cache/);
  });
});

describe("revocation", () => {
  it("a user the directory no longer has loses the cached keys", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, { log });
    copyFileSync(join(cfg.cache.dir, "alice.json"), join(cfg.cache.dir, "zed.json"));
    expect(await lookupKeys(cfg, { user: "zed" }, { log })).toMatchObject({ result: "unknown-user", source: "ldap", lines: [] });
    expect(existsSync(join(cfg.cache.dir, "zed.json"))).toBe(false);
  });

  it("cached keys that cannot be deleted make the lookup fail, never a quiet refusal that leaves them", async () => {
    const cfg = config({ allowedGroups: [lab.groups.ops] });
    mkdirSync(join(cfg.cache.dir, "carol.json"), { recursive: true }); // unlink(2) refuses a directory
    await expect(lookupKeys(cfg, { user: "carol" }, { log })).rejects.toThrow(/cannot delete cached keys .*carol\.json \(EISDIR\)/);
  });

  it("keys LDAP gave are printed even when the cache cannot store them (a full disk locks nobody out)", async () => {
    mkdirSync(join(lab.dir, "cache-edges"), { recursive: true });
    const blocker = join(lab.dir, "cache-edges", `blocker-${n}`);
    writeFileSync(blocker, ""); // a file where the cache directory's parent should be
    const cfg = config({ cache: { dir: join(blocker, "cache") } });
    expect(await lookupKeys(cfg, { user: "alice" }, { log })).toMatchObject({ result: "keys", source: "ldap" });
    expect(lines.join("")).toMatch(/could not update the key cache/);
  });
});

describe("a FIFO the command user planted in the cache directory", () => {
  // The directory is the command user's: a FIFO as .servers.json, .srv.json or <user>.json held a plain
  // read (sync, on the main thread, so no timer could end it) and every login past its deadline.
  // Run through the bundle: a hang in-process would freeze the test worker itself.
  it("blocks no lookup: it is removed with a line in the log and the answer comes from LDAP", () => {
    const cfg = config();
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    for (const name of [".servers.json", "alice.json"]) execFileSync("mkfifo", ["-m", "600", join(cfg.cache.dir, name)]);
    const file = join(lab.dir, `fifo-${n}.json`);
    writeConfig(file, cfg);
    const r = bundleLookup(file, "alice");
    expect(r.signal, "killed: the lookup hung on the FIFO").toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(lab.users.alice.keys.map((k) => k.publicKey));
    expect(r.stderr).toMatch(/cache file is a FIFO, not one authkeys writes; removed it/);
    expect(statSync(join(cfg.cache.dir, "alice.json")).isFile()).toBe(true);
    expect(existsSync(join(cfg.cache.dir, ".servers.json")) && statSync(join(cfg.cache.dir, ".servers.json")).isFIFO()).toBe(false);
  });

  it("an outage with a FIFO as the user's cache entry is an outage (69) at once, not a hang", () => {
    const cfg = offline(config());
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    execFileSync("mkfifo", ["-m", "600", join(cfg.cache.dir, "alice.json")]);
    const file = join(lab.dir, `fifo-${n}.json`);
    writeConfig(file, cfg);
    const r = bundleLookup(file, "alice");
    expect(r.signal).toBeNull();
    expect(r).toMatchObject({ status: 69, stdout: "" });
  });

  it("a FIFO of any mode is set aside before the owner/mode check: an outage (69), not 'not private' (77)", () => {
    const cfg = offline(config());
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    const fifo = join(cfg.cache.dir, "alice.json");
    execFileSync("mkfifo", ["-m", "644", fifo]);
    const file = join(lab.dir, `fifo-${n}.json`);
    writeConfig(file, cfg);
    const r = bundleLookup(file, "alice");
    expect(r).toMatchObject({ status: 69, stdout: "" });
    expect(r.stderr).not.toMatch(/not private/);
    expect(r.stderr).toMatch(/moved it aside.*not a regular file/);
    expect(existsSync(fifo)).toBe(false);
  });
});
