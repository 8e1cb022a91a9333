import { describeError, exitCodeOf, OpsguardError } from "./errors";
import { ExitCode } from "./exit";
import { CLOSED_AT_START, type IOStreams, writeErrorHandled } from "./iostreams";
import type { LogFormat } from "./log";
import { redactSecrets } from "./secret";
import { escapeControlChars, escapeLine, shortenLongWords, terminalSafeJson } from "./text";

export interface ReportOptions {
  logFormat?: LogFormat | undefined;
  verbose?: number | undefined;
  /** Where the line goes (the run's redacting stderr); process.stderr for a path without core's CLI. */
  stream?: { write(text: string): unknown } | undefined;
}

/**
 * A failed run's one line on stderr (secrets redacted, a quoted huge value shortened) and its documented exit code. Without
 * commander, so a hot path (authkeys under sshd) reports errors exactly as the full CLI does.
 */
export function reportError(tool: string, error: unknown, options: ReportOptions = {}): ExitCode {
  // One line: a line break in the error (an API's own text) would forge a line of the tool's on stderr (T41 F6).
  const line = escapeLine(shortenLongWords(redactSecrets(describeError(error))));
  const exitCode = exitCodeOf(error);
  const stderr = options.stream ?? process.stderr;
  stderr.write(
    options.logFormat === "json"
      ? `${terminalSafeJson(JSON.stringify({ time: new Date().toISOString(), level: "error", tool, msg: line, exitCode }))}\n`
      : `${tool}: ${line}\n`,
  );
  if ((options.verbose ?? 0) > 0 && !(error instanceof OpsguardError) && error instanceof Error && error.stack) {
    stderr.write(`${escapeControlChars(redactSecrets(error.stack))}\n`);
  }
  return exitCode;
}

/**
 * Human text for stdout, redacted as stderr is (a run's report may quote an API error that echoed
 * a token) and with its control characters made visible.
 */
export function writeStdout(text: string, stdout: { write(text: string): unknown } = process.stdout): void {
  stdout.write(escapeControlChars(redactSecrets(text)));
}

/** `value` as JSON data on stdout, through the same redaction: see redactedJson. */
export function writeJson(value: unknown, stdout: { write(text: string): unknown } = process.stdout): void {
  stdout.write(redactedJson(value));
}

/**
 * `value` as pretty JSON with every known secret in its strings replaced. Strings are redacted
 * before encoding, so JSON escaping cannot hide a secret from the scrub; the characters JSON leaves
 * raw that a terminal acts on (DEL, C1, line and bidi controls) are written as \uXXXX escapes.
 */
export function redactedJson(value: unknown): string {
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "string" ? redactSecrets(v) : v), 2);
  return `${terminalSafeJson(json)}\n`;
}

/**
 * A closed stdout (`| head`, sshd hanging up) ends the run quietly instead of as an error, unless the output must
 * reach its reader (`required`, systemIO's stdoutRequired: sock-check's report): then, like any other write error
 * (disk full, a bad descriptor), the data was not delivered: one line on stderr and exit 74, never a stack trace or a
 * success.
 */
export function exitQuietlyOnEpipe(tool = "opsguard", required?: { hint?: string | undefined }): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    // a writer that was told of the error (IOStreams' writeBytes) reports it as its run's error, with its own line:
    // auditd-parse's data output, whose exit code (detect's gate) must not turn 0 because the reader left
    if (writeErrorHandled(error)) return;
    if (error.code === "EPIPE" && !required) process.exit(process.exitCode ?? ExitCode.OK);
    // a reader that left is named (EPIPE alone reads like a fault of the tool's), and so is a stdout closed at start
    const why =
      error.code === "EPIPE"
        ? "EPIPE: its reader closed it"
        : error.message === CLOSED_AT_START
          ? error.message
          : (error.code ?? error.message);
    const hint = required?.hint ? ` (${required.hint})` : "";
    process.stderr.write(`${tool}: cannot write to stdout (${why}); the output is incomplete${hint}\n`);
    process.exit(ExitCode.IO_ERR);
  });
}

/**
 * SIGUSR1 and SIGUSR2 do nothing. Node opens its inspector on 127.0.0.1:9229 at SIGUSR1, with no authentication: any
 * local user who can reach that port could then run code inside a tool run as root (auditd-parse's plugin, a watch)
 * or as sshd's service user (authkeys); and a logrotate snippet may send USR1 as "reopen your logs". A listener of
 * our own keeps Node from doing so (Node 20 has no --disable-sigusr1). SIGUSR2 would end a long run at once,
 * without writing what it holds (T35 N8).
 */
export function keepDebuggerClosed(): void {
  for (const signal of ["SIGUSR1", "SIGUSR2"] as const) if (process.listenerCount(signal) === 0) process.on(signal, ignore);
}

function ignore(): void {}

/**
 * The entry of a path that must not load commander (authkeys' login under sshd): runs it, turns an error into
 * reportError's line on the run's stderr, writes what the redacting writers held back and sets the exit code.
 * With runCli, the only places that set process.exitCode.
 */
export async function runEntry(tool: string, io: IOStreams, run: () => Promise<ExitCode>): Promise<void> {
  exitQuietlyOnEpipe(tool);
  keepDebuggerClosed();
  let code: ExitCode;
  try {
    code = await run();
  } catch (error) {
    code = reportError(tool, error, { stream: io.stderr });
  }
  io.flush();
  process.exitCode = code;
}
