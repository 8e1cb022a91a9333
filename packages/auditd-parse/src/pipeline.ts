import { existsSync } from "node:fs";
import { lstat, unlink } from "node:fs/promises";
import type { CliContext } from "@opsguard/core/cli";
import { DataError, NoInputError, type OpsguardError, UsageError } from "@opsguard/core/errors";
import type { IOStreams } from "@opsguard/core/iostreams";
import type { ByteProgress } from "@opsguard/core/progress";
import { escapeLine } from "@opsguard/core/text";
import { DETECT_BOUNDS, LATE_PARTS, MAX_EVENT_BYTES, MAX_EVENT_RECORDS } from "./assemble";
import { idSources, type ParseFlags, parserOptions } from "./commands/flags";
import { loadAuditdConfig } from "./config";
import { eventFilter, type FilterOptions, needsRecords, parseSuccess, parseTime, pidOption } from "./filter";
import { markEarly } from "./heap";
import { IdNames } from "./ids";
import { followFile, namesStdin, readInput, rotationOrder } from "./input";
import { MAX_LINE_FIELDS } from "./lines";
import { Output } from "./output";
import { AuditParser } from "./parser";
import { readProgress } from "./progress";
import { fileIdentity, refuseOutputInRules } from "./same-file";
import { detectSink, makeSink, type Sink } from "./sinks";

export type Mode = "events" | "sessions" | "net" | "report" | "detect";
export type EcsModule = typeof import("./ecs");

// What --format each command can write: ECS documents are events (and detect's alerts), HTML is the sessions and
// report pages. sessions and report write their readable text for "ndjson" (the program's default value; net its NDJSON
// when the user asks for it, T57 F9), and
// refuse the event formats (csv, table) they do not write, rather than print text under that name.
const FORMATS: Record<Mode, readonly string[]> = {
  events: ["ndjson", "text", "table", "csv", "ecs"],
  detect: ["ndjson", "ecs"],
  sessions: ["ndjson", "text", "html"],
  net: ["text", "ndjson"],
  report: ["ndjson", "text", "html"],
};

/** Events matched only with a later part that are each named on stderr; past them one line says there are more. */
const MAX_PART_WARNINGS = 5;

/** Live input completes events on the wall clock: how often --follow polls. */
const FOLLOW_POLL_MS = 250;

/**
 * What every parsing command does (the default parse, sessions, net, report, detect): read the inputs (files in
 * rotation order, or the run's stdin), group and filter the events, and write them in `mode`'s shape to the
 * run's stdout or -o. Failures are thrown as typed errors (core maps them to exit codes).
 */
