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
  syscallName,
} from "./decode";
import { type IdNames, UNSET_ID } from "./ids";
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
  unparsed?: string | undefined;
}

/** One event: the stable output schema (schema/event.schema.json). */
export interface AuditEvent {
  id: string | null;
  node?: string | undefined;
  time: string | null;
  serial: number | null;
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
  records: OutputRecord[];
  unparsed?: string[] | undefined;
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
  Nested,
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
define(Kind.Session, "ses old-ses");
define(Kind.Nested, "msg");

/** Bound on argv indexes, so a corrupt `a99999999=` cannot allocate a huge sparse array. */
const MAX_ARGS = 100_000;

/** Field values that carry no information: kept as null, with the raw text beside. */
const NULLISH = new Set(["(null)", "?", "(none)"]);

/** Turns grouped raw records into readable events. */
export class Interpreter {
  private chunks: Map<number, string> | undefined;

  constructor(private readonly ids: IdNames) {}

  event(raw: RawEvent): AuditEvent {
    if (raw.records.length === 0) {
      return { id: null, time: null, serial: null, records: [], unparsed: raw.unparsed ?? [] };
    }
    // Every key declared up front, in schema order: one hidden class for V8, a stable key order in the
    // output; JSON.stringify drops the ones left undefined.
    const event: AuditEvent = {
      id: raw.stamp,
      node: raw.node,
      time: new Date(raw.timeMs).toISOString(),
      serial: raw.serial,
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
    for (const record of raw.records) {
      event.records.push(this.record(record, event));
    }
    this.finishArgv(event);
    return event;
  }

  private record(record: AuditRecord, event: AuditEvent): OutputRecord {
    const out: OutputRecord = { type: record.type, fields: {} };
    const type = record.type;
    if (type === "EXECVE") this.execve(record, event, out);
    else if (type === "PROCTITLE") this.proctitle(record, event, out);
    else this.fields(record.keys, record.values, out, event, type === "SYSCALL");
    if (record.text !== undefined) {
      out.text = out.text === undefined ? record.text : `${record.text} ${out.text}`;
      if (record.text.startsWith("avc:")) avcResult(out.text, out.fields);
    }
    if (record.enrichedKeys && record.enrichedValues) out.enriched = enrichedObject(record.enrichedKeys, record.enrichedValues);
    if (record.unparsed !== undefined) out.unparsed = record.unparsed;
    return out;
  }

  private fields(keys: string[], values: string[], out: OutputRecord, event: AuditEvent, isSyscall: boolean, nested = false): void {
    const fields = out.fields;
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
        this.nested(value, out, event);
        continue;
      }
      // inner msg='…' fields may repeat an outer name (pid, uid); keep both
      const name = nested && key in fields ? `msg.${key}` : key;
      if (!quoted && NULLISH.has(value)) {
        fields[name] = null;
        keepRaw(out, name, value);
        continue;
      }
      const kind = KINDS.get(key);
      let v: FieldValue = value;
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
            break;
          case Kind.Syscall:
            v = syscallName(arch ?? event.arch, value) ?? value;
            break;
          case Kind.Exit:
            v = errnoName(value) ?? value;
            break;
          case Kind.Mode:
            v = modeText(value) ?? value;
            break;
          case Kind.Perm:
            v = permText(value) ?? value;
            break;
          case Kind.Cap:
            v = capNames(value) ?? value;
            break;
          case Kind.Context:
            v = securityContext(value) ?? value;
            break;
          case Kind.Saddr: {
            const decoded = decodeSockaddr(value);
            if (decoded) {
              v = decoded;
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
          case Kind.Nested:
            break;
        }
      }
      fields[name] = v;
      if (v !== value) keepRaw(out, name, value);
      if (isSyscall) this.summarise(event, key, v, value);
      else this.summariseUser(event, key, v);
    }
  }

