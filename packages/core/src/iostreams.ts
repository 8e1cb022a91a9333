import { clearLine, cursorTo, moveCursor } from "node:readline";
import { Readable, Writable } from "node:stream";
import { redactSecrets, secretPrefixLength } from "./secret";

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
}

/** A redacting writer over one output stream. */
export interface OutStream {
  readonly isTTY: boolean;
  /** Terminal width when known (help wrapping, spinners); undefined when piped. */
  readonly columns: number | undefined;
  /** Writes `text` with every registered secret replaced; false when the stream asks the caller to wait (see drain). */
  write(text: string): boolean;
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
  write(text: string): boolean;
  once(event: "drain", listener: () => void): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

class RedactingStream implements OutStream {
  readonly #sink: Sink;
  #held = "";
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

  flush(): void {
    if (this.#held === "") return;
    const rest = redactSecrets(this.#held);
    this.#held = "";
    this.#sink.write(rest);
  }

  drain(): Promise<void> {
    return new Promise((resolve) => this.#sink.once("drain", resolve));
  }

  get writable(): NodeJS.WritableStream {
    if (this.#writable !== undefined) return this.#writable;
    const w = new Writable({
      write: (chunk: Buffer | string, _encoding, done) => {
        this.write(String(chunk));
        done();
      },
    });
    // ora draws only on a TTY and sizes its line by the columns; it redraws with a tty.WriteStream's cursor
    // methods (a TypeError without them, a crash one second into any run with a progress line): readline
    // writes the same escape sequences through the stream
    this.#writable = Object.assign(w, {
      isTTY: this.isTTY,
      columns: this.columns,
      cursorTo: (x: number, y?: number) => (y === undefined ? cursorTo(w, x) : cursorTo(w, x, y)),
      moveCursor: (dx: number, dy: number) => moveCursor(w, dx, dy),
      clearLine: (dir: -1 | 0 | 1) => clearLine(w, dir),
    });
    return this.#writable;
  }
}

function makeIO(stdout: Sink, stderr: Sink, stdin: NodeJS.ReadableStream, env: NodeJS.ProcessEnv): IOStreams {
  const out = new RedactingStream(stdout);
  const err = new RedactingStream(stderr);
  return {
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
  };
}

/** The process's own streams: what a bin's main.ts hands to runCli. */
export function systemIO(): IOStreams {
  return makeIO(process.stdout, process.stderr, process.stdin, process.env);
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
  stderr(): string;
}

/** In-memory streams for in-process CLI tests (cli/cli's iostreams.Test()); TTY-ness and env switchable. */
export function testIO(options: TestIOOptions = {}): TestIO {
  const memory = (tty: boolean) => {
    const chunks: string[] = [];
    const sink: Sink & { text(): string } = {
      isTTY: tty,
      columns: tty ? (options.columns ?? 80) : undefined,
      write(text) {
        chunks.push(text);
        return true;
      },
      once(_event, listener) {
        queueMicrotask(listener);
      },
      text: () => chunks.join(""),
    };
    return sink;
  };
  const out = memory(options.stdoutTTY ?? false);
  const err = memory(options.stderrTTY ?? false);
  const stdin = options.stdin ?? Readable.from([]);
  const io = makeIO(out, err, stdin as NodeJS.ReadableStream, options.env ?? { ...process.env, NO_COLOR: "1" });
  return { io, stdout: out.text, stderr: err.text };
}
