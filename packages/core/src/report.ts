import { describeError, exitCodeOf, OpsguardError } from "./errors";
import { ExitCode } from "./exit";
import type { LogFormat } from "./log";
import { redactSecrets } from "./secret";

export interface ReportOptions {
  logFormat?: LogFormat | undefined;
  verbose?: number | undefined;
}

/**
 * A failed run's one line on stderr (secrets redacted) and its documented exit code. Without
 * commander, so a hot path (authkeys under sshd) reports errors exactly as the full CLI does.
 */
export function reportError(tool: string, error: unknown, options: ReportOptions = {}): ExitCode {
  const line = redactSecrets(describeError(error));
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
 * Data for stdout, redacted as stderr is: a run's report may quote an API error that echoed a
 * token. Strings are redacted before JSON encoding, so escaping cannot hide a secret from the scrub.
 */
export function writeStdout(text: string): void {
  process.stdout.write(redactSecrets(text));
}

/** `value` as pretty JSON for stdout, with every known secret in its strings replaced. */
export function redactedJson(value: unknown): string {
  return `${JSON.stringify(value, (_key, v: unknown) => (typeof v === "string" ? redactSecrets(v) : v), 2)}\n`;
}

/** A closed stdout (`| head`, sshd hanging up) ends the run quietly instead of as an error. */
export function exitQuietlyOnEpipe(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? ExitCode.OK);
    throw error;
  });
}
