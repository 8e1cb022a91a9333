import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../src/event";
import { AuditParser } from "../src/parser";
import { eventDocs } from "../src/sigma/document";
import { SigmaEngine } from "../src/sigma/engine";
import { RecordsIndex } from "../src/sigma/records-index";
import { compileRule, type RuleSet } from "../src/sigma/rules";
import { SIGMAHQ_RULES } from "../src/sigma/sigmahq-rules";
import { corpusLogs } from "./ausearch-diff";

// detect reads the fields the rules ask for from the parser's text (src/sigma/records-index.ts) instead of
// record objects; the API's events (and the pySigma oracle's comparison in sigma.test.ts) use the objects.
// Both must give every rule the same answers: every field of every record, the fields the rules name, the
// keyword values, and the matches, on every log the tests know (case logs, edge cases, goldens, the corpus)
// and on hostile shapes (escapes, control characters, repeated and odd names, invalid UTF-8).

const PKG = new URL("..", import.meta.url).pathname;
const IDS = { passwd: join(PKG, "test/golden/passwd"), group: join(PKG, "test/golden/group") };
const set: RuleSet = { rules: [], failed: [], skipped: [] };
for (const r of SIGMAHQ_RULES) compileRule(r.rule, r.path, set);

/** Field names the built-in rules read, and names that must be absent or derived. */
const RULE_FIELDS = [
  ...new Set(
    SIGMAHQ_RULES.flatMap((r) =>
      Object.values((r.rule as { detection: Record<string, unknown> }).detection).flatMap((sel) =>
        (Array.isArray(sel) ? sel : [sel]).flatMap((m) => (m && typeof m === "object" ? Object.keys(m).map((k) => k.split("|")[0]!) : [])),
      ),
    ),
  ),
  ...["type", "key", "SYSCALL", "ARCH", "UID", "AUID", "saddr_fam", "laddr", "lport", "path", "proctitle", "a12", "a01", "nope", 'q"uote'],
];

function logs(): { name: string; bytes: Buffer }[] {
  const out: { name: string; bytes: Buffer }[] = [];
  const cases = join(PKG, "test/sigma/cases");
  for (const rule of readdirSync(cases))
    for (const f of ["hit.log", "miss.log"]) out.push({ name: `${rule}/${f}`, bytes: readFileSync(join(cases, rule, f)) });
  for (const f of readdirSync(join(PKG, "test/sigma/edge")))
    out.push({ name: `edge/${f}`, bytes: readFileSync(join(PKG, "test/sigma/edge", f)) });
  for (const f of readdirSync(join(PKG, "test/golden")).filter((f) => f.endsWith(".log")))
    out.push({ name: `golden/${f}`, bytes: readFileSync(join(PKG, "test/golden", f)) });
  const corpus = ["../../../shared/corpus/audit", "/work/shared/corpus/audit"]
    .map((p) => (p.startsWith("/") ? p : join(PKG, p)))
    .find(existsSync);
  if (corpus !== undefined) for (const f of corpusLogs(corpus)) out.push({ name: f, bytes: readFileSync(f) });
  return out;
}

/** Lines the parser writes with escapes, odd names and values that are not strings. */
const HOSTILE = Buffer.concat([
  Buffer.from(
    [
      'type=SYSCALL msg=audit(1700000000.100:1): arch=c000003e syscall=59 success=yes exit=0 a0=55 a1=66 items=1 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=33 comm="a\\"b" exe="/tmp/x y" key="k1"',
      'type=EXECVE msg=audit(1700000000.100:1): argc=3 a0="sh" a1="-c" a2="echo \\\\ \\"hi\\""',
      'type=PATH msg=audit(1700000000.100:1): item=0 name=2F746D702F0A1B5B326A nametype=CREATE name="/again"',
      "type=SOCKADDR msg=audit(1700000000.100:1): saddr=02000050C0A80001000000000000000000",
      'type=USER_CMD msg=audit(1700000000.200:2): pid=3 uid=0 auid=1000 ses=1 msg=\'cwd="/root" cmd=6C73202D6C61 exe="/usr/bin/sudo" terminal=pts/0 res=success\'',
      'type=CWD msg=audit(1700000000.300:3): cwd="/" constructor=x __proto__=y toString=z',
      'type=SYSCALL msg=audit(1700000000.400:4): arch=c000003e syscall=2 success=no exit=-2 a0=1 items=0 pid=9 auid=4294967295 uid=0 comm="x" exe="/bin/x" subj=unconfined key=(null)\u001dARCH=x86_64 SYSCALL=open AUID="unset" UID="root"',
      "type=SOCKADDR msg=audit(1700000000.400:4): saddr=0A000050000000000000000000000000000000000000000100000000\u001dSADDR={ saddr_fam=inet6 laddr=::1 lport=80 }",
      "",
    ].join("\n"),
  ),
  Buffer.from('type=PATH msg=audit(1700000000.500:5): item=0 name="/tmp/\xff\xfe" nametype=NORMAL\n', "latin1"),
]);

function parsed(bytes: Buffer): { event: AuditEvent; text: string }[] {
  const out: { event: AuditEvent; text: string }[] = [];
  const parser = new AuditParser((event, json) => out.push({ event, text: json.recordsText() }), { ids: IDS });
  parser.pushBytes(bytes);
  parser.end();
  return out;
}

function compare(name: string, bytes: Buffer): number {
  const engine = new SigmaEngine(set.rules);
  const index = new RecordsIndex();
  let docs = 0;
  for (const { event, text } of parsed(bytes)) {
    const where = `${name} ${event.id}`;
    const objects = event.records.length === 0 ? [] : eventDocs(event);
    expect(index.load(text), where).toBe(true);
    const fromText = eventDocs(event, index);
    expect(
      fromText.map((d) => d.type),
      where,
    ).toEqual(objects.map((d) => d.type));
    objects.forEach((doc, i) => {
      const other = fromText[i]!;
      expect(other.names(), where).toEqual(doc.names());
      for (const field of [...doc.names(), ...RULE_FIELDS]) {
        expect(other.own(field), `${where} own ${field}`).toEqual(doc.own(field));
        expect(other.get(field), `${where} get ${field}`).toEqual(doc.get(field));
      }
      expect(other.values(), where).toEqual(doc.values());
      docs++;
    });
    expect(engine.match(event, text), where).toEqual(engine.match(event));
  }
  return docs;
}

describe("detect's field lookups on the parser's text", () => {
  it("answer as the record objects do, on every log the tests know", () => {
    let docs = 0;
    for (const { name, bytes } of logs()) docs += compare(name, bytes);
    expect(docs).toBeGreaterThan(500);
  });

  it("answer as the record objects do on escapes, odd names, ENRICHED parts and invalid UTF-8", () => {
    expect(compare("hostile", HOSTILE)).toBeGreaterThanOrEqual(8);
  });

  it("refuse text that is not the parser's records, so the engine falls back to the objects", () => {
    const index = new RecordsIndex();
    for (const bad of ['{"fields":{}}', '{"type":"X"', '{"type":"X"},', "[]", '{"type":"X","fields":{"a":"b}}'])
      expect(index.load(bad), bad).toBe(false);
    expect(index.load('{"type":"X","fields":{"a":"1","a":"2"},"raw":{"a":"\\u0001"}}')).toBe(true);
    index.locate(0, "a", '"a"');
    expect(index.stringAt(index.found[0]!)).toBe("2");
    expect(index.stringAt(index.found[1]!)).toBe("\u0001");
    expect(index.found[2]).toBe(-1);
  });
});
