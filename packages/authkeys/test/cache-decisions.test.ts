import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LdapAuthError, type LdapClient, LdapTimeoutError, LdapUnavailableError } from "@opsguard/core";
import { closedPort } from "@opsguard/lab";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { type AuthkeysConfig, authkeysConfigSchema, lookupKeys } from "../src/index";
import type { LdapSession, LookupDeps } from "../src/lookup";
import { collectingLogger } from "./harness";

// The offline cache's decisions (issue 19, mutation module authkeys-cache) with the directory faked in memory:
// what is written, touched, served, refused and deleted, and what the log says about it. The directory's own
// behaviour is tested against slapd in lookup.test.ts and cache.test.ts; here each case runs in milliseconds.

const root = mkdtempSync(join(tmpdir(), "authkeys-cache-decisions-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const { log, lines } = collectingLogger("info");
beforeEach(() => {
  lines.length = 0;
});

/** An ssh-ed25519 authorized_keys line: the wire blob is the type string and the 32-byte key (RFC 8709). */
function ed25519(comment: string): string {
  const der = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" });
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(der.subarray(der.length - 32))]);
  return `ssh-ed25519 ${blob.toString("base64")} ${comment}`;
}
const KEY_A = ed25519("alice@laptop");
const KEY_B = ed25519("alice@desk");

let n = 0;
function config(overrides: Record<string, unknown> = {}): AuthkeysConfig {
  n++;
  return authkeysConfigSchema.parse({
    ldap: { urls: ["ldap://127.0.0.1:9"], baseDn: "dc=example,dc=org" },
    cache: { dir: join(root, String(n)) },
    syslog: false,
    ...overrides,
  });
}

type Entry = { dn: string; attributes: Record<string, string[]> };

/** A directory session answering from `entries` (by the uid in the filter), or failing with `error`. */
function directory(entries: Entry[] | Error): LdapSession {
  return async (_options, fn) => {
    if (entries instanceof Error) throw entries;
    const client = {
      url: "ldap://fake",
      searchOne: async (_base: string, { filter }: { filter: string }) => {
        const entry = entries.find((e) => filter.includes(`(uid=${e.attributes.uid?.[0]})`));
        return entry ? { dn: entry.dn, get: (a: string) => entry.attributes[a] ?? [] } : undefined;
      },
    };
    return fn(client as unknown as LdapClient);
  };
}
const alice = (keys: string[] = [KEY_A]): Entry => ({
  dn: "uid=alice,ou=people,dc=example,dc=org",
  attributes: { uid: ["alice"], sshPublicKey: keys },
});
const deps = (entries: Entry[] | Error, extra: Partial<LookupDeps> = {}): LookupDeps => ({ log, ldap: directory(entries), ...extra });
const down = new LdapUnavailableError("no LDAP server answered");
const cacheFile = (cfg: AuthkeysConfig, user = "alice") => join(cfg.cache.dir, `${user}.json`);

const logged = () => lines.join("");

