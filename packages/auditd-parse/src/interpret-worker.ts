import { parentPort, workerData } from "node:worker_threads";
import type { RawEvent } from "./assemble";
import { eventFilter, type FilterOptions } from "./filter";
import { IdNames, type IdSources } from "./ids";
import { Interpreter } from "./interpret";
import { parseRecord } from "./record";

/** What a worker needs to interpret events exactly as the single-threaded pipeline does. */
export interface WorkerInit {
  ids: IdSources;
  filter: FilterOptions | undefined;
}

/**
 * Grouped events as whole lines, in output order. sizes[i] > 0: the next sizes[i] lines are the records of
 * one event; 0: the next line is an event of its own without an audit header (kept as "unparsed").
 */
export interface Batch {
  id: number;
  lines: string[];
  sizes: Int32Array<ArrayBuffer>;
}

/** A batch's NDJSON bytes (bytes[0, length)) and how many of its records had an untokenisable body. */
export interface BatchResult {
  id: number;
  bytes: ArrayBuffer;
  length: number;
  malformed: number;
}

/** Worker side: tokenises, interprets, filters and encodes each batch, and posts back its bytes (transferred). */
export function serveInterpretation(): void {
  const port = parentPort;
  if (port === null) throw new Error("serveInterpretation runs in a worker thread");
  const init = workerData as WorkerInit;
  const ids = new IdNames(init.ids);
  const interpreter = new Interpreter(ids, { recordObjects: false });
  const filter = init.filter === undefined ? undefined : eventFilter(init.filter, ids);
  port.on("message", (batch: Batch) => {
    const out = new ByteSink(batch.lines);
    let malformed = 0;
    let next = 0;
    for (const size of batch.sizes) {
      const raw = size === 0 ? unparsedEvent(batch.lines[next++] ?? "") : recordEvent(batch.lines, next, size);
      next += Math.max(size, 1);
      for (const record of raw.records) if (record.unparsed !== undefined) malformed++;
      const { event, json } = interpreter.event(raw);
      if (filter === undefined || filter(event)) out.line(json);
    }
    const result: BatchResult = { id: batch.id, bytes: out.memory, length: out.used, malformed };
    port.postMessage(result, [out.memory]);
  });
}

function unparsedEvent(line: string): RawEvent {
  return { node: undefined, stamp: "", timeMs: 0, serial: -1, records: [], unparsed: [line] };
}

/** The same event the Assembler built on the main thread, from the same lines (their headers parsed there). */
function recordEvent(lines: string[], from: number, size: number): RawEvent {
  const records = [];
  for (let i = from; i < from + size; i++) {
    const record = parseRecord(lines[i] ?? "");
    if (record === undefined) throw new Error("a line whose header parsed on the main thread did not parse in the worker");
    records.push(record);
  }
  const first = records[0]!;
  return { node: first.node, stamp: first.stamp, timeMs: first.timeMs, serial: first.serial, records, unparsed: undefined };
}

/** One batch's output in a buffer of its own (it is transferred, not copied), grown when a line does not fit. */
class ByteSink {
  memory: ArrayBuffer;
  private buffer: Buffer;
  used = 0;

  constructor(lines: string[]) {
    let chars = 0;
    for (const line of lines) chars += line.length;
    // the NDJSON is about twice the input; room for three times, so growing is rare
    this.memory = new ArrayBuffer(chars * 3 + 4096);
    this.buffer = Buffer.from(this.memory);
  }

  line(text: string): void {
    if (this.used + text.length * 3 + 1 > this.buffer.length) {
      this.memory = new ArrayBuffer(Math.max(this.buffer.length * 2, this.used + text.length * 3 + 1));
      const bigger = Buffer.from(this.memory);
      this.buffer.copy(bigger, 0, 0, this.used);
      this.buffer = bigger;
    }
    this.used += this.buffer.write(text, this.used);
    this.buffer[this.used++] = 10;
  }
}
