import { redactSecrets } from "./secret";
import { cutUtf8, escapeLine, terminalSafeJson } from "./text";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "human" | "json";
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };
const SECRET_KEY = /pass(word)?|secret|token|credential|api[-_]?key|authorization/i;

export interface SyslogOptions {
  /** authpriv for sshd hooks, daemon for OpenVPN, cron for scheduled runs. */
  facility: "auth" | "authpriv" | "daemon" | "cron" | "user" | `local${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7}`;
  /** The local syslog socket; /dev/log when unset. */
  socket?: string | undefined;
}

export interface LoggerOptions {
  tool: string;
  level?: LogLevel;
  format?: LogFormat;
  /** Also (or, with stderr: false, only) send each line to syslog through logger(1). */
  syslog?: SyslogOptions;
  stderr?: boolean;
  /** Where lines go: the run's redacting stderr (IOStreams); process.stderr when unset. */
  stream?: { write(text: string): unknown };
  fields?: LogFields;
  /**
   * Another logger every line given to this one also goes to, at that logger's own level (set by tee()): a command's
   * stderr, which -q quiets, and a record kept where the operator's logs go, which it must not.
   */
  also?: Logger;
}

/** Lines for people on stderr (or JSON lines, or syslog); secrets are scrubbed from every line. */
export class Logger {
  readonly level: LogLevel;
  readonly #opts: LoggerOptions;
  readonly #fields: LogFields;

  constructor(opts: LoggerOptions) {
    this.#opts = opts;
    this.level = opts.level ?? "info";
    this.#fields = opts.fields ?? {};
  }

