import type { RawEvent } from "./assemble";
import {
  archName,
  capNames,
  decodeHexString,
  errnoName,
  modeText,
  permText,
  type SecurityContext,
  securityContext,
  signalName,
  syscallName,
} from "./decode";
import { type IdNames, UNSET_ID } from "./ids";
import { jsonString, member } from "./json";
import { type AuditRecord, tokenize } from "./record";
import { decodeSockaddr, type Sockaddr } from "./sockaddr";

export type FieldValue = string | null | SecurityContext | Sockaddr | EnrichedObject;
export interface EnrichedObject {
  [key: string]: string | EnrichedObject;
}

/** One record of an event, see schema/event.schema.json. */
export interface OutputRecord {
  type: string;
  fields: Record<string, FieldValue>;
  /** Values as logged (quotes removed), only for fields whose interpreted value differs. */
  raw?: Record<string, string>;
  text?: string;
  enriched?: EnrichedObject;
  unparsed?: string;
}

/** One event: the stable output schema (schema/event.schema.json). */
export interface AuditEvent {
  id: string | null;
  node?: string | undefined;
  time: string | null;
  serial: number | null;
  /** Record types in arrival order. */
  types: string[];
  syscall?: string | undefined;
  arch?: string | undefined;
  success?: boolean | undefined;
  exit?: string | undefined;
  pid?: string | undefined;
  ppid?: string | undefined;
  auid?: string | undefined;
  uid?: string | undefined;
  ses?: string | undefined;
  comm?: string | undefined;
  exe?: string | undefined;
  keys?: string[] | undefined;
  argc?: number | undefined;
  argv?: string[] | undefined;
  proctitle?: string[] | undefined;
  cwd?: string | undefined;
  sockaddr?: Sockaddr | undefined;
  /** The records as objects: filled only when the Interpreter is asked for them (see InterpreterOptions). */
  records: OutputRecord[];
  unparsed?: string[] | undefined;
}

export interface InterpreterOptions {
  /** Also build `records` as objects (the API, sessions); NDJSON output needs only the JSON text. */
  recordObjects?: boolean;
}

enum Kind {
  User = 1,
  Group,
  Encoded,
  Arch,
  Syscall,
  Exit,
  Mode,
  Perm,
  Cap,
  Context,
  Saddr,
  Key,
  Session,
  Signal,
}

const KINDS = new Map<string, Kind>();
const define = (kind: Kind, names: string) => {
  for (const name of names.split(" ")) KINDS.set(name, kind);
};
define(Kind.User, "uid auid euid suid fsuid ouid obj_uid oauid iuid inode_uid old-auid new-auid sauid loginuid old_loginuid id");
define(Kind.Group, "gid egid sgid fsgid ogid obj_gid igid inode_gid new_gid old_gid");
define(
  Kind.Encoded,
  "acct cmd comm cwd data dir exe file name ocomm path root_dir vm watch new-disk old-disk new-chardev old-chardev new-fs old-fs new-net old-net new-rng old-rng device cgroup sw",
);
define(Kind.Arch, "arch");
define(Kind.Syscall, "syscall");
define(Kind.Exit, "exit");
define(Kind.Mode, "mode");
define(Kind.Perm, "perm perm_mask");
define(
  Kind.Cap,
  "cap_fp cap_fi cap_pi cap_pp cap_pe cap_pa cap_pb fp fi old_pp old_pi old_pe old_pa new_pp new_pi new_pe new_pa pp pi pe pa",
);
define(Kind.Context, "subj obj scontext tcontext");
define(Kind.Saddr, "saddr");
define(Kind.Key, "key");
define(Kind.Session, "ses old-ses new-ses");
define(Kind.Signal, "sig");

/** Event summary slots filled from record fields (the first record that has one wins, SYSCALL first). */
const SUMMARY = new Set(["pid", "ppid", "auid", "uid", "ses", "comm", "exe", "cwd"]);

/** What the interpreter needs to know about a field name, looked up once per field. */
interface FieldInfo {
  kind: Kind | undefined;
  summary: boolean;
  /** `"name":` ready to append. */
  json: string;
}

const FIELD_INFO = new Map<string, FieldInfo>();
/** Bound on remembered field names: corrupt input could invent endless ones. */
const MAX_FIELD_NAMES = 10_000;

function fieldInfo(name: string): FieldInfo {
  let info = FIELD_INFO.get(name);
  if (info === undefined) {
    info = { kind: KINDS.get(name), summary: SUMMARY.has(name), json: `${jsonString(name)}:` };
    if (FIELD_INFO.size < MAX_FIELD_NAMES) FIELD_INFO.set(name, info);
  }
  return info;
}

function addMember(list: string, info: FieldInfo, valueJson: string): string {
  return list.length === 0 ? info.json + valueJson : `${list},${info.json}${valueJson}`;
}

