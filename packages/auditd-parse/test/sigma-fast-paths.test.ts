import { describe, expect, it } from "vitest";
import type { AuditEvent, OutputRecord } from "../src/event";
import type { EventJson } from "../src/event-json";
import { AuditParser } from "../src/parser";
import { eventDocs } from "../src/sigma/document";
import { matchedTypes, SigmaEngine } from "../src/sigma/engine";
import { LONG_LINE } from "../src/sigma/pattern";
import type { SigmaRule } from "../src/sigma/rules";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";
import { IDS, literals, random, ruleSet } from "./sigma-logs";

// The gate's shortcuts on detect's table path must never drop a match (each test compares with every rule
// tested on every record of its types):
// - on an EXECVE record the keywords are searched once in the command line (the arguments joined) and, when
//   that holds none, only the values that are not arguments are matched (Gate.keywords): argument-heavy
//   events (5-60 arguments, several EXECVE records, aN[i] pieces) of the rules' keywords in both cases, cut,
//   padded, spanning two arguments, hex-encoded, beyond ASCII and not UTF-8;
// - values that seldom repeat (file names, executables) turn a field's memo off and are then compared on
//   their bytes, folded in place (FieldIndex.matchedBytes): thousands of distinct names made of the rules'
//   values, in both cases, cut and padded.

/**
 * Rules whose keywords the fast search serves besides SigmaHQ's: ASCII, any record type, one with a space
 * (only the command line can hold it), regular-expression characters, a wildcard inside, argc's value, `all`.
 */
const EXTRA = [
  { id: "kw-any", detection: { kw: ["kill", "a.b|c", "--to-ports 42", "pass*word"], condition: "kw" } },
  // a number only argc holds (no argument is one): the values that are not arguments are matched too
  { id: "kw-argc", detection: { kw: ["17"], condition: "kw" } },
  { id: "kw-all", detection: { kw: { "|all": ["rsync", "delete"] }, condition: "kw" } },
  // keywords that overlap in one argument (`--abc--`: the second starts inside the first) or hold one another
  // (`winner` holds `inn`): the gate's one scan finds each place where one starts, the longest there
  { id: "kw-left", detection: { kw: ["--ab"], condition: "kw" } },
  { id: "kw-right", detection: { kw: ["bc--"], condition: "kw" } },
  { id: "kw-inner", detection: { kw: ["inn"], condition: "kw" } },
  { id: "kw-outer", detection: { kw: ["winner"], condition: "kw" } },
  // beyond ASCII: Σ lower-cases to ς at an argument's end, alone or in the command line (a space follows)
  { id: "kw-sigma", detection: { kw: ["aς"], condition: "kw" } },
  // a keyword searched with a wildcard inside, at an argument's start and end
  { id: "kw-wild", detection: { kw: ["ax?le"], condition: "kw" } },
];

const RULE_SETS = {
  sigmahq: ruleSet(SIGMAHQ_RULES).rules,
  extra: ruleSet([
    ...SIGMAHQ_RULES,
    ...EXTRA.map(({ id, detection }) => ({
      rule: { title: id, id, logsource: { product: "linux", service: "auditd" }, detection },
      path: `${id}.yml`,
    })),
  ]).rules,
};

/**
 * Every rule on every record of its types (records as objects), in rule order: what the engine must give.
 * Keywords search every value here, each argument too (searchValues() is values()): the engine's documents
 * leave the arguments to the command line that holds them (Doc.searchValues).
 */
function straightforward(rules: readonly SigmaRule[], event: AuditEvent): string {
  const found = new Map<SigmaRule, { type: string; doc: ReturnType<typeof eventDocs>[number] }[]>();
  for (const made of eventDocs(event)) {
    const doc = Object.assign(Object.create(made) as typeof made, { searchValues: () => made.values() });
    const type = doc.type.toUpperCase();
    for (const rule of rules) {
      if (rule.types !== undefined && !rule.types.has(type)) continue;
      if (rule.test(doc)) found.set(rule, [...(found.get(rule) ?? []), { type, doc }]);
    }
  }
  return JSON.stringify(rules.filter((r) => found.has(r)).map((r) => [r.id, matchedTypes(r, found.get(r)!)]));
}