  child(fields: LogFields): Logger {
    return new Logger({ ...this.#opts, fields: { ...this.#fields, ...fields } });
  }

  /**
   * This logger, writing each line also to `other`, filtered by other's level, not this one's: what a command writes
   * to stderr (at its -q/-v level) and to a record at warning level (syslog, a log file) from one call.
   */
  tee(other: Logger): Logger {
    return new Logger({ ...this.#opts, fields: this.#fields, also: this.#opts.also ? this.#opts.also.tee(other) : other });
  }

  enabled(level: Exclude<LogLevel, "silent">): boolean {
    return LEVELS[level] >= LEVELS[this.level];
  }

  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }

  #write(level: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields): void {
    const also = this.#opts.also;
    if (also) also.#write(level, msg, { ...this.#fields, ...fields });
    if (!this.enabled(level)) return;
    const all = scrubFields({ ...this.#fields, ...fields });
    // One entry, one line: a line break in a message (an API's error text) would forge a log line of its own (T41 F6).
    const human = escapeLine(redactSecrets(formatHuman(msg, all)));
    if (this.#opts.stderr !== false) {
      const line =
        this.#opts.format === "json"
          ? terminalSafeJson(
              redactSecrets(
                JSON.stringify({ time: new Date().toISOString(), level, tool: this.#opts.tool, msg: redactSecrets(msg), ...all }),
              ),
            )
          : `${this.#opts.tool}: ${level === "info" ? "" : `${level}: `}${human}`;
      (this.#opts.stream ?? process.stderr).write(`${line}\n`);
    }
    if (this.#opts.syslog) syslogPipe(this.#opts.tool, this.#opts.syslog.socket).send(this.#opts.syslog.facility, level, human);
  }
}

function scrubFields(fields: LogFields): LogFields {
  return scrubValue(fields, 0) as LogFields;
}

/**
 * Secret-looking keys are blanked at any depth (a logged config block nests its passwords), and
 * registered secrets are cut out of strings before JSON escaping could disguise them.
 */
function scrubValue(value: unknown, depth: number): unknown {
  if (typeof value === "string") return redactSecrets(value);
  if (value instanceof Error) return redactSecrets(value.message);
  if (value === null || typeof value !== "object" || depth > 6) return value;
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  // Class instances (Secret, URL, Date) serialise themselves; Secret prints "[redacted]".
  if (proto !== Object.prototype && proto !== null) return value;
  const out: LogFields = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[key] = SECRET_KEY.test(key) ? "[redacted]" : scrubValue(v, depth + 1);
  }
  return out;
}

function formatHuman(msg: string, fields: LogFields): string {
  const parts = Object.entries(fields).map(([k, v]) => `${k}=${formatValue(v)}`);
  return parts.length > 0 ? `${msg} ${parts.join(" ")}` : msg;
}

// Control characters (a VPN user name is the client's choice) are quoted and escaped, so a value
// can neither forge a log line nor send escape sequences to the terminal reading the log.
function formatValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (!/[\s"=\p{Cc}]/u.test(text ?? "")) return String(text);
  // JSON escapes C0 controls but leaves DEL and the C1 range (0x9b is CSI on some terminals).
  return JSON.stringify(text).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** RFC 5424 §6.2.1 facility numbers, as logger(1) and syslog(3) use them. */
export const FACILITY_CODE: Record<SyslogOptions["facility"], number> = {
  auth: 4,
  authpriv: 10,
  cron: 9,
  daemon: 3,
  user: 1,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};
const SEVERITY_CODE: Record<Exclude<LogLevel, "silent">, number> = { debug: 7, info: 6, warn: 4, error: 3 };

type LoggerChild = import("node:child_process").ChildProcessByStdio<import("node:stream").Writable, null, import("node:stream").Readable>;

/** One logger(1) per process and socket, shared by every Logger of that tool. */
const pipes = new Map<string, SyslogPipe>();

function syslogPipe(tool: string, socket: string | undefined): SyslogPipe {
  const key = `${tool}\0${socket ?? ""}`;
  let pipe = pipes.get(key);
  if (!pipe) {
    pipe = new SyslogPipe(tool, socket);
    pipes.set(key, pipe);
  }
  return pipe;
}

/**
 * Ends every logger(1) this process started and waits for each verdict (at most about a second, #close's bound),
 * so a syslog failure and the lines it could not send are on stderr: what a process that ends itself
 * (process.exit skips 'beforeExit') calls first.
 */
export async function settleSyslog(): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // A logger killed at #close's bound still has to exit: the wait stays bounded even if it does not.
  const bound = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 1500);
  });
  await Promise.race([Promise.all([...pipes.values()].map((pipe) => pipe.settle())), bound]);
  clearTimeout(timer);
}

/**
 * Syslog lines of this process, in order, through ONE logger(1) reading them on stdin: Node has no
 * client for the unix datagram socket /dev/log (and the one native addon that has one costs a login
 * about 27 ms to set up, ten times a spawn). logger writes RFC 3164 to the local socket, each line with
 * its own priority (--prio-prefix) and this process's PID (--id=PID; the tag would otherwise carry
 * logger's). A line is never dropped silently: when logger cannot run or reports a socket error
 * (--socket-errors=on), every line it was given goes to stderr instead. A process that ends normally
 * waits for logger (bounded); one that calls process.exit() leaves it to finish on its own, detached.
 */
class SyslogPipe {
  readonly #tool: string;
  readonly #socket: string | undefined;
  #current: LoggerRun | undefined;
  /** Loggers started and not yet exited. */
  readonly #running = new Set<LoggerRun>();
  #failed = false;

  constructor(tool: string, socket: string | undefined) {
    this.#tool = tool;
    this.#socket = socket;
  }

  send(facility: SyslogOptions["facility"], level: Exclude<LogLevel, "silent">, line: string): void {
    // One message per stdin line: a line break would split it (and could forge a second message).
    const text = line.replace(/[\r\n]+/g, " ");
    if (this.#failed) {
      this.#toStderr([text]);
      return;
    }
    const run = this.#run();
    // stderr, if logger fails, gets the whole line: only the syslog message has to be cut.
    run.pending.push(text);
    run.child.stdin.write(`<${FACILITY_CODE[facility] * 8 + SEVERITY_CODE[level]}>${cutUtf8(text, SYSLOG_TEXT_BYTES)}\n`);
    // A long-lived process hands logger its lines in batches, so the unconfirmed ones stay few.
    if (run.pending.length >= MAX_LINES_PER_RUN) this.#close(run);
  }

  /** Resolves once every logger of this pipe has exited and its verdict is reported. */
  async settle(): Promise<void> {
    if (this.#current) this.#close(this.#current);
    await Promise.all([...this.#running].map((run) => run.done));
  }

  #run(): LoggerRun {
    if (this.#current) return this.#current;
    const { spawn } = process.getBuiltinModule("node:child_process");
    const args = [`--id=${process.pid}`, "-t", this.#tool, "--prio-prefix", "--socket-errors=on", `--size=${LOGGER_SIZE}`];
    if (this.#socket) args.push("-u", this.#socket);
    const child: LoggerChild = spawn("logger", args, { stdio: ["pipe", "ignore", "pipe"], detached: true });
    let ended = () => {};
    const done = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const run: LoggerRun = { child, pending: [], problem: "", done };
    this.#current = run;
    this.#running.add(run);
    // 'close' comes after 'exit' (whose handler reports a failure); 'error' alone when logger could not start.
    const finish = () => {
      this.#running.delete(run);
      ended();
    };
    child.once("close", finish);
    child.once("error", finish);
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      run.problem += chunk;
    });
    child.stdin.on("error", () => {});
    child.on("error", (error) => this.#fail(run, error.message));
    child.on("exit", (code, signal) => {
      if (code === 0) run.pending = [];
      else this.#fail(run, run.problem.trim().split("\n")[0] || `logger exited with ${signal ?? code}`);
    });
    // Idle, it must not keep the process alive; when the process has nothing left to do, it waits for it.
    child.unref();
    unrefStream(child.stdin);
    unrefStream(child.stderr);
    process.once("beforeExit", () => this.#close(run));
    return run;
  }

  /** No more lines for this run: logger sends what it has and exits; wait (at most a second) for its verdict. */
  #close(run: LoggerRun): void {
    if (this.#current === run) this.#current = undefined;
    const { child } = run;
    if (child.exitCode !== null || child.stdin.writableEnded) return;
    child.stdin.end();
    child.ref();
    refStream(child.stderr);
    const timer = setTimeout(() => {
      child.kill();
      this.#fail(run, "logger did not finish within 1 s");
    }, 1000);
    child.once("exit", () => clearTimeout(timer));
  }

  #fail(run: LoggerRun, problem: string): void {
    const lines = run.pending;
    run.pending = [];
    if (this.#current === run) this.#current = undefined;
    if (!this.#failed) process.stderr.write(`${this.#tool}: error: syslog unavailable (${problem}); its lines go to stderr\n`);
    this.#failed = true;
    this.#toStderr(lines);
  }

  #toStderr(lines: readonly string[]): void {
    for (const line of lines) process.stderr.write(`${this.#tool}: ${line}\n`);
  }
}

const MAX_LINES_PER_RUN = 100;

/**
 * A log line is ONE syslog message, never several. logger(1) cuts a stdin line longer than its --size (1 KiB by
 * default) into several messages, and with --prio-prefix a piece that starts with `<13>` gets that priority: a
 * logged value over 1 KiB (a VPN user name, an LDAP error text) could forge a message of its own (core40, found
 * with T70 N1). So the text is cut here, and logger's --size leaves room for it whatever the header.
 *
 * The bound is what a local receiver takes whole: rsyslog reads a /dev/log datagram into a buffer of its
 * maxMessageSize, 8 KiB by default, and drops the rest (plugins/imuxsock/imuxsock.c readSocket; "$MaxMessageSize
 * <size_nbr>, default 8k", rsyslog.com/doc/global.html). journald sizes its buffer to the datagram (SIOCINQ in
 * src/journal/journald-server.c server_process_datagram), so it takes that much too.
 */
const SYSLOG_DATAGRAM_BYTES = 8192;
/**
 * logger's header in front of the text: `<PRI>`, the time (15), the tag, `[PID]`, `: ` — under 50 bytes for our
 * tags; 1 KiB leaves room for a hostname (at most 255) too, should a logger write one.
 */
const HEADER_ROOM = 1024;
/** The text of one syslog message at most, in UTF-8 bytes, the cut marker included: 7168. */
const SYSLOG_TEXT_BYTES = SYSLOG_DATAGRAM_BYTES - HEADER_ROOM;
/**
 * logger's --size. util-linux 2.38.1, measured: a stdin line is cut after --size bytes of text, the header not
 * counted. Its upstream source counts the header in (logger_stdin: max_message_size - strlen(hdr)). Text of
 * SYSLOG_TEXT_BYTES is never cut either way, with any header up to HEADER_ROOM.
 */
const LOGGER_SIZE = SYSLOG_DATAGRAM_BYTES;

interface LoggerRun {
  child: LoggerChild;
  /** Lines given to this logger and not yet confirmed by its exit status. */
  pending: string[];
  problem: string;
  /** Resolves when logger has exited and its failure, if any, is reported. */
  done: Promise<void>;
}

function unrefStream(stream: unknown): void {
  (stream as { unref?: () => void }).unref?.();
}

function refStream(stream: unknown): void {
  (stream as { ref?: () => void }).ref?.();
}
