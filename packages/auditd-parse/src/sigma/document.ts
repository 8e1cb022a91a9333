import type { AuditEvent, OutputRecord } from "../event";
import { fieldInfo, Kind } from "../fields";
import type { SigmaDoc } from "./compile";
import { ENRICHED, FIELDS, NOT_STRING, RAW, type RecordsIndex } from "./records-index";

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
 * so a rule can name `key` or `exe` next to `type: EXECVE`. Keywords search the record's own values, and in
 * EXECVE also the command line (argv joined by spaces): SigmaHQ's keywords such as `--to-ports 42` span
 * arguments, as they do in the command line a SIEM shows.
 * Values are read when a rule asks for them, not copied into a map per record: most rules stop at the first
 * field, and a record type with no rule of its own meets only the few rules that name no type.
 */
export class RecordDoc implements SigmaDoc {
  private flat: string[] | undefined;
  /** Field values by slot, read once (MISSING: looked up, absent). */
  private readonly slots: (string | readonly string[] | typeof MISSING | undefined)[] = [];

  constructor(
    private readonly data: RecordData,
    private readonly event: AuditEvent,
    private readonly all: readonly RecordDoc[],
    /** Fields looked up in the event's records, shared by its documents (see get). */
    private readonly shared: Map<string, string | readonly string[] | null>,
    /** Text keyword search sees besides the values: EXECVE's whole command line. */
    private readonly text: string | undefined,
  ) {}

  get type(): string {
    return this.data.type;
  }

  /** The whole record as an object (made when first asked: keyword search and the oracle's export need it). */
  get record(): OutputRecord {
    return this.data.object();
  }

  at(slot: number, field: string): string | readonly string[] | undefined {
    let v = this.slots[slot];
    if (v === undefined) {
      v = this.get(field) ?? MISSING;
      this.slots[slot] = v;
    }
    return v === MISSING ? undefined : v;
  }

  get(field: string): string | readonly string[] | undefined {
    const own = this.own(field);
    if (own !== undefined) return own;
    // this record lacks it, so "the first other record that has it" is the first record that has it:
    // one answer for all of the event's documents, remembered (rules ask every record for the same fields)
    const known = this.shared.get(field);
    if (known !== undefined) return known ?? undefined;
    let found: string | readonly string[] | null = null;
    for (const doc of this.all) {
      const v = doc.own(field);
      if (v !== undefined) {
        found = v;
        break;
      }
    }
    this.shared.set(field, found);
    return found ?? undefined;
  }

  /** This record's value of `field`, or undefined. */
  own(field: string): string | readonly string[] | undefined {
    const data = this.data;
    if (field === "type") return data.type;
    const quoted = quote(field);
    const value = data.field(field, quoted);
    if (value !== undefined) {
      const kind = fieldInfo(field).kind;
      if (kind === Kind.Key && this.event.keys !== undefined) return this.event.keys;
      if (kind === Kind.Encoded && value !== NOT_STRING) return value;
      const logged = data.raw(field, quoted);
      if (logged !== undefined) return logged;
      if (value !== NOT_STRING) return value;
    }
    const enriched = data.enriched(field, quoted);
    if (enriched !== undefined && enriched !== NOT_STRING) return enriched;
    return this.derived(field);
  }

  /** The values a record does not log under that name: ENRICHED-style names, argv, proctitle, address parts. */
  private derived(field: string): string | undefined {
    const data = this.data;
    const first = field.charCodeAt(0);
    if (first >= 65 && first <= 90) {
      // SYSCALL, UID …: the interpretation of the lower-case field, when the log has no ENRICHED part for it
      const lower = field.toLowerCase();
      const kind = fieldInfo(lower).kind;
      if (kind === undefined || !ENRICH.has(kind)) return undefined;
      const v = data.field(lower, quote(lower));
      if (typeof v === "string" && data.enriched(field, quote(field)) === undefined) return v;
      return undefined;
    }
    switch (data.type) {
      case "EXECVE": {
        const argv = this.event.argv;
        return argv !== undefined && first === 97 ? argv[argIndex(field)] : undefined;
      }
      case "PROCTITLE":
        return field === "proctitle" ? this.event.proctitle?.join(" ") : undefined;
      case "SOCKADDR": {
        // ENRICHED's SADDR={ … } is an object: the record is parsed for it (SOCKADDR records are few)
        const saddr = data.enriched("SADDR", quote("SADDR"));
        return saddrPart(saddr === NOT_STRING ? data.object().enriched?.SADDR : saddr, this.event, field);
      }
      default:
        return undefined;
    }
  }

