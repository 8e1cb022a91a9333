import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "@opsguard/core/log";
import { createStyle } from "@opsguard/core/tty";
import { closedPort, type SlapdLab, startSlapd } from "@opsguard/lab";
import keyParser from "ssh2/lib/protocol/keyParser.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditDirectory, judge } from "../src/audit";
import { renderAuditCsv, renderAuditTable } from "../src/audit-report";
import { authkeysConfigSchema } from "../src/config";
import { fingerprintOf } from "../src/keys";
import { requireBundle } from "./harness";

// `authkeys audit` over a real slapd: the lab's people are alice (3 good keys), bob, carol, dave (a good key,
// RSA-1024, DSA and a malformed value), eve (disabled: shadowExpire 1970, nologin, one key) and frank (no key).
let lab: SlapdLab;
let bin: string;
let configFile: string;
let privateBody: string;
const ssh2Reads = (line: string) => !(keyParser.parseKey(line) instanceof Error);

beforeAll(async () => {
  bin = requireBundle();
  lab = await startSlapd();
  // a second account holding alice's first key, and one whose name is hostile for terminals and spreadsheets
  const shared = lab.users.alice.keys[0]!.publicKey;
  await lab.addEntry(`uid=mallory,${lab.users.alice.dn.split(",").slice(1).join(",")}`, {
    objectClass: ["inetOrgPerson", "posixAccount", "ldapPublicKey"],
    uid: "mallory",
    cn: '=HYPERLINK("http://x")\u001b[2J',
    sn: "M",
    uidNumber: "10099",
    gidNumber: "5000",
    homeDirectory: "/home/mallory",
    sshPublicKey: shared,
  });
  // found by a black-box try: key material stored as a "key" was echoed into reports and logs, and a uid with
  // a newline forged table rows
  const people = lab.users.alice.dn.split(",").slice(1).join(",");
  privateBody = readFileSync(lab.users.alice.keys[0]!.privateKeyFile, "utf8").split("\n").slice(1, -2).join("");
  await lab.addEntry(`uid=leaky,${people}`, {
    objectClass: ["inetOrgPerson", "ldapPublicKey"],
    uid: ["leaky", "nl\nFAIL forged row"],
    cn: "leaky",
    sn: "L",
    sshPublicKey: [privateBody, lab.users.carol.keys[0]!.publicKey.split(" ")[1]!],
  });
  configFile = join(lab.dir, "authkeys-audit.json");
  writeFileSync(configFile, JSON.stringify({ ldap: lab.connection(), cache: { dir: join(lab.dir, "cache") }, syslog: false }));
});
afterAll(async () => {
  await lab?.stop();
});

const log = new Logger({ tool: "authkeys", level: "error" });

function config() {
  return authkeysConfigSchema.parse({ ldap: lab.connection(), cache: { dir: join(lab.dir, "cache") }, syslog: false });
}

