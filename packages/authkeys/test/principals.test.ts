import { execFile, execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  AUTHKEYS_UID,
  type AuthkeysInstall,
  installAuthkeys,
  installRootOwned,
  type SlapdLab,
  type SshdHandle,
  sshdSkipReason,
  startSlapd,
  startSshd,
} from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authkeysConfigSchema } from "../src/index";
import { lookupKeys } from "../src/lookup";
import { principalOptionsProblem } from "../src/principal-options";
import { lookupPrincipals, principalLines } from "../src/principals";
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
      keyOptions: "",
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
    expect(await lookupPrincipals(config(), "dave", { log })).toEqual({
      result: "not-allowed",
      source: "ldap",
      principals: [],
      keyOptions: "",
    });
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
      keyOptions: "",
    });
    // never looked up: nothing cached, the outage is an error (no principals printed)
    await expect(lookupPrincipals(down, "bob", { log })).rejects.toThrow(/127\.0\.0\.1:1/);
    // today's keyOptions of the group that admitted her (ops, listed first) bind the cached answer too
    const tightened = {
      ...down,
      allowedGroups: [
        { dn: lab.groups.ops, keyOptions: "no-pty" },
        { dn: lab.groups.sre, keyOptions: "" },
      ],
    };
    expect(await lookupPrincipals(tightened, "alice", { log })).toMatchObject({ source: "cache", keyOptions: "no-pty" });
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

  it("puts the admitting group's keyOptions in front of every principal line, as sshd reads them", () => {
    const file = join(dir, "principals-options.json");
    const allowedGroups = [{ dn: lab.groups.ops, keyOptions: 'from="10.0.0.0/8",no-agent-forwarding' }];
    writeConfig(file, {
      ldap: lab.connection(),
      cache: { dir: join(dir, "cli-cache") },
      syslog: false,
      allowedGroups,
      principals: principalsSection(),
    });
    const result = spawnSync(process.execPath, [requireBundle(), "--config", file, "principals", "--", "bob"], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    const options = 'from="10.0.0.0/8",no-agent-forwarding';
    expect(result.stdout).toBe(`${options} bob\n${options} ops\n${options} deploy\n`);
  });
});

describe.skipIf(sshdSkipReason())('a "#" in a group\'s keyOptions', () => {
  // sshd cuts every AuthorizedPrincipalsCommand line at its first "#", inside quotes too (auth2-pubkeyfile.c,
  // auth_process_principals), where an authorized_keys line is a comment only when it starts with "#".
  const hashed = 'command="/bin/echo cut#here"';

  it("sshd refuses the principal line authkeys would print for it, and takes the same line without the #", async () => {
    const lines = (user: string, keyOptions: string) =>
      principalLines({ result: "principals", source: "ldap", principals: [user], keyOptions }).join("\n");
    const script = installRootOwned({
      "principals.sh": {
        content: `#!/bin/sh\ncase "$1" in\nalice) echo '${lines("alice", hashed)}' ;;\nbob) echo '${lines("bob", hashed.replace("#", "-"))}' ;;\nesac\n`,
        mode: 0o755,
      },
    });
    const ca = join(dir, "hash_ca");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-ca", "-f", ca]);
    const users = (["alice", "bob"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber }));
    const sshd = await startSshd({
      users: [...users, { name: "authkeys", uid: AUTHKEYS_UID, home: script.dir }],
      trustedUserCaKeys: `${ca}.pub`,
      authorizedPrincipalsCommand: { path: join(script.dir, "principals.sh"), args: "%u", user: "authkeys" },
    });
    try {
      expect(await sshAs(sshd, "bob", certifiedKey(ca, "hash-bob", ["bob"]))).toEqual({ ok: true, stdout: "cut-here\n" });
      expect((await sshAs(sshd, "alice", certifiedKey(ca, "hash-alice", ["alice"]))).ok, sshd.logs()).toBe(false);
    } finally {
      await sshd.stop();
      script.remove();
    }
  });

  it("so `principals` and `doctor` refuse such a config, naming the group and the fix, while key logins go on", () => {
    const group = { dn: lab.groups.ops, keyOptions: hashed };
    const message = `group "${lab.groups.ops}": a "#" in keyOptions cuts sshd's principal lines (AuthorizedPrincipalsCommand), so every certificate login of this group would be refused; remove the "#" (move such a command="…" into a script and name the script)`;
    for (const overrides of [
      { allowedGroups: [lab.groups.sre, group] },
      { hostAccess: { rules: [{ hosts: ["*"], allowedGroups: [group] }] } },
    ]) {
      const parsed = authkeysConfigSchema.parse({ ldap: lab.connection(), ...overrides });
      expect(principalOptionsProblem(parsed)).toBe(message);
    }
    const file = join(dir, "principals-hash.json");
    writeConfig(file, { ldap: lab.connection(), cache: { dir: join(dir, "cli-cache") }, syslog: false, allowedGroups: [group] });
    const run = (...args: string[]) => spawnSync(process.execPath, [requireBundle(), "--config", file, ...args], { encoding: "utf8" });
    const principals = run("principals", "--", "bob");
    expect([principals.status, principals.stdout]).toEqual([78, ""]);
    expect(principals.stderr).toBe(`authkeys: invalid config for principals: ${message}\n`);
    // refusing the whole config would lock every key login out after an upgrade: keys still come, behind the options
    const lookup = run("--", "bob");
    expect(lookup.status).toBe(0);
    expect(lookup.stdout).toContain(`${hashed} ssh-`);
    const doctor = run("doctor", "--json");
    expect(doctor.status).toBe(1);
    expect(JSON.parse(doctor.stdout).checks).toContainEqual({ step: "config", verdict: "fail", detail: message });
  });
});

