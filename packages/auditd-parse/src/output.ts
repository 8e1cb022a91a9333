import { closeSync, createWriteStream, openSync, readSync, statSync, type WriteStream } from "node:fs";
import { IoError } from "@opsguard/core/errors";
import { type OutStream, redactingStream } from "@opsguard/core/iostreams";
import { outputFileError } from "@opsguard/core/output";
import type { EventJson } from "./event-json";

// 128 KiB, not 512: two of them alternate (one being written), and their pages count in peak RSS (issue 23: -1 MB)
const BUFFER_BYTES = 128 * 1024;
/**
 * Written buffers kept for the next flushes. The stream calls back a tick after the writes: a burst of events
 * (a second of a no-EOE log leaving the window at once, or the held events let go together) flushes several
 * buffers in one tick, and every buffer past the spares kept was made and dropped per burst, 128 KiB of garbage
 * that lives until a mark-compact (none runs on a run of small NDJSON events): +9 MB of peak RSS per 100 MiB of
 * a 7-host log with 2 kept (issue 23, Round 19). With 4, the first tester's `mixed` log (one host, the 256 events
 * held for order let go at once) still made 127 buffers, 16 MB of garbage: 63.8 MB peak against 59.9 with 8
 * (16: no lower). Only buffers once in flight together are kept, so a run with small bursts keeps as few as before.
 */
const SPARE_BUFFERS = 8;

/**
 * The mode of a file -o creates (minus the umask): what auditd-parse writes quotes the audit log, every command line
 * with its arguments (tokens, passwords), and nothing is redacted from it, so it is kept as auditd keeps audit.log,
 * to its owner (T57 F4: 0644 put a copy of every audited command line where any local user could read it). A file
 * that exists keeps its mode.
 */
export const OUTPUT_FILE_MODE = 0o600;

/** Where the bytes go: the run's stdout (IOStreams' byte writer) or an -o file. */
interface ByteSink {
  write(data: Buffer, done: (error?: Error | null) => void): boolean;
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Buffered output to the run's stdout or a file. Each line is encoded into one reused byte buffer at once, so
 * the strings it was built from die young (cheap for the GC), and the buffer goes out in one big write; the
 * caller awaits backpressure only when a write was needed. reopen() (on SIGHUP) lets logrotate move the file.
 * A write that fails (a full disk, a closed descriptor) is remembered, and the next flush or close() throws it
 * as an IoError (exit 74): data that did not arrive is never reported as written. With `keepGoing` (the plugin, whose
 * exit loses everything auditd sends until it restarts it, and after max_restarts for good) a failed write of -o's
 * file is said once instead, the lines are counted and dropped while it cannot be written, each flush tries again,
 * and close() throws the count (T57 F3). An -o file that ends in the middle of a line (a write cut by a full disk, a
 * run killed) gets a newline before the first line written, so no line is glued onto the torn one.
 */
export class Output {
  private buffer: Buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private readonly spare: Buffer[] = [];
  /** Output buffers made, and flushes: a long run makes a few buffers, not one per flush or burst. */
  buffersMade = 1;
  flushes = 0;
  private sink: ByteSink;
  private drained: Promise<void> | undefined;
  private failure: IoError | undefined;
  /** Settles the wait for a drain when a write fails instead (a failed stream never drains). */
  private onFailure: (() => void) | undefined;
  /** Writes handed to the stream whose callback has not come yet: close() waits for them to know they arrived. */
  private inFlight = 0;
  private onIdle: (() => void) | undefined;

  /** While -o's file cannot be written (keepGoing): the lines dropped. */
  private outage: { dropped: number; error: Error } | undefined;
  private dropped = 0;

  /** `path`: -o's file (appended to); undefined for `stdout`, the run's stdout. */
  constructor(
    private readonly path: string | undefined,
    stdout: OutStream,
    private readonly keepGoing?: (line: string) => void,
  ) {
    this.sink = path === undefined ? stdoutSink(stdout) : this.fileSink(path);
    if (path !== undefined) this.endTornLine(path);
  }

