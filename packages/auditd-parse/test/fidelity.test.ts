import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type AuditEvent, AuditParser } from "../src/index";

/** Issue 16: what the output must keep exactly — repeated keys, the log's own names, invalid UTF-8, order. */

const hex = (s: string | Buffer) => Buffer.from(s).toString("hex").toUpperCase();

/** NDJSON lines (parsed) and the events, from the byte path and, with a free word added, the text tokenizer. */
function parse(log: string, options: ConstructorParameters<typeof AuditParser>[1] = {}) {
  const lines: Record<string, unknown>[] = [];
  const events: AuditEvent[] = [];
  const parser = new AuditParser((e, json) => {
    lines.push(JSON.parse(String(json)));
    events.push(e);
  }, options);
  parser.pushBytes(Buffer.from(`${log}\n`, "latin1"));
  parser.end();
  return { lines, events };
}

let passwd: string;
let group: string;
{
  const dir = mkdtempSync(join(tmpdir(), "auditd-parse-fidelity-"));
  passwd = join(dir, "passwd");
  group = join(dir, "group");
  writeFileSync(passwd, "localroot:x:0:0::/:/bin/sh\nlocalbob:x:1000:1000::/:/bin/sh\n");
  writeFileSync(group, "localwheel:x:0:\n");
}
const ids = { passwd, group };

describe("repeated keys", () => {
  const body = 'arch=c000003e syscall=59 success=yes exit=0 pid=1 pid=2 uid=0 uid=1000 syscall=2 key="a" key="b" exit=-13 success=no';
  for (const [path, line] of [
    ["byte path", `type=SYSCALL msg=audit(1.000:1): ${body}`],
    ["text tokenizer", `type=SYSCALL msg=audit(1.000:1): (word) ${body}`],
  ]) {
    it(`${path}: every value kept under its own key, the first under the name, as the summary reads it`, () => {
      const { lines, events } = parse(line!, { ids });
      const e = lines[0] as { records: { fields: Record<string, unknown>; raw: Record<string, unknown> }[] } & Record<string, unknown>;
      const fields = e.records[0]!.fields;
      expect(fields).toMatchObject({
        pid: "1",
        "pid#2": "2",
        uid: "localroot",
        "uid#2": "localbob",
        syscall: "execve",
        "syscall#2": "open",
      });
      expect(fields).toMatchObject({ key: "a", "key#2": "b", exit: "0", "exit#2": "EACCES", success: "yes", "success#2": "no" });
      expect(e.records[0]!.raw).toMatchObject({ uid: "0", "uid#2": "1000", "exit#2": "-13" });
      // the summary and the record agree: the first value
      expect(e).toMatchObject({ pid: "1", uid: "localroot", syscall: "execve", exit: "0", success: true, keys: ["a"] });
      expect(events[0]).toMatchObject({ pid: "1", uid: "localroot", syscall: "execve", success: true });
      // no key appears twice in the JSON text (parsers disagree on which one they keep)
      const text = JSON.stringify(lines[0]);
      expect(text.match(/"pid":/g)).toHaveLength(2);
    });
  }

  it("a repeated ENRICHED name is kept too", () => {
    const { lines } = parse('type=SYSCALL msg=audit(1.000:1): uid=0\x1dUID="root" UID="x"');
    expect((lines[0] as { records: { enriched: unknown }[] }).records[0]!.enriched).toEqual({ UID: "root", "UID#2": "x" });
  });
});