export async function runPipeline(mode: Mode, files: string[], flags: ParseFlags, ctx: CliContext, io: IOStreams): Promise<void> {
  const config = await loadAuditdConfig(ctx.opts.config, ctx.log);
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
    ...(flags.pid ? { pids: flags.pid.map((pid) => pidOption(pid, "--pid")) } : {}),
    ...(flags.ppid ? { ppids: flags.ppid.map((pid) => pidOption(pid, "--ppid")) } : {}),
    ...(flags.comm ? { comms: flags.comm } : {}),
    ...(flags.exe ? { exes: flags.exe } : {}),
    ...(flags.file ? { files: flags.file } : {}),
    ...(flags.node ? { nodes: flags.node } : {}),
    ...(flags.event ? { events: flags.event } : {}),
    ...(flags.terminal ? { terminals: flags.terminal } : {}),
    ...(flags.key ? { keys: flags.key } : {}),
    ...(flags.syscall ? { syscalls: flags.syscall } : {}),
    ...(flags.since !== undefined ? { sinceMs: parseTime(flags.since, "--since") } : {}),
    ...(flags.until !== undefined ? { untilMs: parseTime(flags.until, "--until") } : {}),
    ...(flags.success ? { success: parseSuccess(flags.success) } : {}),
  };
  const { sinceMs, untilMs } = filterOptions;
  // an empty range matches nothing, and exit 0 with no event read as "nothing happened" (T34 #13)
  if (sinceMs !== undefined && untilMs !== undefined && sinceMs >= untilMs)
    throw new UsageError(
      `--since ${JSON.stringify(flags.since)} is not before --until ${JSON.stringify(flags.until)}: no event can match`,
      {
        hint: "swap them: --since is the start, --until the end",
      },
    );
  // an event in parts whose first parts were passed over before a later one completed the match: said, with the way
  // to see it whole (T36 A1)
  let matchedAcrossParts = 0;
  const filter = eventFilter(filterOptions, ids, (e) => {
    if (++matchedAcrossParts <= MAX_PART_WARNINGS) {
      ctx.log.warn(
        `event ${escapeLine(e.id ?? "?")}${e.node === undefined ? "" : ` of ${escapeLine(e.node)}`} matched the filters only with its part ${e.part} (a command line over 1 MiB is written in parts): its earlier part(s) were not written; see it whole with --event ${escapeLine(e.id ?? "?")}${e.node === undefined ? "" : ` --node ${escapeLine(e.node)}`}`,
      );
    } else if (matchedAcrossParts === MAX_PART_WARNINGS + 1) {
      ctx.log.warn("more events matched the filters only with a later part: their earlier parts were not written either");
    }
  });
  // the Sigma machinery is a lazily loaded chunk (lazy-detect.ts): every other command starts without it
  const detect = mode === "detect" ? await import("./lazy-detect") : undefined;
  const rules = detect?.detectRules(flags, ctx);
  if (rules === null) return;
  const formats = FORMATS[mode];
  if (!formats.includes(flags.format ?? "ndjson")) {
    // a format another command writes: say which, so `--format html` without `sessions` finds its way
    const elsewhere = (Object.keys(FORMATS) as Mode[]).filter((m) => FORMATS[m].includes(flags.format ?? ""));
    const where = elsewhere.length > 0 ? `; ${flags.format} is for ${elsewhere.join(" and ")}` : "";
    const events = mode === "events" || mode === "detect";
    // the others' "ndjson" is only the default's name: offered are their own formats, and --json
    // (net's is its NDJSON, one connection a line)
    const offered = events ? formats : [...formats.filter((f) => f !== "ndjson" || mode === "net"), "--json"];
    throw new UsageError(`${mode === "events" ? "" : `${mode} `}--format ${flags.format} is not supported`, {
      hint: `use ${offered.join(", ")}${mode === "detect" ? " (a table is shown on a terminal)" : ""}${where}`,
    });
  }
  const inputs = files.length === 0 ? ["-"] : readOnce(rotationOrder(files), ctx, io.stdin);
  refuseOutputInput(flags.output, inputs, io);
  if (rules !== undefined) refuseOutputInRules(flags.output, flags.rules, rules.files ?? []);
  // the html page goes to -o FILE in one atomic write of its own (makeSink), not appended; --json wins over html
  // (makeSink writes JSON then), and its JSON goes to -o like any other (it went to stdout)
  const page = flags.format === "html" && !ctx.opts.json;
  const appendTo = page ? undefined : flags.output;
  // whether -o's file was there before Output opens (creates) it: a run that reads nothing removes one it made
  const created = appendTo !== undefined && !existsSync(appendTo);
  const output = new Output(appendTo, io.stdout);
  // ECS (and go-libaudit's table) is loaded only when asked for: every other start stays without it
  const ecs = flags.format === "ecs" ? await import("./ecs") : undefined;
  if (mode === "events") markEarly();
  const alerts = detect && rules ? detect.detectOptions(flags, ctx, ecs) : undefined;
  const detector = detect && rules && alerts ? new detect.Detector(rules.rules, alerts) : undefined;
  const sink: Sink =
    detector === undefined
      ? makeSink(
          mode,
          flags,
          ctx,
          output,
          ecs,
          {
            windowMs: parserOptions(flags, config).windowMs,
            // events reach the sink only once the parser below exists
            clock: () => parser.newestMs,
            pending: () => parser.oldestPendingMs(),
          },
          filter !== undefined,
        )
      : detectSink(detector, output);
  // sessions reads the records of login events alone, from the EventJson (its sinks): no event carries them
  const objects =
    mode === "report" ||
    mode === "detect" ||
    (mode !== "sessions" && ["text", "table", "csv", "ecs"].includes(flags.format ?? "")) ||
    needsRecords(filterOptions);
  const early = sink.early?.bind(sink);
  const linesOnly = mode === "events" && detector === undefined && !objects && (flags.format ?? "ndjson") === "ndjson";
  const parser = new AuditParser(
    (event, json) => {
      if (filter === undefined || filter(event)) sink.event(event, json);
    },
    {
      ...parserOptions(flags, config),
      // a rule must see an event whole: detect holds the kernel's longest command line in one event
      ...(mode === "detect" ? { bounds: DETECT_BOUNDS } : {}),
      // parsed only when read (report, the event formats, filters that read records)
      // detect reads the records' fields from the interpreter's table, not from their JSON parsed back (a filter
      // that reads records still gets them as objects)
      recordObjects: mode === "detect" && !needsRecords(filterOptions) ? "table" : objects ? "lazy" : false,
      ...(detector === undefined ? {} : { countJson: detector.countJson }),
      // NDJSON alone reads only the JSON; filters and the other modes read the event's summary fields, but for
      // detect's NDJSON alerts (the rules read the table, an alert copies the event's JSON)
      summaries: alerts?.format === "ndjson" && filter === undefined ? false : objects || mode !== "events" || filter !== undefined,
      // sessions reads no proctitle (its page shows the events' JSON, which has it either way)
      // and makes an event object's texts when it completes (textAtEnd)
      ...(mode === "sessions" ? { proctitleText: false, textAtEnd: true } : {}),
      // the NDJSON sink copies the line and keeps nothing of the event, nor does sessions' (a filter reads it during
      // the call)
      reuseEvents: sink.keepsNoEvent === true || linesOnly,
      // and of the NDJSON sink's events only the line is read: one held back for order may be written at once
      linesOnly,
      // detect matches an event held back for order at once, and keeps only what its alerts write
      ...(early === undefined ? {} : { early: filter === undefined ? early : (e, json) => (filter(e) ? early(e, json) : undefined) }),
      // sessions reads few events' JSON: the others', held back for order, are let go (a filter reading records needs them)
      ...(sink.readsJson === undefined || objects ? {} : { readsJson: sink.readsJson.bind(sink) }),
    },
  );
  // -F detect: an event matched in parts is said at once, not only when the run stops
  const watch = detect && flags.follow ? detect.splitWatch(ctx) : undefined;
  const onChunk = (chunk: Buffer): Promise<void> | undefined => {
    parser.pushBytes(chunk);
    watch?.(parser.stats);
    return sink.pending();
  };
  const unread = new Unread(inputs.length);
  if (flags.follow) {
    if (inputs.length !== 1 || inputs[0] === "-") throw new UsageError("--follow needs exactly one file");
    const abort = new AbortController();
    const stop = () => abort.abort();
    for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, stop);
    // SIGHUP: with -o, logrotate's postrotate asks for the file again (as the plugin does); without, the terminal
    // hung up, and the run ends as on SIGTERM, writing what was read (its default action lost the open sessions, T23 #11)
    const onHup = appendTo !== undefined ? () => void output.reopen((line) => ctx.log.error(line)).catch(stop) : stop;
    process.on("SIGHUP", onHup);
    const windowMs = parserOptions(flags, config).windowMs ?? 2000;
    /** The rotated-in file this user cannot read, while it cannot: the run stopped then is incomplete (T49 N2). */
    let blind: NoInputError | undefined;
    try {
      await followFile(
        inputs[0]!,
        (chunk) => {
          unread.bytes += chunk.length;
          return onChunk(chunk);
        },
        {
          fromEnd: flags.fromEnd,
          intervalMs: FOLLOW_POLL_MS,
          signal: abort.signal,
          onTick: () => {
            parser.tick(FOLLOW_POLL_MS, windowMs);
            return output.flush();
          },
          onTruncate: () => {
            ctx.log.warn(`${escapeLine(inputs[0]!)}: file truncated, reading it again from its start`);
            parser.truncated();
          },
          onRotate: () => parser.endOfFile(),
          onUnreadable: (error) => {
            blind = error;
            if (error !== undefined)
              ctx.log.warn(`${error.message} (rotated in): nothing after the rotation is read until it can be; waiting for it`, {
                hint: error.hint,
              });
            else ctx.log.info(`${escapeLine(inputs[0]!)} can be read again: following it`);
          },
        },
      );
      if (blind !== undefined) unread.failures.push(blind);
    } finally {
      // a run in a process that goes on (a test, a caller) leaves no listener behind
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.off(sig, stop);
      process.off("SIGHUP", onHup);
    }
  } else {
    const progress = readProgress(ctx, parser, flags.output);
    await readAll(inputs, onChunk, parser, unread, ctx, progress, io.stdin).finally(() => progress.stop());
  }
  parser.end();
  const nothing = unread.nothing();
  await sink.finish({ unread: unread.failures.length, nothing });
  if (nothing && flags.output !== undefined) {
    // a run that read nothing leaves -o's file as it was: no empty page over a good one, no empty report appended
    output.discard();
    ctx.log.warn(`nothing could be read, so ${flags.output} was not written (it is as it was)`);
  }
  await output.close();
  if (nothing && created) await removeIfEmpty(appendTo);
  summarize(ctx, parser, flags.strict, mode === "detect");
  if (detect && detector && rules) detect.detectVerdict(ctx, detector, rules, flags, unread.verdict(), parser.stats);
  else {
    const incomplete = unread.verdict();
    if (incomplete) throw incomplete;
  }
}

