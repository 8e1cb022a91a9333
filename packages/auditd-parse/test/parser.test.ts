import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_EVENT_RECORDS } from "../src/assemble";
import { type AuditEvent, AuditParser, decodeSockaddr, parseRecord, parseText, syscallName } from "../src/index";

const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();

describe("record header", () => {
  it("reads node, numeric and UNKNOWN[n] types, and the stamp", () => {
    const r = parseRecord("node=web1 type=1300 msg=audit(1700000000.123:42): arch=c000003e syscall=59");
    expect(r).toMatchObject({ node: "web1", type: "SYSCALL", stamp: "1700000000.123:42", serial: 42, timeMs: 1700000000123 });
    expect(parseRecord("type=UNKNOWN[1327] msg=audit(1.5:7): proctitle=6C73")?.type).toBe("PROCTITLE");
    expect(parseRecord("type=UNKNOWN[1999] msg=audit(1.500:7): x=1")?.type).toBe("UNKNOWN[1999]");
  });

  it("reads a stamp only as sec.ms:serial of 1-15 digits each, the serial of 32 bits", () => {
    const at = (stamp: string) => parseRecord(`type=CWD msg=audit(${stamp}): cwd="/"`);
    for (const stamp of ["1.5:7", "0.0:0", "1.123456789012345:7", "123456789012.5:4294967295", "1700000000.123:42"]) {
      expect(at(stamp)?.stamp, stamp).toBe(stamp);
    }
    expect(at("1.123456789012345:7")?.timeMs).toBe(1123);
    const bad = [".5:7", "1.:7", "1.5:", ":", ".", "1:5.7", "1.5.5:7", "1.5:7:8", "1a.5:7", "1.5a:7", "1.5:7a", " 1.5:7"];
    bad.push("1234567890123456.5:7", "1.1234567890123456:7", "1.5:1234567890123456", "1.5:4294967296", "1.5:7 ", "");
    for (const stamp of bad) expect(at(stamp), stamp).toBeUndefined();
    // no closing parenthesis at all
    expect(parseRecord('type=CWD msg=audit(1.5:7 cwd="/"')).toBeUndefined();
  });

  it("unwraps syslog-forwarded kernel lines", () => {
    const r = parseRecord(
      'Mar  1 12:00:00 web1 kernel: [ 12.345] audit: type=1400 audit(1700000000.001:9): apparmor="DENIED" operation="open" profile="/usr/sbin/cupsd"',
    );
    expect(r).toMatchObject({ type: "AVC", serial: 9, keys: ["apparmor", "operation", "profile"] });
  });

  it("keeps a syslog-wrapped record's host: its node= (audisp-syslog), else the syslog header's, and a node= behind invisible bytes (T34 #2, T35 N2, N3)", () => {
    // two hosts under one stamp, forwarded to one collector: two events, not one with both hosts' records
    const stamp = "audit(1700000000.000:1):";
    const text = [
      `Nov 14 22:13:20 collector audisp-syslog[812]: node=hostA type=SYSCALL msg=${stamp} syscall=59 comm="ls"`,
      `Nov 14 22:13:20 collector audisp-syslog[913]: node=hostB type=SYSCALL msg=${stamp} syscall=59 comm="rm"`,
      `Nov 14 22:13:20 collector audisp-syslog[812]: node=hostA type=EXECVE msg=${stamp} argc=1 a0="ls"`,
      `Nov 14 22:13:20 collector audisp-syslog[913]: node=hostB type=EXECVE msg=${stamp} argc=1 a0="rm"`,
      `Nov  4 22:13:20 hostC kernel: [ 12.345] audit: type=1300 ${stamp} syscall=59 comm="cp"`,
      `2023-11-14T22:13:20.123456+00:00 hostD kernel: audit: type=1300 ${stamp} syscall=59 comm="mv"`,
      `\ufeffnode=hostE type=1300 ${stamp} syscall=59 comm="id"`,
      // T35 N2: a PRI as received, RFC 5424 (with and without its PRI), journalctl's short-precise, a year first,
      // and a relay's header before the origin's
      `<85>Nov 14 22:13:20 hostF audisp-syslog[812]: type=SYSCALL msg=${stamp} syscall=59 comm="f"`,
      `<85>1 2023-11-14T22:13:20.123Z hostG audisp-syslog 812 - - type=SYSCALL msg=${stamp} syscall=59 comm="g"`,
      `1 2023-11-14T22:13:20.123Z hostH audisp-syslog 812 - - type=SYSCALL msg=${stamp} syscall=59 comm="h"`,
      `Nov 14 22:13:20.123456 hostI audisp-syslog[812]: type=SYSCALL msg=${stamp} syscall=59 comm="i"`,
      `2023 Nov 14 22:13:20 hostJ audisp-syslog[812]: type=SYSCALL msg=${stamp} syscall=59 comm="j"`,
      `Nov 14 22:13:25 relay Nov 14 22:13:20 hostK audisp-syslog[812]: type=SYSCALL msg=${stamp} syscall=59 comm="k"`,
      // T35 N3: NULs a crash left before the next boot's first record, a zero-width space, two BOMs
      `\0\0\0\0node=hostL type=1300 ${stamp} syscall=59 comm="l"`,
      `\u200bnode=hostM type=1300 ${stamp} syscall=59 comm="m"`,
      `\ufeff\ufeffnode=hostN type=1300 ${stamp} syscall=59 comm="n"`,
      // T36 A2: an ISO date with a space for its T; a no-break space, a word joiner, a CR, a colour reset before node=
      `2023-11-14 22:13:20 hostO audisp-syslog[812]: type=SYSCALL msg=${stamp} syscall=59 comm="o"`,
      `\u00a0node=hostP type=1300 ${stamp} syscall=59 comm="p"`,
      `\u2060node=hostQ type=1300 ${stamp} syscall=59 comm="q"`,
      `\rnode=hostR type=1300 ${stamp} syscall=59 comm="r"`,
      `\x1b[0mnode=hostS type=1300 ${stamp} syscall=59 comm="s"`,
    ].join("\n");
    const events = parseText(text).events.map((e) => [e.node, e.types.join(), e.comm]);
    expect(events).toEqual([
      ["hostA", "SYSCALL,EXECVE", "ls"],
      ["hostB", "SYSCALL,EXECVE", "rm"],
      ["hostC", "SYSCALL", "cp"],
      ["hostD", "SYSCALL", "mv"],
      ["hostE", "SYSCALL", "id"],
      ...[..."fghijklmnopqrs"].map((c) => [`host${c.toUpperCase()}`, "SYSCALL", c]),
    ]);
    // RFC 5424's nil host names none
    expect(parseRecord(`<85>1 2023-11-14T22:13:20Z - audisp-syslog 812 - - type=SYSCALL msg=${stamp} syscall=59`)?.node).toBeUndefined();
    // a prefix that is no syslog header names no host
    expect(parseRecord(`some prefix type=SYSCALL msg=${stamp} syscall=59`)?.node).toBeUndefined();
  });

  it("gives each record its own node name, though names are remembered by their bytes", () => {
    // names sharing their first eight bytes or all but the last, invalid UTF-8, and more than the table keeps
    const names = ["host0001.example.net", "host0002.example.net", "host0001.example.nex", "h", "h\u00e9", "host0001"];
    for (let i = 0; i < 700; i++) names.push(`n${i}.example.net`);
    const text = names.map((n, i) => `node=${n} type=USER_LOGIN msg=audit(1.000:${i + 1}): pid=1 res=success`).join("\n");
    const bytes = Buffer.concat([
      Buffer.from(`${text}\n`),
      Buffer.from("node=h\xff type=USER_LOGIN msg=audit(1.000:9999): pid=1\n", "latin1"),
    ]);
    const seen: (string | undefined)[] = [];
    const parser = new AuditParser((e) => seen.push(e.node));
    for (let round = 0; round < 2; round++) parser.pushBytes(bytes);
    parser.end();
    expect(seen).toEqual([...names, "h\ufffd", ...names, "h\ufffd"]);
  });

  it("returns undefined for lines without an audit header", () => {
    expect(parseRecord("hello world")).toBeUndefined();
    expect(parseRecord("type=SYSCALL msg=audit(bogus): x=1")).toBeUndefined();
    expect(parseRecord("type=SYSCALL msg=audit(999999999999999.000:1): x=1")).toBeUndefined();
  });
});