describe("authkeys audit against a real slapd", () => {
  it("finds every kind of problem the directory holds, and nothing on the clean accounts", async () => {
    const pages: number[] = [];
    const report = await auditDirectory(config(), {
      filter: "(objectClass=posixAccount)",
      secondOpinion: ssh2Reads,
      onProgress: (n) => pages.push(n),
      log,
    });
    expect(report.users).toBe(7);
    expect(pages.at(-1)).toBe(7);
    // (leaky, not a posixAccount, is outside this filter)
    const by = (user: string) =>
      report.findings
        .filter((f) => f.user === user)
        .map((f) => f.kind)
        .sort();
    expect(by("bob")).toEqual([]);
    expect(by("carol")).toEqual([]);
    expect(by("dave")).toEqual(["disallowed-type", "invalid-key", "weak-rsa"]);
    expect(by("eve")).toEqual(["disabled-user-key"]);
    expect(by("frank")).toEqual(["no-key"]);
    expect(by("alice")).toEqual(["duplicate-key"]);
    expect(by("mallory")).toEqual(["duplicate-key"]);
    const dup = report.findings.find((f) => f.user === "alice" && f.kind === "duplicate-key")!;
    expect(dup.detail).toBe("same key as mallory");
    expect(dup.fingerprint).toBe(fingerprintOf(Buffer.from(lab.users.alice.keys[0]!.publicKey.split(" ")[1]!, "base64")));
    // failing: dave's three, eve's, the two duplicates; frank's missing key is reported, not failed
    expect(report.failing).toBe(6);
    expect(report.counts["no-key"]).toBe(1);
  });

  it("never prints a key, only fingerprints", async () => {
    const report = await auditDirectory(config(), { filter: "(objectClass=posixAccount)", secondOpinion: ssh2Reads, log });
    const text = JSON.stringify(report) + renderAuditCsv(report) + renderAuditTable(report, createStyle(false));
    for (const user of Object.values(lab.users)) {
      for (const value of user.sshPublicKeys) expect(text).not.toContain(value.split(" ")[1]!.slice(0, 40));
    }
  });

  it("the CLI exits 1 when a finding fails policy, 0 when none does, and 69 when the directory cannot be read", async () => {
    const failing = spawnSync(process.execPath, [bin, "audit", "--config", configFile, "--json"], { encoding: "utf8" });
    expect(failing.status, failing.stderr).toBe(1);
    expect(JSON.parse(failing.stdout)).toMatchObject({ users: 7, failing: 6 });

    const clean = spawnSync(process.execPath, [bin, "audit", "--config", configFile, "--filter", "(|(uid=bob)(uid=carol))"], {
      encoding: "utf8",
    });
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toContain("2 accounts, 2 keys");
    expect(clean.stdout).toContain("no finding fails policy");

    const deadFile = join(lab.dir, "authkeys-audit-dead.json");
    writeFileSync(
      deadFile,
      JSON.stringify({
        ldap: lab.connection({ urls: [`ldap://127.0.0.1:${await closedPort()}`] }),
        cache: { dir: join(lab.dir, "c2") },
        syslog: false,
      }),
    );
    const dead = spawnSync(process.execPath, [bin, "audit", "--config", deadFile], { encoding: "utf8" });
    expect(dead.status).toBe(69);
    expect(dead.stdout).toBe("");
    expect(dead.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("a filter LDAP refuses and an unknown format are errors, not clean audits", () => {
    const bad = spawnSync(process.execPath, [bin, "audit", "--config", configFile, "--filter", "(uid=alice"], { encoding: "utf8" });
    expect([64, 65]).toContain(bad.status);
    expect(bad.stdout).toBe("");
    const format = spawnSync(process.execPath, [bin, "audit", "--config", configFile, "--format", "xml"], { encoding: "utf8" });
    expect(format.status).toBe(64);
    expect(format.stderr).toMatch(/table, json, csv/);
    const both = spawnSync(process.execPath, [bin, "audit", "--config", configFile, "--json", "--format", "csv"], { encoding: "utf8" });
    expect(both.status).toBe(64);
    expect(both.stderr).toBe("authkeys: --json and --format csv ask for two outputs (give one of them)\n");
    expect(both.stdout).toBe("");
  });

  it("--format csv: one row per finding, with whether it fails policy", () => {
    const r = spawnSync(process.execPath, [bin, "audit", "--config", configFile, "--format", "csv"], { encoding: "utf8" });
    expect(r.status).toBe(1);
    const rows = r.stdout.trimEnd().split("\r\n");
    expect(rows[0]).toBe("user,dn,kind,fails_policy,detail,fingerprint");
    expect(rows.some((row) => row.startsWith("frank,") && row.includes(",no-key,false,"))).toBe(true);
  });
});

describe("authkeys audit: what a black-box try broke", () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [bin, "audit", "--config", configFile, ...args], { encoding: "utf8" });

  it("never echoes key material a value holds, in the report or the log", () => {
    const leaky = "(|(uid=leaky)(uid=nl*))";
    for (const format of ["table", "csv", "json"]) {
      const r = run("--filter", leaky, "--format", format, "-vv");
      expect(r.status, r.stderr).toBe(1);
      for (const text of [r.stdout, r.stderr]) {
        expect(text).not.toContain(privateBody.slice(8, 48));
        expect(text).not.toContain(lab.users.carol.keys[0]!.publicKey.split(" ")[1]!.slice(20, 60));
      }
    }
  });

  it("a newline in a name cannot forge a row of the table", () => {
    const r = run("--filter", "(uid=leaky)");
    expect(r.stdout.split("\n").some((line) => line.startsWith("FAIL forged row"))).toBe(false);
  });

  it("a filter that matches no account is an error (66), not a clean audit", () => {
    const r = run("--filter", "(objectClass=posixAcount)");
    expect(r.status).toBe(66);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/matched no account/);
  });

  it("--json with another --format is a usage error", () => {
    expect(run("--json", "--format", "csv").status).toBe(64);
  });

  it("a value authkeys cannot read is an invalid key, not also a parser disagreement", async () => {
    const report = await auditDirectory(config(), { filter: "(uid=leaky)", secondOpinion: ssh2Reads, log });
    expect(report.findings.map((f) => f.kind)).not.toContain("parser-disagreement");
  });
});