describe("ENRICHED names", () => {
  const enriched =
    'type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=5 auid=1000 uid=0 gid=0 euid=0 ogid=0 ses=3 comm="ls" exe="/bin/ls"\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" GID="wheel" EUID="root"';
  const raw = 'type=SYSCALL msg=audit(1700000000.000:2): arch=c000003e syscall=59 success=yes exit=0 auid=1000 uid=0 gid=0 ses=3 comm="ls"';
  for (const [path, line] of [
    ["byte path", enriched],
    ["text tokenizer", enriched.replace("arch=", "word arch=")],
  ]) {
    it(`${path}: names come from the log itself, never this host's passwd; the output says which`, () => {
      const { lines, events } = parse(`${line}\n${raw}`, { ids });
      const [fromLog, fromLocal] = lines as { records: { fields: Record<string, unknown>; raw: Record<string, unknown> }[] }[];
      expect(fromLog).toMatchObject({ auid: "alice", uid: "root", names: "log" });
      expect(fromLog!.records[0]!.fields).toMatchObject({ auid: "alice", uid: "root", gid: "wheel", euid: "root" });
      // a uid/gid the log does not name stays a number: this host's names may be another user's
      expect(fromLog!.records[0]!.fields.ogid).toBe("0");
      expect(fromLog!.records[0]!.raw).toMatchObject({ auid: "1000", uid: "0", gid: "0" });
      expect(events[0]).toMatchObject({ auid: "alice", uid: "root", names: "log" });
      // a raw record: the local files
      expect(fromLocal).toMatchObject({ auid: "localbob", uid: "localroot", names: "local" });
    });
  }
});

describe("invalid UTF-8", () => {
  const bad = Buffer.from([0x66, 0xff, 0x6f, 0xc3]);
  const log = [
    `type=EXECVE msg=audit(1.000:1): argc=4 a0="ls" a1=${hex(bad)} a2=${hex("caf\u00e9 \ufffd")} a3_len=8 a3[0]=66FF a3[1]=${hex("ok")}`,
    `type=PROCTITLE msg=audit(1.000:1): proctitle=${hex(Buffer.concat([Buffer.from("ls\0"), bad]))}`,
    "type=EOE msg=audit(1.000:1):",
  ].join("\n");
  for (const [path, text, summaries] of [
    ["byte path", log, false],
    ["byte path, summaries kept", log, true],
    ["text tokenizer", log.replace(/argc=4/, "word argc=4").replace("proctitle=", "word proctitle="), true],
  ] as const) {
    it(`${path}: argv and proctitle keep the exact bytes as hex beside the readable text`, () => {
      const { lines } = parse(text, { summaries });
      const e = lines[0] as { argv: string[]; argvRaw: Record<string, string>; proctitle: string[]; proctitleRaw: string };
      expect(e.argv).toEqual(["ls", "f\ufffdo\ufffd", "caf\u00e9 \ufffd", "f\ufffdok"]);
      // valid text (even one holding a real U+FFFD) has no raw; the rest decode back to the logged bytes
      expect(e.argvRaw).toEqual({ "1": hex(bad), "3": "66FF6F6B" });
      expect(Buffer.from(e.argvRaw["1"]!, "hex")).toEqual(bad);
      expect(e.proctitle).toEqual(["ls", "f\ufffdo\ufffd"]);
      expect(Buffer.from(e.proctitleRaw, "hex")).toEqual(Buffer.concat([Buffer.from("ls\0"), bad]));
    });
  }

  it("valid values carry no raw hex", () => {
    const { lines } = parse(
      `type=EXECVE msg=audit(1.000:1): argc=1 a0=${hex("caf\u00e9")}\ntype=PROCTITLE msg=audit(1.000:1): proctitle=6C73`,
    );
    expect(lines[0]).not.toHaveProperty("argvRaw");
    expect(lines[0]).not.toHaveProperty("proctitleRaw");
  });
});