describe("what an answer from LDAP does to the cache", () => {
  it("writes the keys and the admitting group, privately; an unchanged answer only touches the file", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    const file = cacheFile(cfg);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ version: 2, user: "alice", group: null, keys: [KEY_A] });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(file, hourAgo, hourAgo);
    const { ino } = statSync(file);
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    // the same file (no new copy written), dated now: the cache's age counts from LDAP's last confirmation
    expect(statSync(file).ino).toBe(ino);
    expect(Date.now() - statSync(file).mtimeMs).toBeLessThan(60_000);
  });

  it("a changed answer replaces the file; one readable by others is replaced too, never only touched", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    await lookupKeys(cfg, { user: "alice" }, deps([alice([KEY_A, KEY_B])]));
    expect(JSON.parse(readFileSync(cacheFile(cfg), "utf8")).keys).toEqual([KEY_A, KEY_B]);
    chmodSync(cacheFile(cfg), 0o644);
    await lookupKeys(cfg, { user: "alice" }, deps([alice([KEY_A, KEY_B])]));
    expect(statSync(cacheFile(cfg)).mode & 0o777).toBe(0o600);
    expect(await lookupKeys(cfg, { user: "alice" }, deps(down))).toMatchObject({ source: "cache", lines: [KEY_A, KEY_B] });
  });

  it("with the cache disabled nothing is written", async () => {
    const cfg = config();
    const disabled = { ...cfg, cache: { ...cfg.cache, enabled: false } };
    expect(await lookupKeys(disabled, { user: "alice" }, deps([alice()]))).toMatchObject({ result: "keys", source: "ldap" });
    expect(existsSync(cfg.cache.dir)).toBe(false);
  });

  it("keys are printed though the cache cannot store them, with a warning naming the user", async () => {
    mkdirSync(join(root, "files"), { recursive: true });
    const blocker = join(root, "files", `blocker-${n}`);
    writeFileSync(blocker, "");
    const cfg = config({ cache: { dir: join(blocker, "cache") } });
    expect(await lookupKeys(cfg, { user: "alice" }, deps([alice()]))).toMatchObject({ result: "keys", source: "ldap", lines: [KEY_A] });
    expect(logged()).toMatch(/warn: could not update the key cache: .*user=alice/);
  });

  it("a cache directory others may write to is made private, saying so", async () => {
    const cfg = config();
    mkdirSync(cfg.cache.dir, { recursive: true });
    chmodSync(cfg.cache.dir, 0o777);
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    expect(statSync(cfg.cache.dir).mode & 0o777).toBe(0o700);
    expect(logged()).toContain(`state directory was writable by group or others; set it to 0700 dir=${cfg.cache.dir}`);
  });

  it("a bad userFilter or bind password file is a config error naming the key", async () => {
    await expect(lookupKeys(config({ userFilter: "(uid={login})" }), { user: "alice" }, deps([alice()]))).rejects.toThrow(
      /^userFilter: unknown placeholder \{login\}/,
    );
    const cfg = config();
    const withPassword = {
      ...cfg,
      ldap: { ...cfg.ldap, bindDn: "cn=reader,dc=example,dc=org", bindPassword: `file:${join(root, "no-such-file")}` },
    };
    await expect(lookupKeys(withPassword, { user: "alice" }, deps([alice()]))).rejects.toThrow(/ldap\.bindPassword/);
  });

  it("a 1 MB bind password file is a config error naming the limit and the fix, before any server is tried", async () => {
    // The tester's slapd closed the connection on a 1 MB bind and the server was marked dead for 30 s.
    const huge = join(root, "huge.password");
    writeFileSync(huge, "x".repeat(1024 * 1024), { mode: 0o600 });
    const cfg = config();
    const withPassword = { ...cfg, ldap: { ...cfg.ldap, bindDn: "cn=reader,dc=example,dc=org", bindPassword: `file:${huge}` } };
    const error = await lookupKeys(withPassword, { user: "alice" }, deps([alice()])).catch((e: unknown) => e as Error & { hint?: string });
    expect((error as Error).message).toBe("ldap.bindPassword: the secret file it names is 1048576 bytes, over the 65536-byte limit");
    expect((error as { hint?: string }).hint).toBe("point it at the file holding only the secret");
    expect(existsSync(join(cfg.cache.dir, ".servers.json"))).toBe(false);
  });

  it("an invalid login name is refused before LDAP is asked or the cache read", async () => {
    const cfg = config();
    let asked = false;
    const ldap: LdapSession = async () => {
      asked = true;
      throw down;
    };
    expect(await lookupKeys(cfg, { user: "../alice" }, { log, ldap })).toEqual({
      result: "invalid-user",
      source: "none",
      lines: [],
      dropped: 0,
    });
    expect(asked).toBe(false);
  });

  it("says at -vv which server answered", async () => {
    await lookupKeys(config(), { user: "alice" }, deps([alice()]));
    // info level here: the debug line is not written
    expect(logged()).not.toContain("LDAP answered");
    const verbose = collectingLogger("debug");
    await lookupKeys(config(), { user: "alice" }, { log: verbose.log, ldap: directory([alice()]) });
    const line = verbose.lines.join("");
    expect(line).toMatch(/LDAP answered.*user=alice.*server=ldap:\/\/fake.*ms=\d+/);
    expect(Number(/ms=(\d+)/.exec(line)?.[1])).toBeLessThan(60_000);
  });
});