/**
 * The inputs, each file once (T34 #11): one named twice (repeated, or through a symbolic or hard link) is known by
 * its device and inode, as --rules knows its files, read at its first place and named in one warning. Read twice,
 * its events were written twice, and the events still open at the end of the first copy took the second copy's
 * records. So is stdin ("-", /dev/stdin …) when it is a regular file (`auditd-parse f - < f`; T35 N10: read twice,
 * and the warning then blamed a log merged out of order); a pipe's is no file to know, and it is read.
 */
function readOnce(inputs: string[], ctx: CliContext, stdin: NodeJS.ReadableStream): string[] {
  const first = new Map<string, string>();
  const shown = (file: string) => (namesStdin(file) ? `stdin (${escapeLine(file)})` : escapeLine(file));
  return inputs.filter((file) => {
    // stdin that is no regular file is read wherever it is named (a pipe gives its bytes once anyway); a name that
    // cannot be stat'ed (missing) by itself: it is named as unreadable when read
    const key = inputIdentity(file, stdin) ?? (namesStdin(file) ? undefined : `path ${file}`);
    if (key === undefined) return true;
    const earlier = first.get(key);
    if (earlier === undefined) {
      first.set(key, file);
      return true;
    }
    ctx.log.warn(`${shown(file)} is ${file === earlier ? "given twice" : `the same file as ${shown(earlier)}`}: read once`);
    return false;
  });
}

