import type { Command } from "@opsguard/core/cli";
import { UsageError } from "@opsguard/core/errors";
import type { Config } from "../config";
import { escapeControls } from "../escape";
import { listOption } from "../filter";
import type { IdSources } from "../ids";
import type { SessionTrackerOptions } from "../sessions";

/**
 * The flags of every parsing command, as commander hands them over (optsWithGlobals: the program's own --format,
 * --pretty, -o, -F reach the subcommands too); each command reads the ones it offers.
 */
export interface ParseFlags {
  format?: "ndjson" | "text" | "table" | "csv" | "ecs" | "html";
  pretty: boolean;
  type?: string[];
  user?: string[];
  uid?: string[];
  auid?: string[];
  gid?: string[];
  pid?: string[];
  ppid?: string[];
  comm?: string[];
  exe?: string[];
  file?: string[];
  node?: string[];
  event?: string[];
  terminal?: string[];
  key?: string[];
  syscall?: string[];
  since?: string;
  until?: string;
  success?: string;
  follow: boolean;
  fromEnd: boolean;
  output?: string;
  strict: boolean;
  passwd?: string;
  group?: string;
  window?: string;
  top?: string;
  sessionMemory?: string;
  rules?: string[];
  minLevel?: string;
  failLevel?: string;
  listRules: boolean;
  detect: boolean;
}

/** `--rules <path>` as commander collects it: each one given, in order (a repeat adds, never replaces). */
export function repeatedPath(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `-o <file>` as commander collects it: once. Given twice, the last one won and the first file was silently not
 * written (T34 #13); -o is not repeatable (one output), so a second one is a usage error (exit 64).
 */
export function outputOption(value: string, previous: string | undefined): string {
  if (previous === undefined) return value;
  throw new UsageError(`-o/--output given twice (${escapeControls(previous)}, ${escapeControls(value)})`, {
    hint: "give one output file: the output is written to one place",
  });
}

export function addInputOptions(command: Command): Command {
  return command
    .argument("[files...]", "audit logs (default: stdin)")
    .option("--type <types>", "only events with one of these record types, names or numbers (comma list, repeatable)", listOption)
    .option(
      "--user <users>",
      "only events whose auid or uid is one of these names or numbers (with no auid yet, as a failed login: the acct it names)",
      listOption,
    )
    .option("--uid <users>", "only events with a uid= of these names or numbers", listOption)
    .option("--auid <users>", "only events with an auid= (login user) of these names or numbers", listOption)
    .option("--gid <groups>", "only events with a gid= of these names or numbers", listOption)
    .option("--pid <pids>", "only events of these process ids (numbers)", listOption)
    .option("--ppid <pids>", "only events whose parent process is one of these (numbers)", listOption)
    .option("--comm <names>", "only events of these commands (comm=)", listOption)
    .option("--exe <paths>", "only events of these executables (exe=, the full path)", listOption)
    .option("--file <paths>", "only events with a PATH record naming one of these (as logged)", listOption)
    .option("--node <names>", "only events of these hosts (node=)", listOption)
    .option("--event <ids>", "only these events: serial numbers or ids (sec.ms:serial)", listOption)
    .option("--terminal <names>", "only events with a terminal= or tty= of these (ssh, pts/0, cron …)", listOption)
    .option("--key <keys>", "only events with one of these audit rule keys", listOption)
    .option("--syscall <names>", "only events of these syscalls (names or numbers)", listOption)
    .option("--since <time>", "only events at or after: ISO 8601, epoch seconds, an age like 2h, or today, yesterday, this-week …")
    .option("--until <time>", "only events before this time (same forms; later than --since)")
    .option("--success <yes|no>", "only successful (yes) or failed (no) events")
    .option("--passwd <file>", "passwd file for uid names (default /etc/passwd)")
    .option("--group <file>", "group file for gid names (default /etc/group)")
    .option("--window <ms>", "grouping window in log time, milliseconds (default 2000)")
    .option("--strict", "exit 65 when any input line was malformed", false);
}

export function idSources(flags: ParseFlags, config: Config): IdSources {
  const passwd = flags.passwd ?? config.passwd;
  const group = flags.group ?? config.group;
  return { ...(passwd ? { passwd } : {}), ...(group ? { group } : {}) };
}

export function parserOptions(flags: ParseFlags, config: Config) {
  const windowMs = flags.window === undefined ? config.windowMs : parseWindow(flags.window);
  return { ids: idSources(flags, config), ...(windowMs === undefined ? {} : { windowMs }) };
}

export function parseTop(value: string | undefined): number {
  if (value === undefined) return 20;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--top ${value} is not a positive whole number`);
  return n;
}

/**
 * sessions' --session-memory: MiB for the open sessions' commands and connections (SessionTracker's maxBytes); and
 * the grouping's window (windowMs), for which an ended session waits for a command without EOE that comes out after
 * its USER_END. Not with -F: there a session is written as it ends (no later event may come to let it out).
 */
/** The grouping's window, newest log time and oldest event not written: sessions holds an ended session by them. */
export interface Grouping {
  windowMs?: number | undefined;
  clock?: () => number;
  pending?: () => number;
}

export function sessionLimits(flags: ParseFlags, grouping: Grouping = {}): SessionTrackerOptions {
  const hold: SessionTrackerOptions = { holdMs: flags.follow ? 0 : (grouping.windowMs ?? 2000) };
  if (grouping.clock !== undefined) hold.clock = grouping.clock;
  if (grouping.pending !== undefined) hold.pending = grouping.pending;
  const value = flags.sessionMemory;
  if (value === undefined) return hold;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > 65_536)
    // escaped here: core's message keeps a newline, and this one line must stay one
    throw new UsageError(`--session-memory ${escapeControls(value)} is not a whole number of MiB between 1 and 65536`, {
      hint: "give MiB for the open sessions' commands and connections, e.g. --session-memory 12, the default",
    });
  return { ...hold, maxBytes: n * 1048576 };
}

export function parseWindow(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 600_000)
    throw new UsageError(`--window ${value} is not a number of milliseconds between 1 and 600000`);
  return n;
}

/** The tail of every parsing subcommand's help. */
export const SUBCOMMAND_HELP = `
Output: a readable list, or JSON with --json (--pretty indents); -o FILE appends to a file (an html page
replaces it whole). A run that could read no input (exit 66) writes nothing to -o's file.
Config keys, exit codes and more examples: auditd-parse --help.`;
