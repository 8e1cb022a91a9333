import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { authkeysConfigSchema, checkKeyValue, checkOptions, DEFAULT_KEY_TYPES, formatKeyLine, isValidUsername } from "../src/index";
import { mergeGroupOptions } from "../src/key-options";

const dir = mkdtempSync(join(tmpdir(), "authkeys-keys-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, args: string[]): { pub: string; priv: string; fingerprint: string } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", ...args, "-N", "", "-C", `${name}@test`, "-f", file]);
  const fingerprint = execFileSync("ssh-keygen", ["-l", "-E", "sha256", "-f", `${file}.pub`], { encoding: "utf8" }).split(" ")[1] ?? "";
  return { pub: readFileSync(`${file}.pub`, "utf8").trim(), priv: readFileSync(file, "utf8"), fingerprint };
}

const policy = { types: DEFAULT_KEY_TYPES, minRsaBits: 2048 };
const ed = keygen("ed", ["-t", "ed25519"]);
const rsa1024 = keygen("rsa1024", ["-t", "rsa", "-b", "1024"]);
const rsa2048 = keygen("rsa2048", ["-t", "rsa", "-b", "2048"]);
const dsa = keygen("dsa", ["-t", "dsa"]);

describe("checkKeyValue", () => {
  it("accepts a valid key with the same fingerprint ssh-keygen computes", () => {
    const verdict = checkKeyValue(ed.pub, policy);
    expect(verdict.ok && verdict.key.fingerprint).toBe(ed.fingerprint);
    expect(verdict.ok && formatKeyLine(verdict.key)).toBe(ed.pub);
  });

  it("drops RSA under the minimum and ssh-dss by default, naming the fingerprint", () => {
    expect(checkKeyValue(rsa1024.pub, policy)).toEqual({
      ok: false,
      reason: "RSA key of 1024 bits (minimum 2048)",
      fingerprint: rsa1024.fingerprint,
    });
    expect(checkKeyValue(dsa.pub, policy)).toMatchObject({
      ok: false,
      reason: "key type ssh-dss is not allowed",
      fingerprint: dsa.fingerprint,
    });
    const rsa = checkKeyValue(rsa2048.pub, policy);
    expect(rsa.ok && rsa.key.bits).toBe(2048);
  });

  it("drops malformed blobs, trailing garbage, private keys and smuggled second lines", () => {
    const [type, blob] = ed.pub.split(" ");
    expect(checkKeyValue(`${type} AAAAC3NzaC1lZDI1NTE5AAAAI-not-base64!!`, policy).ok).toBe(false);
    const padded = Buffer.concat([Buffer.from(blob ?? "", "base64"), Buffer.from([0, 0, 0, 1, 65])]).toString("base64");
    expect(checkKeyValue(`${type} ${padded}`, policy)).toMatchObject({ ok: false, reason: "malformed ssh-ed25519 key" });
    expect(checkKeyValue(ed.priv, policy).ok).toBe(false);
    expect(checkKeyValue(`${ed.pub}\n${rsa2048.pub}`, policy)).toMatchObject({ ok: false, reason: "contains a line break or NUL" });
    expect(checkKeyValue(`ssh-rsa ${blob}`, policy).ok).toBe(false);
  });

  it("keeps valid options and refuses unknown or broken ones", () => {
    const verdict = checkKeyValue(`from="10.0.0.0/8,192.168.1.1",no-pty,command="echo \\"hi\\"" ${ed.pub}`, policy);
    expect(verdict.ok && formatKeyLine(verdict.key, "no-agent-forwarding")).toBe(
      `no-agent-forwarding,from="10.0.0.0/8,192.168.1.1",no-pty,command="echo \\"hi\\"" ${ed.pub}`,
    );
    expect(checkKeyValue(`evil-option ${ed.pub}`, policy)).toMatchObject({ ok: false, reason: 'unknown key option "evil-option"' });
    expect(checkKeyValue(`from="10.0.0.0/8 ${ed.pub}`, policy).ok).toBe(false);
    expect(checkOptions('from="10.0.0.0/8",no-agent-forwarding')).toBeUndefined();
    expect(checkOptions("no-pty x")).toBeDefined();
  });

  it("reads a key separated from its type (and options from the key) by several spaces or tabs, as sshd does", () => {
    const [type, blob, comment] = ed.pub.split(" ");
    for (const value of [`${type}  ${blob}`, `${type}\t${blob}\t${comment}`, `no-pty\t ${type} \t${blob}  ${comment}`]) {
      const verdict = checkKeyValue(value, policy);
      expect(verdict, value).toMatchObject({ ok: true, key: { type, blob, fingerprint: ed.fingerprint } });
    }
  });

  it("keeps cert-authority lines as valid keys", () => {
    const verdict = checkKeyValue(`cert-authority,principals="alice" ${ed.pub}`, policy);
    expect(verdict.ok && formatKeyLine(verdict.key)).toBe(`cert-authority,principals="alice" ${ed.pub}`);
  });

  it("strips control characters from comments", () => {
    const verdict = checkKeyValue(`${ed.pub.split(" ").slice(0, 2).join(" ")} a\u001b[31mb`, policy);
    expect(verdict.ok && verdict.key.comment).toBe("a[31mb");
  });
});

