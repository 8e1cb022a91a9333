import { Worker } from "node:worker_threads";
import { Assembler, type AssemblerOptions, type AssemblerStats, type RawEvent } from "./assemble";
import type { Batch, BatchResult, WorkerInit } from "./interpret-worker";
import { LineSplitter } from "./lines";
import type { Output } from "./output";
import { type LineRecord, parseLineRecord } from "./record";

/** Input characters per batch: big enough that messaging costs little, small enough to keep memory flat. */
const BATCH_CHARS = 256 * 1024;
/** Batches sent and not yet written, per worker: the backpressure bound between the threads. */
const IN_FLIGHT_PER_WORKER = 3;

/**
 * The events pipeline split across threads for large inputs: this thread splits lines, parses headers
 * and groups records into events; workers tokenise, interpret and encode batches of events as NDJSON;
 * results are written in batch order, so the output is byte-identical to the single-threaded pipeline.
 */
export class ParallelParser {
  private readonly assembler: Assembler<LineRecord>;
  private readonly splitter: LineSplitter;
  private readonly workers: Worker[];
  private readonly done = new Map<number, BatchResult>();
  private lines: string[] = [];
  private sizes: number[] = [];
  private chars = 0;
  private sent = 0;
  private written = 0;
  private malformed = 0;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  private draining: Promise<void> | undefined;

  constructor(
    workerFile: string,
    workerCount: number,
    init: WorkerInit,
    private readonly output: Output,
    options: AssemblerOptions,
  ) {
    this.assembler = new Assembler<LineRecord>((event) => this.add(event), options, parseLineRecord);
    this.splitter = new LineSplitter((line) => this.assembler.push(line));
    this.workers = Array.from({ length: workerCount }, () => {
      const worker = new Worker(workerFile, { workerData: init });
      worker.on("message", (result: BatchResult) => this.receive(result));
      worker.on("error", (error) => this.fail(error));
      worker.on("exit", (code) => {
        if (code !== 0) this.fail(new Error(`interpretation worker exited with code ${code}`));
      });
      return worker;
    });
  }

  get stats(): AssemblerStats {
    return { ...this.assembler.stats, malformed: this.assembler.stats.malformed + this.malformed };
  }

  /** Feeds one chunk; returns a promise when the caller should wait (workers or output behind). */
  pushBytes(chunk: Buffer): Promise<void> | undefined {
    this.splitter.push(chunk);
    return this.backlog();
  }

  endOfFile(): void {
    this.splitter.end();
  }

  /** Completes every open event, waits for every batch to be written, and stops the workers. */
  async end(): Promise<void> {
    try {
      this.splitter.end();
      this.assembler.flush();
      this.send();
      while (!this.failure && (this.written < this.sent || this.draining)) await this.settle();
      if (this.failure) throw this.failure;
    } finally {
      await Promise.all(this.workers.map((w) => w.terminate()));
    }
  }

  private add(event: RawEvent<LineRecord>): void {
    if (event.records.length === 0) {
      const line = event.unparsed?.[0] ?? "";
      this.sizes.push(0);
      this.lines.push(line);
      this.chars += line.length;
    } else {
      this.sizes.push(event.records.length);
      for (const record of event.records) {
        this.lines.push(record.line);
        this.chars += record.line.length;
      }
    }
    if (this.chars >= BATCH_CHARS) this.send();
  }

  private send(): void {
    if (this.sizes.length === 0) return;
    const batch: Batch = { id: this.sent, lines: this.lines, sizes: Int32Array.from(this.sizes) };
    this.workers[this.sent % this.workers.length]?.postMessage(batch, [batch.sizes.buffer]);
    this.sent++;
    this.lines = [];
    this.sizes = [];
    this.chars = 0;
  }

  private receive(result: BatchResult): void {
    this.done.set(result.id, result);
    for (let next = this.done.get(this.written); next !== undefined; next = this.done.get(this.written)) {
      this.done.delete(this.written);
      this.written++;
      this.malformed += next.malformed;
      const wait = this.output.bytes(Buffer.from(next.bytes, 0, next.length));
      if (wait) {
        const draining = wait.finally(() => {
          if (this.draining === draining) this.draining = undefined;
          this.wakeUp();
        });
        this.draining = draining;
      }
    }
    this.wakeUp();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wakeUp();
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private backlog(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (this.sent - this.written < IN_FLIGHT_PER_WORKER * this.workers.length && !this.draining) return undefined;
    return this.settleUntilRoom();
  }

  private async settleUntilRoom(): Promise<void> {
    while (!this.failure && (this.sent - this.written >= IN_FLIGHT_PER_WORKER * this.workers.length || this.draining)) await this.settle();
    if (this.failure) throw this.failure;
  }

  /** Resolves at the next batch written, output drained or failure. */
  private settle(): Promise<void> {
    if (this.failure) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }
}