/** Bound on argv indexes, so a corrupt `a99999999=` cannot allocate a huge sparse array. */
const MAX_ARGS = 100_000;

/** Per-record output being built: JSON member lists, cheaper than objects plus JSON.stringify. */
interface RecordJson {
  fields: string;
  raw: string;
  text: string | undefined;
}

/** Turns grouped raw records into readable events and their NDJSON text. */
export class Interpreter {
  private chunks: Map<number, string> | undefined;
  private readonly recordObjects: boolean;
  private isoSecond = -1;
  private isoPrefix = "";
  private readonly contextJson = new Map<string, string>();
  private readonly modeCache = new Map<string, string>();

  constructor(
    private readonly ids: IdNames,
    options: InterpreterOptions = {},
  ) {
    this.recordObjects = options.recordObjects ?? true;
  }

  /** The event and its one-line JSON (the same data; records only as JSON unless recordObjects). */
  event(raw: RawEvent): { event: AuditEvent; json: string } {
    if (raw.records.length === 0) {
      const event: AuditEvent = { id: null, time: null, serial: null, types: [], records: [], unparsed: raw.unparsed ?? [] };
      return { event, json: JSON.stringify(event) };
    }
    // Every key declared up front, in schema order: one hidden class for V8.
    const event: AuditEvent = {
      id: raw.stamp,
      node: raw.node,
      time: this.isoTime(raw.timeMs),
      serial: raw.serial,
      types: [],
      syscall: undefined,
      arch: undefined,
      success: undefined,
      exit: undefined,
      pid: undefined,
      ppid: undefined,
      auid: undefined,
      uid: undefined,
      ses: undefined,
      comm: undefined,
      exe: undefined,
      keys: undefined,
      argc: undefined,
      argv: undefined,
      proctitle: undefined,
      cwd: undefined,
      sockaddr: undefined,
      records: [],
      unparsed: undefined,
    };
    let records = "";
    for (const record of raw.records) {
      event.types.push(record.type);
      const json = this.record(record, event);
      records = records.length === 0 ? json : `${records},${json}`;
      if (this.recordObjects) event.records.push(JSON.parse(json) as OutputRecord);
    }
    this.finishArgv(event);
    return { event, json: eventJson(event, records) };
  }

