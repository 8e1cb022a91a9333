import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AUTHKEYS_UID,
  type AuthkeysInstall,
  installAuthkeys,
  type SlapdLab,
  type SshdHandle,
  sshdSkipReason,
  startSlapd,
  startSshd,
} from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authkeysConfigSchema } from "../src/index";
import { lookupKeys } from "../src/lookup";
import { lookupPrincipals } from "../src/principals";
import { parseSshdArgv } from "../src/sshd-argv";
import { collectingLogger, requireBundle, writeConfig } from "./harness";

// sshd's AuthorizedPrincipalsCommand: principals from LDAP groups, by the key lookup's rules, and a real
// sshd accepting or refusing certificates signed by a test CA (ssh-keygen -s) through the installed bundle.

const run = promisify(execFile);
let lab: SlapdLab;
let dir: string;
let n = 0;
const { log } = collectingLogger();

beforeAll(async () => {
  lab = await startSlapd();
  dir = mkdtempSync(join(tmpdir(), "authkeys-principals-"));
  await lab.addEntry(`cn=platform,${lab.groupsDn}`, { objectClass: "groupOfNames", cn: "platform", member: [lab.groups.sre] });
});
afterAll(async () => {
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function principalsSection() {
  return {
    groups: [
      { dn: lab.groups.sre, principals: ["sre", "deploy"] },
      { dn: lab.groups.ops, principals: ["ops", "deploy"] },
      { dn: `cn=platform,${lab.groupsDn}`, principals: ["platform"] },
    ],
  };
}

function config(overrides: Record<string, unknown> = {}) {
  n++;
  return authkeysConfigSchema.parse({
    ldap: lab.connection(),
    cache: { dir: join(dir, "caches", String(n)) },
    syslog: false,
    allowedGroups: [lab.groups.ops, lab.groups.sre],
    principals: principalsSection(),
    ...overrides,
  });
}

describe("lookupPrincipals against a real slapd", () => {
  it("prints the login name and the principals of each mapped group the user is in, each once", async () => {
    expect(await lookupPrincipals(config(), "alice", { log })).toEqual({
      result: "principals",
      source: "ldap",
      principals: ["alice", "sre", "deploy", "ops"],
    });
    expect((await lookupPrincipals(config(), "bob", { log })).principals).toEqual(["bob", "ops", "deploy"]);
    // nested: carol is in sre, which is in platform
    expect((await lookupPrincipals(config({ nestedGroups: {} }), "carol", { log })).principals).toEqual([
      "carol",
      "sre",
      "deploy",
      "platform",
    ]);
  });

  it("refuses whoever the key lookup refuses: outside allowedGroups, unknown, wrong case, invalid", async () => {
    expect(await lookupPrincipals(config(), "dave", { log })).toEqual({ result: "not-allowed", source: "ldap", principals: [] });
    expect(await lookupPrincipals(config(), "mallory", { log })).toMatchObject({ result: "unknown-user", principals: [] });
    expect(await lookupPrincipals(config(), "ALICE", { log })).toMatchObject({ result: "unknown-user", principals: [] });
    expect(await lookupPrincipals(config(), "*)(uid=*", { log })).toMatchObject({ result: "invalid-user", principals: [] });
  });

  it("loginName: false prints only mapped principals", async () => {
    const cfg = config({ principals: { ...principalsSection(), loginName: false } });
    expect((await lookupPrincipals(cfg, "bob", { log })).principals).toEqual(["ops", "deploy"]);
  });

  it("during an outage serves cached memberships under today's map; a refused user's cache is gone", async () => {
    const cfg = config();
    await lookupPrincipals(cfg, "alice", { log });
    const down = authkeysConfigSchema.parse({
      ...cfg,
      principals: { groups: [{ dn: lab.groups.sre, principals: ["sre-today"] }] },
      ldap: { ...cfg.ldap, urls: ["ldap://127.0.0.1:1"] },
    });
    expect(await lookupPrincipals(down, "alice", { log })).toEqual({
      result: "principals",
      source: "cache",
      principals: ["alice", "sre-today"],
    });
    // never looked up: nothing cached, the outage is an error (no principals printed)
    await expect(lookupPrincipals(down, "bob", { log })).rejects.toThrow(/127\.0\.0\.1:1/);
    // a group allowedGroups no longer lists admits nobody from the cache either
    await expect(lookupPrincipals({ ...down, allowedGroups: [lab.groups.oncall] }, "alice", { log })).rejects.toThrow();
  });
});

describe("a revocation seen by one command clears what the other cached", () => {
  // README: "the cached entry is deleted at once". sshd runs the key lookup for key logins and the
  // principals lookup for certificate logins: whichever sees LDAP refuse the user first must leave the
  // other nothing to serve in the next outage.
  const groupDn = () => `cn=revocable,${lab.groupsDn}`;
  beforeAll(async () => {
    await lab.addEntry(groupDn(), { objectClass: "groupOfNames", cn: "revocable", member: [lab.users.bob.dn] });
  });
  const grant = () => lab.modify(groupDn(), [{ operation: "add", attribute: "member", values: [lab.users.alice.dn] }]);
  const revoke = () => lab.modify(groupDn(), [{ operation: "delete", attribute: "member", values: [lab.users.alice.dn] }]);
  const setup = () => {
    const cfg = config({ allowedGroups: [groupDn()], principals: { groups: [{ dn: groupDn(), principals: ["revocable"] }] } });
    const down = { ...cfg, ldap: { ...cfg.ldap, urls: ["ldap://127.0.0.1:1"] } };
    return { cfg, down };
  };

  it("a key lookup that finds the user no longer allowed deletes the cached principals too", async () => {
    const { cfg, down } = setup();
    await grant();
    expect((await lookupKeys(cfg, { user: "alice" }, { log })).result).toBe("keys");
    expect((await lookupPrincipals(cfg, "alice", { log })).principals).toEqual(["alice", "revocable"]);
    await revoke();
    expect((await lookupKeys(cfg, { user: "alice" }, { log })).result).toBe("not-allowed");
    await expect(lookupPrincipals(down, "alice", { log })).rejects.toThrow(/127\.0\.0\.1:1/);
    await expect(lookupKeys(down, { user: "alice" }, { log })).rejects.toThrow(/127\.0\.0\.1:1/);
  });

  it("a principals lookup that finds the user no longer allowed deletes the cached keys too", async () => {
    const { cfg, down } = setup();
    await grant();
    expect((await lookupPrincipals(cfg, "alice", { log })).result).toBe("principals");
    expect((await lookupKeys(cfg, { user: "alice" }, { log })).lines).toHaveLength(3);
    await revoke();
    expect((await lookupPrincipals(cfg, "alice", { log })).result).toBe("not-allowed");
    await expect(lookupKeys(down, { user: "alice" }, { log })).rejects.toThrow(/127\.0\.0\.1:1/);
    await expect(lookupPrincipals(down, "alice", { log })).rejects.toThrow(/127\.0\.0\.1:1/);
  });

  it("an unknown user (deleted from the directory) loses both cached entries as well", async () => {
    const { cfg, down } = setup();
    const cfgAny = { ...cfg, allowedGroups: undefined };
    const downAny = { ...down, allowedGroups: undefined };
    expect((await lookupKeys(cfgAny, { user: "alice" }, { log })).result).toBe("keys");
    expect((await lookupPrincipals(cfgAny, "alice", { log })).result).toBe("principals");
    // the user filter no longer matches her: LDAP answers "no such user"
    const gone = { ...cfgAny, userFilter: "(&(objectClass=posixAccount)(uid={user})(description=akfix-nobody))" };
    expect((await lookupKeys(gone, { user: "alice" }, { log })).result).toBe("unknown-user");
    await expect(lookupPrincipals(downAny, "alice", { log })).rejects.toThrow(/127\.0\.0\.1:1/);
  });
});

describe("the CLI", () => {
  it("sshd-config prints the AuthorizedPrincipalsCommand lines with %u %i %s %T after --", () => {
    const bundle = requireBundle();
    const out = execFileSync(process.execPath, [bundle, "sshd-config", "--path", "/opt/authkeys", "--run-as", "ak"], { encoding: "utf8" });
    expect(out).toContain("AuthorizedPrincipalsCommand /opt/authkeys principals -- %u %i %s %T\n");
    expect(out).toContain("AuthorizedPrincipalsCommandUser ak\n");
  });

  it("`principals` is a command, not a user whose keys are looked up; --help says what sshd passes", () => {
    expect(parseSshdArgv(["principals", "alice"])).toBeUndefined();
    expect(parseSshdArgv(["--config", "/c", "principals", "--", "alice", "id", "1", "t"])).toBeUndefined();
    const help = execFileSync(process.execPath, [requireBundle(), "principals", "--help"], { encoding: "utf8" });
    expect(help).toContain("AuthorizedPrincipalsCommand");
    expect(help).toContain("%i");
  });
});

describe("the principals command", () => {
  it("prints one principal per line on stdout and logs the certificate's fields escaped on stderr", () => {
    const file = join(dir, "principals.json");
    writeConfig(file, { ldap: lab.connection(), cache: { dir: join(dir, "cli-cache") }, syslog: false, principals: principalsSection() });
    const result = spawnSync(
      process.execPath,
      [requireBundle(), "--config", file, "principals", "--", "bob", "id\n\u001b[31m", "42", "ssh-ed25519-cert-v01@openssh.com"],
      {
        encoding: "utf8",
      },
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("bob\nops\ndeploy\n");
    expect(result.stderr).toContain("keyId=id\\x0a\\x1b[31m");
    expect(result.stderr).toContain("serial=42");
    expect(result.stderr).not.toContain("\u001b");
  });
});

describe.skipIf(sshdSkipReason())("sshd with a user CA and AuthorizedPrincipalsCommand authkeys", () => {
  let install: AuthkeysInstall;
  let sshd: SshdHandle;
  let ca: string;

  beforeAll(async () => {
    requireBundle();
    install = installAuthkeys(lab, { allowedGroups: [lab.groups.ops, lab.groups.sre], principals: principalsSection() });
    ca = join(dir, "user_ca");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-ca", "-f", ca]);
    const users = (["alice", "bob", "dave"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber }));
    sshd = await startSshd({
      users: [...users, { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir }],
      trustedUserCaKeys: `${ca}.pub`,
      authorizedPrincipalsCommand: install.principalsCommand,
    });
  });
  afterAll(async () => {
    await sshd?.stop();
    install?.remove();
  });

  /** A fresh key (not in LDAP, so only its certificate can admit it) signed for these principals. */
  function certifiedKey(name: string, principals: string[]): string {
    const key = join(dir, name);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    execFileSync("ssh-keygen", [
      "-q",
      "-s",
      ca,
      "-I",
      `${name} laptop`,
      "-z",
      "42",
      "-n",
      principals.join(","),
      "-V",
      "-5m:+1h",
      `${key}.pub`,
    ]);
    return key;
  }

  async function sshAs(user: string, key: string): Promise<boolean> {
    const args = [
      ...["-F", "/dev/null", "-i", key, "-o", `CertificateFile=${key}-cert.pub`, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none"],
      ...["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20"],
      ...["-p", String(sshd.port), `${user}@127.0.0.1`, "true"],
    ];
    try {
      await run("ssh", args, { timeout: 30_000 });
      return true;
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === 255) return false;
      throw error;
    }
  }

  it("logs in with a certificate naming a principal LDAP grants, and refuses one it does not", async () => {
    expect(await sshAs("alice", certifiedKey("alice-sre", ["sre"])), sshd.logs()).toBe(true);
    expect(await sshAs("alice", certifiedKey("alice-self", ["alice"]))).toBe(true);
    // bob is in ops only: a certificate for "sre" does not let him in as bob
    expect(await sshAs("bob", certifiedKey("bob-sre", ["sre"]))).toBe(false);
    // dave is outside allowedGroups: even his own name is no principal for him
    expect(await sshAs("dave", certifiedKey("dave-self", ["dave"]))).toBe(false);
    expect(sshd.logs()).toMatch(/principal/i);
  });
});