/** The ids of the rules each event of the log matched, through the engine as detect runs it. */
function alertIds(rules: readonly SigmaRule[], log: Buffer): string[][] {
  const engine = new SigmaEngine(rules);
  const alerts: string[][] = [];
  const parser = new AuditParser((event, json) => alerts.push(engine.matchTable(event, json).map((m) => m.rule.id)), {
    ids: IDS,
    recordObjects: "table",
    summaries: false,
  });
  parser.pushBytes(log);
  parser.end();
  return alerts;
}

/**
 * Compares the table path, and the engine on the records as objects, with the straightforward one on every
 * event; returns how many events alerted.
 */
function compare(rules: readonly SigmaRule[], text: Buffer, where: string): number {
  const engine = new SigmaEngine(rules);
  let hits = 0;
  const parser = new AuditParser(
    (event, json: EventJson) => {
      if (json.recordTable() === undefined) return;
      const got = JSON.stringify(engine.matchTable(event, json).map((m) => [m.rule.id, m.records]));
      const objects = { ...event, records: JSON.parse(`[${json.recordsText()}]`) as OutputRecord[] };
      const want = straightforward(rules, objects);
      if (got !== want) expect(got, `${where} event ${event.id}`).toBe(want);
      // and the engine on the records as objects (the plugin's path, and a filter that reads records)
      const viaObjects = JSON.stringify(engine.match(objects).map((m) => [m.rule.id, m.records]));
      if (viaObjects !== want) expect(viaObjects, `${where} event ${event.id}, records as objects`).toBe(want);
      if (want !== "[]") hits++;
    },
    { ids: IDS, recordObjects: "table", summaries: false },
  );
  parser.pushBytes(text);
  parser.end();
  return hits;
}

const KEYWORDS = [
  ...literals(
    SIGMAHQ_RULES.map((r) => (r.rule as { detection: unknown }).detection),
    new Set<string>(),
  ),
  "kill",
  "a.b|c",
  "--to-ports 42",
  "rsync",
  "delete",
];
/** Pieces beyond ASCII: letters that lower-case to ASCII (the Kelvin sign, İ), both sigmas, a byte that is not UTF-8. */
const ODD = ["\u212a", "İ", "Σ", "ς", "σ", "é", "日本", "\xff", "\xc3", "\x80"];

/**
 * How argumentLog's arguments are made: the longest of its long random arguments, the share of arguments
 * that are long, the share given a piece beyond ASCII.
 */
const SHORT_LINES = { longest: 800, longShare: 0.05, oddShare: 0.35 };
/**
 * Command lines of 4-60 KB, most of them all ASCII, keywords in both cases: the shape of the tester's
 * `longargv` log (execs of hundreds of arguments), whose command line the gate searches once for all values.
 */
const LONG_LINES = { longest: 3000, longShare: 0.3, oddShare: 0.01 };
/** Command lines as long, a third of the arguments with a piece beyond ASCII (lower-cased before they are searched). */
const LONG_ODD_LINES = { longest: 3000, longShare: 0.45, oddShare: 0.35 };