describe("output order", () => {
  it("an event without EOE is written at its place in log time, not after the events that followed it", () => {
    const log = [
      'type=AVC msg=audit(1700000000.000:1): avc:  denied  { read } for pid=1 comm="a"',
      "type=SYSCALL msg=audit(1700000001.000:2): arch=c000003e syscall=59 success=yes exit=0",
      "type=EOE msg=audit(1700000001.000:2):",
      "type=USER_LOGIN msg=audit(1700000001.000:3): pid=1 res=success",
      "type=SYSCALL msg=audit(1700000001.000:4): arch=c000003e syscall=2 success=yes exit=3",
      "type=EOE msg=audit(1700000001.000:4):",
      "type=USER_LOGIN msg=audit(1700000009.000:5): pid=1 res=success",
    ].join("\n");
    const { events } = parse(log);
    // serial 1 has no EOE: it completes only when log time passes the window, after 2, 3 and 4 did
    expect(events.map((e) => e.serial)).toEqual([1, 2, 3, 4, 5]);
  });

  it("events of the same log time keep their completion order", () => {
    const log = [
      "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=0 success=yes exit=0",
      "type=SYSCALL msg=audit(1700000000.500:3): arch=c000003e syscall=0 success=yes exit=0",
      "type=EOE msg=audit(1700000000.500:3):",
      "type=SYSCALL msg=audit(1700000000.500:2): arch=c000003e syscall=0 success=yes exit=0",
      "type=EOE msg=audit(1700000000.500:2):",
      "type=EOE msg=audit(1700000000.000:1):",
    ].join("\n");
    expect(parse(log).events.map((e) => e.serial)).toEqual([1, 3, 2]);
  });

  it("holds at most a bounded number of events behind one that never ends", () => {
    const lines = ["type=AVC msg=audit(1700000000.000:1): avc:  denied  { read } for pid=1"];
    for (let i = 2; i < 2000; i++)
      lines.push(`type=USER_LOGIN msg=audit(1700000000.${String(i % 1000).padStart(3, "0")}:${i}): pid=1 res=success`);
    const order: number[] = [];
    const parser = new AuditParser((e) => order.push(e.serial!), { windowMs: 600_000 });
    parser.pushBytes(Buffer.from(`${lines.join("\n")}\n`));
    // before the end of input, the never-ending event was written and the rest followed it
    expect(order[0]).toBe(1);
    expect(order.length).toBeGreaterThan(1500);
    parser.end();
    expect(order).toHaveLength(1999);
  });
});

