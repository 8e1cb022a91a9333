import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type AuditEvent, AuditParser, type FieldValue } from "../src/index";

/**
 * The differential check against `ausearch -i` (package auditd): every field of every record ausearch prints
 * for a log, compared with what auditd-parse makes of the same record. Used by ausearch.test.ts.
 */

export interface Difference {
  file: string;
  id: string;
  type: string;
  field: string;
  /** event: ausearch has the event and auditd-parse not (or the other way); missing: a field ausearch prints
   * that auditd-parse has not; value: both have it, the values differ. */
  kind: "event" | "record" | "missing" | "value";
  ours: string | undefined;
  theirs: string | undefined;
}

/** Every audit log of the corpus: *.log and *.txt, not the expected outputs. */
export function corpusLogs(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(log|txt)$/.test(name) && name !== "README.txt") out.push(p);
    }
  };
  walk(dir);
  return out;
}

interface TheirRecord {
  type: string;
  fields: Map<string, string>;
}

/** What `ausearch -i --input file` prints (in UTC, C locale). */
export function ausearchText(ausearch: string, file: string): string {
  const r = spawnSync(ausearch, ["-i", "--input", file], {
    encoding: "latin1",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", TZ: "UTC", LC_ALL: "C" },
    maxBuffer: 1 << 28,
  });
  // ausearch exits 1 with "<no matches>" for a log with no events it can read
  if (r.error) throw r.error;
  return Buffer.from(r.stdout, "latin1").toString("utf8");
}

/** ausearch -i's output grouped as it prints it: event id (sec.ms:serial, node) → records; other lines ignored. */
export function ausearchEvents(text: string): Map<string, TheirRecord[]> {
  const events = new Map<string, TheirRecord[]>();
  for (const line of text.split("\n")) {
    const m = /^(?:node=(\S+) )?type=(\S+) msg=audit\((\d\d)\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+):(\d+)\) ?:? ?(.*)$/.exec(line);
    if (!m) continue;
    const [, node, type, mo, d, y, h, mi, s, ms, serial, body] = m;
    if (type === "EOE") continue;
    const year = Number(y) + (Number(y) >= 70 ? 1900 : 2000);
    const sec = Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
    const id = `${node ? `${node} ` : ""}${sec}.${ms}:${serial}`;
    const list = events.get(id) ?? [];
    list.push({ type: type!, fields: bodyFields(type!, body!.trimEnd()) });
    events.set(id, list);
  }
  // ausearch prints an event's records newest first
  for (const list of events.values()) list.reverse();
  return events;
}

/** key=value pairs as ausearch -i prints them: values unquoted, may hold spaces; msg='…' flattened. */
function bodyFields(type: string, body: string): Map<string, string> {
  const fields = new Map<string, string>();
  if (type === "PROCTITLE" && body.startsWith("proctitle=")) {
    fields.set("proctitle", body.slice("proctitle=".length));
    return fields;
  }
  let outer = body;
  // saddr={ saddr_fam=inet laddr=… lport=80 }: one value, braces and all
  const braces = / ?saddr=(\{[^}]*\})/.exec(outer);
  if (braces) {
    fields.set("saddr", braces[1]!);
    outer = outer.replace(braces[0], " ");
  }
  const msg = / msg='|^msg='/.exec(body);
  if (msg) {
    const start = msg.index + msg[0].length;
    const end = body.lastIndexOf("'");
    if (end >= start) {
      outer = `${body.slice(0, msg.index)} ${body.slice(end + 1)}`;
      pairs(body.slice(start, end), fields);
    }
  }
  pairs(outer, fields);
  return fields;
}

function pairs(text: string, into: Map<string, string>): void {
  const keys = [...text.matchAll(/(?:^|\s)([A-Za-z0-9_\-[\]]+)=/g)];
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const from = k.index! + k[0].length;
    const to = i + 1 < keys.length ? keys[i + 1]!.index! : text.length;
    if (!into.has(k[1]!)) into.set(k[1]!, text.slice(from, to).trim());
  }
}

/**
 * auditd-parse's events for a file, by id (with the node, as ausearchEvents keys them). A user-space record
 * that shares its stamp with a kernel event is an event of its own for both tools: their records are
 * compared together.
 */
export function ourEvents(file: string): Map<string, AuditEvent> {
  const events = new Map<string, AuditEvent>();
  const parser = new AuditParser((e) => {
    if (e.id === null) return;
    const id = `${e.node ? `${e.node} ` : ""}${e.id}`;
    const before = events.get(id);
    if (before === undefined) events.set(id, e);
    else before.records.push(...e.records);
  });
  parser.pushBytes(readFileSync(file));
  parser.end();
  return events;
}

