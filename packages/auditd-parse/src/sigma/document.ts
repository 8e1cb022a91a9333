import type { AuditEvent, OutputRecord } from "../event";
import { fieldInfo, Kind } from "../fields";
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
 * so a rule can name `key` or `exe` next to `type: EXECVE`. Keywords search the record's own values, and in
 * EXECVE also the command line (argv joined by spaces): SigmaHQ's keywords such as `--to-ports 42` span
 * arguments, as they do in the command line a SIEM shows.
 */
export class RecordDoc implements SigmaDoc {
  constructor(
    readonly record: OutputRecord,
    private readonly own: Map<string, string | string[]>,
    private readonly event: EventFields,
    /** Text keyword search sees besides the values: EXECVE's whole command line. */
    private readonly text: string | undefined,
  ) {}

  get type(): string {
    return this.record.type;
  }

  get(field: string): string | readonly string[] | undefined {
    return this.own.get(field) ?? this.event.get(field);
  }

  private flat: string[] | undefined;
  values(): readonly string[] {
    if (this.flat === undefined) {
      this.flat = [];
      for (const [name, v] of this.own) if (name !== "type") typeof v === "string" ? this.flat.push(v) : this.flat.push(...v);
      if (this.text !== undefined) this.flat.push(this.text);
    }
    return this.flat;
  }

  /** The document as one flat object (for the oracle's export): own fields over the event's. */
  toObject(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.event.all()) out[k] = typeof v === "string" ? v : v.join(",");
    for (const [k, v] of this.own) out[k] = typeof v === "string" ? v : v.join(",");
    return out;
  }
}

/** The fields of all of an event's records, the first record that has a field giving its value. */
export class EventFields {
  private merged: Map<string, string | string[]> | undefined;
  constructor(private readonly docs: Map<string, string | string[]>[]) {}

  get(field: string): string | string[] | undefined {
    // built on the first miss only: most lookups are answered by the record itself
    return this.all().get(field);
  }

  all(): Map<string, string | string[]> {
    if (this.merged === undefined) {
      this.merged = new Map();
      for (const doc of this.docs) for (const [k, v] of doc) if (!this.merged.has(k)) this.merged.set(k, v);
    }
    return this.merged;
  }
}

/** ENRICHED-style upper-case names auditd adds for these interpreted fields (auditd's log_format=ENRICHED). */
const ENRICH = new Set([Kind.User, Kind.Group, Kind.Arch, Kind.Syscall]);

/** The Sigma documents of one event, one per record (EXECVE records after the first fold into it). */
export function eventDocs(event: AuditEvent): RecordDoc[] {
  const maps: Map<string, string | string[]>[] = [];
  const records: OutputRecord[] = [];
  let execve = false;
  for (const record of event.records) {
    if (record.type === "EXECVE") {
      if (execve) continue;
      execve = true;
    }
    maps.push(recordFields(record, event));
    records.push(record);
  }
  const fields = new EventFields(maps);
  const cmdline = event.argv?.join(" ");
  return records.map((r, i) => new RecordDoc(r, maps[i]!, fields, r.type === "EXECVE" ? cmdline : undefined));
}

function recordFields(record: OutputRecord, event: AuditEvent): Map<string, string | string[]> {
  const out = new Map<string, string | string[]>();
  out.set("type", record.type);
  const raw = record.raw;
  for (const name in record.fields) {
    const value = record.fields[name];
    const info = fieldInfo(name);
    const kind = info.kind;
    if (kind === Kind.Key && event.keys !== undefined) {
      out.set(name, event.keys);
      continue;
    }
    if (kind === Kind.Encoded && typeof value === "string") out.set(name, value);
    else {
      const logged = raw?.[name] ?? (typeof value === "string" ? value : undefined);
      if (logged !== undefined) out.set(name, logged);
    }
    if (kind !== undefined && ENRICH.has(kind) && typeof value === "string") {
      const upper = name.toUpperCase();
      if (record.enriched?.[upper] === undefined) out.set(upper, value);
    }
  }
  if (record.enriched !== undefined) {
    for (const name in record.enriched) {
      const v = record.enriched[name];
      if (typeof v === "string") out.set(name, v);
      else if (v !== undefined) {
        // SADDR={ saddr_fam=inet laddr=… lport=… }: its parts as fields
        for (const part in v) {
          const p = v[part];
          if (typeof p === "string") out.set(part, p);
        }
      }
    }
  }
  const saddr = record.type === "SOCKADDR" ? event.sockaddr : undefined;
  if (saddr !== undefined && record.enriched?.SADDR === undefined) {
    // the decoded address under the names auditd's ENRICHED SADDR={ saddr_fam=inet laddr=… lport=… } uses
    out.set("saddr_fam", String(saddr.family));
    if (saddr.family === "inet" || saddr.family === "inet6") {
      out.set("laddr", saddr.address);
      out.set("lport", String(saddr.port));
    } else if (saddr.family === "unix") out.set("path", saddr.path);
  }
  if (record.type === "EXECVE" && event.argv !== undefined) {
    for (let i = 0; i < event.argv.length; i++) out.set(`a${i}`, event.argv[i]!);
  } else if (record.type === "PROCTITLE" && event.proctitle !== undefined) {
    out.set("proctitle", event.proctitle.join(" "));
  }
  return out;
}
