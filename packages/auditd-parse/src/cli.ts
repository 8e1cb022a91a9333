import { type CliContext, cliContext, createProgram } from "@opsguard/core/cli";
import { addCompletionCommand } from "@opsguard/core/completion";
import { DataError, NoInputError, type OpsguardError, PolicyError, UsageError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { writeOutputFile } from "@opsguard/core/output";
import type { ByteProgress } from "@opsguard/core/progress";
import { createStyle } from "@opsguard/core/tty";
import pkg from "../package.json" with { type: "json" };
import { MAX_EVENT_BYTES, MAX_EVENT_RECORDS } from "./assemble";
import { type Config, loadAuditdConfig } from "./config";
import { type DetectOptions, Detector, listRules, loadRuleSet, parseLevel } from "./detect";
import type { AuditEvent } from "./event";
import type { EventJson } from "./event-json";
import { eventFilter, type FilterOptions, listOption, needsRecords, parseSuccess, parseTime } from "./filter";
import { csvHeader, formatCsv, formatRow, formatText, tableHeader } from "./format";
import { markEarly } from "./heap";
import { IdNames, type IdSources } from "./ids";
import { followFile, readInput, rotationOrder } from "./input";
import { MAX_LINE_FIELDS } from "./lines";
import { type Connection, connectionOf, formatConnection } from "./net";
import { Output } from "./output";
import { AuditParser } from "./parser";
import { readProgress } from "./progress";
import { formatReport, ReportBuilder } from "./report";
import { renderReportHtml } from "./report-html";
import { formatSession, SessionTracker } from "./sessions";
import { sessionsHtmlSink } from "./sessions-html";
import type { RuleSet } from "./sigma/rules";

type Command = ReturnType<typeof createProgram>;

interface ParseFlags {
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
  rules?: string;
  minLevel?: string;
  failLevel?: string;
  listRules: boolean;
  detect: boolean;
}

const HELP_AFTER = `Input: files (rotated audit.log.N and .gz are read oldest first), or stdin when none or "-".
Output: NDJSON, one event per line (schema: schema/event.schema.json in the package), in log-time order.
  uid/gid names come from the log's own ENRICHED fields when it has them, else from --passwd/--group
  (each event's "names" says which). text, table, sessions and net escape control characters (ESC as \\033).
  An event is at most 1024 records or 1 MiB of JSON (8 MiB for all open events): past that it is written
  in parts under the same id (a log whose stamps never change, a huge argv), warned about on stderr.
  A line is cut at 4 MiB, and after 4096 key=value fields (no kernel record has as many), with a warning.
  An input that is missing, unreadable or corrupt/truncated gzip is named on stderr and the others are read
  (a truncated .gz up to its cut, as zcat): exit 65, incomplete (66 when no input could be read at all;
  for detect, 65 outranks 1). Interrupted outside -F and the
  plugin: 130 (SIGINT) or 143 (SIGTERM); an -o file then holds only what was written so far.

Config keys (--config, $AUDITD_PARSE_CONFIG, ./.auditd-parserc, /etc/opsguard/auditd-parse.json …):
  passwd     passwd file for uid → name (default /etc/passwd)
  group      group file for gid → name (default /etc/group)
  windowMs   grouping window in log time (default 2000, auditd's own)

Examples:
  auditd-parse /var/log/audit/audit.log* --key sshd-config
  auditd-parse -F --format text /var/log/audit/audit.log
  auditd-parse sessions --since 1d /var/log/audit/audit.log
  auditd-parse net --json /var/log/audit/audit.log
  auditd-parse --format ecs /var/log/audit/audit.log   (Elastic Common Schema documents, for Filebeat & co.)
  auditd-parse detect --fail-level high /var/log/audit/audit.log   (Sigma rules: auditd-parse detect --help)
  auditd plugin: /etc/audit/plugins.d/auditd-parse.conf with
    active = yes, direction = out, type = always, format = string,
    path = /usr/bin/auditd-parse, args = plugin -o /var/log/audit/events.json`;

const SIGNAL_EXIT_CODES = `  130 interrupted (SIGINT, Ctrl-C) outside -F
  143 terminated (SIGTERM) outside -F and the plugin`;

function addInputOptions(command: Command): Command {
  return command
    .argument("[files...]", "audit logs (default: stdin)")
    .option("--type <types>", "only events with one of these record types, names or numbers (comma list, repeatable)", listOption)
    .option("--user <users>", "only events whose auid or uid is one of these names or numbers", listOption)
    .option("--uid <users>", "only events with a uid= of these names or numbers", listOption)
    .option("--auid <users>", "only events with an auid= (login user) of these names or numbers", listOption)
    .option("--gid <groups>", "only events with a gid= of these names or numbers", listOption)
    .option("--pid <pids>", "only events of these process ids", listOption)
    .option("--ppid <pids>", "only events whose parent process is one of these", listOption)
    .option("--comm <names>", "only events of these commands (comm=)", listOption)
    .option("--exe <paths>", "only events of these executables (exe=, the full path)", listOption)
    .option("--file <paths>", "only events with a PATH record naming one of these (as logged)", listOption)
    .option("--node <names>", "only events of these hosts (node=)", listOption)
    .option("--event <ids>", "only these events: serial numbers or ids (sec.ms:serial)", listOption)
    .option("--terminal <names>", "only events with a terminal= or tty= of these (ssh, pts/0, cron …)", listOption)
    .option("--key <keys>", "only events with one of these audit rule keys", listOption)
    .option("--syscall <names>", "only events of these syscalls (names or numbers)", listOption)
    .option("--since <time>", "only events at or after: ISO 8601, epoch seconds, an age like 2h, or today, yesterday, this-week …")
    .option("--until <time>", "only events before this time (same forms)")
    .option("--success <yes|no>", "only successful (yes) or failed (no) events")
    .option("--passwd <file>", "passwd file for uid names (default /etc/passwd)")
    .option("--group <file>", "group file for gid names (default /etc/group)")
    .option("--window <ms>", "grouping window in log time, milliseconds (default 2000)")
    .option("--strict", "exit 65 when any input line was malformed", false);
}

/** The auditd-parse program, writing through `io`; building it has no side effects (main.ts runs it). */
export function createAuditdParseProgram(io: IOStreams): Command {
  const program = createProgram(
    {
      name: "auditd-parse",
      version: pkg.version,
      description: "Group Linux audit records into events, decode every field, and print one JSON object per event.",
      exitCodes: [
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.USAGE,
        ExitCode.DATA_ERR,
        ExitCode.NO_INPUT,
        ExitCode.SOFTWARE,
        ExitCode.IO_ERR,
        ExitCode.CONFIG,
      ],
      helpAfter: HELP_AFTER,
    },
    io,
  );
  // core's table stops at sysexits codes: the two signal exits go right under it, as in the README's table
  program.addHelpText("after", SIGNAL_EXIT_CODES);

  addInputOptions(program)
    .option(
      "--format <format>",
      "output format: ndjson, text, table, csv (one row per event, for spreadsheets) or ecs (Elastic Common Schema, one document per line); sessions also html",
      "ndjson",
    )
    .option("--pretty", "indented JSON (one event per block)", false)
    .option(
      "-F, --follow",
      "keep reading the file as it grows and across rotation, like tail -F (a rotated file not readable yet is waited for)",
      false,
    )
    .option("--from-end", "with --follow: start at the end of the file", false)
    .option("-o, --output <file>", "append to this file instead of stdout")
    .action(async (files: string[], _flags: ParseFlags, command: Command) => {
      await parseCommand(files, command, "events");
    });

  const SUBCOMMAND_HELP = `
Output: a readable list, or a JSON array with --json (--pretty indents); -o FILE appends to a file.
Config keys, exit codes and more examples: auditd-parse --help.`;

  addInputOptions(
    program
      .command("sessions")
      .description("per-user login sessions with the commands and connections inside each")
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
Each session is written when its opener's USER_END (or its CRED_DISP) arrives; open ones come last.
Commands carry the uid they ran as; su/sudo inside a session are nested sessions with their target
user; failed logins (no session id) are listed as sessions of their own.
At most 10000 commands and connections are listed per session and 40000 across open sessions;
the rest are counted in "omitted". --format html writes one self-contained page (a timeline per
session, raw events one click away, user/host filters), bounded to 500 sessions, 200 items per
session and 5000 in all, with a note saying what was left out, and a banner when an input could not
be read (exit 65/66). With -o FILE the page replaces FILE whole, atomically (not appended). -F FILE follows a growing log here too: each session is written
as it ends.

Example:
  auditd-parse sessions --user alice --since 1d /var/log/audit/audit.log*`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    await parseCommand(files, command, "sessions");
  });

  addInputOptions(
    program
      .command("net")
      .description("network connections (connect/accept/bind …) with process, user, direction, address")
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
A nonblocking connect that returned EINPROGRESS is shown as in progress, not failed.

Example:
  auditd-parse net --json /var/log/audit/audit.log | jq '.[] | select(.direction == "outbound")'`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    await parseCommand(files, command, "net");
  });

  addInputOptions(
    program
      .command("report")
      .description("aureport's summaries: logins, authentications, executables, keys, files, anomalies, commands per user")
      .option("--top <n>", "rows per summary in the readable report (default 20; --json has them all)")
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
Each summary counts events by its columns (with first and last time in --json), most frequent first;
at most 10000 distinct rows per summary, the rest counted.

--format html: the same summaries as one self-contained page (at most 500 rows per table).

Examples:
  auditd-parse report --since yesterday /var/log/audit/audit.log*
  auditd-parse report --format html /var/log/audit/audit.log* > report.html`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    await parseCommand(files, command, "report");
  });

  addInputOptions(
    program
      .command("detect")
      .description("run Sigma detection rules (SigmaHQ's Linux auditd set built in) over the events; one alert per match")
      .option("--rules <path>", "a Sigma rule file or a directory of them (default: the built-in SigmaHQ auditd rules)")
      .option("--min-level <level>", "only alerts of this level or higher: informational, low, medium, high, critical")
      .option("--fail-level <level>", "exit 1 when a rule of this level or higher matched")
      .option("--list-rules", "list the rules (level, id, title, author, source), those that failed to compile and why, and exit", false)
      .option("-F, --follow", "keep reading the file as it grows and across rotation, like tail -F (alerts as events complete)", false)
      .option("--from-end", "with --follow: start at the end of the file", false)
      .option("-o, --output <file>", "append alerts to this file instead of stdout")
      .addHelpText(
        "after",
        `
Output: one alert per rule that matched an event, NDJSON on stdout ({"time","host","rule":{"id","title",
  "level","tags","attack","author"},"records":[record types it matched],"event":{the event as auditd-parse
  prints it}}); a readable table when stdout is a terminal (--json keeps NDJSON there); --format ecs writes
  each alert as an Elastic Common Schema alert document instead.
Matching: each record is one Sigma document with its fields as logged (hex strings decoded, numbers as
  written), ENRICHED names (SYSCALL, UID …), EXECVE a0…aN the whole argv; a field the record lacks comes from
  the event's other records. Rules for another logsource than product linux / service auditd are skipped.
  A re that can backtrack catastrophically (a repetition inside a repetition, like (a+)+) and a condition
  nested over 100 deep are refused: that rule fails to compile.
Exit: 1 when a rule at or above --fail-level matched; 65 when a rule could not be compiled (each is named
  on stderr with the reason, the others still run, or when an input could not be read whole: the alerts
  cover the rest, named on stderr); 66 when --rules is missing or no input is readable.
The filter options select the events the rules see.

Examples:
  auditd-parse detect /var/log/audit/audit.log
  auditd-parse detect --rules ./my-rules --min-level medium --fail-level high /var/log/audit/audit.log*
  auditd-parse detect -F /var/log/audit/audit.log -o /var/log/audit/alerts.json
  auditd-parse detect --list-rules`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    await parseCommand(files, command, "detect");
  });

  program
    .command("plugin")
    .description("auditd plugin mode: read the audisp string format on stdin until EOF or SIGTERM; SIGHUP reopens --output")
    .option("-o, --output <file>", "append events to this file instead of stdout")
    .option("--passwd <file>", "passwd file for uid names")
    .option("--group <file>", "group file for gid names")
    .option("--detect", "write Sigma alerts (as auditd-parse detect does) instead of events", false)
    .option("--rules <path>", "with --detect: a Sigma rule file or directory (default: the built-in SigmaHQ auditd rules)")
    .option("--min-level <level>", "with --detect: only alerts of this level or higher")
    .action(async (_flags: ParseFlags, command: Command) => {
      await pluginCommand(command);
    });

  addCompletionCommand(program);
  return program;
}

type Mode = "events" | "sessions" | "net" | "report" | "detect";
type EcsModule = typeof import("./ecs");

// What --format each command can write: ECS documents are events (and detect's alerts), HTML is sessions' page.
const FORMATS: Record<Mode, readonly string[]> = {
  events: ["ndjson", "text", "table", "csv", "ecs"],
  detect: ["ndjson", "ecs"],
  sessions: ["ndjson", "text", "table", "csv", "html"],
  net: ["ndjson", "text", "table", "csv"],
  report: ["ndjson", "text", "table", "csv", "html"],
};

/** Live input completes events on the wall clock: how often --follow polls and the plugin checks. */
const FOLLOW_POLL_MS = 250;
const PLUGIN_TICK_MS = 500;

async function parseCommand(files: string[], command: Command, mode: Mode): Promise<void> {
  const ctx = cliContext(command);
  const flags = command.optsWithGlobals<ParseFlags>();
  const config = await loadAuditdConfig(ctx.opts.config);
  const ids = new IdNames(idSources(flags, config));
  ids.check();
  if (flags.fromEnd && !flags.follow) throw new UsageError("--from-end needs --follow (-F)", { hint: "add -F, or drop --from-end" });
  if (flags.format === "html" && flags.follow)
    throw new UsageError("--format html writes one page at the end of input, so it does not go with --follow", { hint: "drop -F" });
  const filterOptions: FilterOptions = {
    ...(flags.type ? { types: flags.type } : {}),
    ...(flags.user ? { users: flags.user } : {}),
    ...(flags.uid ? { uids: flags.uid } : {}),
    ...(flags.auid ? { auids: flags.auid } : {}),
    ...(flags.gid ? { gids: flags.gid } : {}),
    ...(flags.pid ? { pids: flags.pid } : {}),
    ...(flags.ppid ? { ppids: flags.ppid } : {}),
    ...(flags.comm ? { comms: flags.comm } : {}),
    ...(flags.exe ? { exes: flags.exe } : {}),
    ...(flags.file ? { files: flags.file } : {}),
    ...(flags.node ? { nodes: flags.node } : {}),
    ...(flags.event ? { events: flags.event } : {}),
    ...(flags.terminal ? { terminals: flags.terminal } : {}),
    ...(flags.key ? { keys: flags.key } : {}),
    ...(flags.syscall ? { syscalls: flags.syscall } : {}),
    ...(flags.since ? { sinceMs: parseTime(flags.since, "--since") } : {}),
    ...(flags.until ? { untilMs: parseTime(flags.until, "--until") } : {}),
    ...(flags.success ? { success: parseSuccess(flags.success) } : {}),
  };
  const filter = eventFilter(filterOptions, ids);
  const rules = mode === "detect" ? detectRules(flags, ctx) : undefined;
  if (rules === null) return;
  const formats = FORMATS[mode];
  if (!formats.includes(flags.format ?? "ndjson")) {
    // a format another command writes: say which, so `--format html` without `sessions` finds its way
    const elsewhere = (Object.keys(FORMATS) as Mode[]).filter((m) => FORMATS[m].includes(flags.format ?? ""));
    const where = elsewhere.length > 0 ? `; ${flags.format} is for ${elsewhere.join(" and ")}` : "";
    throw new UsageError(`${mode === "events" ? "" : `${mode} `}--format ${flags.format} is not supported`, {
      hint: `use ${formats.join(", ")}${mode === "detect" ? " (a table is shown on a terminal)" : ""}${where}`,
    });
  }
  // the html page goes to -o FILE in one atomic write of its own (makeSink), not appended
  const output = new Output(flags.format === "html" ? undefined : flags.output);
  // ECS (and go-libaudit's table) is loaded only when asked for: every other start stays without it
  const ecs = flags.format === "ecs" ? await import("./ecs") : undefined;
  if (mode === "events") markEarly();
  const detector = rules === undefined ? undefined : new Detector(rules.rules, detectOptions(flags, ctx, ecs));
  const sink = detector === undefined ? makeSink(mode, flags, ctx, output, ecs) : detectSink(detector, output);
  const objects =
    mode === "sessions" ||
    mode === "report" ||
    mode === "detect" ||
    ["text", "table", "csv", "ecs"].includes(flags.format ?? "") ||
    needsRecords(filterOptions);
  const parser = new AuditParser(
    (event, json) => {
      if (filter === undefined || filter(event)) sink.event(event, json);
    },
    {
      ...parserOptions(flags, config),
      // parsed only when read: sessions reads the records of login events alone
      recordObjects: objects ? "lazy" : false,
      // NDJSON alone reads only the JSON; filters and the other modes read the event's summary fields
      summaries: objects || mode !== "events" || filter !== undefined,
    },
  );
  const onChunk = (chunk: Buffer): Promise<void> | undefined => {
    parser.pushBytes(chunk);
    return sink.pending();
  };
  const inputs = files.length === 0 ? ["-"] : rotationOrder(files);
  const unread = new Unread(inputs.length);
  if (flags.follow) {
    if (inputs.length !== 1 || inputs[0] === "-") throw new UsageError("--follow needs exactly one file");
    const abort = new AbortController();
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => abort.abort());
    const windowMs = parserOptions(flags, config).windowMs ?? 2000;
    await followFile(inputs[0]!, onChunk, {
      fromEnd: flags.fromEnd,
      intervalMs: FOLLOW_POLL_MS,
      signal: abort.signal,
      onTick: () => {
        parser.tick(FOLLOW_POLL_MS, windowMs);
        return output.flush();
      },
    });
  } else {
    const progress = readProgress(ctx, parser, flags.output);
    await readAll(inputs, onChunk, parser, unread, ctx, progress).finally(() => progress.stop());
  }
  parser.end();
  await sink.finish(unread.failures.length);
  await output.close();
  report(ctx, parser, flags.strict);
  if (detector !== undefined && rules !== undefined) detectVerdict(ctx, detector, rules, flags, unread.verdict());
  else {
    const incomplete = unread.verdict();
    if (incomplete) throw incomplete;
  }
}

/**
 * Inputs that could not be read whole. One bad file among a rotation set must not hide the others (zcat
 * prints what a truncated .gz holds, and so do we): each is warned about as it fails, the rest are read, and
 * the run ends 65 (incomplete) — or 66 when nothing at all could be read.
 */
class Unread {
  readonly failures: NoInputError[] = [];
  bytes = 0;
  constructor(private readonly inputs: number) {}
  verdict(): OpsguardError | undefined {
    const first = this.failures[0];
    if (first === undefined) return undefined;
    // a lone input that gave nothing: its own one line, as before
    if (this.bytes === 0 && this.inputs === 1) return first;
    if (this.bytes === 0) return new NoInputError(`none of the ${this.inputs} inputs could be read (named above)`, { hint: first.hint });
    return new DataError(
      `incomplete: ${this.failures.length} of ${this.inputs} input(s) could not be read whole (named above); the output covers what was read`,
      { hint: "check or replace those files" },
    );
  }
}

async function readAll(
  inputs: string[],
  onChunk: (chunk: Buffer) => Promise<void> | undefined,
  parser: AuditParser,
  unread: Unread,
  ctx: CliContext,
  progress: Pick<ByteProgress, "input" | "add">,
): Promise<void> {
  for (const file of inputs) {
    let bytes = 0;
    progress.input(file, undefined);
    try {
      await readInput(file, (chunk) => {
        bytes += chunk.length;
        progress.add(chunk.length);
        return onChunk(chunk);
      });
    } catch (error) {
      if (!(error instanceof NoInputError)) throw error;
      unread.failures.push(error);
      if (inputs.length > 1 || bytes > 0)
        ctx.log.warn(`${error.message}${bytes > 0 ? ` (the ${bytes} bytes before it were read)` : ", skipped"}`);
    }
    unread.bytes += bytes;
    parser.endOfFile();
  }
}

/** detect: the rules, compiled once; null when --list-rules printed them (nothing else to do). */
function detectRules(flags: ParseFlags, ctx: CliContext): RuleSet | null {
  parseLevel(flags.minLevel, "--min-level");
  parseLevel(flags.failLevel, "--fail-level");
  const set = loadRuleSet(flags.rules);
  if (flags.listRules) {
    for (const line of listRules(set, ctx.opts.json)) ctx.io.stdout.write(`${line}\n`);
    return null;
  }
  for (const p of set.failed) ctx.log.error(`rule ${p.rule} (${p.source}) cannot be compiled: ${p.reason}`);
  for (const p of set.skipped) ctx.log.info(`rule ${p.rule} (${p.source}) skipped: ${p.reason}`);
  // two rules under one id would give alerts no one can tell apart
  const seen = new Map<string, string>();
  for (const r of set.rules) {
    const first = seen.get(r.id);
    if (first !== undefined) ctx.log.warn(`rule id ${r.id} is used twice (${first} and ${r.source}): their alerts carry the same id`);
    else seen.set(r.id, r.source);
  }
  if (set.skipped.length > 0 && flags.rules !== undefined)
    ctx.log.warn(`${set.skipped.length} rule(s) are for another log source than linux/auditd and were not run (-v lists them)`);
  if (set.rules.length === 0)
    throw new DataError(`no rule to run: ${set.failed.length} failed to compile, ${set.skipped.length} are for other log sources`, {
      hint: "check --rules",
    });
  return set;
}

function detectOptions(flags: ParseFlags, ctx: CliContext, ecs: EcsModule | undefined): DetectOptions {
  // a table for people at a terminal; NDJSON for files, pipes and --json; ECS documents when asked
  const table = !ctx.opts.json && flags.output === undefined && ctx.io.stdout.isTTY;
  return {
    minRank: parseLevel(flags.minLevel, "--min-level") ?? 0,
    failRank: parseLevel(flags.failLevel, "--fail-level"),
    format: ecs ? "ecs" : table ? "table" : "ndjson",
    ...(ecs ? { ecsAlert: ecs.ecsAlert } : {}),
    style: createStyle(ctx.io.colorEnabled(ctx.io.stdout, ctx.opts.color)),
  };
}

function detectSink(detector: Detector, output: Output): Sink {
  let wait: Promise<void> | undefined;
  const line = (text: string): void => {
    const w = output.line(text);
    if (w) wait = w;
  };
  const header = detector.header();
  if (header !== undefined) line(header);
  return {
    event: (e, json) => detector.event(e, json, line),
    pending: () => {
      const w = wait;
      wait = undefined;
      return w;
    },
    finish: async () => undefined,
  };
}

/** After the input: the summary, then exit 1 for a match at --fail-level, 65 when a rule failed to compile. */
function detectVerdict(ctx: CliContext, detector: Detector, rules: RuleSet, flags: ParseFlags, incomplete?: OpsguardError): void {
  const s = detector.stats;
  const levels = Object.entries(s.byLevel)
    .filter(([, n]) => n > 0)
    .map(([level, n]) => `${n} ${level}`);
  ctx.log.info(
    `detect: ${s.events} events, ${s.alerts} alerts${levels.length ? ` (${levels.join(", ")})` : ""}; ${rules.rules.length} rules run, ${rules.failed.length} failed to compile, ${rules.skipped.length} skipped`,
  );
  if (s.failing > 0) {
    const failing = new PolicyError(`${s.failing} match(es) of rules at or above --fail-level ${flags.failLevel}`);
    // an input not read whole outranks a match: the alerts are a lower bound, never a complete answer
    if (incomplete === undefined) throw failing;
    ctx.log.error(failing.message);
  }
  if (incomplete !== undefined) throw incomplete;
  if (rules.failed.length > 0)
    throw new DataError(
      `${rules.failed.length} rule(s) could not be compiled (named above): the alerts cover the other ${rules.rules.length}`,
      {
        hint: "fix or remove those rules",
      },
    );
}

/** Consumes events for one mode and writes them; pending() is the backpressure hook. */
interface Sink {
  event(e: AuditEvent, json: EventJson): void;
  pending(): Promise<void> | undefined;
  /** `unread`: inputs that could not be read whole (the html page says so). */
  finish(unread: number): Promise<void>;
}

function makeSink(mode: Mode, flags: ParseFlags, ctx: CliContext, output: Output, ecs: EcsModule | undefined): Sink {
  const style = createStyle(ctx.io.colorEnabled(ctx.io.stdout, ctx.opts.color));
  let wait: Promise<void> | undefined;
  const line = (text: string): void => {
    const w = output.line(text);
    if (w) wait = w;
  };
  const pending = (): Promise<void> | undefined => {
    const w = wait;
    wait = undefined;
    return w;
  };
  if (mode === "sessions" && flags.format === "html" && !ctx.opts.json) {
    // -o FILE: the page replaces the file whole (atomically), a second run must not append a second document
    const file = flags.output;
    let html = "";
    const page = sessionsHtmlSink(file === undefined ? line : (text) => (html = text));
    const finish = async (unread: number) => {
      page.finish(unread);
      // the same bytes as on stdout, where line() ends it with a newline
      if (file !== undefined) await writeOutputFile(file, `${html}\n`);
    };
    return { event: (e, json) => page.event(e, json), pending, finish };
  }
  if (mode === "sessions") {
    // each session is written when it ends (a JSON array written as it goes), so memory stays bounded
    let count = 0;
    const tracker = new SessionTracker((s) => {
      if (!ctx.opts.json) line(`${formatSession(s)}\n`);
      else line(`${count++ === 0 ? "[" : ","}${JSON.stringify(s, null, flags.pretty ? 2 : undefined)}`);
    });
    return {
      event: (e) => tracker.add(e),
      pending,
      finish: async () => {
        tracker.flush();
        if (ctx.opts.json) line(count === 0 ? "[]" : "]");
      },
    };
  }
  if (mode === "report") {
    const builder = new ReportBuilder();
    const top = parseTop(flags.top);
    return {
      event: (e) => builder.add(e),
      pending,
      finish: async () => {
        const report = builder.result();
        line(
          ctx.opts.json
            ? JSON.stringify(report, null, flags.pretty ? 2 : undefined)
            : flags.format === "html"
              ? renderReportHtml(report, { source: "aureport-style summaries of the audit log" })
              : formatReport(report, top),
        );
      },
    };
  }
  if (mode === "net") {
    // a JSON array written as it goes, so memory does not grow with the number of connections
    let count = 0;
    const item = (c: Connection): string => (flags.pretty ? JSON.stringify(c, null, 2) : JSON.stringify(c));
    return {
      event: (e) => {
        const c = connectionOf(e);
        if (c === undefined) return;
        if (!ctx.opts.json) line(formatConnection(c));
        else line(`${count++ === 0 ? "[" : ","}${item(c)}`);
      },
      pending,
      finish: async () => {
        if (ctx.opts.json) line(count === 0 ? "[]" : "]");
      },
    };
  }
  if (ecs) {
    return { event: (e) => line(JSON.stringify(ecs.toEcs(e), null, flags.pretty ? 2 : undefined)), pending, finish: async () => undefined };
  }
  if (flags.format === "table") line(tableHeader(style));
  if (flags.format === "csv") {
    line(csvHeader());
    return { event: (e) => line(formatCsv(e)), pending, finish: async () => undefined };
  }
  if (flags.format === undefined || flags.format === "ndjson") {
    const event = flags.pretty
      ? (_e: AuditEvent, json: EventJson) => line(JSON.stringify(JSON.parse(String(json)), null, 2))
      : (_e: AuditEvent, json: EventJson) => {
          const w = output.event(json);
          if (w) wait = w;
        };
    return { event, pending, finish: async () => undefined };
  }
  const format = flags.format === "text" ? (e: AuditEvent) => formatText(e, style) : (e: AuditEvent) => formatRow(e, style);
  return { event: (e) => line(format(e)), pending, finish: async () => undefined };
}

async function pluginCommand(command: Command): Promise<void> {
  const ctx = cliContext(command);
  const flags = command.optsWithGlobals<ParseFlags>();
  const config = await loadAuditdConfig(ctx.opts.config);
  if (!flags.detect && (flags.rules !== undefined || flags.minLevel !== undefined))
    throw new UsageError("--rules and --min-level need --detect", { hint: "add --detect" });
  if (!["ndjson", "ecs"].includes(flags.format ?? "ndjson"))
    throw new UsageError(`plugin --format ${flags.format} is not supported`, { hint: "use ndjson or ecs" });
  const ecs = flags.format === "ecs" ? await import("./ecs") : undefined;
  const rules = flags.detect ? detectRules(flags, ctx) : undefined;
  if (rules === null) return;
  const output = new Output(flags.output);
  let wait: Promise<void> | undefined;
  const detector = rules && new Detector(rules.rules, { ...detectOptions(flags, ctx, ecs), format: ecs ? "ecs" : "ndjson" });
  const alert = (text: string) => {
    wait = output.line(text) ?? wait;
  };
  const parser = new AuditParser(
    detector !== undefined
      ? (event, json) => detector.event(event, json, alert)
      : ecs
        ? (event) => alert(JSON.stringify(ecs.toEcs(event)))
        : (_event, json) => {
            wait = output.event(json) ?? wait;
          },
    {
      ...parserOptions(flags, config),
      recordObjects: detector !== undefined || ecs !== undefined,
      summaries: detector !== undefined || ecs !== undefined,
    },
  );
  const windowMs = config.windowMs ?? 2000;
  // auditd feeds events live: complete them on the wall clock too, or a lone kernel record would wait forever
  const timer = setInterval(() => {
    parser.tick(PLUGIN_TICK_MS, windowMs);
    void output.flush();
  }, PLUGIN_TICK_MS);
  const onHup = () => void output.reopen();
  process.on("SIGHUP", onHup);
  // SIGTERM (auditd stopping us) ends input like EOF: what was read is completed and written, exit 0
  let stopping = false;
  const stop = () => {
    stopping = true;
    (ctx.io.stdin as NodeJS.ReadableStream & { destroy(): void }).destroy();
  };
  process.once("SIGTERM", stop);
  try {
    for await (const chunk of ctx.io.stdin) {
      parser.pushBytes(chunk as Buffer);
      if (wait) {
        await wait;
        wait = undefined;
      }
    }
  } catch (error) {
    if (!stopping) throw error;
  } finally {
    clearInterval(timer);
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", stop);
  }
  parser.end();
  await output.close();
  report(ctx, parser, false);
}

function idSources(flags: ParseFlags, config: Config): IdSources {
  const passwd = flags.passwd ?? config.passwd;
  const group = flags.group ?? config.group;
  return { ...(passwd ? { passwd } : {}), ...(group ? { group } : {}) };
}

function parserOptions(flags: ParseFlags, config: Config) {
  const windowMs = flags.window === undefined ? config.windowMs : parseWindow(flags.window);
  return { ids: idSources(flags, config), ...(windowMs === undefined ? {} : { windowMs }) };
}

function parseTop(value: string | undefined): number {
  if (value === undefined) return 20;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--top ${value} is not a positive whole number`);
  return n;
}

