import { constants, readFileSync, readlinkSync } from "node:fs";
import { clearLine, clearScreenDown, cursorTo, moveCursor } from "node:readline";
import { Readable, Writable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { redactSecrets, secretPrefixLength, secretsRegistered } from "./secret";

/**
 * Where a run's output goes: stdout (data), stderr (people), stdin, whether each is a terminal, and the
 * environment the colour decision reads. Modelled on cli/cli's pkg/iostreams: commands receive this
 * instead of touching process.stdout/stderr, so a test runs them in-process with `testIO()` and reads
 * every byte they wrote.
 *
 * Every write is redacted by construction: `OutStream.write` replaces each registered secret before the
 * bytes reach the stream, so a report, `--json`, a log line or an error message cannot forget to. A
 * secret split across two writes ("…tok" then "en…") is caught too: a write whose end could be the
 * start of a registered secret holds that tail back (never more than the longest secret, minus one
 * character) and joins it to the next write; `flush()` (called when the run ends) writes whatever is
 * left, redacted, so nothing is lost.
 */
export interface IOStreams {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly stdin: NodeJS.ReadableStream;
  readonly env: NodeJS.ProcessEnv;
  /** Colour (and spinners) for text on `stream`: a TTY, NO_COLOR unset, TERM not dumb, no --no-color. */
  colorEnabled(stream: OutStream, flag?: boolean): boolean;
  /** Writes what the redacting writers held back; the end of a run calls it. */
  flush(): void;
  /**
   * Resolves once both streams have taken every byte written so far, or failed to (the failure is the stream's
   * 'error' listeners' to report), or after `timeoutMs`: what a run that ends the process itself waits for.
   */
  written(timeoutMs: number): Promise<void>;
  /**
   * Set when the run's stdout must reach its reader (systemIO's `stdoutRequired`): a reader that left early (EPIPE)
   * is then an I/O error like a full disk (one line, exit 74), not the quiet end a data stream's `| head` gets.
   */
  readonly stdoutRequired?: { readonly hint?: string | undefined } | undefined;
  /**
   * The descriptor stdout writes to when it is the process's own (systemIO: 1), for a tool that must not write into a
   * file it reads (auditd-parse's `> audit.log`); undefined for a stream given in (testIO).
   */
  readonly stdoutFd?: number | undefined;
}

/** A redacting writer over one output stream. */
export interface OutStream {
  readonly isTTY: boolean;
  /** Terminal width when known (help wrapping, spinners); undefined when piped. */
  readonly columns: number | undefined;
  /** Writes `text` with every registered secret replaced; false when the stream asks the caller to wait (see drain). */
  write(text: string): boolean;
  /**
   * Writes UTF-8 bytes (a tool's buffered data output): untouched while no secret is registered, so a fast byte
   * path costs nothing; decoded and redacted as write() does once one is. `done` runs when the bytes are written
   * (the caller may reuse `data` then) or with the error that stopped them; an error given to `done` is the
   * caller's to report (see writeErrorHandled), so the process-wide stdout guard leaves it alone.
   */
  writeBytes(data: Uint8Array, done?: (error?: Error | null) => void): boolean;
  /** Resolves once the underlying stream has room again (after write returned false). */
  drain(): Promise<void>;
  /**
   * The stream a library must be given itself (ora's spinner): it gets an equally redacting Writable, never
   * the process stream.
   */
  readonly writable: NodeJS.WritableStream;
  flush(): void;
}

interface Sink {
  write(data: string | Uint8Array, done?: (error?: Error | null) => void): boolean;
  once(event: "drain", listener: () => void): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
  /** Bytes queued, not yet written (Writable's). */
  writableLength?: number | undefined;
}

/**
 * A zero-length write's callback: Writable calls it after every earlier write, or with their error. Only when
 * some are still queued: a zero-length write is a write(2) of its own, and a device refusing every write
 * (/dev/full) fails it though the run wrote nothing there (T30 #3: a --wait hook exited 74, refusing the login).
 */
function sinkWritten(sink: Sink): Promise<void> {
  if (sink.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    try {
      sink.write("", () => resolve());
    } catch {
      resolve();
    }
  });
}

class RedactingStream implements OutStream {
  readonly #sink: Sink;
  #held = "";
  #decoder: StringDecoder | undefined;
  #writable: NodeJS.WritableStream | undefined;

  constructor(sink: Sink) {
    this.#sink = sink;
  }

  get isTTY(): boolean {
    return this.#sink.isTTY === true;
  }

  get columns(): number | undefined {
    return this.#sink.columns || undefined;
  }