  /** msg='op=… acct="root" exe=… res=success' in user-space records: its fields join the record's. */
  private nested(quotedValue: string, out: OutputRecord, event: AuditEvent): void {
    const end = quotedValue.charCodeAt(quotedValue.length - 1) === 39 ? quotedValue.length - 1 : quotedValue.length;
    const keys: string[] = [];
    const values: string[] = [];
    const sink = { text: undefined as string | undefined };
    tokenize(quotedValue, 1, end, keys, values, sink, true);
    if (sink.text !== undefined) out.text = sink.text;
    this.fields(keys, values, out, event, false, true);
  }

  private summarise(event: AuditEvent, key: string, v: FieldValue, raw: string): void {
    switch (key) {
      case "arch":
        event.arch = v as string;
        break;
      case "syscall":
        event.syscall = v as string;
        break;
      case "success":
        event.success = raw === "yes";
        break;
      case "exit":
        event.exit = v as string;
        break;
      default:
        this.summariseUser(event, key, v);
    }
  }

  private summariseUser(event: AuditEvent, key: string, v: FieldValue): void {
    if (typeof v !== "string") return;
    switch (key) {
      case "pid":
      case "ppid":
      case "auid":
      case "uid":
      case "ses":
      case "comm":
      case "exe":
        event[key] ??= v;
        break;
      case "res":
      case "result":
        event.success ??= v === "success" || v === "1" || v === "yes";
        break;
      case "cwd":
        event.cwd ??= v;
        break;
    }
  }

  /** a0…aN, including arguments split as aN_len/aN[i] and spread over several EXECVE records. */
  private execve(record: AuditRecord, event: AuditEvent, out: OutputRecord): void {
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
        out.fields[key] = value;
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

  private proctitle(record: AuditRecord, event: AuditEvent, out: OutputRecord): void {
    const i = record.keys.indexOf("proctitle");
    if (i < 0) {
      this.fields(record.keys, record.values, out, event, false);
      return;
    }
    const value = record.values[i]!;
    const text = value.charCodeAt(0) === 34 ? value.slice(1, -1) : (decodeHexString(value) ?? value);
    const parts = text.split("\0");
    while (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
    event.proctitle = parts;
  }
}

function decodeArg(value: string): string {
  if (value.charCodeAt(0) === 34) return value.slice(1, value.length - (value.endsWith('"') ? 1 : 0));
  if (value === "(null)") return value;
  return decodeHexString(value) ?? value;
}

function keepRaw(out: OutputRecord, name: string, value: string): void {
  if (out.raw === undefined) out.raw = {};
  out.raw[name] = value;
}

function isNumeric(s: string): boolean {
  for (let i = s.charCodeAt(0) === 45 ? 1 : 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return s.length > 0;
}

/** "avc: denied { read write } for …" → seresult/seperms, the names ausearch uses. */
function avcResult(text: string, fields: Record<string, FieldValue>): void {
  const open = text.indexOf("{");
  const close = text.indexOf("}", open);
  const result = text.slice(4, open < 0 ? undefined : open).trim();
  if (result) fields.seresult = result;
  if (open >= 0 && close > open)
    fields.seperms = text
      .slice(open + 1, close)
      .trim()
      .split(/\s+/)
      .join(",");
}

function enrichedObject(keys: string[], values: string[]): EnrichedObject {
  const out: EnrichedObject = {};
  for (let i = 0; i < keys.length; i++) {
    const value = values[i]!;
    const c = value.charCodeAt(0);
    if (c === 123 /* { */) {
      const innerKeys: string[] = [];
      const innerValues: string[] = [];
      tokenize(value, 1, value.length - 1, innerKeys, innerValues, undefined, false);
      out[keys[i]!] = enrichedObject(innerKeys, innerValues);
    } else {
      out[keys[i]!] = c === 34 && value.length >= 2 ? value.slice(1, -1) : value;
    }
  }
  return out;
}