function parseWindow(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 600_000)
    throw new UsageError(`--window ${value} is not a number of milliseconds between 1 and 600000`);
  return n;
}

/** The stderr summary: counts, lost events, and the malformed-input verdict for --strict. */
function report(ctx: CliContext, parser: AuditParser, strict: boolean): void {
  const s = parser.stats;
  ctx.log.info(
    `${s.lines} lines, ${s.records} records, ${s.events} events, ${s.lost} lost (serial gaps in a contiguous stream), ${s.skipped} serials skipped in all, ${s.malformed} malformed, ${s.cut} cut, ${s.wide} cut for fields, ${s.split} split, ${s.textPath} records read on the text path`,
  );
  if (s.wide > 0)
    ctx.log.warn(
      `${s.wide} line(s) with more than ${MAX_LINE_FIELDS} fields cut after them (no kernel record has as many): the rest dropped`,
    );
  if (s.cut > 0) ctx.log.warn(`${s.cut} line(s) longer than 4 MiB cut at their last space before it: the value there and the rest dropped`);
  if (s.split > 0)
    ctx.log.warn(
      `${s.split} event(s) written in parts under the same id: over ${MAX_EVENT_RECORDS} records or ${MAX_EVENT_BYTES >> 20} MiB (a log whose stamps do not change?), or too many big events open at once`,
    );
  if (s.lost > 0) ctx.log.warn(`${s.lost} events missing (gaps in a contiguous run of serial numbers: the kernel or auditd dropped them)`);
  if (s.malformed > 0) {
    const message = `${s.malformed} malformed input line(s), kept as "unparsed" in the output`;
    if (strict) throw new DataError(message);
    ctx.log.warn(message);
  }
}