  /** Queues one line (without its newline). Returns a promise only when the caller should wait. */
  line(text: string): Promise<void> | undefined {
    // a UTF-16 unit takes at most 3 UTF-8 bytes
    if (this.used + text.length * 3 + 1 > BUFFER_BYTES) {
      const pending = this.flush();
      if (text.length * 3 + 1 > BUFFER_BYTES) return handled(this.writeAfter(pending, Buffer.from(`${text}\n`)));
      this.append(text);
      return handled(pending);
    }
    this.append(text);
    return undefined;
  }

  /**
   * Queues a line given as its bytes, its newline included (sessions --json: sessionLine), and calls `done` once
   * data may be written over: at once when it was copied into the buffer, else when the stream is done with it,
   * before the promise returned settles (a caller that waits for it may then take data back for its next line).
   */
  bytes(data: Buffer, done: () => void): Promise<void> | undefined {
    if (data.length > BUFFER_BYTES) {
      let handedBack: () => void = done;
      const back = new Promise<void>((resolve) => {
        handedBack = () => {
          done();
          resolve();
        };
      });
      return handled(Promise.all([this.writeAfter(this.flush(), data, handedBack), back]).then(() => undefined));
    }
    const pending = this.used + data.length > BUFFER_BYTES ? handled(this.flush()) : undefined;
    this.used += data.copy(this.buffer, this.used);
    done();
    return pending;
  }

  /** Queues one event's NDJSON line, copied as bytes. */
  event(json: EventJson): Promise<void> | undefined {
    const size = json.lineLength;
    if (size > BUFFER_BYTES) {
      // copied as bytes: no string of a line that may be tens of MB (and twice that as UTF-16)
      const whole = Buffer.allocUnsafe(size);
      json.copyLine(whole, 0);
      return handled(this.writeAfter(this.flush(), whole));
    }
    const pending = this.used + size > BUFFER_BYTES ? handled(this.flush()) : undefined;
    this.used = json.copyLine(this.buffer, this.used);
    return pending;
  }

  /**
   * Queues `head`, an event's NDJSON line as bytes and `tail` as one line: detect's alert, which carries its
   * event as the parse prints it, without a string made of the event (it may be 300 KB: decoded, joined and
   * encoded again for each alert, that was most of what printing an alert cost).
   */
  framed(head: string, json: EventJson, tail: string): Promise<void> | undefined {
    const size = (head.length + tail.length) * 3 + json.lineLength;
    if (size > BUFFER_BYTES) {
      const whole = Buffer.allocUnsafe(size);
      const end = frame(whole, 0, head, json, tail);
      return handled(this.writeAfter(this.flush(), whole.subarray(0, end)));
    }
    const pending = this.used + size > BUFFER_BYTES ? handled(this.flush()) : undefined;
    this.used = frame(this.buffer, this.used, head, json, tail);
    return pending;
  }

  private append(text: string): void {
    this.used += this.buffer.write(text, this.used);
    this.buffer[this.used++] = 10;
  }

  /** Drops what is queued and not yet written (a run that read nothing appends nothing, not even a header). */
  discard(): void {
    this.used = 0;
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.used === 0) return;
    if (this.outage !== undefined) {
      this.tryAgain();
      if (this.used === 0) return;
    }
    const full = this.buffer;
    const data = full.subarray(0, this.used);
    // the stream may hold the bytes until they are written: continue in a spare buffer, and take this one
    // back once the write is done, so a long run reuses a few buffers instead of allocating one per flush
    this.flushes++;
    this.buffer = this.spare.pop() ?? this.newBuffer();
    this.used = 0;
    await this.write(data, () => {
      if (this.spare.length < SPARE_BUFFERS) this.spare.push(full);
    });
  }

  private newBuffer(): Buffer {
    this.buffersMade++;
    return Buffer.allocUnsafe(BUFFER_BYTES);
  }

  /**
   * A line too long for the buffer, handed to the stream now, right behind the buffer just flushed: a line
   * queued later must not overtake it.
   */
  private async writeAfter(flushed: Promise<void>, whole: Buffer, done?: () => void): Promise<void> {
    await Promise.all([flushed, this.write(whole, done)]);
  }

