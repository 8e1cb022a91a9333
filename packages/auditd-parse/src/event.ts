import type { SecurityContext } from "./decode";
import type { Sockaddr } from "./sockaddr";

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
  /** The node= name's bytes as hex when they are not UTF-8 (node then holds U+FFFD for them). */
  nodeRaw?: string | undefined;
  time: string | null;
  serial: number | null;
  /**
   * On an event written in parts because it passed a bound (MAX_EVENT_RECORDS, MAX_EVENT_BYTES) while its records
   * were still coming: 1 on the first part, 2, 3 … on the later ones (same id). Absent on an event written whole.
   */
  part?: number | undefined;
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
  /**
   * Where the uid/gid names came from: "log" (the ENRICHED names of the host that wrote it), "local" (this
   * host's passwd/group files: raw logs), "mixed"; absent when the event names no id.
   */
  names?: "log" | "local" | "mixed" | undefined;
  ses?: string | undefined;
  comm?: string | undefined;
  exe?: string | undefined;
  keys?: string[] | undefined;
  argc?: number | undefined;
  argv?: string[] | undefined;
  /** Hex of the arguments (by index) whose bytes are not UTF-8: argv has U+FFFD in their place. */
  argvRaw?: Record<string, string> | undefined;
  proctitle?: string[] | undefined;
  /** Hex of the proctitle when its bytes are not UTF-8. */
  proctitleRaw?: string | undefined;
  cwd?: string | undefined;
  sockaddr?: Sockaddr | undefined;
  /** The records as objects: filled only when the Interpreter is asked for them (see InterpreterOptions). */
  records: OutputRecord[];
  unparsed?: string[] | undefined;
  /** Hex of the unparsed line when it is not valid UTF-8. */
  unparsedRaw?: string[] | undefined;
}
