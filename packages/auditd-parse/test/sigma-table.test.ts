import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Detector } from "../src/detect";
import * as ecs from "../src/ecs";
import type { AuditEvent, OutputRecord } from "../src/event";
import type { EventJson } from "../src/event-json";
import { AuditParser } from "../src/parser";
import { RecordFlag } from "../src/record-table";
import { eventDocs } from "../src/sigma/document";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";
import { tableDocs } from "../src/sigma/table-doc";
import { IDS, knownLogs, literals, random, randomLog, ruleSet, SHAPE_RULES, SHAPES } from "./sigma-logs";

// detect reads the records' fields from the interpreter's RecordTable (src/record-table.ts, TableDoc in
// src/sigma/document.ts) instead of parsing the records' JSON back into objects (RecordDoc). Both must give
// every rule the same answers: each document's value of every field name either knows or a rule names, its
// names and keyword values, and detect's alerts byte for byte, on every log we have and on random events.

const RULES = ruleSet([...SHAPE_RULES, ...SIGMAHQ_RULES]).rules;

/** Every field the rules name, and names that look like fields but are not (argv parts, repeats, prototype members). */
const NAMES = [
  ...new Set([
    ...literalFields(SIGMAHQ_RULES.map((r) => (r.rule as { detection: unknown }).detection)),
    ...literalFields(SHAPES),
    ...["type", "TYPE", "a1_len", "a1[0]", "a12", "a01", "__proto__", "constructor", "toString", "uid#2", "key", "KEY"],
    ...["SYSCALL", "ARCH", "UID", "AUID", "EUID", "GID", "OUID", "syscall", "arch", "saddr", "saddr_fam", "laddr", "lport", "path"],
    ...["proctitle", "msg", "msg.pid", "exe", "comm", "name", "cwd", "res", "acct", "unit", "data", "SADDR", "subj", "mode", "exit"],
  ]),
];

/** The field names in rule detections (keys of selection maps, modifiers cut off). */
function literalFields(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) literalFields(v, out);
  else if (typeof value === "object" && value !== null)
    for (const [k, v] of Object.entries(value)) {
      out.add(k.split("|")[0]!);
      literalFields(v, out);
    }
  return out;
}

const sorted = (xs: readonly string[]) => [...xs].sort();

/** The event with its records as objects, as detect had it before the table (the JSON parsed back). */
function withRecords(event: AuditEvent, json: EventJson): AuditEvent {
  return { ...event, records: JSON.parse(`[${json.recordsText()}]`) as OutputRecord[] };
}

/**
 * Parses text as detect does (records in a table; the event's summary made only for ECS) and compares, per event, the table's documents with the
 * JSON's and the alerts of both ways (NDJSON and ECS). Returns events with an alert and documents compared.
 */
