import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

/** T26 findings of the independent tester: what a user of the plain parse, `sessions` and `report` met. */

/** An sshd USER_LOGIN of session `ses` whose msg='…' holds `pairs`. */
const login = (ses: number, pairs: string) =>
  `type=USER_LOGIN msg=audit(1765000000.${String(ses).padStart(3, "0")}:${ses}): pid=31${ses} uid=0 auid=1000 ses=${ses} msg='${pairs}'\n`;

describe("finding 2: a value in msg='…' ending in ')' keeps it, as logged and as ausearch -i shows it", () => {
  const log =
    login(13, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=a) addr=10.0.0.13 terminal=ssh res=success') +
    login(14, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=h14 addr=10.0.0.14 terminal=a) res=success') +
    login(15, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=foo)bar) addr=10.0.0.15 terminal=ssh res=success') +
    login(19, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=(null)) addr=10.0.0.19 terminal=ssh res=success') +
    login(23, 'op=login id=1000 exe="/usr/sbin/sshd" hostname=) addr=10.0.0.23 terminal=) res=success') +
    // the old PAM form: only the ')' closing its list is not the value's
    login(30, 'PAM: session open acct="alice" : exe="/usr/sbin/sshd" (hostname=h30, addr=10.0.0.30, terminal=a) res=success)');

  it('the plain parse gives each value whole (was a, a, foo)bar, null, "" and a), and no raw', async () => {
    const r = await run([], log);
    expect(r.code, r.stderr).toBe(0);
    const records = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).records[0]);
    expect(records.map((rec) => [rec.fields.hostname, rec.fields.terminal])).toEqual([
      ["a)", "ssh"],
      ["h14", "a)"],
      ["foo)bar)", "ssh"],
      ["(null))", "ssh"],
      [")", ")"],
      ["h30", "a)"],
    ]);
    expect(records[5].fields.res).toBe("success");
    for (const rec of records) expect(rec.raw?.hostname ?? rec.raw?.terminal).toBeUndefined();
  });

  it("sessions and report carry them as logged", async () => {
    const json = await run(["sessions", "--json"], log);
    expect(json.code, json.stderr).toBe(0);
    const bySes = new Map<string, { hostname?: string | null; terminal?: string }>(
      JSON.parse(json.stdout).map((s: { ses: string }) => [s.ses, s]),
    );
    expect([bySes.get("13")?.hostname, bySes.get("14")?.terminal, bySes.get("19")?.hostname, bySes.get("23")?.hostname]).toEqual([
      "a)",
      "a)",
      "(null))",
      ")",
    ]);
    const text = await run(["sessions"], log);
    expect(text.stdout).toMatch(/session 14 .* from 10\.0\.0\.14 \(h14\) .* tty a\) /);
    const report = await run(["report", "--json"], log);
    expect(report.code, report.stderr).toBe(0);
    const terminals = JSON.parse(report.stdout).logins.rows.map((row: { key: { terminal: string } }) => row.key.terminal);
    expect(terminals).toEqual(expect.arrayContaining(["a)", ")"]));
  });
});

/** A log given as latin1 text: each \xNN a byte of its own, so bytes that are not UTF-8 can be written. */
const bytes = (text: string) => Buffer.from(text, "latin1");

describe("T25 #7: a bare value whose bytes are not UTF-8 keeps them in raw, as a quoted one does", () => {
  const loginBody =
    "pid=9 uid=0 auid=1000 ses=3 tty=p\xff msg='op=login id=1000 hostname=h\xff\xfe addr=10.0.0.\xff terminal=/dev/pts/\xfe res=success'";
  const expected = { tty: "70FF", hostname: "68FFFE", addr: "31302E302E302EFF", terminal: "2F6465762F7074732FFE" };

  it("PAM's hostname=, addr=, terminal= and the kernel's tty=: U+FFFD in fields, their hex in raw (was: lost)", async () => {
    // the second record goes through the text tokenizer (a free word): both paths keep the same bytes
    const log = bytes(
      `type=USER_LOGIN msg=audit(1765000100.000:11): ${loginBody}\ntype=USER_LOGIN msg=audit(1765000100.000:12): (w) ${loginBody}\n`,
    );
    const r = await run([], log);
    expect(r.code, r.stderr).toBe(0);
    for (const line of r.stdout.trim().split("\n")) {
      const record = JSON.parse(line).records[0];
      expect(record.fields).toMatchObject({ hostname: "h\ufffd\ufffd", tty: "p\ufffd" });
      expect(record.raw).toMatchObject(expected);
    }
  });

  it("a SYSCALL's bare subj= and key=, and an EXECVE's bare argument: the exact bytes kept", async () => {
    const log = bytes(
      [
        'type=SYSCALL msg=audit(1765000200.000:20): arch=c000003e syscall=59 success=yes exit=0 pid=2 auid=1000 uid=1000 ses=3 comm="x" exe="/bin/x" subj=u:r:t\xff:s0 key=k\xfe',
        'type=EXECVE msg=audit(1765000200.000:20): argc=3 a0="x" a1=\xff\xfe41 a2=FF41',
        "type=EOE msg=audit(1765000200.000:20): ",
        "",
      ].join("\n"),
    );
    const r = await run([], log);
    expect(r.code, r.stderr).toBe(0);
    const event = JSON.parse(r.stdout);
    expect(event.records[0].raw).toMatchObject({ subj: "753A723A74FF3A7330", key: "6BFE" });
    expect(event.argvRaw).toEqual({ "1": "FFFE3431", "2": "FF41" });
  });
});