describe("a group's keyOptions hold against the key's own options", () => {
  it("drops the key's options that would turn back on what the group turns off, and keeps the rest", () => {
    expect(
      mergeGroupOptions("no-port-forwarding,no-agent-forwarding", 'port-forwarding,no-pty,agent-forwarding,environment="A=b"'),
    ).toEqual({
      ok: true,
      options: 'no-port-forwarding,no-agent-forwarding,no-pty,environment="A=b"',
      dropped: ["port-forwarding", "agent-forwarding"],
    });
    expect(mergeGroupOptions("restrict", "pty,x11-forwarding,user-rc,port-forwarding,agent-forwarding,no-pty")).toEqual({
      ok: true,
      options: "restrict,no-pty",
      dropped: ["pty", "x11-forwarding", "user-rc", "port-forwarding", "agent-forwarding"],
    });
    // permitopen lists add up in sshd: the key's own would open more than the group's.
    expect(mergeGroupOptions('permitopen="db:5432"', 'permitopen="*:*"')).toMatchObject({ options: 'permitopen="db:5432"' });
    expect(mergeGroupOptions("no-pty", "port-forwarding")).toMatchObject({ options: "no-pty,port-forwarding", dropped: [] });
    expect(mergeGroupOptions("", "port-forwarding")).toMatchObject({ options: "port-forwarding", dropped: [] });
  });

  it("refuses a key that sets a clause sshd takes once, which the group also sets", () => {
    expect(mergeGroupOptions('from="10.0.0.0/8"', 'from="*"')).toEqual({ ok: false, reason: "its own from= conflicts with the group's" });
    expect(mergeGroupOptions('command="/bin/true"', 'no-pty,command="/bin/sh"')).toMatchObject({ ok: false });
    expect(mergeGroupOptions('from="10.0.0.0/8"', 'command="/usr/bin/backup"')).toMatchObject({
      ok: true,
      options: 'from="10.0.0.0/8",command="/usr/bin/backup"',
    });
  });
});

describe("isValidUsername", () => {
  it.each(["alice", "a.b-c_d", "svc$", "A1"])("accepts %s", (name) => expect(isValidUsername(name)).toBe(true));
  it.each(["*", "*)(uid=*", "\\00", "admin)(|(uid=*", "-rf", ".hidden", "", "a b", "a/b", "x".repeat(65), "al\u0000ice", "ålice"])(
    "refuses %j",
    (name) => expect(isValidUsername(name)).toBe(false),
  );
});

describe("config defaults", () => {
  it("keep a login attempt short when LDAP is dead, and keep the documented defaults", () => {
    const config = authkeysConfigSchema.parse({ ldap: { urls: ["ldaps://ldap.example.org"], baseDn: "dc=example,dc=org" } });
    expect(config.ldap).toMatchObject({ connectTimeoutMs: 1000, timeoutMs: 1500, deadlineMs: 2500 });
    expect(config).toMatchObject({
      userFilter: "(&(objectClass=posixAccount)(uid={user}))",
      keyAttribute: "sshPublicKey",
      minRsaBits: 2048,
      cache: { enabled: true, dir: "/var/cache/opsguard/authkeys", maxStaleSeconds: 259200 },
      syslog: { facility: "authpriv" },
    });
    expect(config.keyTypes).not.toContain("ssh-dss");
  });

  it("refuses bad group key options and literal passwords", () => {
    const ldap = { urls: ["ldaps://ldap.example.org"], baseDn: "dc=example,dc=org" };
    expect(authkeysConfigSchema.safeParse({ ldap, allowedGroups: [{ dn: "cn=x", keyOptions: "bogus-option" }] }).success).toBe(false);
    expect(authkeysConfigSchema.safeParse({ ldap: { ...ldap, bindDn: "cn=a", bindPassword: "hunter2" } }).success).toBe(false);
  });
});