/**
 * Refuses -o FILE, or a stdout redirected to a file (`> log`, `>> log`), that is one of the inputs (the same device
 * and inode, through a link too; stdin when it is that file), as cat refuses "input file is output file" (T34 #8,
 * T35 N1): what is written is read again as input, and again — with -F, or once the output passes one buffer, the
 * file grew until the disk was full (`auditd-parse * > events.json` run twice); a page would replace the log it was
 * made from. Checked before anything is written.
 */
function refuseOutputInput(output: string | undefined, inputs: readonly string[], io: IOStreams): void {
  // only a regular file is read back: -o /dev/null with stdin on /dev/null (or both on a terminal) is no loop
  const target =
    output !== undefined ? fileIdentity(output, true) : io.stdoutFd !== undefined ? fileIdentity(io.stdoutFd, true) : undefined;
  if (target === undefined) return;
  for (const file of inputs) {
    if (inputIdentity(file, io.stdin) !== target) continue;
    const name = namesStdin(file) ? "stdin" : `input file ${escapeLine(file)}`;
    if (output === undefined) {
      throw new UsageError(`${name} is where standard output goes (its redirection names the same file)`, {
        hint: "redirect the output to another file: what is written would be read back as input",
      });
    }
    throw new UsageError(`${name} is the output file (-o ${escapeLine(output)})`, {
      hint: "give -o another path: what it appends would be read back as input, a page would replace the log",
    });
  }
}

