import { ExitCode } from "./exit";

export interface ErrorDetails {
  /** How to fix it, shown after the message on the same line. */
  hint?: string;
  cause?: unknown;
}

/** An error a user can act on: one line, a fix, and the exit code it maps to. */
export class OpsguardError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;

  constructor(message: string, exitCode: ExitCode, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = details.hint;
  }
}

export class UsageError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.USAGE, details);
  }
}

export class ConfigError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.CONFIG, details);
  }
}

export class DataError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.DATA_ERR, details);
  }
}

export class NoInputError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.NO_INPUT, details);
  }
}

export class UnavailableError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.UNAVAILABLE, details);
  }
}

export class TempFailError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.TEMP_FAIL, details);
  }
}

export class PermissionError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.NO_PERM, details);
  }
}

export class IoError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.IO_ERR, details);
  }
}

/** A policy or check said no (noncompliant deploy, failed verification). */
export class PolicyError extends OpsguardError {
  constructor(message: string, details?: ErrorDetails) {
    super(message, ExitCode.FAILED, details);
  }
}

export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof OpsguardError ? error.exitCode : ExitCode.SOFTWARE;
}

/** The single line a user sees for an error; internal errors say so instead of dumping a stack. */
export function describeError(error: unknown): string {
  if (error instanceof OpsguardError) return error.hint ? `${error.message} (${error.hint})` : error.message;
  const message = error instanceof Error ? error.message : String(error);
  return `internal error: ${message} (re-run with --verbose for details and please report it)`;
}
