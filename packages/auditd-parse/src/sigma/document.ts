import type { AuditEvent, EnrichedObject, FieldValue, OutputRecord } from "../event";
import { fieldInfo, Kind } from "../fields";
import { interpreted } from "../record-table";
import type { SigmaDoc } from "./compile";

/**
 * What a Sigma rule sees of an audit event: one document per record, because SigmaHQ's auditd rules are
 * written against records (`type: EXECVE` with `a0`, `a1` …; `type: SYSCALL` with `exe`, `key`, `SYSCALL`;
 * `type: PATH` with `name`), with the values as the log has them:
 * - numbers as logged, not interpreted: `euid: 33`, `a0: 40000` (SYSCALL arguments are hex as logged);
 * - hex-encoded strings decoded and quotes removed: `exe`, `comm`, `name`, `cwd` … (rules compare paths);
 * - `key`: each of the rule keys (a key list split at 0x01 matches when any key does);
 * - the ENRICHED names in upper case (`SYSCALL`, `ARCH`, `UID`, `AUID` …): the log's own when it was written
 *   with log_format=ENRICHED, else auditd-parse's interpretation, so a rule using `SYSCALL: execve` works on
 *   raw logs too;
 * - EXECVE: `a0`…`aN` are the whole argv, joined across `aN[i]` chunks and the event's EXECVE records (they
 *   are one document, the first EXECVE record's); PROCTITLE: `proctitle` is the decoded command line;
 *   SOCKADDR: `saddr_fam`, `laddr`, `lport` (or `path`) as ENRICHED's SADDR names them, for `cidr`.
 * A field the record lacks is looked up in the event's other records (in order, the first that has it),
 * so a rule can name `key` or `exe` next to `type: EXECVE`; but not an argument field (`aN`, `aN[i]`, `aN_len`,
 * `argc`: isArgumentField), which is a record's own: EXECVE's are argv, SYSCALL's `a0`-`a3` registers in hex, so
 * a third argument of a two-argument exec is absent (`a2|exists: false`, `a2: null`), not a pointer (T22 #3). Keywords search the record's own values, and in
 * EXECVE also the command line (argv joined by spaces): SigmaHQ's keywords such as `--to-ports 42` span
 * arguments, as they do in the command line a SIEM shows.
 * Values are read when a rule asks for them, not copied into a map per record: most rules stop at the first
 * field, and a record type with no rule of its own meets only the few rules that name no type.
 */
/**
 * What this file uses of the bin's modules, read once: in detect's lazily loaded chunk (scripts/build.mjs) an
 * import from the bin is two getter calls at every use (as in table-doc.ts).
 */
const infoOf = fieldInfo;
const KEY = Kind.Key;
const ENCODED = Kind.Encoded;
const isInterpreted = interpreted;

export abstract class Doc implements SigmaDoc {
  private flat: string[] | undefined;
  private searched: readonly string[] | undefined;
  /** Field values by slot, read once (MISSING: looked up, absent). */
  private slots: (string | readonly string[] | typeof MISSING | undefined)[] | undefined;

  constructor(
    protected readonly event: AuditEvent,
    private readonly all: readonly Doc[],
    /** Fields looked up in the event's records, shared by its documents (see get). */
    private readonly shared: EventShared,
    /** Text keyword search sees besides the values: EXECVE's whole command line. */
    private readonly text: string | undefined,
  ) {}

  abstract get type(): string;

  /** This record's value of `field`, or undefined. */
  abstract own(field: string): string | readonly string[] | undefined;

  /** The names this record has a value for (own ones, not the event's). */
  abstract names(): string[];

  at(slot: number, field: string): string | readonly string[] | undefined {
    this.slots ??= [];
    let v = this.slots[slot];
    if (v === undefined) {
      v = this.own(field);
      if (v === undefined) {
        // get()'s answer for a record that lacks the field, kept by slot for all of the event's documents
        const slots = this.shared.slots;
        v = slots[slot];
        if (v === undefined) {
          v = this.firstHaving(field) ?? MISSING;
          slots[slot] = v;
        }
      }
      this.slots[slot] = v;
    }
    return v === MISSING ? undefined : v;
  }

  get(field: string): string | readonly string[] | undefined {
    const own = this.own(field);
    if (own !== undefined) return own;
    // this record lacks it, so "the first other record that has it" is the first record that has it:
    // one answer for all of the event's documents, remembered (rules ask every record for the same fields)
    this.shared.byName ??= new Map();
    const byName = this.shared.byName;
    const known = byName.get(field);
    if (known !== undefined) return known === MISSING ? undefined : known;
    const found = this.firstHaving(field);
    byName.set(field, found ?? MISSING);
    return found;
  }