/**
 * What an input is known by (fileIdentity): a file's device and inode, or for stdin ("-", /dev/stdin …) its
 * descriptor's when it is a regular file and the stream is the process's fd 0 (a caller's stream is not looked at).
 */
function inputIdentity(file: string, stdin: NodeJS.ReadableStream): string | undefined {
  if (!namesStdin(file)) return fileIdentity(file);
  return (stdin as { fd?: unknown }).fd === 0 ? fileIdentity(0, true) : undefined;
}

/** -o's file this run created and, having read nothing, left empty: not there, as before the run. */
async function removeIfEmpty(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isFile() && info.size === 0) await unlink(path).catch(() => undefined);
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
  /** Inputs failed and not a byte was read (exit 66); an empty input read whole is a clean, empty run. */
  nothing(): boolean {
    return this.failures.length > 0 && this.bytes === 0;
  }
  verdict(): OpsguardError | undefined {
    const first = this.failures[0];
    if (first === undefined) return undefined;
    // a lone input that gave nothing: its own one line, as before
    if (this.nothing() && this.inputs === 1) return first;
    if (this.nothing()) return new NoInputError(`none of the ${this.inputs} inputs could be read (named above)`, { hint: first.hint });
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
  stdin: NodeJS.ReadableStream,
): Promise<void> {
  for (const file of inputs) {
    let bytes = 0;
    progress.input(file, undefined);
    try {
      await readInput(
        file,
        (chunk) => {
          bytes += chunk.length;
          progress.add(chunk.length);
          return onChunk(chunk);
        },
        stdin,
      );
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

/** The stderr summary: counts, lost events, and the malformed-input verdict for --strict. */
export function summarize(ctx: CliContext, parser: AuditParser, strict: boolean, detect = false): void {
  const s = parser.stats;
  ctx.log.info(
    `${s.lines} lines, ${s.records} records, ${s.events} events, ${s.lost} lost (serial gaps in a contiguous stream), ${s.skipped} serials skipped in all, ${s.malformed} malformed, ${s.cut} cut, ${s.wide} cut for fields, ${s.split} split, ${s.textPath} records read on the text path`,
  );
  if (s.wide > 0)
    ctx.log.warn(
      `${s.wide} line(s) with more than ${MAX_LINE_FIELDS} fields cut after them (no kernel record has as many): the rest dropped`,
    );
  if (s.cut > 0) ctx.log.warn(`${s.cut} line(s) longer than 4 MiB cut at their last space before it: the value there and the rest dropped`);
  // detect says it itself, as what makes its run incomplete (detectVerdict)
  if (s.split > s.late && !detect)
    ctx.log.warn(
      `${s.split - s.late} later part(s) of events written under the same id: over ${MAX_EVENT_RECORDS} records or ${MAX_EVENT_BYTES >> 20} MiB (a command line over 1 MiB, a log whose stamps do not change), or too many big events open at once`,
    );
  if (s.late > 0 && !detect) ctx.log.warn(`${s.late} later part(s) of events written under the same id: ${LATE_PARTS}`);
  if (s.lost > 0) ctx.log.warn(`${s.lost} events missing (gaps in a contiguous run of serial numbers: the kernel or auditd dropped them)`);
  if (s.malformed > 0) {
    const message = `${s.malformed} malformed input line(s), kept as "unparsed" in the output`;
    if (strict) throw new DataError(message);
    ctx.log.warn(message);
  }
}