  private async write(data: Buffer, done?: () => void): Promise<void> {
    if (this.failure) throw this.failure;
    this.inFlight++;
    const ready = this.sink.write(data, (error) => {
      // the stream is done with data either way (a failed write is thrown by the next one)
      if (error) this.fail(error, data);
      else if (this.outage !== undefined) this.writtenAgain();
      done?.();
      if (--this.inFlight === 0) this.onIdle?.();
    });
    if (!ready) {
      // writes queued before the stream drains wait for the same drain, not one listener each
      this.drained ??= new Promise<void>((resolve) => {
        this.onFailure = resolve;
        this.sink.drain().then(resolve, resolve);
      }).then(() => {
        this.drained = undefined;
        this.onFailure = undefined;
      });
      await this.drained;
    }
    if (this.failure) throw this.failure;
  }

  /**
   * The first failure is the one reported (both a stream's error event and a pending callback may carry one). With
   * keepGoing, an -o file's: the lines of `data`, the write that failed, counted as dropped — at most: the lines a
   * write wrote before the disk filled are in the file, and the count says "at most" (T60 N2).
   */
  private fail(error: Error, data?: Buffer): void {
    if (this.keepGoing !== undefined && this.path !== undefined) {
      if (this.outage === undefined) {
        this.outage = { dropped: 0, error };
        this.keepGoing(`${outputFileError(this.path, error).message}: events are dropped, and counted, until it can be written again`);
      }
      if (data !== undefined) this.outage.dropped += lineCount(data);
    } else {
      // an -o file's failure in core's words, as every -o format (and the pages' atomic write) says it
      this.failure ??= this.path === undefined ? stdoutError(error) : outputFileError(this.path, error);
    }
    this.onFailure?.();
  }

  /** In an outage: -o's file opened again for the lines queued (a failed stream takes no more writes). */
  private tryAgain(): void {
    const path = this.path as string;
    let fd: number;
    try {
      fd = openSync(path, "a", OUTPUT_FILE_MODE);
    } catch {
      // not even opened: these lines are dropped too
      if (this.outage !== undefined) this.outage.dropped += lineCount(this.buffer.subarray(0, this.used));
      this.used = 0;
      return;
    }
    const old = this.sink;
    this.sink = this.fileSink(path, fd);
    void old.close();
    this.endTornLine(path);
  }

  /** A write went through after an outage: said once, with what was lost meanwhile. */
  private writtenAgain(): void {
    const outage = this.outage as { dropped: number };
    this.outage = undefined;
    this.dropped += outage.dropped;
    this.keepGoing?.(`${this.path} is written again; at most ${outage.dropped} line(s) could not be written to it meanwhile`);
  }

  /**
   * A newline put before what is queued when -o's file ends in the middle of a line: at the start and after a failed
   * write, when no write of ours is in flight (at a reopen one may be, half done: a newline then made an empty line).
   */
  private endTornLine(path: string): void {
    if (!endsMidLine(path)) return;
    if (this.used < BUFFER_BYTES) {
      this.buffer.copyWithin(1, 0, this.used);
      this.buffer[0] = 10;
      this.used++;
    } else void handled(this.write(Buffer.from("\n")));
  }

  /**
   * SIGHUP (logrotate): -o's file opened again by its name, and the one it had closed. The new one is opened first:
   * when it cannot be (its directory not writable or gone, a full disk …) the output goes on into the file it had
   * open, whole lines as before, and `say` gets one line naming the file, the error and what goes on; a later reopen
   * tries again. A plugin that exited (74) there lost what auditd sent next (T34 #9). A write that failed is thrown,
   * as by flush().
   */
  async reopen(say: (line: string) => void): Promise<void> {
    if (this.path === undefined) return;
    // opened in this turn, with the switch to it: once the new file is there, every line read after goes to it (an
    // open awaited let a line read meanwhile go to the old one). An open, not a write: it does not wait on the disk
    let fd: number;
    try {
      fd = openSync(this.path, "a", OUTPUT_FILE_MODE);
    } catch (error) {
      const failed = outputFileError(this.path, error);
      say(`${failed.message} (on SIGHUP); still writing to the ${this.path} it had open (moved or not), trying again at the next SIGHUP`);
      return;
    }
    // what is queued is handed to the file it had at once (flush writes before its first await)
    const flushed = this.flush();
    const old = this.sink;
    this.sink = this.fileSink(this.path, fd);
    try {
      await flushed;
    } finally {
      await old.close();
    }
  }