describe("interpretations ausearch gives", () => {
  const sys = (nr: number, a: string[]) =>
    `type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=${nr} success=yes exit=0 a0=${a[0]} a1=${a[1]} a2=${a[2]} a3=${a[3]} items=0 pid=1`;
  const args = (line: string) => {
    const { events } = parse(line);
    const f = events[0]!.records[0]!.fields;
    return [f.a0, f.a1, f.a2, f.a3];
  };
  for (const [path, tweak] of [
    ["byte path", (l: string) => l],
    ["text tokenizer", (l: string) => l.replace("arch=", "word arch=")],
  ] as const) {
    it(`${path}: SYSCALL a0–a3 of the syscalls people audit, named as ausearch -i names them`, () => {
      expect(args(tweak(sys(257, ["ffffff9c", "41a15c", "80241", "1b6"])))).toEqual([
        "AT_FDCWD",
        "41a15c",
        "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC",
        "1b6",
      ]);
      expect(args(tweak(sys(2, ["41a15c", "80800", "1a4", "0"])))).toEqual(["41a15c", "O_RDONLY|O_NONBLOCK|O_CLOEXEC", "1a4", "0"]);
      expect(args(tweak(sys(41, ["2", "1", "6", "0"])))).toEqual(["inet", "SOCK_STREAM", "tcp", "0"]);
      expect(args(tweak(sys(56, ["1200011", "0", "0", "7f00"])))).toEqual([
        "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD",
        "0",
        "0",
        "7f00",
      ]);
      expect(args(tweak(sys(62, ["1fde", "9", "0", "0"])))).toEqual(["1fde", "SIGKILL", "0", "0"]);
      expect(args(tweak(sys(101, ["4206", "29b07b", "0", "51"])))).toEqual(["PTRACE_SEIZE", "29b07b", "0", "51"]);
      expect(args(tweak(sys(9, ["0", "1000", "5", "22"])))).toEqual(["0", "1000", "PROT_READ|PROT_EXEC", "MAP_PRIVATE|MAP_ANONYMOUS"]);
      expect(args(tweak(sys(90, ["41a15c", "81ed", "0", "0"])))).toEqual(["41a15c", "0755", "0", "0"]);
      // a syscall without readers, and a value no name fits, stay as logged
      expect(args(tweak(sys(0, ["3", "7ffd", "10", "0"])))).toEqual(["3", "7ffd", "10", "0"]);
      expect(args(tweak(sys(2, ["41a15c", "ffffffff", "0", "0"])))[1]).toBe("ffffffff");
      // the logged value stays in raw
      expect(parse(tweak(sys(62, ["1fde", "9", "0", "0"]))).events[0]!.records[0]!.raw).toMatchObject({ a1: "9" });
    });
  }

  it("record-specific numbers: res=1, NETFILTER_CFG family, CONFIG_CHANGE list, promiscuous mode, seccomp action, AVC capability, hex AppArmor profile", () => {
    const log = [
      'type=CONFIG_CHANGE msg=audit(1.000:1): auid=0 ses=1 op="add_rule" key=(null) list=4 res=1',
      "type=NETFILTER_CFG msg=audit(1.000:2): table=filter family=2 entries=0",
      "type=ANOM_PROMISCUOUS msg=audit(1.000:3): dev=eth0 prom=256 old_prom=0 auid=0 uid=0 gid=0 ses=1",
      'type=SECCOMP msg=audit(1.000:4): auid=0 uid=0 ses=1 pid=5 comm="x" sig=31 arch=c000003e syscall=1 compat=0 ip=0x7f code=0x0',
      `type=AVC msg=audit(1.000:5): apparmor="DENIED" operation="capable" profile=${hex("/usr/bin/my app")} pid=1 comm="x" capability=12 capname="net_admin"`,
      "type=LOGIN msg=audit(1.000:6): pid=1 uid=0 old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=1 res=0",
    ].join("\n");
    const { events } = parse(log);
    const fields = events.map((e) => e.records[0]!.fields);
    expect(fields[0]).toMatchObject({ list: "exit", res: "success" });
    expect(events[0]!.success).toBe(true);
    expect(fields[1]).toMatchObject({ family: "ipv4" });
    expect(fields[2]).toMatchObject({ prom: "yes", old_prom: "no" });
    expect(fields[3]).toMatchObject({ code: "kill", sig: "SIGSYS" });
    expect(fields[4]).toMatchObject({ capability: "net_admin", profile: "/usr/bin/my app" });
    expect(fields[5]).toMatchObject({ res: "failed" });
    expect(events[5]!.success).toBe(false);
    expect(events[0]!.records[0]!.raw).toMatchObject({ list: "4", res: "1" });
  });
});

describe("syscall tables", () => {
  it("name ppc64, ppc64le and s390x syscalls from their own kernel tables", () => {
    const log = [
      "type=SYSCALL msg=audit(1.000:1): arch=80000015 syscall=327 success=yes exit=0",
      "type=SYSCALL msg=audit(1.000:2): arch=c0000015 syscall=11 success=yes exit=0",
      "type=SYSCALL msg=audit(1.000:3): arch=80000016 syscall=361 success=yes exit=0",
      "type=SYSCALL msg=audit(1.000:4): arch=80000016 syscall=11 success=yes exit=0",
    ].join("\n");
    expect(parse(log).events.map((e) => [e.arch, e.syscall])).toEqual([
      ["ppc64", "bind"],
      ["ppc64le", "execve"],
      ["s390x", "bind"],
      ["s390x", "execve"],
    ]);
  });
});

describe("unparsed lines", () => {
  it("keep bytes that are not UTF-8 exactly, as hex", () => {
    const bytes = Buffer.from([0x67, 0xff, 0x00, 0xc3]);
    const lines: Record<string, unknown>[] = [];
    const parser = new AuditParser((_e, json) => lines.push(JSON.parse(String(json))));
    parser.pushBytes(Buffer.concat([bytes, Buffer.from("\nplain words\n")]));
    parser.end();
    expect(Buffer.from((lines[0]!.unparsedRaw as string[])[0]!, "hex")).toEqual(bytes);
    expect(lines[1]).toMatchObject({ unparsed: ["plain words"] });
    expect(lines[1]).not.toHaveProperty("unparsedRaw");
  });
});