describe("events", () => {
  it("groups interleaved records by stamp, completes on EOE and drops the EOE record", () => {
    const log = [
      "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0 auid=1000 uid=0 ses=3",
      "type=SYSCALL msg=audit(1700000000.001:2): arch=c000003e syscall=2 success=no exit=-13 auid=1000 uid=1000 ses=3",
      'type=EXECVE msg=audit(1700000000.000:1): argc=2 a0="ls" a1="-l"',
      "type=EOE msg=audit(1700000000.001:2): ",
      "type=EOE msg=audit(1700000000.000:1): ",
    ].join("\n");
    const { events, stats } = parseText(log);
    // written in log-time order: serial 2 completed first, but serial 1 is older and comes first
    expect(events.map((e) => [e.serial, e.records.map((r) => r.type)])).toEqual([
      [1, ["SYSCALL", "EXECVE"]],
      [2, ["SYSCALL"]],
    ]);
    expect(events[1]).toMatchObject({ syscall: "open", success: false, exit: "EACCES" });
    expect(events[0]).toMatchObject({ syscall: "execve", argv: ["ls", "-l"], argc: 2, time: "2023-11-14T22:13:20.000Z" });
    expect(stats).toMatchObject({ events: 2, lost: 0, malformed: 0 });
  });

  it("keeps events of different nodes apart even with the same stamp", () => {
    const log = [
      "node=a type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=0",
      "node=b type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=1",
    ];
    const { events } = parseText(log.join("\n"));
    expect(events.map((e) => [e.node, e.syscall])).toEqual([
      ["a", "read"],
      ["b", "write"],
    ]);
  });

  it("writes an event whose stamp never changes in bounded parts, every record once (7 nodes, one stamp, no EOE)", () => {
    const lines: string[] = [];
    for (let i = 0; i < 2500; i++)
      for (let n = 0; n < 7; n++) lines.push(`node=h${n} type=PATH msg=audit(1700000000.000:1): item=${i} name="/etc/f${i}" ouid=0`);
    const { events, stats } = parseText(lines.join("\n"), { recordObjects: false });
    // per node: parts of at most MAX_EVENT_RECORDS, the same id, records in order with none lost or doubled
    for (let n = 0; n < 7; n++) {
      const parts = events.filter((e) => e.node === `h${n}`);
      expect(parts.map((e) => e.types.length)).toEqual([MAX_EVENT_RECORDS, MAX_EVENT_RECORDS, 2500 - 2 * MAX_EVENT_RECORDS]);
      expect(new Set(parts.map((e) => e.id))).toEqual(new Set(["1700000000.000:1"]));
    }
    expect(stats).toMatchObject({ records: 7 * 2500, events: 21, split: 14, malformed: 0 });
  });

  it("writes the oldest of many big open events first once they hold too much together", () => {
    // 40 events of 512 KiB each, interleaved and without EOE: more than 8 MiB open at once
    const value = "x".repeat(64 * 1024);
    const lines: string[] = [];
    for (let r = 0; r < 8; r++) for (let e = 1; e <= 40; e++) lines.push(`type=PATH msg=audit(1.000:${e}): item=${r} name="${value}"`);
    const { events, stats } = parseText(lines.join("\n"), { recordObjects: false });
    expect(events.reduce((n, e) => n + e.types.length, 0)).toBe(8 * 40);
    expect(stats.split).toBeGreaterThan(0);
    // no event grows past the bound: the parts add up to every record of each serial
    for (let e = 1; e <= 40; e++) expect(events.filter((x) => x.serial === e).reduce((n, x) => n + x.types.length, 0)).toBe(8);
  });

  it('with recordObjects "lazy" gives the same records when read during onEvent, and refuses them after', () => {
    const log = [
      'type=USER_START msg=audit(1.000:1): pid=1 uid=0 auid=1000 ses=3 msg=\'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" res=success\'',
      "type=SYSCALL msg=audit(1.001:2): arch=c000003e syscall=59 success=yes exit=0 pid=2 uid=0",
      "type=EOE msg=audit(1.001:2): ",
    ].join("\n");
    const eager = parseText(log).events.map((e) => e.records);
    const lazy: unknown[] = [];
    const kept: AuditEvent[] = [];
    const parser = new AuditParser(
      (e) => {
        lazy.push(e.records);
        kept.push(e);
      },
      { recordObjects: "lazy" },
    );
    parser.pushBytes(Buffer.from(log));
    parser.end();
    expect(lazy).toEqual(eager);
    const late = new AuditParser((e) => kept.push(e), { recordObjects: "lazy" });
    late.pushBytes(Buffer.from(log));
    late.end();
    expect(() => kept[kept.length - 1]!.records).toThrow(/after its onEvent call/);
  });

  it("completes an event without EOE once log time passes the window", () => {
    const events: number[] = [];
    const { events: all } = parseText(
      [
        "type=SYSCALL msg=audit(100.000:1): syscall=0",
        "type=SYSCALL msg=audit(103.000:2): syscall=0",
        "type=SYSCALL msg=audit(100.500:1): syscall=1",
      ].join("\n"),
    );
    for (const e of all) events.push(e.records.length);
    // serial 1 closed when serial 2 arrived 3 s later; its straggler becomes an event of its own, written
    // in log-time order (before serial 2, which waits for it)
    expect(all.map((e) => e.serial)).toEqual([1, 1, 2]);
    expect(all.map((e) => e.time)).toEqual(["1970-01-01T00:01:40.000Z", "1970-01-01T00:01:40.500Z", "1970-01-01T00:01:43.000Z"]);
    expect(events).toEqual([1, 1, 1]);
  });

  it("still joins a late record to one of the most recent events after log time jumped ahead", () => {
    const log = [
      "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=59",
      "type=SYSCALL msg=audit(100.010:2): arch=c000003e syscall=59",
      "type=SYSCALL msg=audit(108.000:3): arch=c000003e syscall=42",
      'type=PATH msg=audit(100.010:2): item=1 name="/lib64/ld.so"',
    ].join("\n");
    const { events } = parseText(log);
    expect(events.map((e) => [e.serial, e.types])).toEqual([
      [1, ["SYSCALL"]],
      [2, ["SYSCALL", "PATH"]],
      [3, ["SYSCALL"]],
    ]);
  });

  it("emits user-space records at once and counts lost serials across the 32-bit rollover", () => {
    const log = [
      // a contiguous stream first: only gaps inside one count as lost
      ...Array.from(
        { length: 8 },
        (_, i) => `type=USER_CMD msg=audit(1.000:${4294967286 + i}): pid=1 uid=0 auid=1000 ses=1 msg='cmd=6C73 res=success'`,
      ),
      'type=USER_LOGIN msg=audit(1.000:4294967294): pid=1 uid=0 auid=1000 ses=1 msg=\'op=login acct="alice" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.1 terminal=ssh res=success\'',
      "type=USER_END msg=audit(1.000:4294967295): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:session_close acct=\"alice\" res=success'",
      "type=USER_END msg=audit(1.000:0): pid=1 uid=0 auid=1000 ses=1 msg='op=x res=success'",
      "type=USER_END msg=audit(1.000:4): pid=1 uid=0 auid=1000 ses=1 msg='op=x res=failed'",
    ].join("\n");
    const { events, stats } = parseText(log);
    expect(events).toHaveLength(12);
    expect(stats.lost).toBe(3);
    expect(events[8]?.records[0]?.fields).toMatchObject({
      op: "login",
      acct: "alice",
      addr: "10.0.0.1",
      hostname: null,
      terminal: "ssh",
      res: "success",
    });
    expect(events[11]?.success).toBe(false);
  });

  it("does not count the serials an excerpt or filtered log leaves out as lost", () => {
    const line = (n: number) => `type=USER_CMD msg=audit(1.000:${n}): pid=1 uid=0 auid=1000 ses=1 msg='cmd=6C73 res=success'`;
    expect(parseText([10, 20, 35, 36, 50, 51, 52, 90].map(line).join("\n")).stats).toMatchObject({ lost: 0, skipped: 73 });
    // 109 arrives late and fills the gap before 110; the stream is still contiguous, so 110..115 lost 4
    const dense = [...Array.from({ length: 9 }, (_, i) => 100 + i), 110, 109, 115];
    expect(parseText(dense.map(line).join("\n")).stats.lost).toBe(4);
  });

  it("counts no event lost when every one arrives, out of serial order (a gap after a short run filled late too)", () => {
    const line = (n: number) => `type=USER_CMD msg=audit(1.000:${n}): pid=1 uid=0 auid=1000 ses=1 msg='cmd=6C73 res=success'`;
    // 10 is counted lost when 11 comes (after a contiguous run), 12 is not (after a run of one); both arrive late
    const order = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 10, 12];
    expect(parseText(order.map(line).join("\n")).stats).toMatchObject({ events: 13, lost: 0, skipped: 0 });
    // a late event that fills only the gap never counted leaves the counted one lost: 10 never comes
    const tenLost = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 12, 14];
    expect(parseText(tenLost.map(line).join("\n")).stats).toMatchObject({ lost: 1, skipped: 1 });
    // one late serial inside a counted gap of three splits it: two still lost
    const inside = [1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 11, 14];
    expect(parseText(inside.map(line).join("\n")).stats).toMatchObject({ lost: 2, skipped: 2 });
  });

  it("parses the old PAM msg form with its parenthesised tail", () => {
    const { events } = parseText(
      'type=USER_START msg=audit(1.000:1): user pid=5 uid=0 auid=0 ses=2 msg=\'PAM: session open acct="root" : exe="/usr/sbin/cron" (hostname=?, addr=?, terminal=cron res=success)\'',
    );
    const r = events[0]!.records[0]!;
    expect(r.fields).toMatchObject({ acct: "root", exe: "/usr/sbin/cron", hostname: null, addr: null, terminal: "cron", res: "success" });
    expect(r.text).toContain("PAM:");
    const login = parseText("type=LOGIN msg=audit(1.000:2): login pid=5 uid=0 old auid=4294967295 new auid=0 old ses=4294967295 new ses=3")
      .events[0]!;
    expect(login.records[0]?.fields).toMatchObject({ "old-auid": "unset", "new-auid": "root", "old-ses": "unset", "new-ses": "3" });
    // the login's user and session are the event's, as in today's `auid=… ses=…` form (ausearch reads "new ses=")
    expect(login).toMatchObject({ auid: "root", ses: "3" });
  });
});

