/**
 * One error → exit-code mapping for every opsguard tool (sysexits.h values where one fits),
 * so cron jobs, CI steps and sshd see the same meaning from each tool.
 */
export const ExitCode = {
  OK: 0,
  /** A check or policy said no: noncompliant change, failed verification. */
  FAILED: 1,
  /** Some independent parts succeeded and some failed (e.g. one deputize sink failed). */
  PARTIAL: 2,
  USAGE: 64,
  DATA_ERR: 65,
  NO_INPUT: 66,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  IO_ERR: 74,
  TEMP_FAIL: 75,
  NO_PERM: 77,
  CONFIG: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The table printed by every tool's --help and README. */
export const EXIT_CODE_HELP: ReadonlyArray<readonly [ExitCode, string]> = [
  [ExitCode.OK, "success"],
  [ExitCode.FAILED, "a check or policy failed"],
  [ExitCode.PARTIAL, "partial failure: some parts succeeded, some failed"],
  [ExitCode.USAGE, "usage error: bad flag or argument"],
  [ExitCode.DATA_ERR, "bad input data"],
  [ExitCode.NO_INPUT, "input file missing or unreadable"],
  [ExitCode.UNAVAILABLE, "a service (LDAP, HTTP API, Redis) is unavailable"],
  [ExitCode.SOFTWARE, "internal error (a bug: please report it)"],
  [ExitCode.IO_ERR, "I/O error writing output or state"],
  [ExitCode.TEMP_FAIL, "temporary failure (timeout, rate limit): retry later"],
  [ExitCode.NO_PERM, "permission denied"],
  [ExitCode.CONFIG, "configuration error"],
];

export function exitCodeHelpText(
  codes: readonly ExitCode[] = EXIT_CODE_HELP.map(([c]) => c),
  meanings: Partial<Record<ExitCode, string>> = {},
): string {
  return [
    "Exit codes:",
    // 70 is listed always: any tool exits with it on an error it did not foresee (reportError's fallback).
    ...EXIT_CODE_HELP.filter(([code]) => codes.includes(code) || code === ExitCode.SOFTWARE).map(
      ([code, text]) => `  ${String(code).padEnd(4)}${meanings[code] ?? text}`,
    ),
  ].join("\n");
}