describe("revocation: LDAP's no deletes what is cached", () => {
  it("an unknown user loses the cached keys and the principals' cached memberships; nothing cached is no error", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    mkdirSync(join(cfg.cache.dir, ".principals"), { recursive: true });
    writeFileSync(join(cfg.cache.dir, ".principals", "alice.json"), "{}", { mode: 0o600 });
    expect(await lookupKeys(cfg, { user: "alice" }, deps([]))).toEqual({ result: "unknown-user", source: "ldap", lines: [], dropped: 0 });
    expect(existsSync(cacheFile(cfg))).toBe(false);
    expect(existsSync(join(cfg.cache.dir, ".principals", "alice.json"))).toBe(false);
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
    // again, with nothing left to delete
    expect((await lookupKeys(cfg, { user: "alice" }, deps([]))).result).toBe("unknown-user");
  });

  it("a user whose keys are all invalid now loses the cached ones: no-keys, and none served in the next outage", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    expect(await lookupKeys(cfg, { user: "alice" }, deps([alice(["ssh-ed25519 AAAA broken"])]))).toMatchObject({
      result: "no-keys",
      source: "ldap",
      dropped: 1,
    });
    expect(existsSync(cacheFile(cfg))).toBe(false);
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
  });

  it("cached keys that cannot be deleted fail the lookup with the fix", async () => {
    const cfg = config();
    mkdirSync(cacheFile(cfg), { recursive: true });
    const error = await lookupKeys(cfg, { user: "alice" }, deps([])).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: `cannot delete cached keys ${cacheFile(cfg)} (EISDIR)`,
      hint: "the cache directory must be owned by the AuthorizedKeysCommandUser",
    });
  });
});

describe("what stands in for LDAP, and when", () => {
  it("an outage, a timeout or a refused bind serve the cache; any other error is thrown as it is", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    for (const error of [down, new LdapTimeoutError("no answer in 5 s")])
      expect(await lookupKeys(cfg, { user: "alice" }, deps(error))).toMatchObject({ result: "keys", source: "cache" });
    expect(logged()).toMatch(/warn: LDAP unreachable \(no LDAP server answered\); serving cached keys.*user=alice.*keys=1.*ageSeconds=0/);
    lines.length = 0;
    expect(await lookupKeys(cfg, { user: "alice" }, deps(new LdapAuthError("bind rejected")))).toMatchObject({ source: "cache" });
    expect(logged()).toMatch(/error: .*bind rejected.*; serving cached keys until it is fixed.*keys=1/);
    expect(logged()).not.toContain("LDAP unreachable");
    const other = new Error("size limit exceeded");
    await expect(lookupKeys(cfg, { user: "alice" }, deps(other))).rejects.toBe(other);
  });

  it("reports the cached keys' age and filters them by the offered key's fingerprint", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice([KEY_A, KEY_B])]));
    const mtime = statSync(cacheFile(cfg)).mtimeMs;
    const served = await lookupKeys(cfg, { user: "alice" }, deps(down, { now: () => mtime + 90_000 }));
    expect(served).toMatchObject({ result: "keys", source: "cache", cacheAgeMs: 90_000, lines: [KEY_A, KEY_B], dropped: 0 });
    expect(logged()).toMatch(/ageSeconds=90/);
    const online = await lookupKeys(cfg, { user: "alice" }, { ...deps([alice([KEY_A, KEY_B])]) });
    expect(online.lines).toEqual([KEY_A, KEY_B]);
  });

  it("a file dated up to five minutes ahead is fresh, age 0; a millisecond further it is refused, saying by how much", async () => {
    const cfg = config();
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    const mtime = statSync(cacheFile(cfg)).mtimeMs;
    expect(await lookupKeys(cfg, { user: "alice" }, deps(down, { now: () => mtime - 300_000 }))).toMatchObject({
      source: "cache",
      cacheAgeMs: 0,
    });
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down, { now: () => mtime - 300_001 }))).rejects.toBe(down);
    expect(logged()).toMatch(
      /warn: no usable LDAP answer and the cached keys are dated in the future; refusing.*user=alice.*aheadSeconds=300\b/,
    );
  });

  it("too old a file is refused, saying its age and the limit", async () => {
    const cfg = config({ cache: { dir: join(root, `old-${n}`), maxStaleSeconds: 600 } });
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    const mtime = statSync(cacheFile(cfg)).mtimeMs;
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down, { now: () => mtime + 600_001 }))).rejects.toBe(down);
    expect(logged()).toMatch(/cached keys are too old; refusing.*user=alice.*ageSeconds=600\b.*maxStaleSeconds=600\b/);
  });
});