  /**
   * Writes what is buffered, waits until the stream has taken every write (a write that fails after the run
   * ended would otherwise go unreported) and closes an -o file; throws the IoError of any write that failed.
   */
  async close(): Promise<void> {
    await this.flush();
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.onIdle = resolve));
    this.onIdle = undefined;
    await this.sink.close();
    if (this.failure) throw this.failure;
    const outage = this.outage;
    const dropped = this.dropped + (outage?.dropped ?? 0);
    if (this.path !== undefined && (outage !== undefined || dropped > 0)) {
      const why = outage === undefined ? "" : `${outputFileError(this.path, outage.error).message}; `;
      // the hint only while it still cannot be written: after an outage that ended, the count is the news (T61)
      throw new IoError(
        `${why}at most ${dropped} line(s) could not be written to ${this.path}`,
        outage === undefined ? {} : { hint: "free space or fix its permissions" },
      );
    }
  }

  /** `fd`: the file opened already (reopen), else it is opened by path. */
  private fileSink(path: string, fd?: number): ByteSink {
    const stream: WriteStream = createWriteStream(path, { flags: "a", mode: OUTPUT_FILE_MODE, ...(fd === undefined ? {} : { fd }) });
    // an open or write error: remembered and thrown by the next flush, never an unhandled 'error' event
    stream.on("error", (error) => this.fail(error));
    // redacted as stdout is (a secret registered in this process never reaches the file); untouched while none is
    const out = redactingStream(stream);
    return {
      write: (data, done) => out.writeBytes(data, done),
      // or its end: a stream ended by reopen() (SIGHUP) while a write waited for its drain emits no 'drain' (Node's
      // Writable does not once it is ending), and the plugin waited for it for ever, reading no more (T60: a SIGHUP
      // storm stopped it after 4,118 of 100,000 events, and SIGTERM did not end it)
      drain: () =>
        new Promise<void>((resolve) => {
          const done = () => {
            for (const event of ["drain", "finish", "close"]) stream.off(event, done);
            resolve();
          };
          for (const event of ["drain", "finish", "close"]) stream.on(event, done);
        }),
      close: () =>
        new Promise<void>((resolve) => {
          out.flush();
          if (stream.destroyed) resolve();
          else stream.end(() => resolve());
          stream.once("error", () => resolve());
        }),
    };
  }
}

/**
 * `promise`, marked as handled: a caller may queue lines without awaiting each one (the sinks keep only the
 * latest wait), and a failed write must not end the process as an unhandled rejection. Nothing is lost by it:
 * the failure is kept and thrown again by the next flush and by close().
 */
function handled(promise: Promise<void>): Promise<void> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * A failed stdout. A reader that left (`| head`, EPIPE) is an I/O error like a full disk (exit 74), not the end of
 * the run: what was not delivered is not reported as written, and detect's gate (exit 1) must not read 0 because
 * nobody read its alerts.
 */
function stdoutError(error: Error): IoError {
  if ((error as NodeJS.ErrnoException).code === "EPIPE")
    return new IoError("cannot write standard output: its reader closed it (EPIPE), so the output is incomplete", {
      hint: "read the whole output, or write it with -o FILE",
    });
  return new IoError(`cannot write standard output: ${error.message}`);
}

/** The run's stdout through IOStreams' byte writer: the bytes untouched while no secret is registered. */
function stdoutSink(stdout: OutStream): ByteSink {
  return {
    write: (data, done) => stdout.writeBytes(data, done),
    drain: () => stdout.drain(),
    close: async () => undefined,
  };
}

/** Writes head, the event's line over its newline, tail and a newline into target at `at`; returns the end. */
function frame(target: Buffer, at: number, head: string, json: EventJson, tail: string): number {
  let end = at + target.write(head, at);
  end = json.copyLine(target, end) - 1;
  end += target.write(tail, end);
  target[end++] = 10;
  return end;
}

function lineCount(data: Buffer): number {
  let n = 0;
  for (let at = data.indexOf(10); at >= 0; at = data.indexOf(10, at + 1)) n++;
  return n;
}

/** Whether `path` is a regular file whose last byte is no newline (a FIFO or device is never read: it could block). */
function endsMidLine(path: string): boolean {
  let size: number;
  try {
    const info = statSync(path);
    if (!info.isFile() || info.size === 0) return false;
    size = info.size;
  } catch {
    return false;
  }
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const last = Buffer.alloc(1);
    return readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