/** Random argument-heavy events: EXECVE records with 5-60 arguments of keywords and noise, with the records around them. */
function argumentLog(next: () => number, events: number, shape = SHORT_LINES): Buffer {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const noise = () =>
    pick([
      "--exclude=/srv/data/dir",
      "/tmp/x",
      "-t",
      "if",
      "=",
      "pass",
      "word",
      "tou",
      "ch",
      "",
      "ls",
      "/etc/shadow",
      "--abc--",
      "WINNER",
      "aΣ",
      "TAXYLE",
    ]);
  // printable text of 200-800 characters, as a long random argument (it often holds `init` or `halt`)
  const long = () =>
    Array.from({ length: 200 + Math.floor(next() * (shape.longest - 200)) }, () =>
      String.fromCharCode(0x20 + Math.floor(next() * 95)),
    ).join("");
  const arg = (): string => {
    const r = next();
    let v = r < 0.5 ? `${noise()}${noise()}` : r < 0.5 + shape.longShare ? `${pick(KEYWORDS)}${long()}${pick(KEYWORDS)}` : pick(KEYWORDS);
    const c = next();
    if (c < 0.15) v = v.toUpperCase();
    else if (c < 0.25) v = v.slice(1);
    else if (c < 0.35) v = v.slice(0, -1);
    else if (c < 0.35 + (shape.oddShare * 15) / 35) v = `${pick(ODD)}${v}`;
    else if (c < 0.35 + (shape.oddShare * 25) / 35) v = `${v}${pick(ODD)}`;
    else if (c < 0.35 + shape.oddShare) v = `${v.slice(0, 2)}${pick(ODD)}${v.slice(2)}`;
    return v;
  };
  // bytes as latin1 (ODD's \xff is one byte), UTF-8 for the rest: hex as auditd writes a value with spaces,
  // quotes or bytes outside printable ASCII
  const bytes = (v: string) =>
    Buffer.concat(
      [...v].map((ch) =>
        ch.charCodeAt(0) >= 0x80 && ch.charCodeAt(0) <= 0xff && ch !== "é" ? Buffer.from([ch.charCodeAt(0)]) : Buffer.from(ch),
      ),
    );
  const value = (v: string) =>
    /^[\x21-\x7e]*$/.test(v) && !/["']/.test(v) && v !== "" ? `"${v}"` : bytes(v).toString("hex").toUpperCase();
  const lines: Buffer[] = [];
  for (let e = 0; e < events; e++) {
    const stamp = `msg=audit(1700000000.${String(e).padStart(3, "0")}:${e + 1}):`;
    const argv = Array.from({ length: 5 + Math.floor(next() * 56) }, arg);
    lines.push(
      Buffer.from(
        `type=SYSCALL ${stamp} arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=0 a3=0 items=2 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=${pick(["0", "33"])} ses=1 comm="rsync" exe="/usr/bin/rsync" key="exec"`,
      ),
    );
    // one EXECVE record, or the arguments spread over several (auditd splits a long argv), or a1 in aN[i] pieces
    const split = next();
    if (split < 0.6)
      lines.push(Buffer.from(`type=EXECVE ${stamp} argc=${argv.length} ${argv.map((a, i) => `a${i}=${value(a)}`).join(" ")}`));
    else if (split < 0.85) {
      const cut = 1 + Math.floor(next() * (argv.length - 1));
      lines.push(
        Buffer.from(
          `type=EXECVE ${stamp} argc=${argv.length} ${argv
            .slice(0, cut)
            .map((a, i) => `a${i}=${value(a)}`)
            .join(" ")}`,
        ),
      );
      lines.push(
        Buffer.from(
          `type=EXECVE ${stamp} ${argv
            .slice(cut)
            .map((a, i) => `a${i + cut}=${value(a)}`)
            .join(" ")}`,
        ),
      );
    } else if (split < 0.92 && /^[\x21-\x7e]{2,}$/.test(argv[1]!) && !/["']/.test(argv[1]!)) {
      // quoted pieces, as the kernel writes a printable one: a keyword may be cut between two
      const half = 1 + Math.floor(next() * (argv[1]!.length - 1));
      lines.push(
        Buffer.from(
          `type=EXECVE ${stamp} argc=${argv.length} a0=${value(argv[0]!)} a1_len=${argv[1]!.length} a1[0]="${argv[1]!.slice(0, half)}" a1[1]="${argv[1]!.slice(half)}" ${argv
            .slice(2)
            .map((a, i) => `a${i + 2}=${value(a)}`)
            .join(" ")}`,
        ),
      );
    } else {
      const long = bytes(argv[1]!).toString("hex").toUpperCase();
      const half = Math.floor(long.length / 4) * 2;
      lines.push(
        Buffer.from(
          `type=EXECVE ${stamp} argc=${argv.length} a0=${value(argv[0]!)} a1_len=${long.length / 2} a1[0]=${long.slice(0, half)} a1[1]=${long.slice(half)} ${argv
            .slice(2)
            .map((a, i) => `a${i + 2}=${value(a)}`)
            .join(" ")}`,
        ),
      );
    }
    lines.push(Buffer.from(`type=CWD ${stamp} cwd=${value(arg())}`));
    lines.push(Buffer.from(`type=PATH ${stamp} item=0 name=${value(arg())} inode=1 nametype=NORMAL`));
    lines.push(Buffer.from(`type=PROCTITLE ${stamp} proctitle=${bytes(argv.slice(0, 4).join("\0")).toString("hex").toUpperCase()}`));
    lines.push(Buffer.from(`type=EOE ${stamp}`));
  }
  return Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")]));
}

describe("keywords searched once in an EXECVE record's command line give every rule's answer", () => {
  it.each([1, 2, 3])("on seeded random argument-heavy events (seed %i)", (seed) => {
    const log = argumentLog(random(seed), 400);
    // most events alert on something (the keywords are the rules'), and many do not: both were compared
    for (const [name, rules] of Object.entries(RULE_SETS)) {
      const hits = compare(rules, log, `${name} seed ${seed}`);
      expect(hits).toBeGreaterThan(100);
      expect(hits).toBeLessThan(400);
    }
  });

  it.each([1, 2])("on seeded random events whose command lines are 4-60 KB, most all ASCII (seed %i)", (seed) => {
    const next = random(seed);
    const log = argumentLog(next, 60, LONG_LINES);
    for (const [name, rules] of Object.entries(RULE_SETS)) {
      const hits = compare(rules, log, `${name} long seed ${seed}`);
      expect(hits).toBeGreaterThan(10);
    }
  });

  it.each([1, 2])("on seeded random command lines of 4-80 KB whose arguments are often beyond ASCII (seed %i)", (seed) => {
    const log = argumentLog(random(seed), 60, LONG_ODD_LINES);
    for (const [name, rules] of Object.entries(RULE_SETS)) {
      const hits = compare(rules, log, `${name} long odd seed ${seed}`);
      expect(hits).toBeGreaterThan(10);
    }
  });

  it("finds the same keywords in a command line of 16 K characters or more, searched in its arguments, as in a short one", () => {
    // each exec once as it is and once with an argument that makes its command line LONG_LINE characters or
    // more (pattern.ts commandLine: no joined, lower-cased copy is searched)
    const execs = [
      ["iptables", "--to-ports", "42"],
      ["cat", "/HOME/A/.BASH_HISTORY"],
      ["cat", "/tmp/\u212aill"],
      ["x", "--abc--"],
      ["x", "WINNER"],
      ["GREP", "-r", "PassWord", "/etc"],
      ["x", "a\u03a3"],
      ["x", "/sbin/\u0130nit"],
      ["x", "X\u0130NIT"],
      ["dd", "IF=/dev/zero", "bs=1"],
      ["dd", "if=/dev/zero", "OF=/x"],
      ["touch", "-t", "202001010000", "/x"],
      ["ls", "-l"],
    ];
    const value = (a: string) => (/^[\x21-\x7e]+$/.test(a) && !/["']/.test(a) ? `"${a}"` : Buffer.from(a).toString("hex").toUpperCase());
    const lines: string[] = [];
    let serial = 0;
    for (const argv of execs) {
      for (const args of [argv, [...argv, "y".repeat(LONG_LINE)]]) {
        const stamp = `msg=audit(1700000000.${String(++serial).padStart(3, "0")}:${serial}):`;
        lines.push(`type=EXECVE ${stamp} argc=${args.length} ${args.map((a, i) => `a${i}=${value(a)}`).join(" ")}`, `type=EOE ${stamp}`);
      }
    }
    const log = Buffer.from(`${lines.join("\n")}\n`);
    // keywords all ASCII without a space (SigmaHQ's, and the overlapping ones): the gate searches the arguments
    // for them (LineSearch); with `aς` or `--to-ports 42` it searches the command line lower-cased, and the full
    // tests search the arguments for those they can
    const counts = {
      sigmahq: [0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 0],
      extra: [1, 1, 1, 2, 2, 2, 1, 0, 0, 2, 1, 1, 0],
      ascii: [0, 1, 1, 2, 2, 2, 0, 0, 0, 2, 1, 1, 0],
    };
    const ascii = ruleSet([
      ...SIGMAHQ_RULES,
      ...[
        ...EXTRA.filter(({ id }) => id !== "kw-any" && id !== "kw-sigma"),
        { id: "kw-ascii", detection: { kw: ["kill", "pass*word"], condition: "kw" } },
      ].map(({ id, detection }) => ({
        rule: { title: id, id, logsource: { product: "linux", service: "auditd" }, detection },
        path: `${id}.yml`,
      })),
    ]).rules;
    for (const [name, rules] of Object.entries({ ...RULE_SETS, ascii })) {
      const alerts = alertIds(rules, log);
      const short = alerts.filter((_, i) => i % 2 === 0);
      expect(
        alerts.filter((_, i) => i % 2 === 1),
        name,
      ).toEqual(short);
      // what each alerts on, long or not (İ lower-cases to "i" and a dot: no `init` in "/sbin/İnit"; `ls` on nothing)
      expect(
        short.map((ids) => ids.length),
        name,
      ).toEqual(counts[name as keyof typeof counts]);
    }
  });

  it("finds a keyword that only the command line holds (spanning two arguments, cut between pieces) and one in an argument's upper case", () => {
    const stamp = "msg=audit(1700000000.000:1):";
    const log = Buffer.from(
      [
        `type=EXECVE ${stamp} argc=4 a0="iptables" a1="--to-ports" a2="42" a3="x"`,
        `type=EOE ${stamp}`,
        `type=EXECVE msg=audit(1700000000.001:2): argc=2 a0="cat" a1="/HOME/A/.BASH_HISTORY"`,
        "type=EOE msg=audit(1700000000.001:2):",
        `type=EXECVE msg=audit(1700000000.002:3): argc=2 a0="cat" a1=${Buffer.from("/tmp/\u212aill").toString("hex").toUpperCase()}`,
        "type=EOE msg=audit(1700000000.002:3):",
        // what no kernel writes, but a log may hold: quoted bytes beyond ASCII (the Kelvin sign lower-cases to
        // "k"), a keyword cut between two quoted pieces of one argument (without its aN_len)
        'type=EXECVE msg=audit(1700000000.003:4): argc=2 a0="cat" a1="/tmp/\u212aill"',
        "type=EOE msg=audit(1700000000.003:4):",
        'type=EXECVE msg=audit(1700000000.004:5): argc=2 a0="cat" a1[0]="/tmp/ki" a1[1]="ll"',
        "type=EOE msg=audit(1700000000.004:5):",
        "",
      ].join("\n"),
    );
    const alerts = alertIds(RULE_SETS.extra, log);
    const history = RULE_SETS.extra.find((r) => r.title.includes("History"))!.id;
    expect(alerts).toEqual([["kw-any"], [history], ["kw-any"], ["kw-any"], ["kw-any"]]);
  });
});

describe("keywords searched in a command line made of quoted aN[i] pieces give every rule's answer", () => {
  it("finds SigmaHQ's keyword cut between two quoted pieces of one argument, with and without its aN_len", () => {
    const log = Buffer.from(
      [
        'type=EXECVE msg=audit(1700000000.000:1): argc=2 a0="cat" a1_len=18 a1[0]="/root/.bash_hi" a1[1]="story"',
        "type=EOE msg=audit(1700000000.000:1):",
        'type=EXECVE msg=audit(1700000000.001:2): argc=2 a0="cat" a1[0]="/root/.bash_hi" a1[1]="story"',
        "type=EOE msg=audit(1700000000.001:2):",
        'type=EXECVE msg=audit(1700000000.002:3): argc=2 a0="cat" a1="/root/.bash_hi"',
        "type=EOE msg=audit(1700000000.002:3):",
        "",
      ].join("\n"),
    );
    const history = RULE_SETS.sigmahq.find((r) => r.title.includes("History"))!.id;
    expect(compare(RULE_SETS.sigmahq, log, "pieces")).toBe(2);
    const alerts = alertIds(RULE_SETS.sigmahq, log);
    expect(alerts).toEqual([[history], [history], []]);
  });
});

describe("records read from their JSON are asked for names by one pass over it", () => {
  it("finds a name after a value holding an escaped quote, and one after free text in quotes", () => {
    const log = Buffer.from(
      [
        `type=USER_CMD msg=audit(1700000000.000:1): pid=1 uid=0 auid=1000 ses=1 msg='op=x acct=a"b exe="/x" res=success' key="susp_activity"`,
        `type=USER_ACCT msg=audit(1700000000.004:5): pid=1 uid=0 auid=1000 ses=1 msg='op=PAM:accounting acct="ro\\"ot" exe="/usr/sbin/sshd" terminal=ssh res=success' key="susp_activity"`,
        `type=USER_CMD msg=audit(1700000000.001:2): user pid=1 uid=0 auid=1000 msg='text "with quotes" and a1=x key=y' key="susp_activity" a1="--cpu-priority"`,
        `type=DAEMON_START msg=audit(1700000000.002:3): op=start ver=3.0 format=raw kernel=5"x auid=4294967295 pid=1 uid=0 ses=4294967295 res=success key="susp_activity"`,
        `type=DAEMON_START msg=audit(1700000000.003:4): op=start ver=3.0 format=raw kernel=5\\"x auid=4294967295 pid=1 uid=0 ses=4294967295 res=success key="susp_activity"`,
        "",
      ].join("\n"),
    );
    expect(compare(RULE_SETS.sigmahq, log, "quotes")).toBe(5);
  });

  // TableEvent.hasKeyHash: every member name's hash, compared whole; a name a record's JSON lacks is not searched
  // for. A rule (of no type: asked of every record) on each name, alone, so that it is the first name asked (a
  // record once parsed answers from its object): a text-path record's first field, one among an AVC record's
  // many, after its nested contexts, its last, one the interpreter adds; names that are no field (an object's
  // member, `text`)
  it("finds a name that is its JSON's first field, its last, or one among many", () => {
    const avc = 'avc:  denied  { read write } for  pid=3000 comm="httpd" name="secret 0" dev="dm-0" ino=0';
    const contexts = "scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0 tclass=file permissive=0";
    const log = Buffer.from(
      [
        `type=AVC msg=audit(1700000000.000:1): ${avc} ${contexts} key="susp_activity"`,
        `type=AVC msg=audit(1700000000.001:2): ${avc} a1="--cpu-priority" ${contexts}`,
        `type=USER_CMD msg=audit(1700000000.002:3): user msg='op=x res=success' key="susp_activity"`,
        `type=USER_CMD msg=audit(1700000000.003:4): user pid=1 uid=0 auid=1000 msg='text a1=x' a1="--cpu-priority"`,
        `type=USER_CMD msg=audit(1700000000.004:5): user msg='op=x'`,
        "",
      ].join("\n"),
    );
    // per name, the events (by their serial) whose record has it as a field
    const want: Record<string, number[]> = {
      pid: [1, 2, 4],
      seperms: [1, 2],
      seresult: [1, 2],
      tclass: [1, 2],
      key: [1, 3],
      a1: [2, 4],
      op: [3, 5],
      level: [],
      text: [],
      acct: [],
    };
    for (const [name, events] of Object.entries(want)) {
      const rules = ruleSet([
        {
          rule: {
            title: `has-${name}`,
            id: `has-${name}`,
            logsource: { product: "linux", service: "auditd" },
            detection: { sel: { [`${name}|contains`]: "" }, condition: "sel" },
          },
          path: `has-${name}.yml`,
        },
      ]).rules;
      expect(compare(rules, log, name), name).toBe(events.length);
      const alerted = alertIds(rules, log).flatMap((ids, i) => (ids.length > 0 ? [i + 1] : []));
      expect(alerted, name).toEqual(events);
    }
  });
});

/** Events whose exe, comm, key and PATH names are all different (the memos give up), made of the rules' values. */
function uniqueValuesLog(next: () => number, events: number): Buffer {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const pool = [
    ...literals(
      SIGMAHQ_RULES.map((r) => (r.rule as { detection: unknown }).detection),
      new Set<string>(),
    ),
  ].filter((v) => /^[\x21-\x7e]+$/.test(v) && !/["']/.test(v));
  const value = (e: number): string => {
    let v = pick(pool);
    const c = next();
    if (c < 0.2) v = v.toUpperCase();
    else if (c < 0.3) v = v.slice(1);
    else if (c < 0.4) v = v.slice(0, -1);
    // unique, at the start, the end or both (a prefix, a suffix or a substring still there, or not)
    const tag = `x${e}`;
    const where = next();
    return where < 0.3 ? `${tag}${v}` : where < 0.6 ? `${v}${tag}` : where < 0.8 ? `/${tag}/${v}/${tag}` : v;
  };
  // a PATH name quoted, or hex-encoded as auditd writes one with a space (either case of hex digit, a byte
  // beyond ASCII inside, `İ` and the Kelvin sign, whose lower-case forms differ in length or are ASCII), or
  // text that only looks encoded (odd length, not hex digits)
  const name = (v: string): string => {
    const c = next();
    if (c < 0.4) return `"${v}"`;
    const text =
      c < 0.55
        ? ` ${v}`
        : c < 0.65
          ? `${v.slice(0, 2)}${pick(["\u00e9", "\u0130", "\u212a", "\u03a3"])}${v.slice(2)}`
          : c < 0.75
            ? v.replace(/k/i, "\u212a").replace(/i/i, "\u0130")
            : v;
    const hex = (c > 0.95 ? Buffer.concat([Buffer.from(text), Buffer.from([0xff])]) : Buffer.from(text)).toString("hex");
    const d = next();
    return d < 0.4
      ? hex.toUpperCase()
      : d < 0.6
        ? hex
        : d < 0.7
          ? `${hex.toUpperCase()}A`
          : d < 0.8
            ? `${hex.slice(0, -2)}G0`
            : hex.toUpperCase();
  };
  const lines: string[] = [];
  for (let e = 0; e < events; e++) {
    const stamp = `msg=audit(1700000000.${String(e).padStart(3, "0")}:${e + 1}):`;
    lines.push(
      `type=SYSCALL ${stamp} arch=c000003e syscall=${pick(["59", "2", "257"])} success=yes exit=0 a0=${pick(["4", "5", "40000", "1f"])} a1=2 a2=0 a3=0 items=2 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=${pick(["0", "33"])} ses=1 comm="${value(e).slice(0, 15)}" exe="${value(e)}" key="${value(e).replace(/[^\w-]/g, "") || "k"}"`,
    );
    for (let i = 0; i < 3; i++)
      lines.push(`type=PATH ${stamp} item=${i} name=${name(value(e))} inode=1 nametype=${pick(["NORMAL", "CREATE", "create"])}`);
    lines.push(`type=EOE ${stamp}`);
  }
  return Buffer.from(`${lines.join("\n")}\n`, "latin1");
}

describe("values that seldom repeat, compared on their bytes, give every rule's answer", () => {
  it.each([1, 2])("on seeded random events of distinct names made of the rules' values (seed %i)", (seed) => {
    const hits = compare(RULE_SETS.sigmahq, uniqueValuesLog(random(seed), 4000), `unique seed ${seed}`);
    expect(hits).toBeGreaterThan(500);
    expect(hits).toBeLessThan(4000);
  });
});

// TableEvent.firstHaving: a field a record's layout lacks is the event's first record's that has it (the gate
// works it out once per event: Gate.candidatesAt's plan.absent). PATH records of three layouts (cap_fe only in
// the third, obj only in the second), in runs and alone, so that the first record having a field is in a run's
// middle, a run's end, after a run of another layout of the same type, or absent.
describe("fields a record lacks are the first record's that has them, past runs of other layouts", () => {
  it("finds the first record having the field after runs that lack it, and none when no record has it", () => {
    const plain = (i: number, serial: number) =>
      `type=PATH msg=audit(1700000000.000:${serial}): item=${i} name="/tmp/p${i}" inode=1 dev=fd:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL`;
    const withObj = (i: number, serial: number) => `${plain(i, serial)} obj=system_u:object_r:tmp_t:s0`;
    const withCap = (i: number, serial: number, fe: number) => `${withObj(i, serial)} cap_fp=0 cap_fi=0 cap_fe=${fe} cap_fver=0`;
    const syscall = (serial: number) =>
      `type=SYSCALL msg=audit(1700000000.000:${serial}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=6 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="x" exe="/usr/bin/x" key="t"`;
    // per event: its PATH records; the rules below match on the first value of cap_fe / obj the event has
    const layouts = [
      (s: number) => [plain(0, s), plain(1, s), plain(2, s), withCap(3, s, 1), withCap(4, s, 0)],
      (s: number) => [plain(0, s), plain(1, s), withObj(2, s), withObj(3, s), withCap(4, s, 1)],
      (s: number) => [withObj(0, s), withObj(1, s), plain(2, s), plain(3, s), withCap(4, s, 0), withCap(5, s, 1)],
      (s: number) => [plain(0, s), withCap(1, s, 0), plain(2, s), plain(3, s), withCap(4, s, 1)],
      (s: number) => [plain(0, s), plain(1, s), plain(2, s), plain(3, s)],
      (s: number) => [withCap(0, s, 1), withCap(1, s, 0), plain(2, s)],
    ];
    const events = layouts.map((paths, i) => [syscall(i + 1), ...paths(i + 1)]);
    const log = Buffer.from(`${events.flat().join("\n")}\n`);
    const rule = (id: string, sel: Record<string, string>) => ({
      rule: {
        title: id,
        id,
        logsource: { product: "linux", service: "auditd" },
        detection: { sel: { type: "SYSCALL", ...sel }, condition: "sel" },
      },
      path: `${id}.yml`,
    });
    const rules = ruleSet([
      rule("fe-1", { cap_fe: "1" }),
      rule("has-obj", { "obj|contains": "tmp_t" }),
      rule("has-fe", { "cap_fe|contains": "" }),
    ]).rules;
    expect(compare(rules, log, "layout runs")).toBe(5);
    // the SYSCALL record sees the first PATH record's cap_fe: 1, 1, 0, 0, none, 1
    expect(alertIds(rules, log)).toEqual([
      ["fe-1", "has-obj", "has-fe"],
      ["fe-1", "has-obj", "has-fe"],
      ["has-obj", "has-fe"],
      ["has-obj", "has-fe"],
      [],
      ["fe-1", "has-obj", "has-fe"],
    ]);
  });
  it("reads a field a record lacks from the event's other record, and from none when the record is alone", () => {
    const syscall = (serial: number) =>
      `type=SYSCALL msg=audit(1700000000.000:${serial}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="x" exe="/usr/bin/x" key="t"`;
    const cwd = (serial: number) => `type=CWD msg=audit(1700000000.000:${serial}): cwd="/tmp/w"`;
    // read on the text path (its JSON): the table does not describe it
    const login = (serial: number) =>
      `type=USER_LOGIN msg=audit(1700000000.000:${serial}): pid=2 uid=0 auid=1000 ses=1 msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=h addr=10.0.0.1 terminal=/dev/pts/0 res=success'`;
    const execve = (serial: number, args: string) => `type=EXECVE msg=audit(1700000000.000:${serial}): argc=2 a0="ls" ${args}`;
    const events = [
      [cwd(1)],
      [syscall(2), cwd(2)],
      [login(3)],
      [syscall(4), login(4)],
      [execve(5, 'a1="-l"')],
      [syscall(6), execve(6, 'a1="-l"')],
    ];
    const log = Buffer.from(`${events.flat().join("\n")}\n`);
    const rule = (id: string, sel: Record<string, string>) => ({
      rule: { title: id, id, logsource: { product: "linux", service: "auditd" }, detection: { sel, condition: "sel" }, level: "low" },
      path: `${id}.yml`,
    });
    // no type: each record is matched, seeing the event's key where it has none
    const rules = ruleSet([
      rule("cwd-key", { "cwd|contains": "tmp", key: "t" }),
      rule("login-key", { "addr|startswith": "10.", key: "t" }),
      rule("argv-key", { a1: "-l", key: "t" }),
    ]).rules;
    expect(compare(rules, log, "alone or not")).toBe(3);
    // each two-record event alerts once (a lone USER_LOGIN completes before the SYSCALL+CWD event before it)
    expect(alertIds(rules, log).flat().sort()).toEqual(["argv-key", "cwd-key", "login-key"]);
  });
});