  write(text: string): boolean {
    const redacted = redactSecrets(this.#held + text);
    const hold = secretPrefixLength(redacted);
    this.#held = redacted.slice(redacted.length - hold);
    const out = redacted.slice(0, redacted.length - hold);
    return out === "" ? true : this.#sink.write(out);
  }

  writeBytes(data: Uint8Array, done?: (error?: Error | null) => void): boolean {
    const callback = done && handOver(done);
    if (this.#held === "" && this.#decoder === undefined && !secretsRegistered()) return this.#sink.write(data, callback);
    // a secret is registered: the bytes go the way text does (a character split between two writes waits in the decoder)
    this.#decoder ??= new StringDecoder("utf8");
    const redacted = redactSecrets(this.#held + this.#decoder.write(data as Buffer));
    const hold = secretPrefixLength(redacted);
    this.#held = redacted.slice(redacted.length - hold);
    const out = redacted.slice(0, redacted.length - hold);
    if (out !== "") return this.#sink.write(out, callback);
    if (callback) queueMicrotask(() => callback(null));
    return true;
  }

  flush(): void {
    if (this.#decoder) this.#held += this.#decoder.end();
    if (this.#held === "") return;
    const rest = redactSecrets(this.#held);
    this.#held = "";
    this.#sink.write(rest);
  }

  drain(): Promise<void> {
    return new Promise((resolve) => this.#sink.once("drain", resolve));
  }

  get writable(): NodeJS.WritableStream {
    if (this.#writable) return this.#writable;
    const stream = new Writable({
      write: (chunk: Buffer | string, _encoding, done) => {
        this.write(String(chunk));
        done();
      },
    });
    // ora draws only on a TTY, sizes its line by the columns, and moves the cursor with a tty.WriteStream's
    // methods: readline's versions write the same escape sequences, through this redacting writer.
    this.#writable = Object.assign(stream, {
      isTTY: this.isTTY,
      cursorTo: (x: number, y?: number, done?: () => void) => cursorTo(stream, x, y, done),
      moveCursor: (dx: number, dy: number, done?: () => void) => moveCursor(stream, dx, dy, done),
      clearLine: (dir: -1 | 0 | 1, done?: () => void) => clearLine(stream, dir, done),
      clearScreenDown: (done?: () => void) => clearScreenDown(stream, done),
    });
    // read at each redraw, so a resized terminal is followed; a terminal that reports 0 columns (script(1) run
    // from a non-terminal, some CI runners, `docker -t`) is drawn 80 wide: ora divides by the width, and with 0
    // it redrew forever (it was silenced instead, so such a terminal never saw progress)
    Object.defineProperty(this.#writable, "columns", { get: () => this.#sink.columns || DEFAULT_COLUMNS, enumerable: true });
    return this.#writable;
  }
}

/** The width a spinner is drawn at on a terminal that reports none (0 columns). */
const DEFAULT_COLUMNS = 80;

const handled = new WeakSet<Error>();

/** `done`, marking the error it is given as the writer's to report. */
function handOver(done: (error?: Error | null) => void): (error?: Error | null) => void {
  return (error) => {
    if (error) handled.add(error);
    done(error);
  };
}

/**
 * Whether a write error reached a writer that reports it itself (writeBytes' `done`): the stream's error event
 * comes a tick after that callback, and the process-wide guard (exitQuietlyOnEpipe) must then not exit first
 * with its own line.
 */
export function writeErrorHandled(error: Error): boolean {
  return handled.has(error);
}

function makeIO(
  stdout: Sink,
  stderr: Sink,
  stdin: NodeJS.ReadableStream,
  env: NodeJS.ProcessEnv,
  stdoutRequired?: IOStreams["stdoutRequired"],
  stdoutFd?: number,
): IOStreams {
  const out = new RedactingStream(stdout);
  const err = new RedactingStream(stderr);
  return {
    stdoutRequired,
    stdoutFd,
    stdout: out,
    stderr: err,
    stdin,
    env,
    colorEnabled(stream, flag = true) {
      if (!flag) return false;
      if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
      if (env.TERM === "dumb") return false;
      return stream.isTTY;
    },
    flush() {
      out.flush();
      err.flush();
    },
    async written(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([Promise.all([sinkWritten(stdout), sinkWritten(stderr)]), bound]);
      clearTimeout(timer);
      // A failed write's 'error' event comes ticks after its callback: let the listeners that report it
      // (exitQuietlyOnEpipe: one line, exit 74) run before the caller ends the process.
      await new Promise((resolve) => setImmediate(resolve));
    },
  };
}

/**
 * A redacting writer over another stream a run writes its output to (a tool's -o file opened for appending):
 * the same guarantee as the run's stdout, the bytes untouched while no secret is registered.
 */
export function redactingStream(sink: NodeJS.WritableStream & { once(event: "drain", listener: () => void): unknown }): OutStream {
  return new RedactingStream(sink as Sink);
}

export interface SystemIOOptions {
  /**
   * The run's output must reach its reader (sock-check's report, audit evidence): a stdout that was closed when the
   * process started (`>&-`) and a reader that leaves early (EPIPE) are I/O errors (one line on stderr, exit 74, with
   * `hint`), never a success. Without it a data stream's reader may stop early (`| head`): the run ends quietly.
   */
  stdoutRequired?: { hint?: string };
}

/** The process's own streams: what a bin's main.ts hands to runCli. */
export function systemIO(options: SystemIOOptions = {}): IOStreams {
  keepStderrErrorsQuiet();
  const stdout = options.stdoutRequired && stdoutClosedAtStart() ? closedStdout(process.stdout) : process.stdout;
  return makeIO(stdout, process.stderr, process.stdin, process.env, options.stdoutRequired, stdout === process.stdout ? 1 : undefined);
}

/**
 * Whether fd 1 was closed when the process started (`tool >&-`). Node opens /dev/null read-write in its place before
 * any code runs, so every write "succeeds" and a report vanishes with exit 0 (T31). A shell's `>/dev/null` opens it
 * write-only, a discarding the user chose; read-write /dev/null is what node (or a daemon(3) parent) leaves there.
 * Linux only (/proc); elsewhere false: the writes go to /dev/null as before.
 */
function stdoutClosedAtStart(): boolean {
  try {
    if (readlinkSync("/proc/self/fd/1") !== "/dev/null") return false;
    const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync("/proc/self/fdinfo/1", "utf8"))?.[1];
    // O_ACCMODE (3): the access mode bits, which node's fs.constants leaves out
    return flags !== undefined && (Number.parseInt(flags, 8) & 3) === constants.O_RDWR;
  } catch {
    return false;
  }
}

/** What a write to a stdout closed at start fails with: node's /dev/null in its place is named, not just EBADF. */
export const CLOSED_AT_START = "EBADF: it was closed at start, or is /dev/null opened read-write as node leaves a closed one";

/**
 * A stdout that was closed: each write fails with EBADF, as a write to the closed descriptor would have. A writer
 * given `done` hears it first (and reports it itself); the stream is then destroyed with the error, so the
 * process-wide guard (exitQuietlyOnEpipe) ends the run with its line and exit 74 as it does for any write error.
 */
function closedStdout(stream: NodeJS.WriteStream): Sink {
  return {
    isTTY: false,
    columns: undefined,
    writableLength: 0,
    write(_data, done) {
      const error: NodeJS.ErrnoException = Object.assign(new Error(CLOSED_AT_START), { code: "EBADF" });
      queueMicrotask(() => {
        done?.(error);
        if (!stream.destroyed) stream.destroy(error);
      });
      return true;
    },
    once: (event, listener) => stream.once(event, listener),
  };
}

let stderrGuarded = false;

/**
 * A stderr that cannot be written (a full disk under OpenVPN's log, a closed pipe) loses the diagnostics and
 * nothing else: without a listener its 'error' event would crash the process with exit 1, which OpenVPN takes as
 * "disconnect the client" and auditd-parse documents as "a rule matched". The stream is destroyed by the error,
 * so later writes to it are dropped without another event.
 */
function keepStderrErrorsQuiet(): void {
  if (stderrGuarded) return;
  stderrGuarded = true;
  process.stderr.on("error", () => {});
}

export interface TestIOOptions {
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  /** Terminal width when a stream is a TTY (80 when unset). */
  columns?: number;
  env?: NodeJS.ProcessEnv;
  stdin?: NodeJS.ReadableStream;
}

export interface TestIO {
  io: IOStreams;
  /** Everything written to stdout so far (after redaction, as a user would see it). */
  stdout(): string;
  /** The same as bytes, exactly as written (a byte writer's output need not be UTF-8). */
  stdoutBytes(): Buffer;
  stderr(): string;
}

/** In-memory streams for in-process CLI tests (cli/cli's iostreams.Test()); TTY-ness and env switchable. */
export function testIO(options: TestIOOptions = {}): TestIO {
  const memory = (tty: boolean) => {
    const chunks: Buffer[] = [];
    const sink: Sink & { bytes(): Buffer; text(): string } = {
      isTTY: tty,
      columns: tty ? (options.columns ?? 80) : undefined,
      write(data, done) {
        // a copy: a byte writer reuses its buffer once `done` has run
        chunks.push(Buffer.from(data));
        if (done) queueMicrotask(() => done(null));
        return true;
      },
      once(_event, listener) {
        queueMicrotask(listener);
      },
      bytes: () => Buffer.concat(chunks),
      text: () => Buffer.concat(chunks).toString("utf8"),
    };
    return sink;
  };
  const out = memory(options.stdoutTTY ?? false);
  const err = memory(options.stderrTTY ?? false);
  const stdin = options.stdin ?? Readable.from([]);
  const io = makeIO(out, err, stdin as NodeJS.ReadableStream, options.env ?? { ...process.env, NO_COLOR: "1" });
  return { io, stdout: out.text, stdoutBytes: out.bytes, stderr: err.text };
}