/** A fresh key (not in LDAP, so only its certificate can admit it) signed by `ca` for these principals. */
function certifiedKey(ca: string, name: string, principals: string[]): string {
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

/** ssh's exit code and stdout for `user` logging in with `key` and its certificate (255: refused or a forwarding refused). */
async function sshAs(
  sshd: SshdHandle,
  user: string,
  key: string,
  options: { args?: string[]; command?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ ok: boolean; stdout: string }> {
  const args = [
    ...["-F", "/dev/null", "-i", key, "-o", `CertificateFile=${key}-cert.pub`, "-o", "IdentitiesOnly=yes"],
    ...(options.env?.SSH_AUTH_SOCK ? [] : ["-o", "IdentityAgent=none"]),
    ...["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=20"],
    ...(options.args ?? []),
    ...["-p", String(sshd.port), `${user}@127.0.0.1`, options.command ?? "true"],
  ];
  try {
    const { stdout } = await run("ssh", args, { timeout: 30_000, env: options.env ?? process.env });
    return { ok: true, stdout };
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === 255) return { ok: false, stdout: "" };
    throw error;
  }
}

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

  it("logs in with a certificate naming a principal LDAP grants, and refuses one it does not", async () => {
    expect((await sshAs(sshd, "alice", certifiedKey(ca, "alice-sre", ["sre"]))).ok, sshd.logs()).toBe(true);
    expect((await sshAs(sshd, "alice", certifiedKey(ca, "alice-self", ["alice"]))).ok).toBe(true);
    // bob is in ops only: a certificate for "sre" does not let him in as bob
    expect((await sshAs(sshd, "bob", certifiedKey(ca, "bob-sre", ["sre"]))).ok).toBe(false);
    // dave is outside allowedGroups: even his own name is no principal for him
    expect((await sshAs(sshd, "dave", certifiedKey(ca, "dave-self", ["dave"]))).ok).toBe(false);
    expect(sshd.logs()).toMatch(/principal/i);
  });
});

describe.skipIf(sshdSkipReason())("sshd configured with exactly the lines install printed", () => {
  // The tester's host: both commands from install's output, as printed, in a Debian 12 sshd (9.2p1).
  // OpenSSH < 9.4 ignored an AuthorizedPrincipalsCommand after the AuthorizedKeysCommand, and then took
  // any certificate naming the login name: dave, in no allowed group, logged in with a CA-signed cert.
  let install: AuthkeysInstall;
  let sshd: SshdHandle;
  let ca: string;

  beforeAll(async () => {
    requireBundle();
    install = installAuthkeys(lab, {
      allowedGroups: [
        { dn: lab.groups.sre, keyOptions: "no-port-forwarding,no-agent-forwarding" },
        { dn: lab.groups.ops, keyOptions: 'from="10.9.9.9"' },
      ],
      principals: principalsSection(),
    });
    ca = join(dir, "printed_ca");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "test-ca", "-f", ca]);
    const users = (["alice", "bob", "dave"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber }));
    sshd = await startSshd({
      users: [...users, { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir }],
      trustedUserCaKeys: `${ca}.pub`,
      snippet: install.printed,
    });
  });
  afterAll(async () => {
    await sshd?.stop();
    install?.remove();
  });

  it("sshd -T shows both commands set", () => {
    const effective = execFileSync("/usr/sbin/sshd", ["-T", "-f", join(sshd.dir, "sshd_config")], { encoding: "utf8" });
    expect(effective).toContain(`authorizedprincipalscommand ${install.bin} `);
    expect(effective).toContain(`authorizedkeyscommand ${install.bin} `);
  });

  it("refuses the certificate of a user LDAP refuses, even one naming the login name; keys still work", async () => {
    expect((await sshAs(sshd, "dave", certifiedKey(ca, "p-dave-self", ["dave"]))).ok, sshd.logs()).toBe(false);
    expect((await sshAs(sshd, "alice", certifiedKey(ca, "p-alice-sre", ["sre"]))).ok, sshd.logs()).toBe(true);
    const aliceKey = lab.users.alice.keys[0]?.privateKeyFile ?? "";
    expect((await sshAs(sshd, "alice", aliceKey)).ok, sshd.logs()).toBe(true);
  });

  it("holds a certificate login to the admitting group's keyOptions: from= refuses, -L and -A are refused", async () => {
    // bob is admitted through ops, whose from="10.9.9.9" this loopback client is not
    expect((await sshAs(sshd, "bob", certifiedKey(ca, "p-bob-ops", ["ops"]))).ok).toBe(false);
    const key = certifiedKey(ca, "p-alice-fwd", ["sre"]);
    const forward = ["-o", "ExitOnForwardFailure=yes", "-L", `127.0.0.1:0:127.0.0.1:${sshd.port}`];
    expect((await sshAs(sshd, "alice", key, { args: forward })).ok).toBe(false);
    // -A: sshd gives the session no SSH_AUTH_SOCK when agent forwarding is off
    const socket = join(dir, "agent.sock");
    const agent = execFileSync("ssh-agent", ["-s", "-a", socket], { encoding: "utf8" });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(agent)?.[1]);
    try {
      const env = { ...process.env, SSH_AUTH_SOCK: socket };
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the remote shell's expansion, not a JavaScript template
      const session = await sshAs(sshd, "alice", key, { args: ["-A"], command: "echo agent=${SSH_AUTH_SOCK:-none}", env });
      expect(session).toEqual({ ok: true, stdout: "agent=none\n" });
    } finally {
      process.kill(pid);
    }
  });
});