  /** The first of the event's records that has the field: its value (none for an argument field). */
  protected firstHaving(field: string): string | readonly string[] | undefined {
    if (isArgumentField(field)) return undefined;
    for (const doc of this.all) {
      const v = doc.own(field);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  values(): readonly string[] {
    if (this.flat === undefined) {
      this.flat = [];
      for (const name of this.names()) {
        if (name === "type") continue;
        const v = this.own(name)!;
        if (typeof v === "string") this.flat.push(v);
        else this.flat.push(...v);
      }
      if (this.text !== undefined) this.flat.push(this.text);
    }
    return this.flat;
  }

  /**
   * values() for a search that finds a text wherever a text holding it is found (SigmaDoc.searchValues): an
   * EXECVE record's arguments are left out, as each is a piece of the command line (argv joined by spaces),
   * which is searched whole. One pass over a long command line instead of one per argument (an exec of 600
   * arguments, each lower-cased and searched for every keyword rule the gate let through).
   */
  searchValues(): readonly string[] {
    if (this.text === undefined) return this.values();
    this.searched ??= this.searchList(this.text);
    return this.searched;
  }

  /** searchValues() of a record with a command line (made once). */
  protected searchList(text: string): readonly string[] {
    const argv = this.event.argv;
    const out: string[] = [];
    for (const name of this.names()) {
      if (name === "type") continue;
      const v = this.own(name)!;
      // an argument (a0 … as argv has it) is in the command line: only other values are kept
      if (typeof v === "string") {
        if (isExecveField(name) || argv === undefined || v !== argv[argIndex(name)]) out.push(v);
      } else out.push(...v);
    }
    out.push(text);
    return out;
  }

  /** The document as one flat object (for the oracle's export): own fields over the event's. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const doc of [this, ...this.all.filter((d) => d !== this)]) {
      for (const name of doc.names()) {
        if (name in out || (doc !== this && isArgumentField(name))) continue;
        const v = doc.own(name)!;
        out[name] = typeof v === "string" ? v : v.join(",");
      }
    }
    return out;
  }
}

/** A record's document read from the record as an object (`event.records`, the JSON parsed back). */
export class RecordDoc extends Doc {
  constructor(
    readonly record: OutputRecord,
    event: AuditEvent,
    all: readonly Doc[],
    shared: EventShared,
    text: string | undefined,
  ) {
    super(event, all, shared, text);
  }

  get type(): string {
    return this.record.type;
  }

  own(field: string): string | readonly string[] | undefined {
    const record = this.record;
    if (field === "type") return record.type;
    // own members only: a rule naming `constructor` or `__proto__` must not read Object.prototype's
    const value = Object.hasOwn(record.fields, field) ? record.fields[field] : undefined;
    if (value !== undefined) {
      const kind = infoOf(field).kind;
      if (kind === KEY && this.event.keys !== undefined) return this.event.keys;
      if (kind === ENCODED && typeof value === "string") return value;
      const logged = record.raw !== undefined && Object.hasOwn(record.raw, field) ? record.raw[field] : undefined;
      if (logged !== undefined) return logged;
      if (typeof value === "string") return value;
    }
    const enriched = record.enriched !== undefined && Object.hasOwn(record.enriched, field) ? record.enriched[field] : undefined;
    if (typeof enriched === "string") return enriched;
    return this.derived(field);
  }

  /** The values a record does not log under that name: ENRICHED-style names, argv, proctitle, address parts. */
  private derived(field: string): string | undefined {
    const record = this.record;
    const first = field.charCodeAt(0);
    if (first >= 65 && first <= 90) {
      // SYSCALL, UID …: the interpretation of the lower-case field, when the log has no ENRICHED part for it
      const lower = field.toLowerCase();
      const v = record.fields[lower];
      const kind = infoOf(lower).kind;
      if (typeof v === "string" && isInterpreted(kind) && record.enriched?.[field] === undefined) return v;
      return undefined;
    }
    return special(record.type, this.event, field, record.enriched?.SADDR);
  }

  names(): string[] {
    const r = this.record;
    const names = ["type", ...Object.keys(r.fields)];
    for (const name of Object.keys(r.fields)) {
      const kind = infoOf(name).kind;
      if (isInterpreted(kind)) names.push(name.toUpperCase());
    }
    if (r.enriched !== undefined) names.push(...Object.keys(r.enriched));
    return [...new Set(specialNames(r.type, this.event, names))].filter((n) => this.own(n) !== undefined);
  }
}

/**
 * A record's argument fields, never looked up in another record (Doc): `argc`, `aN`, `aN[i]` and `aN_len`, whose
 * meaning is the record type's (EXECVE's argv, SYSCALL's registers).
 */
export function isArgumentField(name: string): boolean {
  return name.charCodeAt(0) === 97 && (name === "argc" || ARGUMENT.test(name));
}
const ARGUMENT = /^a\d+(?:\[\d+\]|_len)?$/;

/** In an EXECVE record every a… name but argc is argv (a0, a1[0], a1_len), not a field (Interpreter.execveAt). */
export function isExecveField(name: string): boolean {
  return name.charCodeAt(0) !== 97 || name === "argc";
}

/** The lower-case names some record types have beyond their fields: EXECVE's argv, PROCTITLE, SOCKADDR's parts. */
export function special(
  type: string,
  event: AuditEvent,
  field: string,
  saddr: FieldValue | EnrichedObject | undefined,
): string | undefined {
  switch (type) {
    case "EXECVE": {
      const argv = event.argv;
      return argv !== undefined && field.charCodeAt(0) === 97 ? argv[argIndex(field)] : undefined;
    }
    case "PROCTITLE":
      return field === "proctitle" ? event.proctitle?.join(" ") : undefined;
    case "SOCKADDR":
      return saddrPart(saddr, event, field);
    default:
      return undefined;
  }
}

/** Whether special() may give a value for the field in a record of the type (whatever the event holds). */
export function hasSpecial(type: string, field: string): boolean {
  switch (type) {
    case "EXECVE":
      return field.charCodeAt(0) === 97;
    case "PROCTITLE":
      return field === "proctitle";
    case "SOCKADDR":
      return field === "saddr_fam" || field === "laddr" || field === "lport" || field === "path";
    default:
      return false;
  }
}

/** names with those of special() added. */
export function specialNames(type: string, event: AuditEvent, names: string[]): string[] {
  // a loop, not push(...): a long argv (300,000 arguments) would pass more arguments than the stack holds
  if (type === "EXECVE") for (let i = 0; i < (event.argv?.length ?? 0); i++) names.push(`a${i}`);
  if (type === "PROCTITLE") names.push("proctitle");
  if (type === "SOCKADDR") names.push("saddr_fam", "laddr", "lport", "path");
  return names;
}

/** A field looked up and found absent (kept so it is looked up once). */
export const MISSING = Symbol("missing");

/** What an event's documents share: the values of fields looked up beyond a record (Doc.get), by slot and by name. */
export class EventShared {
  readonly slots: (string | readonly string[] | typeof MISSING | undefined)[] = [];
  /** Made when first needed: only `fieldref` asks by name. */
  byName: Map<string, string | readonly string[] | typeof MISSING> | undefined;
}

/** n for a field named `an` (a0, a1, … a12), else -1: read by hand, this runs for every EXECVE lookup. */
function argIndex(field: string): number {
  if (field.length < 2 || (field.length > 2 && field.charCodeAt(1) === 48)) return -1;
  let n = 0;
  for (let i = 1; i < field.length; i++) {
    const c = field.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** The decoded address under the names auditd's ENRICHED SADDR={ saddr_fam=inet laddr=… lport=… } uses. */
function saddrPart(enriched: FieldValue | EnrichedObject | undefined, event: AuditEvent, field: string): string | undefined {
  if (typeof enriched === "object" && enriched !== null) {
    const v = (enriched as EnrichedObject)[field];
    return typeof v === "string" ? v : undefined;
  }
  const saddr = event.sockaddr;
  if (saddr === undefined) return undefined;
  if (field === "saddr_fam") return saddr.family;
  if (saddr.family === "inet" || saddr.family === "inet6") {
    if (field === "laddr") return saddr.address;
    if (field === "lport") return String(saddr.port);
  }
  if (saddr.family === "unix" && field === "path") return saddr.path;
  return undefined;
}

/** The Sigma documents of one event, one per record (EXECVE records after the first fold into it). */
export function eventDocs(event: AuditEvent): RecordDoc[] {
  const docs: Doc[] = [];
  const shared = new EventShared();
  let execve = false;
  for (const record of event.records) {
    if (record.type === "EXECVE") {
      if (execve) continue;
      execve = true;
    }
    docs.push(new RecordDoc(record, event, docs, shared, record.type === "EXECVE" ? event.argv?.join(" ") : undefined));
  }
  return docs as RecordDoc[];
}