function compare(text: string, where: string, summaries = false): { hits: number; docs: number; fallbacks: number } {
  let hits = 0;
  let docs = 0;
  let fallbacks = 0;
  const run = (format: "ndjson" | "ecs") =>
    new Detector(RULES, { minRank: 0, failRank: undefined, format, ecsAlert: ecs.ecsAlert, style: ((s: string) => s) as never });
  const [viaTable, viaJson, ecsTable, ecsJson] = [run("ndjson"), run("ndjson"), run("ecs"), run("ecs")];
  const parser = new AuditParser(
    (event, json) => {
      const table = json.recordTable();
      const objects = withRecords(event, json);
      // a line that is no record (kept as "unparsed") makes an event without records, and without a table
      if (table === undefined) expect(objects.records, `${where} ${event.id}`).toEqual([]);
      else {
        const want = eventDocs(objects);
        const got = tableDocs(event, json);
        expect(
          got.map((d) => d.type),
          `${where} ${event.id}`,
        ).toEqual(want.map((d) => d.type));
        // a record read from its JSON is parsed only for a name it may have (TableEvent.fallbackOwn), and once
        // parsed answers from the object: so each name is asked first, of a view made for it
        got.forEach((doc, i) => {
          if ((table.flags(doc.r) & RecordFlag.Fallback) === 0) return;
          const names = [...new Set([...want[i]!.names(), ...NAMES])];
          const first = (n: string) => tableDocs(event, json)[i]!.own(n);
          const [mine, theirs] = [first, (n: string) => want[i]!.own(n)].map((own) => JSON.stringify(names.map((n) => [n, own(n)])));
          if (mine !== theirs) expect(mine, `${where} ${event.id} record ${i} (${doc.type}), each name asked first`).toBe(theirs);
          fallbacks++;
        });
        got.forEach((doc, i) => {
          const names = doc.names();
          // compared as text first: an expect per name would make this test slow; the first difference is shown
          const answers = (d: typeof doc | (typeof want)[number]) =>
            JSON.stringify([sorted(d.names()), sorted(d.values()), [...new Set([...names, ...NAMES])].map((n) => [n, d.own(n), d.get(n)])]);
          const [mine, theirs] = [answers(doc), answers(want[i]!)];
          if (mine !== theirs) expect(mine, `${where} ${event.id} record ${i} (${doc.type})`).toBe(theirs);
          docs++;
        });
      }
      const lines = (d: Detector, e: AuditEvent, j: EventJson) => {
        const out: string[] = [];
        d.event(e, j, (l) => out.push(l));
        return out;
      };
      const plain = { toString: () => String(json), recordTable: () => undefined } as unknown as EventJson;
      const alerts = lines(viaTable, event, json);
      expect(alerts, `${where} ${event.id} alerts`).toEqual(lines(viaJson, objects, plain));
      // ECS documents are made of the event's summary, which detect reads (only) for them
      if (summaries) expect(lines(ecsTable, { ...event }, json), `${where} ${event.id} ECS alerts`).toEqual(lines(ecsJson, objects, plain));
      if (alerts.length > 0) hits++;
    },
    { ids: IDS, recordObjects: "table", summaries },
  );
  parser.pushBytes(Buffer.from(text, "latin1"));
  parser.end();
  return { hits, docs, fallbacks };
}

const hex = (s: string | Buffer) => Buffer.from(s).toString("hex").toUpperCase();

/**
 * Records of the shapes the table leaves to the JSON or reads in ways of its own: ENRICHED parts (names,
 * braces), repeated names, "(null)" and "?", bytes beyond ASCII and not UTF-8 (quoted and hex), msg='…'
 * pairs, a lower-case execve, SOCKADDR with and without ENRICHED SADDR, key lists, unknown syscalls.
 */
