import { ExitCode } from "@opsguard/core/exit";
import { type LogFormat, Logger, type LogLevel } from "@opsguard/core/log";
import { loadLoginConfig } from "./login-config";
import { lookupKeys } from "./lookup";

export interface LookupCommandOptions {
  config: string | undefined;
  json: boolean;
  quiet: boolean;
  level: LogLevel;
  logFormat: LogFormat;
}

/** `authkeys [lookup] <user> [fingerprint]`: the keys on stdout, one audit line per lookup. */
export async function runLookupCommand(user: string, fingerprint: string | undefined, options: LookupCommandOptions): Promise<void> {
  const config = await loadLoginConfig(options.config);
  watchdog(config.ldap.deadlineMs + WATCHDOG_GRACE_MS);
  const facility = config.syslog ? config.syslog.facility : undefined;
  const log = new Logger({
    tool: "authkeys",
    level: options.level,
    format: options.logFormat,
    ...(facility ? { syslog: { facility } } : {}),
  });
  // The one line per lookup goes to syslog, or to stderr when syslog is off (-q silences it there).
  const audit = facility
    ? new Logger({ tool: "authkeys", level: "info", syslog: { facility }, stderr: false })
    : new Logger({ tool: "authkeys", level: options.quiet ? "error" : "info", format: options.logFormat });
  try {
    const outcome = await lookupKeys(config, { user, fingerprint }, { log });
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ user, result: outcome.result, source: outcome.source, keys: outcome.lines })}\n`);
    } else if (outcome.lines.length > 0) {
      process.stdout.write(`${outcome.lines.join("\n")}\n`);
    }
    audit.info("lookup", {
      user: printableUser(user),
      result: outcome.result,
      keys: outcome.lines.length,
      source: outcome.source,
      ms: elapsed(),
    });
  } catch (error) {
    // On stderr the error line itself is the one line; syslog gets the lookup record too.
    if (facility) audit.info("lookup", { user: printableUser(user), result: "error", keys: 0, source: "none", ms: elapsed() });
    throw error;
  }
}

/** Beyond the LDAP deadline: time for the cache, the output and the exit. */
const WATCHDOG_GRACE_MS = 2000;

/**
 * sshd has no timeout of its own: whatever hangs (a socket left open, a stuck file system), the
 * process ends, without output, shortly after the deadline. Unref'd, so it never delays a normal exit.
 */
function watchdog(ms: number): void {
  setTimeout(() => {
    process.stderr.write(`authkeys: gave up after ${ms} ms (no keys printed)\n`);
    process.exit(ExitCode.TEMP_FAIL);
  }, ms).unref();
}

/** Since the process started, as sshd waits for it; process.uptime() needs no perf_hooks module. */
function elapsed(): number {
  return Math.round(process.uptime() * 1000);
}

/** Usernames come from the network; keep the log line one line. */
function printableUser(user: string): string {
  return user.replace(/[^\x21-\x7e]/g, "?").slice(0, 64);
}