describe("interpretation", () => {
  it("rebuilds argv split across records and chunks, and notes argc beyond the fields present", () => {
    const long = "x".repeat(20);
    const log = [
      "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0",
      `type=EXECVE msg=audit(1.000:1): argc=5 a0="sh" a1_len=40 a1[0]=${hex(long)}`,
      `type=EXECVE msg=audit(1.000:1): a1[1]=${hex(long)} a2=${hex("has space")}`,
      "type=EOE msg=audit(1.000:1):",
    ];
    const e = parseText(log.join("\n")).events[0]!;
    expect(e.argv).toEqual(["sh", long + long, "has space"]);
    expect(e.argc).toBe(5);
  });

  it("decodes proctitle hex at NULs and hex-encoded strings, keeping the raw value", () => {
    const log = [
      `type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=2 success=yes exit=3 comm=${hex("my prog")} key=${hex("k1\x01k2")}`,
      `type=PROCTITLE msg=audit(1.000:1): proctitle=${hex("nc\u0000-l\u0000-p\u0000555")}`,
    ];
    const e = parseText(log.join("\n")).events[0]!;
    expect(e.proctitle).toEqual(["nc", "-l", "-p", "555"]);
    expect(e.comm).toBe("my prog");
    expect(e.keys).toEqual(["k1", "k2"]);
    expect(e.records[0]?.raw?.comm).toBe(hex("my prog"));
  });

  it("names syscalls per architecture from the kernel tables", () => {
    expect(syscallName("x86_64", "59")).toBe("execve");
    expect(syscallName("i386", "11")).toBe("execve");
    expect(syscallName("aarch64", "221")).toBe("execve");
    expect(syscallName("aarch64", "64")).toBe("write");
    expect(syscallName("aarch64", "79")).toBe("newfstatat");
    expect(syscallName("x86_64", "99999")).toBeUndefined();
  });

  it("decodes sockaddr of every family", () => {
    expect(decodeSockaddr("02000050A9FEA9FE0000000000000000")).toEqual({ family: "inet", address: "169.254.169.254", port: 80 });
    expect(decodeSockaddr("0002D903000000000000000000000000")).toEqual({ family: "inet", address: "0.0.0.0", port: 55555 });
    expect(decodeSockaddr("0A0001BB00000000200108B0000000000000000000000001000000000000")).toMatchObject({
      family: "inet6",
      address: "2001:8b0::1",
      port: 443,
    });
    expect(decodeSockaddr(`0100${hex("/run/x.sock")}00DEADBEEF`)).toEqual({ family: "unix", path: "/run/x.sock", abstract: false });
    expect(decodeSockaddr(`010000${hex("dbus-abc")}0000`)).toEqual({ family: "unix", path: "dbus-abc", abstract: true });
    expect(decodeSockaddr("10000000D20400000100000000000000")).toEqual({ family: "netlink", pid: 1234, groups: 1 });
    expect(decodeSockaddr("2A00FFFF")).toEqual({ family: "unknown", familyNumber: 42, bytes: "2a00ffff" });
    // a link-local address keeps its interface (sin6_scope_id) (T34 #7)
    expect(decodeSockaddr("0A00001600000000FE80000000000000000000000000000102000000")).toEqual({
      family: "inet6",
      address: "fe80::1",
      port: 22,
      scope: 2,
    });
    expect(decodeSockaddr("zz")).toBeUndefined();
  });

  it("maps ids through a configured passwd/group file and 4294967295 to unset", () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-ids-"));
    writeFileSync(join(dir, "passwd"), "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    writeFileSync(join(dir, "group"), "root:x:0:\nstaff:x:1000:\n");
    const { events } = parseText(
      "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=0 auid=4294967295 uid=1000 gid=1000 euid=7 ses=4294967295",
      {
        ids: { passwd: join(dir, "passwd"), group: join(dir, "group") },
      },
    );
    const r = events[0]!.records[0]!;
    expect(r.fields).toMatchObject({ auid: "unset", uid: "alice", gid: "staff", euid: "7", ses: "unset" });
    expect(r.raw).toMatchObject({ auid: "4294967295", uid: "1000", gid: "1000" });
  });

  it("interprets mode, caps, SELinux and AppArmor contexts, AVC text and ENRICHED fields", () => {
    const log = [
      'type=AVC msg=audit(1.000:1): avc:  denied  { read write } for  pid=9 comm="httpd" scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0:c0.c1023 tclass=file permissive=0',
      'type=PATH msg=audit(1.000:1): item=0 name="/usr/bin/sudo" mode=0104755 cap_fp=0000000000003000 cap_fi=0 subj=/usr/bin/man (enforce)',
      "type=SOCKADDR msg=audit(1.000:1): saddr=0200001685B8D8220000000000000000\x1dSADDR={ saddr_fam=inet laddr=133.184.216.34 lport=22 }",
      "type=EOE msg=audit(1.000:1):",
    ];
    const [avc, path, sockaddr] = parseText(log.join("\n")).events[0]!.records;
    expect(avc?.fields).toMatchObject({
      seresult: "denied",
      seperms: "read,write",
      scontext: { user: "system_u", role: "system_r", type: "httpd_t", level: "s0" },
      tcontext: { type: "user_home_t", level: "s0:c0.c1023" },
    });
    expect(path?.fields).toMatchObject({
      mode: "file,suid,755",
      cap_fp: "net_admin,net_raw",
      cap_fi: "none",
      subj: { profile: "/usr/bin/man", mode: "enforce" },
    });
    expect(sockaddr?.fields.saddr).toEqual({ family: "inet", address: "133.184.216.34", port: 22 });
    expect(sockaddr?.enriched).toEqual({ SADDR: { saddr_fam: "inet", laddr: "133.184.216.34", lport: "22" } });
  });
});