  private isoTime(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.isoSecond) {
      this.isoSecond = second;
      this.isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    }
    const frac = ms - second * 1000;
    return `${this.isoPrefix}${frac < 10 ? "00" : frac < 100 ? "0" : ""}${frac}Z`;
  }

  private record(record: AuditRecord, event: AuditEvent): string {
    const out: RecordJson = { fields: "", raw: "", text: undefined };
    const type = record.type;
    if (type === "EXECVE") this.execve(record, event, out);
    else if (type === "PROCTITLE") this.proctitle(record, event, out);
    else this.fields(record.keys, record.values, out, event, type === "SYSCALL", undefined);
    if (record.text !== undefined) {
      out.text = out.text === undefined ? record.text : `${record.text} ${out.text}`;
      if (record.text.startsWith("avc:")) out.fields = avcResult(out.text, out.fields);
    }
    let json = `{"type":${jsonString(type)},"fields":{${out.fields}}`;
    if (out.raw.length > 0) json += `,"raw":{${out.raw}}`;
    if (out.text !== undefined) json += `,"text":${jsonString(out.text)}`;
    if (record.enrichedKeys && record.enrichedValues) {
      json += `,"enriched":{${enrichedJson(record.enrichedKeys, record.enrichedValues)}}`;
    }
    if (record.unparsed !== undefined) json += `,"unparsed":${jsonString(record.unparsed)}`;
    return `${json}}`;
  }

  private fields(
    keys: string[],
    values: string[],
    out: RecordJson,
    event: AuditEvent,
    isSyscall: boolean,
    outerKeys: string[] | undefined,
  ): void {
    let arch: string | undefined;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      let value = values[i]!;
      const q = value.charCodeAt(0);
      let quoted = false;
      if (q === 34 && value.length >= 2 && value.charCodeAt(value.length - 1) === 34) {
        value = value.slice(1, -1);
        quoted = true;
      } else if (q === 39) {
        this.nested(value, out, event, keys);
        continue;
      }
      // inner msg='…' fields may repeat an outer name (pid, uid): keep both
      const info = fieldInfo(outerKeys?.includes(key) ? `msg.${key}` : key);
      if (!quoted && isNullish(value, q)) {
        out.fields = addMember(out.fields, info, "null");
        out.raw = addMember(out.raw, info, jsonString(value));
        continue;
      }
      const kind = info.kind;
      let v: string = value;
      let vJson: string | undefined;
      if (kind !== undefined) {
        switch (kind) {
          case Kind.User:
            if (isNumeric(value)) v = this.ids.user(value);
            break;
          case Kind.Group:
            if (isNumeric(value)) v = this.ids.group(value);
            break;
          case Kind.Encoded:
            if (!quoted) v = decodeHexString(value) ?? value;
            break;
          case Kind.Arch:
            arch = archName(value);
            v = arch ?? value;
            if (isSyscall) event.arch = v;
            break;
          case Kind.Syscall:
            v = syscallName(arch ?? event.arch, value) ?? value;
            if (isSyscall) event.syscall = v;
            break;
          case Kind.Exit:
            v = errnoName(value) ?? value;
            if (isSyscall) event.exit = v;
            break;
          case Kind.Mode:
            v = this.mode(value);
            break;
          case Kind.Perm:
            v = permText(value) ?? value;
            break;
          case Kind.Cap:
            v = capNames(value) ?? value;
            break;
          case Kind.Context:
            vJson = this.context(value);
            break;
          case Kind.Saddr: {
            const decoded = decodeSockaddr(value);
            if (decoded) {
              vJson = JSON.stringify(decoded);
              event.sockaddr ??= decoded;
            }
            break;
          }
          case Kind.Key: {
            const list = quoted ? [value] : (decodeHexString(value)?.split("\x01") ?? [value]);
            v = list.join(",");
            if (isSyscall || event.keys === undefined) event.keys = list;
            break;
          }
          case Kind.Session:
            if (value === UNSET_ID) v = "unset";
            break;
          case Kind.Signal:
            v = signalName(value) ?? value;
            break;
        }
      }
      out.fields = addMember(out.fields, info, vJson ?? jsonString(v));
      if (vJson !== undefined || v !== value) out.raw = addMember(out.raw, info, jsonString(value));
      if (isSyscall && key === "success") event.success = value === "yes";
      else if (info.summary) this.summarise(event, key, v);
      else if (key === "res" || key === "result") event.success ??= v === "success" || v === "1" || v === "yes";
    }
  }

  private summarise(event: AuditEvent, key: string, v: string): void {
    switch (key) {
      case "pid":
        event.pid ??= v;
        break;
      case "ppid":
        event.ppid ??= v;
        break;
      case "auid":
        event.auid ??= v;
        break;
      case "uid":
        event.uid ??= v;
        break;
      case "ses":
        event.ses ??= v;
        break;
      case "comm":
        event.comm ??= v;
        break;
      case "exe":
        event.exe ??= v;
        break;
      case "cwd":
        event.cwd ??= v;
        break;
    }
  }

  private mode(value: string): string {
    let text = this.modeCache.get(value);
    if (text === undefined) {
      text = modeText(value) ?? value;
      if (this.modeCache.size < 1024) this.modeCache.set(value, text);
    }
    return text;
  }

  private context(value: string): string {
    let json = this.contextJson.get(value);
    if (json === undefined) {
      const ctx = securityContext(value);
      json = ctx === undefined ? jsonString(value) : JSON.stringify(ctx);
      if (this.contextJson.size < 4096) this.contextJson.set(value, json);
    }
    return json;
  }

  /** msg='op=… acct="root" exe=… res=success' in user-space records: its fields join the record's. */
  private nested(quotedValue: string, out: RecordJson, event: AuditEvent, outerKeys: string[]): void {
    const end = quotedValue.charCodeAt(quotedValue.length - 1) === 39 ? quotedValue.length - 1 : quotedValue.length;
    const keys: string[] = [];
    const values: string[] = [];
    const sink = { text: undefined as string | undefined };
    tokenize(quotedValue, 1, end, keys, values, sink, true);
    if (sink.text !== undefined) out.text = sink.text;
    this.fields(keys, values, out, event, false, outerKeys);
  }

  /** a0…aN, including arguments split as aN_len/aN[i] and spread over several EXECVE records. */
  private execve(record: AuditRecord, event: AuditEvent, out: RecordJson): void {
    event.argv ??= [];
    const argv = event.argv;
    const { keys, values } = record;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const value = values[i]!;
      if (key.charCodeAt(0) !== 97 /* a */ || key === "argc") {
        if (key === "argc") {
          const n = Number(value);
          if (Number.isInteger(n)) event.argc = n;
        }
        out.fields = member(out.fields, key, jsonString(value));
        continue;
      }
      const bracket = key.indexOf("[");
      if (bracket > 0) {
        // chunks of one long argument may continue in the next EXECVE record: join the hex, decode at the end
        const index = Number(key.slice(1, bracket));
        if (!Number.isInteger(index) || index >= MAX_ARGS) continue;
        this.chunks ??= new Map();
        this.chunks.set(index, (this.chunks.get(index) ?? "") + value);
        continue;
      }
      if (key.endsWith("_len")) continue;
      const index = Number(key.slice(1));
      if (Number.isInteger(index) && index < MAX_ARGS) argv[index] = decodeArg(value);
    }
  }

  private finishArgv(event: AuditEvent): void {
    const argv = event.argv;
    if (argv === undefined) return;
    if (this.chunks) for (const [index, hexChunks] of this.chunks) argv[index] = decodeArg(hexChunks);
    this.chunks = undefined;
    for (let i = 0; i < argv.length; i++) argv[i] ??= "";
  }

  private proctitle(record: AuditRecord, event: AuditEvent, out: RecordJson): void {
    const i = record.keys.indexOf("proctitle");
    if (i < 0) {
      this.fields(record.keys, record.values, out, event, false, undefined);
      return;
    }
    const value = record.values[i]!;
    const text = value.charCodeAt(0) === 34 ? value.slice(1, -1) : (decodeHexString(value) ?? value);
    const parts = text.split("\0");
    while (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
    event.proctitle = parts;
  }
}

