import { describeError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { LdapTimeoutError } from "@opsguard/core/ldap/errors";
import { type LogFormat, Logger, type LogLevel, settleSyslog } from "@opsguard/core/log";
import { reportError } from "@opsguard/core/report";
import { askAgent } from "./agent-client";
import { AGENT_PROBLEM_GLOBAL } from "./agent-fast-path";
import type { AuthkeysConfig } from "./config";
import type { LookupOutcome } from "./lookup";
import { printableUser } from "./username";

export interface LookupCommandOptions {
  config: string | undefined;
  json: boolean;
  quiet: boolean;
  level: LogLevel;
  logFormat: LogFormat;
  /**
   * The config for this lookup: loadLoginConfig (validated unless install's validation applies), or in
   * the login bundle, install's validation only (that bundle carries no zod).
   */
  loadConfig: (path: string | undefined) => Promise<AuthkeysConfig>;
  /** The run's streams: the keys on stdout, log lines and errors on stderr, all redacted. */
  io: IOStreams;
  /**
   * When the lookup's clock starts, in ms since the process started (core's CliContext.startedAtMs): 0, the
   * default, for the process sshd starts, whose start-up sshd waits for too.
   */
  startedAtMs?: number;
}

/**
 * The two loggers of a login-path command (lookup, principals): problems on stderr (and syslog), and the one
 * audit line per run — to syslog, or to stderr when syslog is off (-q silences it there).
 */
export function loginLoggers(
  config: AuthkeysConfig,
  options: Pick<LookupCommandOptions, "level" | "logFormat" | "quiet" | "io">,
): { log: Logger; audit: Logger } {
  const syslog = config.syslog || undefined;
  const stream = options.io.stderr;
  const log = new Logger({ tool: "authkeys", level: options.level, format: options.logFormat, ...(syslog ? { syslog } : {}), stream });
  const audit = syslog
    ? new Logger({ tool: "authkeys", level: "info", syslog, stderr: false })
    : new Logger({ tool: "authkeys", level: options.quiet ? "error" : "info", format: options.logFormat, stream });
  return { log, audit };
}

/** `authkeys [lookup] <user> [fingerprint]`: the keys on stdout, one audit line per lookup. */
export async function runLookupCommand(user: string, fingerprint: string | undefined, options: LookupCommandOptions): Promise<ExitCode> {
  const { io } = options;
  startClock(options.startedAtMs);
  const config = await options.loadConfig(options.config);
  const launcherProblem = (globalThis as Record<string, unknown>)[AGENT_PROBLEM_GLOBAL] as string | undefined;
  // A late or broken agent must leave the direct lookup its whole deadline.
  const agentWait = config.agent && launcherProblem === undefined ? config.agent.timeoutMs : 0;
  const syslog = config.syslog || undefined;
  const { log, audit } = loginLoggers(config, options);
  const print = (outcome: Outcome) => {
    if (options.json) {
      io.stdout.write(`${JSON.stringify({ user, result: outcome.result, source: outcome.source, keys: outcome.lines })}\n`);
    } else if (outcome.lines.length > 0) {
      io.stdout.write(`${outcome.lines.join("\n")}\n`);
    }
    audit.info("lookup", {
      user: printableUser(user),
      result: outcome.result,
      keys: outcome.lines.length,
      source: outcome.source,
      ms: elapsed(),
    });
  };
  const failed = (error: unknown) => {
    // On stderr the error line itself is the one line; syslog gets the lookup record with the same
    // cause (a rejected bind naming the DN, every server down, …), as the README promises.
    if (syslog) {
      const fields = { user: printableUser(user), result: "error", keys: 0, source: "none", ms: elapsed() };
      audit.error("lookup", { ...fields, error: describeError(error) });
    }
  };
  return underGiveUp({
    limitMs: agentWait + config.ldap.deadlineMs + WATCHDOG_GRACE_MS,
    ldapDeadlineMs: config.ldap.deadlineMs,
    words: KEY_WORDS,
    io,
    lookup: async (budgetMs) =>
      (await fromAgent(config, user, fingerprint, log, launcherProblem)) ??
      (await lookupDirectly(config, user, fingerprint, log, budgetMs())),
    fromCache: async (error) => {
      const { fromCacheAfterDeadline } = await import("./lookup");
      return fromCacheAfterDeadline(config, { user, fingerprint }, { log }, error);
    },
    print,
    failed,
  });
}

type Outcome = Pick<LookupOutcome, "result" | "lines"> & { source: string };

/**
 * The agent's answer, or undefined on any problem with it (not configured, not trusted, down,
 * late, a malformed or error reply): the caller then looks up directly, as without an agent. When
 * the launcher already asked it (launcherProblem), it is not asked again.
 */
async function fromAgent(
  config: AuthkeysConfig,
  user: string,
  fingerprint: string | undefined,
  log: Logger,
  launcherProblem: string | undefined,
): Promise<Outcome | undefined> {
  if (!config.agent) return undefined;
  const answer =
    launcherProblem === undefined
      ? await askAgent(config.agent, { kind: "lookup", user, fingerprint })
      : ({ ok: false, problem: launcherProblem } as const);
  if (answer.ok && answer.reply.kind === "lookup") {
    return { result: answer.reply.result, source: `agent:${answer.reply.source}`, lines: answer.reply.lines };
  }
  const problem = answer.ok ? (answer.reply.kind === "error" ? answer.reply.error : "unexpected reply") : answer.problem;
  log.warn(`agent not used (${problem}); looking up directly`, { socket: config.agent.socket });
  return undefined;
}

/** The LDAP modules (tls, ldapts) load only here, so a login answered by the agent never pays for them. */
async function lookupDirectly(
  config: AuthkeysConfig,
  user: string,
  fingerprint: string | undefined,
  log: Logger,
  budgetMs: number,
): Promise<Outcome> {
  const { lookupKeys } = await import("./lookup");
  return lookupKeys(config, { user, fingerprint }, { log, budgetMs });
}

/** Beyond the LDAP deadline: time for the cache, the output and the exit. */
export const WATCHDOG_GRACE_MS = 2000;
/** How long the hard give-up may spend reading the cache before it refuses (a stuck file system). */
const GIVE_UP_CACHE_MS = 500;

/** What a login command prints, and what its give-up would serve from the cache instead: said when it has neither. */
export interface GiveUpWords {
  cached: string;
  printed: string;
}

const KEY_WORDS: GiveUpWords = { cached: "keys", printed: "keys" };

/** A login command's lookup and what its hard give-up serves in its place (underGiveUp). */
export interface GiveUpRun<T> {
  /** When the give-up takes over, in ms since the run's clock started. */
  limitMs: number;
  ldapDeadlineMs: number;
  words: GiveUpWords;
  io: IOStreams;
  /**
   * The lookup; budgetMs() is LDAP's deadline cut short where the process started so late (a starved host)
   * that it would run into the give-up, leaving the give-up its share for the cache and the exit. A function,
   * read when LDAP is asked (after the agent, for keys).
   */
  lookup: (budgetMs: () => number) => Promise<T>;
  /** What an outage would serve (fresh cache), or throws `error`. */
  fromCache: (error: LdapTimeoutError) => Promise<T>;
  print: (outcome: T) => void | Promise<void>;
  /** Logs a failure (syslog's record); the error itself is then reported as the command reports errors. */
  failed: (error: unknown) => void;
}

/**
 * Runs the lookup under the hard give-up (giveUpAfter): whichever answers first, the lookup or the give-up's
 * cached answer, is the only one printed; the other waits for the process to end.
 */
export async function underGiveUp<T>(run: GiveUpRun<T>): Promise<ExitCode> {
  let answered = false;
  const claim = () => {
    if (answered) return false;
    answered = true;
    return true;
  };
  giveUpAfter(
    run.limitMs,
    claim,
    async () => run.print(await run.fromCache(giveUpError(run.limitMs, run.words))),
    run.failed,
    run.io,
    run.words,
  );
  try {
    const outcome = await run.lookup(() => Math.min(run.ldapDeadlineMs, run.limitMs - GIVE_UP_CACHE_MS - elapsed()));
    if (!claim()) return await givenUp();
    await run.print(outcome);
    return ExitCode.OK;
  } catch (error) {
    if (!claim()) return await givenUp();
    run.failed(error);
    throw error;
  }
}

function giveUpError(limitMs: number, words: GiveUpWords): LdapTimeoutError {
  return new LdapTimeoutError(`gave up after ${elapsed()} ms (limit ${limitMs} ms since the process started) waiting for LDAP`, {
    hint: `the host is overloaded or LDAP is slow: no fresh cached ${words.cached} to serve instead`,
  });
}

/**
 * The hard give-up: limitMs after the process started (sshd's clock, not the end of module loading), the
 * lookup still under way is abandoned and the fresh cached keys are served under the outage rules
 * (answer), or, without them, the process ends with exit 75 and nothing on stdout. Whatever is stuck (a
 * socket, a file system, a starved CPU), the first moment this process runs after the limit it ends.
 * Unref'd, so it never delays a normal exit.
 */
function giveUpAfter(
  limitMs: number,
  claim: () => boolean,
  answer: () => Promise<void>,
  failed: (error: unknown) => void,
  io: IOStreams,
  words: GiveUpWords,
): void {
  const giveUp = () => {
    let done = false;
    const finish = (line: string, code: ExitCode) => {
      if (done) return;
      done = true;
      io.stderr.write(line);
      io.flush();
      void settleSyslog().finally(() => process.exit(code));
    };
    const refuse = (error: unknown) => {
      failed(error);
      if (error instanceof LdapTimeoutError)
        finish(
          `authkeys: gave up after ${elapsed()} ms (no fresh cached ${words.cached}; no ${words.printed} printed)\n`,
          ExitCode.TEMP_FAIL,
        );
      // Anything else (a cache that may not be served, 77): reported as the lookup reports errors.
      else finish("", reportError("authkeys", error, { stream: io.stderr }));
    };
    // Reading the cache has its own bound (a stuck file system): a refusal at worst, never a hang.
    const backstop = setTimeout(
      () => finish(`authkeys: gave up after ${elapsed()} ms (no ${words.printed} printed)\n`, ExitCode.TEMP_FAIL),
      GIVE_UP_CACHE_MS,
    );
    // The lookup is printing its answer already: it gets only that bound, unref'd so a normal exit is not delayed.
    if (!claim()) {
      backstop.unref();
      return;
    }
    // Otherwise not unref'd: this path ends the process itself, whatever else is still pending.
    answer().then(() => finish("", ExitCode.OK), refuse);
  };
  setTimeout(giveUp, Math.max(0, limitMs - elapsed())).unref();
}

/** The lookup finished after the give-up took over: that path prints and exits; this one waits for it. */
function givenUp(): Promise<never> {
  return new Promise(() => {});
}

/** Where elapsed() counts from: the process start, unless the run began later (LookupCommandOptions.startedAtMs). */
let originMs = 0;

/** Counts the lookup's clock from startedAtMs (ms since the process started; 0: its start). */
export function startClock(startedAtMs = 0): void {
  originMs = startedAtMs;
}

/** Since the run started: for the process sshd starts, its start, as sshd waits for it; process.uptime() needs no perf_hooks module. */
export function elapsed(): number {
  return Math.round(process.uptime() * 1000 - originMs);
}