  /** The names this record has a value for (own ones, not the event's), in a stable order. */
  names(): string[] {
    const r = this.record;
    const names = ["type", ...Object.keys(r.fields)];
    for (const name of Object.keys(r.fields)) {
      const kind = fieldInfo(name).kind;
      if (kind !== undefined && ENRICH.has(kind)) names.push(name.toUpperCase());
    }
    if (r.enriched !== undefined) names.push(...Object.keys(r.enriched));
    if (r.type === "EXECVE") names.push(...(this.event.argv ?? []).map((_, i) => `a${i}`));
    if (r.type === "PROCTITLE") names.push("proctitle");
    if (r.type === "SOCKADDR") names.push("saddr_fam", "laddr", "lport", "path");
    return [...new Set(names)].filter((n) => this.own(n) !== undefined);
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

  /** The document as one flat object (for the oracle's export): own fields over the event's. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const doc of [this, ...this.all.filter((d) => d !== this)]) {
      for (const name of doc.names()) {
        if (name in out) continue;
        const v = doc.own(name)!;
        out[name] = typeof v === "string" ? v : v.join(",");
      }
    }
    return out;
  }
}

const MISSING = Symbol("missing");

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

/** ENRICHED-style upper-case names auditd adds for these interpreted fields (auditd's log_format=ENRICHED). */
const ENRICH = new Set([Kind.User, Kind.Group, Kind.Arch, Kind.Syscall]);

/** The decoded address under the names auditd's ENRICHED SADDR={ saddr_fam=inet laddr=… lport=… } uses. */
function saddrPart(enriched: unknown, event: AuditEvent, field: string): string | undefined {
  if (typeof enriched === "object" && enriched !== null) {
    const v = (enriched as Record<string, unknown>)[field];
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
export function eventDocs(event: AuditEvent, index?: RecordsIndex): RecordDoc[] {
  const docs: RecordDoc[] = [];
  const shared = new Map<string, string | readonly string[] | null>();
  let execve = false;
  const count = index === undefined ? event.records.length : index.records;
  for (let r = 0; r < count; r++) {
    const data = index === undefined ? new ObjectData(event.records[r]!) : new IndexData(index, r);
    if (data.type === "EXECVE") {
      if (execve) continue;
      execve = true;
    }
    docs.push(new RecordDoc(data, event, docs, shared, data.type === "EXECVE" ? event.argv?.join(" ") : undefined));
  }
  return docs;
}

/** What a document reads of its record: the parsed object (the API's events) or the parser's text (detect). */
interface RecordData {
  readonly type: string;
  /** fields[name]: a string, NOT_STRING for another value (null, an object), undefined when absent. */
  field(name: string, quoted: string): string | typeof NOT_STRING | undefined;
  /** raw[name] (the value as logged), undefined when absent. */
  raw(name: string, quoted: string): string | undefined;
  /** enriched[name], as field(). */
  enriched(name: string, quoted: string): string | typeof NOT_STRING | undefined;
  object(): OutputRecord;
}

class ObjectData implements RecordData {
  constructor(private readonly record: OutputRecord) {}
  get type(): string {
    return this.record.type;
  }
  field(name: string): string | typeof NOT_STRING | undefined {
    return kindOf(this.record.fields[name]);
  }
  raw(name: string): string | undefined {
    return this.record.raw?.[name];
  }
  enriched(name: string): string | typeof NOT_STRING | undefined {
    return kindOf(this.record.enriched?.[name]);
  }
  object(): OutputRecord {
    return this.record;
  }
}

function kindOf(v: unknown): string | typeof NOT_STRING | undefined {
  return v === undefined ? undefined : typeof v === "string" ? v : NOT_STRING;
}

class IndexData implements RecordData {
  private parsed: OutputRecord | undefined;
  readonly type: string;
  /** The name last located, and where it is in each section (own() asks fields, raw, enriched in turn). */
  private name: string | undefined;
  private readonly at = new Int32Array(3);

  constructor(
    private readonly index: RecordsIndex,
    private readonly r: number,
  ) {
    this.type = index.types[r]!;
  }

  private member(section: number, name: string, quoted: string): number {
    if (name !== this.name) {
      this.index.locate(this.r, name, quoted);
      this.at.set(this.index.found);
      this.name = name;
    }
    return this.at[section]!;
  }

  field(name: string, quoted: string): string | typeof NOT_STRING | undefined {
    const m = this.member(FIELDS, name, quoted);
    return m < 0 ? undefined : this.index.stringAt(m);
  }

  raw(name: string, quoted: string): string | undefined {
    const m = this.member(RAW, name, quoted);
    if (m < 0) return undefined;
    const v = this.index.stringAt(m);
    // the parser writes raw values as strings; anything else is read as JSON.parse would
    return v === NOT_STRING ? (this.index.valueAt(m) as string) : v;
  }

  enriched(name: string, quoted: string): string | typeof NOT_STRING | undefined {
    const m = this.member(ENRICHED, name, quoted);
    return m < 0 ? undefined : this.index.stringAt(m);
  }

  object(): OutputRecord {
    this.parsed ??= this.index.object(this.r);
    return this.parsed;
  }
}

/** Field names as JSON strings, made once per name (the rules name a few dozen). */
const QUOTED = new Map<string, string>();
function quote(name: string): string {
  let q = QUOTED.get(name);
  if (q === undefined) {
    q = JSON.stringify(name);
    if (QUOTED.size < 4096) QUOTED.set(name, q);
  }
  return q;
}