/** The event's JSON text: summary keys in schema order (absent ones left out), then the records. */
function eventJson(e: AuditEvent, records: string): string {
  let json = `{"id":${jsonString(e.id!)}`;
  if (e.node !== undefined) json += `,"node":${jsonString(e.node)}`;
  json += `,"time":"${e.time}","serial":${e.serial},"types":${JSON.stringify(e.types)}`;
  if (e.syscall !== undefined) json += `,"syscall":${jsonString(e.syscall)}`;
  if (e.arch !== undefined) json += `,"arch":${jsonString(e.arch)}`;
  if (e.success !== undefined) json += `,"success":${e.success}`;
  if (e.exit !== undefined) json += `,"exit":${jsonString(e.exit)}`;
  if (e.pid !== undefined) json += `,"pid":${jsonString(e.pid)}`;
  if (e.ppid !== undefined) json += `,"ppid":${jsonString(e.ppid)}`;
  if (e.auid !== undefined) json += `,"auid":${jsonString(e.auid)}`;
  if (e.uid !== undefined) json += `,"uid":${jsonString(e.uid)}`;
  if (e.ses !== undefined) json += `,"ses":${jsonString(e.ses)}`;
  if (e.comm !== undefined) json += `,"comm":${jsonString(e.comm)}`;
  if (e.exe !== undefined) json += `,"exe":${jsonString(e.exe)}`;
  if (e.keys !== undefined) json += `,"keys":${JSON.stringify(e.keys)}`;
  if (e.argc !== undefined) json += `,"argc":${e.argc}`;
  if (e.argv !== undefined) json += `,"argv":${JSON.stringify(e.argv)}`;
  if (e.proctitle !== undefined) json += `,"proctitle":${JSON.stringify(e.proctitle)}`;
  if (e.cwd !== undefined) json += `,"cwd":${jsonString(e.cwd)}`;
  if (e.sockaddr !== undefined) json += `,"sockaddr":${JSON.stringify(e.sockaddr)}`;
  return `${json},"records":[${records}]}`;
}

function isNullish(value: string, first: number): boolean {
  // "(null)", "(none)" and "?" carry no information
  if (first === 63) return value.length === 1;
  return first === 40 && (value === "(null)" || value === "(none)");
}

function decodeArg(value: string): string {
  if (value.charCodeAt(0) === 34) return value.slice(1, value.length - (value.endsWith('"') ? 1 : 0));
  if (value === "(null)") return value;
  return decodeHexString(value) ?? value;
}

function isNumeric(s: string): boolean {
  for (let i = s.charCodeAt(0) === 45 ? 1 : 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

/** "avc: denied { read write } for …" → seresult/seperms, the names ausearch uses. */
function avcResult(text: string, fields: string): string {
  const open = text.indexOf("{");
  const close = text.indexOf("}", open);
  const result = text.slice(4, open < 0 ? undefined : open).trim();
  let out = fields;
  if (result) out = member(out, "seresult", jsonString(result));
  if (open >= 0 && close > open)
    out = member(
      out,
      "seperms",
      jsonString(
        text
          .slice(open + 1, close)
          .trim()
          .split(/\s+/)
          .join(","),
      ),
    );
  return out;
}

/** ENRICHED fields as JSON members: values unquoted, braced values (`SADDR={ … }`) as nested objects. */
function enrichedJson(keys: string[], values: string[]): string {
  let out = "";
  for (let i = 0; i < keys.length; i++) {
    const value = values[i]!;
    const c = value.charCodeAt(0);
    let json: string;
    if (c === 123 /* { */) {
      const innerKeys: string[] = [];
      const innerValues: string[] = [];
      tokenize(value, 1, value.length - 1, innerKeys, innerValues, undefined, false);
      json = `{${enrichedJson(innerKeys, innerValues)}}`;
    } else {
      json = jsonString(c === 34 && value.length >= 2 ? value.slice(1, -1) : value);
    }
    out = member(out, keys[i]!, json);
  }
  return out;
}