/** Our value as ausearch would print it. */
function asText(v: FieldValue | undefined, raw: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === null) return raw;
  if (typeof v === "string") return v;
  const o = v as Record<string, unknown>;
  if ("role" in o) return [o.user, o.role, o.type, o.level].filter((x) => x !== undefined).join(":");
  if ("profile" in o) return o.mode === undefined ? String(o.profile) : `${o.profile} (${o.mode})`;
  if ("family" in o) {
    const f = o.family;
    if (f === "inet" || f === "inet6") return `{ saddr_fam=${f} laddr=${o.address} lport=${o.port} }`;
    if (f === "unix") return `{ saddr_fam=local path=${o.abstract ? "@" : ""}${o.path} }`;
    if (f === "netlink") return `{ saddr_fam=netlink nlnk-fam=16 nlnk-pid=${o.pid} }`;
    return JSON.stringify(o);
  }
  return JSON.stringify(o);
}

/** ausearch's spelling reduced to ours where they say the same: `unknown(1001)` is the number, errnos lose their text. */
function normalTheirs(field: string, v: string): string {
  const unknown = /^unknown\((-?\d+)\)$/.exec(v);
  if (unknown) return unknown[1]!;
  if (field === "exit") return v.replace(/\(.*\)$/, "");
  return v;
}

/**
 * Every difference between what auditd-parse makes of `file` and what ausearch -i prints for it: `ausearch` is
 * the program to run, or its output given as text (a checked-in expectation: `{ output }`).
 */
export function compareFile(ausearch: string | { output: string }, corpus: string, file: string): Difference[] {
  const name = relative(corpus, file);
  const theirs = ausearchEvents(typeof ausearch === "string" ? ausearchText(ausearch, file) : ausearch.output);
  const ours = ourEvents(file);
  const diffs: Difference[] = [];
  const diff = (d: Omit<Difference, "file">) => diffs.push({ file: name, ...d });
  for (const [id, records] of theirs) {
    const e = ours.get(id);
    if (e === undefined) {
      diff({ id, type: records[0]!.type, field: "", kind: "event", ours: undefined, theirs: "present" });
      continue;
    }
    const seen = new Map<string, number>();
    for (const rec of records) {
      const k = seen.get(rec.type) ?? 0;
      seen.set(rec.type, k + 1);
      // PATH records by their item number (the two tools print them in different orders), others in order
      const item = rec.type === "PATH" ? rec.fields.get("item") : undefined;
      const mine =
        item === undefined
          ? e.records.filter((r) => r.type === rec.type)[k]
          : e.records.find((r) => r.type === "PATH" && r.fields.item === item);
      if (mine === undefined) {
        diff({ id, type: rec.type, field: "", kind: "record", ours: undefined, theirs: "present" });
        continue;
      }
      const chunks = new Map<number, string>();
      for (const [field, value] of rec.fields) {
        const chunk = /^a(\d+)\[\d+\]$/.exec(field);
        if (rec.type === "EXECVE" && chunk) {
          // a long argument in pieces: compared joined, with argv
          chunks.set(Number(chunk[1]), (chunks.get(Number(chunk[1])) ?? "") + value);
          continue;
        }
        let our: string | undefined;
        if (rec.type === "EXECVE" && /^a\d+$/.test(field)) our = e.argv?.[Number(field.slice(1))];
        else if (rec.type === "PROCTITLE" && field === "proctitle") our = e.proctitle?.join(" ");
        else {
          const key = field in mine.fields ? field : `msg.${field}`;
          our = asText(mine.fields[key], mine.raw?.[key]);
        }
        const their = normalTheirs(field, value);
        if (our === undefined) diff({ id, type: rec.type, field, kind: "missing", ours: undefined, theirs: value });
        else if (our !== their) diff({ id, type: rec.type, field, kind: "value", ours: our, theirs: value });
      }
      for (const [index, joined] of chunks) {
        const our = e.argv?.[index];
        if (our !== joined) diff({ id, type: rec.type, field: `a${index}[]`, kind: "value", ours: our, theirs: joined });
      }
    }
  }
  for (const [id, e] of ours)
    if (!theirs.has(id)) diff({ id, type: e.types[0] ?? "", field: "", kind: "event", ours: "present", theirs: undefined });
  return diffs;
}