describe("today's allowedGroups and keyOptions for cached keys", () => {
  const OPS = "cn=ops,ou=groups,dc=example,dc=org";
  const grouped = (dn: string, keyOptions?: string) => config({ allowedGroups: [keyOptions === undefined ? dn : { dn, keyOptions }] });
  /** A cache file as an earlier run wrote it: admitted through `group`. */
  function cached(cfg: AuthkeysConfig, group: string | null): void {
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    writeFileSync(cacheFile(cfg), `${JSON.stringify({ version: 2, user: "alice", group, keys: [KEY_A] })}\n`, { mode: 0o600 });
  }

  it("keys cached through a group still allowed are served with that group's options today", async () => {
    const cfg = grouped(OPS, 'from="10.0.0.0/8"');
    cached(cfg, "CN=Ops, OU=Groups,DC=example,DC=org");
    expect(await lookupKeys(cfg, { user: "alice" }, deps(down))).toMatchObject({ source: "cache", lines: [`from="10.0.0.0/8" ${KEY_A}`] });
  });

  it("keys cached through a group no longer allowed, or cached without one, are refused", async () => {
    const cfg = grouped(OPS);
    cached(cfg, "cn=contractors,ou=groups,dc=example,dc=org");
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
    expect(logged()).toMatch(
      /warn: no usable LDAP answer and the cached keys came through a group allowedGroups no longer lists; refusing.*user=alice/,
    );
    cached(cfg, null);
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
  });

  it("without allowedGroups, keys cached through a group are served as they are", async () => {
    const cfg = config();
    cached(cfg, OPS);
    expect(await lookupKeys(cfg, { user: "alice" }, deps(down))).toMatchObject({ source: "cache", lines: [KEY_A] });
  });
});

describe("a cache file authkeys did not write as it is now", () => {
  function file(cfg: AuthkeysConfig, text: string, mode = 0o600): void {
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    writeFileSync(cacheFile(cfg), text, { mode });
    chmodSync(cacheFile(cfg), mode);
  }
  const good = { version: 2, user: "alice", group: null, keys: [KEY_A] };

  it("is not served, with a warning naming the file: each field checked, nothing extra", async () => {
    const wrong: unknown[] = [
      null,
      [good],
      "alice",
      { ...good, version: 3 },
      { ...good, user: 7 },
      { ...good, group: 7 },
      { ...good, keys: KEY_A },
      { ...good, keys: [KEY_A, 7] },
      { ...good, extra: true },
    ];
    for (const content of wrong) {
      const cfg = config();
      file(cfg, JSON.stringify(content));
      lines.length = 0;
      await expect(lookupKeys(cfg, { user: "alice" }, deps(down)), JSON.stringify(content)).rejects.toBe(down);
      expect(logged(), JSON.stringify(content)).toContain(
        `cached keys file is not one authkeys writes; ignoring it file=${cacheFile(cfg)}`,
      );
    }
    // control: the same file as written is served
    const cfg = config();
    file(cfg, JSON.stringify(good));
    expect(await lookupKeys(cfg, { user: "alice" }, deps(down))).toMatchObject({ source: "cache", lines: [KEY_A] });
  });

  it("an older authkeys' file (version 1, finished lines without the group) is not served", async () => {
    const cfg = config();
    file(cfg, JSON.stringify({ version: 1, user: "alice", lines: [KEY_A] }));
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
    expect(logged()).toContain(
      `cached keys were written by an older authkeys without their group; not serving them file=${cacheFile(cfg)}`,
    );
  });

  it("another user's keys under this user's name are not served, naming the file", async () => {
    const cfg = config();
    file(cfg, JSON.stringify({ ...good, user: "bob" }));
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
    expect(logged()).toContain(`cached keys belong to another user; ignoring them file=${cacheFile(cfg)}`);
  });

  it("unparsable JSON is moved aside with one warning, and not served", async () => {
    const cfg = config();
    file(cfg, '{"version": 2, "user": "alice", "keys": [');
    await expect(lookupKeys(cfg, { user: "alice" }, deps(down))).rejects.toBe(down);
    expect(logged()).toContain("state file is corrupt; moved it aside");
    expect(logged()).not.toContain("not one authkeys writes");
    expect(existsSync(cacheFile(cfg))).toBe(false);
  });

  it("one readable by others is a permission error with the fix, not served", async () => {
    const cfg = config();
    file(cfg, JSON.stringify(good), 0o640);
    const error = await lookupKeys(cfg, { user: "alice" }, deps(down)).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: `cached keys ${cacheFile(cfg)} are not private to this user (owner uid ${process.getuid?.()}, mode 640)`,
      hint: `chown the cache to the AuthorizedKeysCommandUser and chmod 600 ${cacheFile(cfg)}`,
    });
  });

  it("a cache directory that cannot be read says so, with the fix", async () => {
    mkdirSync(join(root, "files"), { recursive: true });
    const notADir = join(root, "files", "cache");
    writeFileSync(notADir, "");
    const cfg = config({ cache: { dir: notADir } });
    const error = await lookupKeys(cfg, { user: "alice" }, deps(down)).catch((e: unknown) => e);
    expect(error).toMatchObject({
      message: `cannot read the key cache ${notADir} (ENOTDIR)`,
      hint: "re-run authkeys install, then authkeys doctor as the AuthorizedKeysCommandUser",
    });
  });
});

