import { describeError, exitCodeOf, OpsguardError } from "./errors";
import { ExitCode } from "./exit";
import type { LogFormat } from "./log";
import { redactSecrets } from "./secret";
import { escapeControlChars } from "./text";

export interface ReportOptions {
  logFormat?: LogFormat | undefined;
  verbose?: number | undefined;
}

/**
 * A failed run's one line on stderr (secrets redacted) and its documented exit code. Without
 * commander, so a hot path (authkeys under sshd) reports errors exactly as the full CLI does.
 */
export function reportError(tool: string, error: unknown, options: ReportOptions = {}): ExitCode {
  const line = escapeControlChars(redactSecrets(describeError(error)));
  const exitCode = exitCodeOf(error);
  process.stderr.write(
    options.logFormat === "json"
      ? `${JSON.stringify({ time: new Date().toISOString(), level: "error", tool, msg: line, exitCode })}\n`
      : `${tool}: ${line}\n`,
  );
  if ((options.verbose ?? 0) > 0 && !(error instanceof OpsguardError) && error instanceof Error && error.stack) {
    process.stderr.write(`${redactSecrets(error.stack)}\n`);
  }
  return exitCode;
}

/**
 * A closed stdout (`| head`, sshd hanging up) ends the run quietly instead of as an error; any other write
 * failure (a full disk: ENOSPC) is one line and the I/O exit code, not an uncaught stack trace.
 */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? ExitCode.OK);
    process.stderr.write(`cannot write standard output (${error.code ?? "error"}): the output is incomplete\n`);
    process.exit(ExitCode.IO_ERR);
  });
}
