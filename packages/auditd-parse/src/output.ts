import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { ExitCode } from "@opsguard/core/exit";
import type { EventJson } from "./event-json";

// 128 KiB, not 512: two of them alternate (one being written), and their pages count in peak RSS (issue 23: -1 MB)
const BUFFER_BYTES = 128 * 1024;

/**
 * Buffered output to stdout or a file. Each line is encoded into one reused byte buffer at once, so the
 * strings it was built from die young (cheap for the GC), and the buffer goes out in one big write; the
 * caller awaits backpressure only when a write was needed. reopen() (on SIGHUP) lets logrotate move the file.
 */
export class Output {
  private buffer: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private readonly spare: Buffer[] = [];
  private stream: NodeJS.WritableStream;
  private drained: Promise<void> | undefined;

  constructor(private readonly path: string | undefined) {
    this.stream = path === undefined ? guardStdout() : openFile(path);
  }

  /** Queues one line (without its newline). Returns a promise only when the caller should wait. */
  line(text: string): Promise<void> | undefined {
    // a UTF-16 unit takes at most 3 UTF-8 bytes
    if (this.used + text.length * 3 + 1 > BUFFER_BYTES) {
      const pending = this.flush();
      if (text.length * 3 + 1 > BUFFER_BYTES) return this.writeAfter(pending, Buffer.from(`${text}\n`));
      this.append(text);
      return pending;
    }
    this.append(text);
    return undefined;
  }

  /** Queues one event's NDJSON line, copied as bytes. */
  event(json: EventJson): Promise<void> | undefined {
    const size = json.lineLength;
    if (size > BUFFER_BYTES) {
      // copied as bytes: no string of a line that may be tens of MB (and twice that as UTF-16)
      const whole = Buffer.allocUnsafe(size);
      json.copyLine(whole, 0);
      return this.writeAfter(this.flush(), whole);
    }
    const pending = this.used + size > BUFFER_BYTES ? this.flush() : undefined;
    this.used = json.copyLine(this.buffer, this.used);
    return pending;
  }

  private append(text: string): void {
    this.used += this.buffer.write(text, this.used);
    this.buffer[this.used++] = 10;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buffer;
    const data = full.subarray(0, this.used);
    // the stream may hold the bytes until they are written: continue in a spare buffer, and take this one
    // back once the write is done, so a long run reuses a few buffers instead of allocating one per flush
    this.buffer = this.spare.pop() ?? Buffer.allocUnsafe(BUFFER_BYTES);
    this.used = 0;
    await this.write(data, () => {
      if (this.spare.length < 2) this.spare.push(full);
    });
  }

  /**
   * A line too long for the buffer, handed to the stream now, right behind the buffer just flushed: a line
   * queued later must not overtake it.
   */
  private async writeAfter(flushed: Promise<void>, whole: Buffer): Promise<void> {
    await Promise.all([flushed, this.write(whole)]);
  }

  private async write(data: Buffer, done?: () => void): Promise<void> {
    if (this.stream.write(data, done)) return;
    // writes queued before the stream drains wait for the same drain, not one listener each
    this.drained ??= once(this.stream, "drain").then(() => {
      this.drained = undefined;
    });
    await this.drained;
  }

  async reopen(): Promise<void> {
    if (this.path === undefined) return;
    await this.flush();
    const old = this.stream as WriteStream;
    this.stream = openFile(this.path);
    old.end();
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.path !== undefined) {
      const stream = this.stream as WriteStream;
      const path = this.path;
      await new Promise<void>((resolve) => {
        stream.end((error?: Error | null) => (error ? writeFailed(path, error) : resolve()));
      });
    }
  }
}

function openFile(path: string): WriteStream {
  const stream = createWriteStream(path, { flags: "a" });
  stream.on("error", (error) => writeFailed(path, error));
  return stream;
}

/** A full disk or closed fd behind stdout is an I/O error (74), one line; EPIPE (`| head`) is left to core. */
function guardStdout(): NodeJS.WritableStream {
  process.stdout.prependListener("error", onStdoutError);
  return process.stdout;
}

function onStdoutError(error: NodeJS.ErrnoException): void {
  if (error.code !== "EPIPE") writeFailed("standard output", error);
}

let failed = false;

/** Both the stream's error event and a pending callback may report one failure: one line, then exit 74. */
function writeFailed(target: string, error: Error): void {
  if (failed) return;
  failed = true;
  process.stderr.write(`auditd-parse: cannot write ${target}: ${error.message}\n`);
  process.exit(ExitCode.IO_ERR);
}