describe("audit judgements (no directory)", () => {
  const policy = { types: ["ssh-ed25519", "ssh-rsa"], minRsaBits: 2048 };

  it("a user name with control characters and formula text stays text in the table and the CSV", () => {
    const report = judge([{ user: "=cmd|' /C calc'!A0\u001b[31m", dn: "uid=x,dc=t", values: [], disabled: undefined }], policy, ssh2Reads);
    const table = renderAuditTable(report, createStyle(false));
    expect(table).not.toContain("\u001b");
    expect(table).toContain("\\x1b[31m");
    const csv = renderAuditCsv(report);
    expect(csv.split("\r\n")[1]!.startsWith("'=cmd")).toBe(true);
    expect(csv).not.toContain("\u001b");
    expect(csv).toContain("\\x1b[31m");
  });

  it("a value ssh2's parser reads but authkeys refuses is reported as a disagreement", () => {
    // an ed25519 blob with trailing bytes: OpenSSH's sshkey_from_blob refuses it, as authkeys does
    const blob = Buffer.concat([
      Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAIBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQU", "base64"),
      Buffer.from([0]),
    ]);
    const value = `ssh-ed25519 ${blob.toString("base64")} x@y`;
    const report = judge([{ user: "u", dn: "uid=u", values: [value], disabled: undefined }], policy, () => true);
    expect(report.findings.map((f) => f.kind).sort()).toEqual(["invalid-key", "parser-disagreement"]);
    expect(report.findings.find((f) => f.kind === "parser-disagreement")!.detail).toMatch(
      /ssh2's parser reads this key, authkeys does not/,
    );
  });

  it("a key whose options sshd refuses (from= twice) is an invalid-key finding with its fingerprint, not a disagreement", () => {
    const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 9)]);
    const value = `from="127.0.0.1",from="10.9.9.9" ssh-ed25519 ${blob.toString("base64")} twofrom`;
    const report = judge([{ user: "u", dn: "uid=u", values: [value], disabled: undefined }], policy, ssh2Reads);
    expect(report.findings).toEqual([
      {
        user: "u",
        dn: "uid=u",
        kind: "invalid-key",
        detail: "option from= given more than once (sshd refuses the line)",
        fingerprint: fingerprintOf(blob),
      },
    ]);
    expect(report.failing).toBe(1);
  });

  it("keys of a disabled account are reported once with their count", () => {
    const good = `ssh-ed25519 ${Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), Buffer.alloc(32, 7)]).toString("base64")}`;
    const report = judge(
      [{ user: "gone", dn: "uid=gone", values: [good, good], disabled: "login shell /usr/sbin/nologin" }],
      policy,
      ssh2Reads,
    );
    expect(report.findings.filter((f) => f.kind === "disabled-user-key")).toHaveLength(1);
    expect(report.findings[0]!.detail).toMatch(/^2 key\(s\) on a disabled account \(login shell/);
  });
});
