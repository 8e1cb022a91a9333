import { Assembler, type AssemblerOptions, type AssemblerStats } from "./assemble";
import type { AuditEvent } from "./event";
import type { EventJson } from "./event-json";
import { IdNames, type IdSources } from "./ids";
import { Interpreter, type InterpreterOptions } from "./interpret";
import { LineSplitter } from "./lines";
import type { OpenEvent } from "./open-event";

export interface ParserOptions extends AssemblerOptions, InterpreterOptions {
  ids?: IdSources;
}

/** The assembler's counts, and how many records the interpreter read on its text path (the slow one). */
export interface ParserStats extends AssemblerStats {
  textPath: number;
}

/**
 * The whole pipeline for one input stream: bytes → lines → records → grouped events → interpreted events.
 * Push bytes (or lines), then end(); events arrive through onEvent as they complete.
 */
export class AuditParser {
  private readonly assembler: Assembler<OpenEvent>;
  private readonly interpreter: Interpreter;
  private readonly splitter: LineSplitter;

  /**
   * onEvent gets each event and its NDJSON line (records as objects only with recordObjects, the default).
   * The line is valid only during the call: write it, or keep String(json).
   */
  constructor(onEvent: (event: AuditEvent, json: EventJson) => void, options: ParserOptions = {}) {
    this.interpreter = new Interpreter(new IdNames(options.ids), onEvent, options);
    this.assembler = new Assembler(this.interpreter, options);
    this.splitter = new LineSplitter(
      (buf, start, end) => this.assembler.push(buf, start, end),
      () => this.assembler.stats.cut++,
      () => this.assembler.stats.wide++,
    );
  }

  /** The grouping's newest log time (ms), which its window is counted from. */
  get newestMs(): number {
    return this.assembler.newest;
  }

  /** The earliest log time (ms) of the events the grouping has not written yet. */
  oldestPendingMs(): number {
    return this.assembler.oldestPendingMs();
  }

  get stats(): ParserStats {
    return { ...this.assembler.stats, textPath: this.interpreter.textRecords };
  }

  /** Event buffer sets the interpreter made (see Interpreter.bufferSets). */
  get bufferSets(): number {
    return this.interpreter.bufferSets;
  }

  pushBytes(chunk: Buffer): void {
    this.splitter.push(chunk);
  }

  pushLine(line: string): void {
    const buf = Buffer.from(line, "utf8");
    this.assembler.push(buf, 0, buf.length);
  }

  /** Live input: call every `intervalMs`; completes the events that got no record for `windowMs` of wall time. */
  tick(intervalMs: number, windowMs: number): void {
    this.assembler.tick(Math.max(1, Math.ceil(windowMs / intervalMs)));
  }

  /** End of one input file: its last line may lack a newline. Open events stay open (rotation). */
  endOfFile(): void {
    this.splitter.end();
  }

  /**
   * A followed file was truncated: its partial last line ends here (the new content starts a line), and a
   * serial gap across the cut is not counted as events the kernel dropped.
   */
  truncated(): void {
    this.splitter.end();
    this.assembler.breakSerialRuns();
  }

  /** End of all input: completes every open event. */
  end(): void {
    this.splitter.end();
    this.assembler.flush();
  }
}

/** Parses a whole string (tests, small inputs) into events. */
export function parseText(text: string, options: ParserOptions = {}): { events: AuditEvent[]; stats: ParserStats } {
  const events: AuditEvent[] = [];
  const parser = new AuditParser((e) => events.push(e), options);
  parser.pushBytes(Buffer.from(text, "utf8"));
  parser.end();
  return { events, stats: parser.stats };
}
