import { redactSecrets } from "./secret";
import { escapeControlChars } from "./text";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
export type LogFormat = "human" | "json";
export type LogFields = Record<string, unknown>;

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };
const SYSLOG_SEVERITY: Record<Exclude<LogLevel, "silent">, string> = { debug: "debug", info: "info", warn: "warning", error: "err" };
const SECRET_KEY = /pass(word)?|secret|token|credential|api[-_]?key|authorization/i;

export interface SyslogOptions {
  /** authpriv for sshd hooks, daemon for OpenVPN, cron for scheduled runs. */
  facility: "auth" | "authpriv" | "daemon" | "cron" | "user" | `local${0 | 1 | 2 | 3 | 4 | 5 | 6 | 7}`;
}

export interface LoggerOptions {
  tool: string;
  level?: LogLevel;
  format?: LogFormat;
  /** Also (or, with stderr: false, only) send each line to syslog through logger(1). */
  syslog?: SyslogOptions;
  stderr?: boolean;
  stream?: NodeJS.WritableStream;
  fields?: LogFields;
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
    if (!this.enabled(level)) return;
    const all = scrubFields({ ...this.#fields, ...fields });
    const human = escapeControlChars(redactSecrets(formatHuman(msg, all)));
    if (this.#opts.stderr !== false) {
      const line =
        this.#opts.format === "json"
          ? redactSecrets(JSON.stringify({ time: new Date().toISOString(), level, tool: this.#opts.tool, msg: redactSecrets(msg), ...all }))
          : `${this.#opts.tool}: ${level === "info" ? "" : `${level}: `}${human}`;
      (this.#opts.stream ?? process.stderr).write(`${line}\n`);
    }
    if (this.#opts.syslog) sendToSyslog(this.#opts.tool, this.#opts.syslog.facility, SYSLOG_SEVERITY[level], human);
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

function formatValue(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return /[\s"=]/.test(text ?? "") ? JSON.stringify(text) : String(text);
}

// Node has no datagram client for /dev/log, so logger(1) carries the line; it is detached so a slow
// syslog daemon never holds up the caller (sshd and OpenVPN wait on our exit). child_process loads on
// the first line: a run that logs to stderr only does not evaluate it.
function sendToSyslog(tool: string, facility: string, severity: string, line: string): void {
  try {
    const { spawn } = process.getBuiltinModule("node:child_process");
    const child = spawn("logger", ["-t", tool, "--id", String(process.pid), "-p", `${facility}.${severity}`, "--", line], {
      stdio: "ignore",
      detached: true,
    });
    child.on("error", () => {});
    child.unref();
  } catch {
    // syslog is best effort; stderr already has the line unless it was turned off.
  }
}