function shapesLog(next: () => number, events: number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const odd = () =>
    pick([
      '"/tmp/x"',
      "(null)",
      "?",
      '"?"',
      '""',
      hex("/etc/passwd"),
      hex("/tmp/\u212aill"),
      hex(Buffer.from([0x2f, 0xff, 0x41])),
      `"caf\xe9"`,
      "2F746D70",
      "ZZ",
      "12",
    ]);
  const lines: string[] = [];
  for (let e = 0; e < events; e++) {
    const stamp = `msg=audit(1700000001.${String(e).padStart(3, "0")}:${e + 1}):`;
    const enriched = next() < 0.4;
    const tail = enriched
      ? `\x1dARCH=x86_64 SYSCALL=${pick(["execve", "connect", "open"])} AUID="${pick(["bob", "unset", "caf\xe9", ""])}" UID="root"${next() < 0.3 ? ' UID="dup"' : ""}`
      : "";
    const syscall = pick(["59", "42", "2", "999", "execve"]);
    const dupUid = next() < 0.15 ? " uid=5" : "";
    lines.push(
      `type=SYSCALL ${stamp} arch=${pick(["c000003e", "40000028", "zz"])} syscall=${syscall} success=${pick(["yes", "no"])} exit=${pick(["0", "-2", "-13"])} a0=${pick(["1", "7ffd", "(null)"])} a1=2 a2=0 a3=0 items=1 ppid=1 pid=2 auid=${pick(["1000", "4294967295", "x"])} uid=${pick(["0", "33", '"0"'])}${dupUid} gid=0 euid=0 ses=${pick(["1", "4294967295"])} comm=${odd()} exe=${odd()} key=${pick(['"k1"', "(null)", hex("a\x01b"), '"caf\xe9"'])}${tail}`,
    );
    if (next() < 0.6) {
      const argv = Array.from({ length: 1 + Math.floor(next() * 4) }, odd);
      lines.push(
        `type=${pick(["EXECVE", "execve"])} ${stamp} argc=${pick([String(argv.length), '"2"'])} ${argv.map((a, i) => `a${i}=${a}`).join(" ")}${next() < 0.2 ? " a1_len=4 a1[0]=6162" : ""}${next() < 0.2 ? " key=x" : ""}${enriched ? "\x1dUID=root" : ""}`,
      );
    }
    if (next() < 0.5)
      lines.push(
        `type=PATH ${stamp} item=0 name=${odd()} inode=1 mode=0100644 ouid=0 ogid=${pick(["0", "5"])} nametype=${pick(["NORMAL", "CREATE"])}${enriched ? '\x1dOUID="root" OGID="root"' : ""}`,
      );
    if (next() < 0.3) {
      const saddr = pick(["02000050C0A80001", "01002F746D702F73", "0A00", "zz"]);
      lines.push(
        `type=SOCKADDR ${stamp} saddr=${saddr}${next() < 0.5 ? "\x1dSADDR={ saddr_fam=inet laddr=192.168.0.1 lport=80 }" : next() < 0.5 ? "\x1dSADDR=unknown-family(0)" : ""}`,
      );
    }
    if (next() < 0.3)
      lines.push(
        `type=${pick(["USER_CMD", "SERVICE_START", "USER_LOGIN"])} ${stamp} pid=1 uid=0 auid=${pick(["1000", "0"])} ses=1 subj=unconfined msg='${pick([`cwd="/root" cmd=${hex("ls -la")} terminal=pts/0 res=success`, 'unit=sshd comm="systemd" exe="/usr/lib/systemd/systemd" res=failed', 'op=login acct="caf\xe9" exe="/bin/login" res=success', "op=x pid=3 res=success", "free text here"])}'${enriched ? '\x1dUID="root" AUID="bob"' : ""}`,
      );
    if (next() < 0.3)
      lines.push(`type=PROCTITLE ${stamp} proctitle=${pick([hex("sh\0-c\0id"), '"bash"', hex(Buffer.from([0xff, 0, 0x41]))])}`);
    if (next() < 0.1) lines.push(`type=CWD ${stamp} cwd=${odd()}`);
    if (next() < 0.1) lines.push(`type=AVC ${stamp} avc:  denied  { read } for pid=1 comm="x" name="y" scontext=a tcontext=b tclass=file`);
    lines.push(`type=EOE ${stamp}`);
  }
  return `${lines.join("\n")}\n`;
}

describe("detect's documents from the record table answer as the records' JSON does", () => {
  it("on every log the tests and the corpus have", { timeout: 60_000 }, () => {
    const logs = knownLogs();
    expect(logs.length).toBeGreaterThan(100);
    let hits = 0;
    let docs = 0;
    let fallbacks = 0;
    for (const log of logs) {
      const text = readFileSync(log, "latin1");
      const r = compare(text, log);
      hits += r.hits;
      docs += r.docs;
      fallbacks += r.fallbacks;
      expect(compare(text, `${log} (ECS)`, true)).toEqual(r);
    }
    // the case logs trigger every rule: alerts were compared, not only silence
    expect(hits).toBeGreaterThan(53);
    expect(docs).toBeGreaterThan(1000);
    // records the text path read (the corpus's old `user pid=…` lines), each name asked of them first
    expect(fallbacks).toBeGreaterThan(10);
  });

  it.each([1, 2])("on seeded random events made of the rules' values (seed %i)", (seed) => {
    const pool = [
      ...literals(
        SIGMAHQ_RULES.map((r) => (r.rule as { detection: unknown }).detection),
        new Set<string>(),
      ),
    ];
    pool.push(...literals(SHAPES, new Set<string>()));
    const log = randomLog(random(seed), pool, 800);
    expect(compare(log, `seed ${seed}`).hits).toBeGreaterThan(50);
    compare(log, `seed ${seed} (ECS)`, true);
  });

  it.each([1, 2, 3])("on seeded random records of the shapes the table leaves to the JSON (seed %i)", (seed) => {
    const log = shapesLog(random(seed), 600);
    expect(compare(log, `shapes seed ${seed}`).docs).toBeGreaterThan(1200);
    compare(log, `shapes seed ${seed} (ECS)`, true);
  });
});