describe("T24 #6: sessions keeps the bytes of a from/hostname that is not UTF-8, as the plain parse does", () => {
  const log = bytes(
    [
      'type=USER_START msg=audit(1765000300.000:30): pid=9 uid=0 auid=1000 ses=3 msg=\'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=l\xe9aptop addr=203.0.113.6 terminal=ssh res=success\'',
      'type=USER_START msg=audit(1765000301.000:31): pid=10 uid=0 auid=1001 ses=4 msg=\'op=PAM:session_open acct="bob" exe="/usr/sbin/sshd" hostname=l\xe8aptop addr=203.0.113.6 terminal=ssh res=success\'',
      'type=USER_START msg=audit(1765000302.000:32): pid=11 uid=0 auid=1002 ses=5 msg=\'op=PAM:session_open acct="carol" exe="/usr/sbin/sshd" hostname=h\xff addr=? terminal=ssh res=success\'',
      "",
    ].join("\n"),
  );

  it("hostnameRaw/fromRaw in --json and `(bytes …)` in the text: two hosts that differ only there differ (was: alike)", async () => {
    const json = await run(["sessions", "--json"], log);
    expect(json.code, json.stderr).toBe(0);
    const sessions = JSON.parse(json.stdout) as { ses: string; from: string; hostnameRaw?: string; fromRaw?: string }[];
    expect(sessions.map((s) => [s.ses, s.hostnameRaw, s.fromRaw])).toEqual([
      ["3", "6CE96170746F70", undefined],
      ["4", "6CE86170746F70", undefined],
      ["5", undefined, "68FF"],
    ]);
    const plain = (await run([], log)).stdout.trim().split("\n");
    expect(JSON.parse(plain[0]!).records[0].raw.hostname).toBe("6CE96170746F70");
    const text = await run(["sessions"], log);
    expect(text.stdout).toContain("from 203.0.113.6 (l\ufffdaptop) (bytes hostname=6CE96170746F70)");
    expect(text.stdout).toContain("from h\ufffd (bytes from=68FF)");
  });
});

describe("T25 #9: the wordings a user met", () => {
  const dir = mkdtempSync(join(tmpdir(), "auditd-parse-t26-"));
  const ok = join(dir, "ok.yml");
  writeFileSync(
    ok,
    "title: ok\nid: 6f3a1b8e-0000-4000-8000-000000000001\nlevel: high\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  sel:\n    type: EXECVE\n  condition: sel\n",
  );
  const latin1 = join(dir, "latin1.yml");
  writeFileSync(
    latin1,
    bytes("title: caf\xe9\nlogsource:\n  product: linux\n  service: auditd\ndetection:\n  sel:\n    type: EXECVE\n  condition: sel\n"),
  );

  it("a rule file that is not UTF-8 is named once (was `rule F (F) cannot be compiled`), in the list too", async () => {
    const r = await run(["detect", "--rules", latin1, "--rules", ok], "");
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`rule file ${latin1} cannot be compiled: not UTF-8 text (save it as UTF-8)\n`);
    const list = await run(["detect", "--list-rules", "--rules", latin1, "--rules", ok]);
    expect(list.code).toBe(65);
    expect(list.stdout).toContain(`FAILED        ${latin1}  not UTF-8 text (save it as UTF-8)\n`);
    // --list-rules writes no alerts: its last line says what can run (was "the alerts cover the other 1")
    expect(list.stderr).not.toContain("alerts");
    expect(list.stderr).toContain("1 rule file(s) or rule(s) could not be read or compiled (listed FAILED): the other 1 can run");
  });

  it("`report DIR` prints nothing on stdout, as every other command (was the incomplete line and seven empty tables)", async () => {
    const logs = join(dir, "logs");
    mkdirSync(logs);
    const r = await run(["report", logs]);
    expect([r.code, r.stdout]).toEqual([66, ""]);
    expect(r.stderr).toContain("is a directory");
  });
});
