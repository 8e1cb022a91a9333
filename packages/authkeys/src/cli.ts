import "./zod-jitless";
import { join } from "node:path";
import { cliContext, createProgram, ExitCode, Logger, loadConfig, runCli } from "@opsguard/core";
import pkg from "../package.json" with { type: "json" };
import { authkeysConfigSchema } from "./config";
import { HELP_AFTER } from "./help";
import { lookupKeys } from "./lookup";
import { DEFAULT_PREFIX, sshdConfigLines } from "./sshd-config";

type Command = Parameters<typeof cliContext>[0];

const program = createProgram({
  name: "authkeys",
  version: pkg.version,
  description: "Print a user's SSH public keys from LDAP for sshd's AuthorizedKeysCommand: validated, cached for outages, fail closed.",
  exitCodes: [
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.USAGE,
    ExitCode.DATA_ERR,
    ExitCode.UNAVAILABLE,
    ExitCode.IO_ERR,
    ExitCode.TEMP_FAIL,
    ExitCode.NO_PERM,
    ExitCode.CONFIG,
  ],
  helpAfter: HELP_AFTER,
});

program
  .command("lookup", { isDefault: true })
  .description("print the authorized_keys lines of <user> (the default command; what sshd runs)")
  .argument("<user>", "login name (sshd's %u)")
  .argument("[fingerprint]", "print only the key with this SHA256 fingerprint (sshd's %f)")
  .argument("[type]", "key type offered (sshd's %t); informational")
  .argument("[key]", "base64 key offered (sshd's %k); informational")
  .action(async (user: string, fingerprint: string | undefined, _type: unknown, _key: unknown, _opts: unknown, command: Command) => {
    const ctx = cliContext(command);
    const { config } = await loadConfig({ tool: "authkeys", schema: authkeysConfigSchema, path: ctx.opts.config });
    watchdog(config.ldap.deadlineMs + WATCHDOG_GRACE_MS);
    const facility = config.syslog ? config.syslog.facility : undefined;
    const log = new Logger({
      tool: "authkeys",
      level: ctx.log.level,
      format: ctx.opts.logFormat,
      ...(facility ? { syslog: { facility } } : {}),
    });
    // The one line per lookup goes to syslog, or to stderr when syslog is off (-q silences it there).
    const audit = facility
      ? new Logger({ tool: "authkeys", level: "info", syslog: { facility }, stderr: false })
      : new Logger({ tool: "authkeys", level: ctx.opts.quiet ? "error" : "info", format: ctx.opts.logFormat });
    try {
      const outcome = await lookupKeys(config, { user, fingerprint }, { log });
      if (ctx.opts.json) {
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
  });

program
  .command("doctor")
  .description("check the config, the install (as sshd would), DNS/TCP/TLS/bind, and look up a sample user")
  .option("-u, --user <name>", "sample user to look up")
  .option("--binary <path>", "the authkeys file sshd will run (default: this one)")
  .action(async (opts: { user?: string; binary?: string }, command: Command) => {
    const { runDoctor } = await import("./doctor");
    process.exitCode = await runDoctor(cliContext(command), opts);
  });

program
  .command("install")
  .description("install this bundle where sshd accepts it (root-owned), with a V8 code cache and the cache directory")
  .option("--prefix <dir>", "install directory", DEFAULT_PREFIX)
  .option("--run-as <user>", "AuthorizedKeysCommandUser, owner of the cache directory", "authkeys")
  .option("--cache-dir <dir>", "offline key cache (cache.dir in the config)", "/var/cache/opsguard/authkeys")
  .action(async (opts: { prefix: string; runAs: string; cacheDir: string }, command: Command) => {
    const ctx = cliContext(command);
    const { installAuthkeys } = await import("./install");
    const report = installAuthkeys({ ...opts, config: ctx.opts.config });
    for (const warning of report.warnings) ctx.log.warn(warning);
    process.stderr.write(`authkeys: installed ${report.launcher}; add these lines to sshd_config:\n`);
    process.stdout.write(report.sshdConfig);
    if (report.warnings.length > 0) process.exitCode = ExitCode.FAILED;
  });

// Run by "install" while it writes the code cache; not a user-facing command.
program.command("warm-up", { hidden: true }).action(async (_opts: unknown, command: Command) => {
  const { warmUp } = await import("./warm-up");
  await warmUp(cliContext(command).opts.config);
});

program
  .command("sshd-config")
  .description("print the sshd_config lines that make sshd use authkeys")
  .option("--path <file>", "where authkeys is installed", join(DEFAULT_PREFIX, "authkeys"))
  .option("--run-as <user>", "AuthorizedKeysCommandUser", "authkeys")
  .action((opts: { path: string; runAs: string }, command: Command) => {
    process.stdout.write(
      sshdConfigLines({ path: opts.path, user: opts.runAs, config: command.optsWithGlobals<{ config?: string }>().config }),
    );
  });

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

void runCli(program);