/**
 * Parses text as detect does (each byte-path record's JSON counted, not written; an event's line made by
 * interpreting it again from its table when read) and as the plain parse does, and returns both runs' lines,
 * records, event counts and events split for size: detect's events and lines must be the parse's.
 */
function bothWays(text: Buffer): { detect: string[]; parse: string[]; counts: [object, object] } {
  const detect: string[] = [];
  const parse: string[] = [];
  const counted = new AuditParser((_, json) => detect.push(String(json)), { ids: IDS, recordObjects: "table", summaries: false });
  const plain = new AuditParser((_, json) => parse.push(String(json)), { ids: IDS, recordObjects: false, summaries: false });
  for (const p of [counted, plain]) {
    p.pushBytes(text);
    p.end();
  }
  return { detect, parse, counts: [counted.stats, plain.stats] };
}

function expectSameLines(text: Buffer, where: string): number {
  const { detect, parse, counts } = bothWays(text);
  expect(detect.length, where).toBe(parse.length);
  // compared as one text first: an expect per line would make this slow; the first difference is shown
  if (detect.join("\n") !== parse.join("\n"))
    detect.forEach((line, i) => {
      expect(line, `${where} event ${i}`).toBe(parse[i]);
    });
  expect(counts[0], where).toEqual(counts[1]);
  return detect.length;
}

describe("detect counts most records' JSON instead of writing it, and writes an event's line only when read", () => {
  it("gives the parse's line for every event of every log the tests and the corpus have", { timeout: 60_000 }, () => {
    let events = 0;
    for (const log of knownLogs()) events += expectSameLines(readFileSync(log), log);
    expect(events).toBeGreaterThan(300);
  });

  it.each([1, 2])("gives the parse's lines for seeded random events (seed %i)", (seed) => {
    const pool = [
      ...literals(
        SIGMAHQ_RULES.map((r) => (r.rule as { detection: unknown }).detection),
        new Set<string>(),
      ),
    ];
    expect(expectSameLines(Buffer.from(randomLog(random(seed), pool, 800), "latin1"), `seed ${seed}`)).toBeGreaterThan(700);
    expect(expectSameLines(Buffer.from(shapesLog(random(seed), 600), "latin1"), `shapes seed ${seed}`)).toBeGreaterThan(500);
  });

  it("cuts an over-large event into the parse's parts (its size is counted exactly)", () => {
    // 1 MiB per event and 1024 records: the assembler reads the event's JSON size, written or counted. Control
    // bytes (6 JSON bytes each), names, escaped quotes and bytes beyond ASCII make the JSON larger than the log.
    const lines: string[] = [];
    const stamp = "msg=audit(1700000002.000:7):";
    for (let i = 0; i < 1400; i++) {
      const quoted = `"${"\x01\x02\\q".repeat(40)}${i}"`;
      lines.push(
        `type=SYSCALL ${stamp} arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=${i} auid=1000 uid=0 gid=0 euid=0 ses=1 comm=${quoted} exe=${Buffer.from(`/bin/${"x".repeat(200)}`).toString("hex")} key="caf\xe9${i}"`,
      );
    }
    const text = Buffer.from(`${lines.join("\n")}\n`, "latin1");
    const { counts } = bothWays(text);
    // the log cuts on size before it reaches the record bound: each part holds far fewer than 1024 records
    expect((counts[1] as { split: number }).split).toBeGreaterThan(1);
    expectSameLines(text, "one over-large event");
  });
});
