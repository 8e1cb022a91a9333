import type { AuditEvent, OutputRecord } from "./event";
import type { EventJson } from "./event-json";
import type { Sockaddr } from "./sockaddr";

/**
 * An event whose `records` are parsed from its JSON the first time they are read (recordObjects "lazy",
 * during onEvent: the JSON's bytes are reused after it). sessions reads the records of login events only.
 * A class with `records` on its prototype, not Object.defineProperty on each event: that gave every event
 * its own accessor pair and shape, and cost a sixth of the parse (issue 23, sessions within 1.3x the parse).
 * `records` is therefore not an own property: JSON.stringify and Object.keys leave it out (the NDJSON line is
 * the serialised form; nothing serialises this object).
 */
export class LazyEvent implements AuditEvent {
  // every key in schema order, as the plain events have them
  types: string[] = [];
  syscall: string | undefined = undefined;
  arch: string | undefined = undefined;
  success: boolean | undefined = undefined;
  exit: string | undefined = undefined;
  pid: string | undefined = undefined;
  ppid: string | undefined = undefined;
  auid: string | undefined = undefined;
  uid: string | undefined = undefined;
  names: "log" | "local" | "mixed" | undefined = undefined;
  ses: string | undefined = undefined;
  comm: string | undefined = undefined;
  exe: string | undefined = undefined;
  keys: string[] | undefined = undefined;
  argc: number | undefined = undefined;
  argv: string[] | undefined = undefined;
  argvRaw: Record<string, string> | undefined = undefined;
  proctitle: string[] | undefined = undefined;
  proctitleRaw: string | undefined = undefined;
  cwd: string | undefined = undefined;
  sockaddr: Sockaddr | undefined = undefined;
  unparsed: string[] | undefined = undefined;
  #json: EventJson | undefined = undefined;
  #records: OutputRecord[] | undefined = undefined;

  constructor(
    public id: string | null,
    public node: string | undefined,
    public time: string | null,
    public serial: number | null,
  ) {}

  /** The JSON `records` will be parsed from when read. */
  attach(json: EventJson): void {
    this.#json = json;
  }

  get records(): OutputRecord[] {
    if (this.#records === undefined) {
      const text = this.#json?.recordsText() ?? "";
      this.#records = JSON.parse(`[${text}]`) as OutputRecord[];
    }
    return this.#records;
  }

  set records(value: OutputRecord[]) {
    this.#records = value;
  }
}