describe("bad input", () => {
  it("keeps unparseable lines and unterminated quotes as unparsed, skipping blanks and comments", () => {
    const { events, stats } = parseText(
      ["# comment", "", "garbage line", 'type=SYSCALL msg=audit(1.000:1): comm="unterminated'].join("\n"),
    );
    expect(events[0]).toMatchObject({ id: null, unparsed: ["garbage line"] });
    expect(events[1]?.records[0]?.unparsed).toBe('comm="unterminated');
    expect(stats.malformed).toBe(2);
  });

  it("survives fuzzed input: random bytes, NULs, invalid UTF-8, truncated and 1 MB lines", () => {
    const valid = [
      'node=h type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=42 success=yes exit=0 a0=3 comm="nc" key=6B31016B32',
      "type=SOCKADDR msg=audit(1700000000.000:1): saddr=0A00",
      `type=EXECVE msg=audit(1700000000.000:1): argc=3 a0="a" a1[0]=41 a1_len=2 a1[1]=4`,
      "type=USER_LOGIN msg=audit(1700000000.000:2): pid=1 msg='op=x (hostname=?, addr=?,",
      "type=PROCTITLE msg=audit(1700000000.000:1): proctitle=0",
      "type=AVC msg=audit(1700000000.000:3): avc: { }",
      "type=SYSCALL msg=audit(1700000000.000:4): \x1dSADDR={ { x=",
    ].join("\n");
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 300; round++) {
      const bytes = Buffer.from(valid);
      for (let i = 0; i < 20; i++) bytes[rand() % bytes.length] = rand() % 256;
      const cut = bytes.subarray(0, rand() % bytes.length);
      expect(() => parseText(cut.toString("latin1"))).not.toThrow();
      expect(() => parseText(bytes.toString("utf8"))).not.toThrow();
    }
    const random = Buffer.alloc(200_000);
    for (let i = 0; i < random.length; i++) random[i] = rand() % 256;
    expect(() => parseText(random.toString("utf8"))).not.toThrow();
    const huge = `type=EXECVE msg=audit(1.000:1): argc=1 a0=${"41".repeat(512 * 1024)}`;
    const { events } = parseText(huge);
    expect(events[0]?.argv?.[0]).toHaveLength(512 * 1024);
  });
});