describe("servers that failed moments ago (cache.deadServerSeconds), remembered in the cache directory", () => {
  // the real client against a closed port on loopback: refused at once
  async function refusing(overrides: Record<string, unknown> = {}): Promise<AuthkeysConfig> {
    const cfg = config(overrides);
    // the directory as an earlier login left it: the memory is only worth a write where the cache is
    mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
    return { ...cfg, ldap: { ...cfg.ldap, urls: [`ldap://127.0.0.1:${await closedPort()}`] } };
  }
  const memoryFile = (cfg: AuthkeysConfig) => join(cfg.cache.dir, ".servers.json");

  it("a server that refused is remembered as down, so the next logins do not wait for it", async () => {
    const cfg = await refusing();
    await expect(lookupKeys(cfg, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(Object.keys(JSON.parse(readFileSync(memoryFile(cfg), "utf8")).down)).toEqual(cfg.ldap.urls);
  });

  it("a server that closes the connection is said so plainly, in the error and in the mark, not in ldapts' words", async () => {
    // Accepts, reads the StartTLS request, hangs up (a proxy or a server going down).
    const server = createServer((socket) => socket.once("data", () => socket.destroy()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const cfg = config();
      mkdirSync(cfg.cache.dir, { recursive: true, mode: 0o700 });
      const url = `ldap://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const closing = { ...cfg, ldap: { ...cfg.ldap, urls: [url], startTls: true } };
      const error = await lookupKeys(closing, { user: "alice" }, { log }).catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(LdapUnavailableError);
      expect((error as Error).message).toBe(`no LDAP server reachable (${url}: the server closed the connection)`);
      expect(JSON.parse(readFileSync(memoryFile(cfg), "utf8")).reasons).toEqual({ [url]: "the server closed the connection" });
    } finally {
      server.close();
    }
  });

  it("not with deadServerSeconds 0, nor with the cache disabled", async () => {
    const off = await refusing({ cache: { dir: join(root, `nomemory-${n}`), deadServerSeconds: 0 } });
    await expect(lookupKeys(off, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(existsSync(memoryFile(off))).toBe(false);
    const disabled = await refusing({ cache: { dir: join(root, `disabled-${n}`), enabled: false } });
    await expect(lookupKeys(disabled, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(existsSync(memoryFile(disabled))).toBe(false);
  });

  it("a temp file a killed writer left beside the memory or a user's cache is removed; a live writer's stays", async () => {
    const cfg = await refusing();
    const dead = spawnSync("true").pid ?? 0;
    const stale = [`..servers.json.${dead}.0badc0de.tmp`, `.alice.json.${dead}.0badc0de.tmp`];
    const live = `..servers.json.${process.pid}.12345678.tmp`;
    for (const name of [...stale, live]) writeFileSync(join(cfg.cache.dir, name), "", { mode: 0o600 });
    await expect(lookupKeys(cfg, { user: "alice" }, { log })).rejects.toBeInstanceOf(LdapUnavailableError);
    expect(existsSync(join(cfg.cache.dir, stale[0] ?? ""))).toBe(false);
    expect(existsSync(join(cfg.cache.dir, live))).toBe(true);
    await lookupKeys(cfg, { user: "alice" }, deps([alice()]));
    expect(existsSync(join(cfg.cache.dir, stale[1] ?? ""))).toBe(false);
    expect(existsSync(cacheFile(cfg))).toBe(true);
  });
});
