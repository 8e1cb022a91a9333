import { type Dirent, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import type { CliContext } from "@opsguard/core/cli";
import { NoInputError, UsageError } from "@opsguard/core/errors";
import { describeRefusal, readRegularFileSync } from "@opsguard/core/regular-file";
import type { EcsDocument, EcsRule } from "./ecs";
import { escapeControls } from "./escape";
import type { AuditEvent } from "./event";
import type { EventJson } from "./event-json";
import { fileIdentity } from "./same-file";
import { LEVELS, type Level } from "./sigma/compile";
import { SigmaEngine } from "./sigma/engine";
import { compileRule, compileRuleText, levelRank, type RuleSet, type SigmaRule } from "./sigma/rules";
import { SIGMAHQ_RULES } from "./sigma/sigmahq-rules";

type ChalkInstance = CliContext["style"];

/** Why a rule file adds nothing to the set (compileRuleText). */
export const NO_RULE_IN_FILE = "holds no rule (it is empty, or only comments and document markers)";

/** A rule file larger than this is refused (named, the others run): SigmaHQ's biggest is a few KB. */
const MAX_RULE_FILE_BYTES = 16 << 20;

/**
 * All the rule files of a run: a directory of large ones held the start for minutes (T57 F12: twelve 12 MB files,
 * over 400 s and 3.4 GB). SigmaHQ's whole rules tree is a fraction of it. The values the rules hold are bounded
 * too (compile.ts, MAX_RUN_VALUES).
 */
const MAX_RULES_BYTES = 32 << 20;

/**
 * `--rules`: a rule file, a directory of them (searched recursively for .yml/.yaml), or the built-in SigmaHQ set.
 * Each file is opened as core's regular files are (without blocking, then fstat): a FIFO, a device or a file
 * that cannot be read is a named failure like a rule that does not compile, and the others run (exit 65); a
 * --rules that is missing, or gives no rule file at all, is exit 66.
 */
export function loadRuleSet(paths: readonly string[] | undefined): RuleSet {
  const set: RuleSet = { rules: [], failed: [], skipped: [] };
  if (paths === undefined || paths.length === 0) {
    for (const r of SIGMAHQ_RULES) compileRule(r.rule, `sigmahq:${r.path}`, set);
    return set;
  }
  // every --rules given is run: `--rules ./mine --rules ./sigmahq` is both sets, not the last one alone; each
  // directory and file once by its real path across them all, so `--rules D --rules D/f.yml` (or a path given
  // twice) does not run a rule twice and double its alerts (T25 #6)
  const seen = new Set<string>();
  const read = { bytes: 0 };
  for (const path of paths) loadRulePath(path, set, seen, read);
  return set;
}

/** One --rules path (a file or a directory) into the set, but for the files and directories in `seen`. */
function loadRulePath(path: string, set: RuleSet, seen: Set<string>, total: { bytes: number }): void {
  let named = true;
  const walked: RuleWalk = { files: [], loadedBefore: 0 };
  try {
    named = !statSync(path).isDirectory();
    if (!named) ruleFiles(path, set, seen, walked);
    else if (firstTime(seen, path)) walked.files.push(path);
    else walked.loadedBefore++;
  } catch (error) {
    throw new NoInputError(`--rules ${path}: ${reason(error)}`, { hint: "give a Sigma rule file or a directory of .yml rules" });
  }
  if (walked.files.length === 0 && walked.loadedBefore === 0 && set.failed.length === 0)
    throw new NoInputError(`--rules ${path}: no .yml or .yaml files in it`, { hint: "give a directory of Sigma rules" });
  for (const file of walked.files) {
    set.files ??= [];
    set.files.push(file);
    const read = readRegularFileSync(file, MAX_RULE_FILE_BYTES);
    if ("refused" in read) {
      const why =
        read.refused.kind === "unreadable"
          ? `cannot be read (${errnoText(read.refused.code)})`
          : describeRefusal(read.refused, MAX_RULE_FILE_BYTES);
      set.failed.push({ rule: file, source: file, reason: why, unread: true });
      continue;
    }
    if (total.bytes + read.bytes.length > MAX_RULES_BYTES) {
      const reason = `was not compiled: with it the rule files would hold over ${MAX_RULES_BYTES >> 20} MiB, the most one run compiles (give fewer or smaller ones)`;
      set.failed.push({ rule: file, source: file, reason, unread: true });
      continue;
    }
    total.bytes += read.bytes.length;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(read.bytes);
    } catch {
      set.failed.push({ rule: file, source: file, reason: "not UTF-8 text (save it as UTF-8)" });
      continue;
    }
    // given by name, a file with no rule is the whole run's rules gone: one line, exit 66; in a directory, a warning
    if (compileRuleText(text, file, set)) continue;
    if (named) throw new NoInputError(`--rules ${path}: ${NO_RULE_IN_FILE}`, { hint: "give a Sigma rule file" });
    set.empty ??= [];
    set.empty.push(file);
  }
}

/** What a --rules path gave: its rule files not loaded before, and how many files or directories were. */
interface RuleWalk {
  files: string[];
  loadedBefore: number;
}

/**
 * Whether the file at `path` is not in `seen` yet; it is then. A file is known by its device and inode, so a
 * symbolic or hard link to a file already loaded (T26: a hard link ran every rule twice) is the same file; a path
 * that cannot be stat'ed (a dangling link) by its own name, and is then named as unreadable when read.
 */
function firstTime(seen: Set<string>, path: string): boolean {
  const key = fileIdentity(path) ?? path;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
}

/**
 * The .yml/.yaml files under `root` into walked.files, by relative path. Symlinks are followed (a rules checkout
 * may link a shared directory in), but each directory by its real path and each file by its inode once (`seen`,
 * shared by every --rules): a link back up (`sub/up -> ..`) is not walked again, where readdir's recursive walk followed it 40
 * levels and loaded every rule 41 times. Hand-written (a dozen lines) because a directory that cannot be listed
 * must become a named failure in the set, not an end.
 */
function ruleFiles(root: string, set: RuleSet, seen: Set<string>, walked: RuleWalk): void {
  const found: string[] = [];
  const walk = (dir: string, rel: string) => {
    let entries: Dirent[];
    try {
      const real = realpathSync(dir);
      if (seen.has(real)) {
        // a link back up within this walk, or a directory an earlier --rules loaded
        if (rel === "") walked.loadedBefore++;
        return;
      }
      seen.add(real);
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      // the root itself goes to the caller (exit 66); a subdirectory is one named failure
      if (rel === "") throw error;
      set.failed.push({ rule: dir, source: dir, reason: `directory cannot be read (${reason(error)})`, unread: true });
      return;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const relPath = rel === "" ? entry.name : join(rel, entry.name);
      const ruleFile = /\.ya?ml$/i.test(entry.name);
      let isDir = entry.isDirectory();
      if (!isDir && entry.isSymbolicLink()) {
        try {
          isDir = statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
        } catch (error) {
          // a link that cannot be followed (a loop: ELOOP) is named, as an unreadable file is, and the others run;
          // a .yml one is named below, when it is read
          if (!ruleFile) {
            set.failed.push({ rule: path, source: path, reason: `link cannot be followed (${reason(error)})`, unread: true });
            continue;
          }
        }
      }
      if (isDir) walk(path, relPath);
      // a dangling link keeps its own name as its key, and is then named as unreadable
      else if (ruleFile) {
        if (firstTime(seen, path)) found.push(relPath);
        else walked.loadedBefore++;
      }
    }
  };
  walk(root, "");
  // by relative path, as before: the rules (and their alerts) keep the order they always had
  for (const f of found.sort()) walked.files.push(join(root, f));
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === undefined ? (error as Error).message : errnoText(code);
}

function errnoText(code: string): string {
  if (code === "ENOENT") return "no such file or directory";
  if (code === "EACCES") return "permission denied";
  if (code === "ELOOP") return "a loop of symbolic links: ELOOP";
  return code;
}

export function parseLevel(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const rank = levelRank(value.toLowerCase());
  if (rank < 0) throw new UsageError(`${flag} ${value} is not a level`, { hint: `use one of ${LEVELS.join(", ")}` });
  return rank;
}

/** Counts of what detect found, for the exit code and the stderr summary. */
export interface DetectStats {
  events: number;
  alerts: number;
  byLevel: Record<Level, number>;
  /** Matches at or above --fail-level (whatever --min-level shows). */
  failing: number;
}

export interface DetectOptions {
  minRank: number;
  failRank: number | undefined;
  format: "ndjson" | "table" | "ecs";
  /**
   * With format "ecs": ecs.ts's ecsAlert, handed in by the caller, which imports that module (and go-libaudit's
   * table) only when ECS is asked for, so every other start stays without it.
   */
  ecsAlert?: (event: AuditEvent, rule: EcsRule) => EcsDocument;
  style: ChalkInstance;
  /** --pretty: JSON alerts indented by 2, as the events are (T22 #5: it was silently ignored). */
  pretty?: boolean;
}

/** Runs the rules over each event and writes one alert per matching rule. */
export class Detector {
  readonly stats: DetectStats = {
    events: 0,
    alerts: 0,
    byLevel: { informational: 0, low: 0, medium: 0, high: 0, critical: 0 },
    failing: 0,
  };
  private readonly engine: SigmaEngine;
  /** Each rule's part of the alert JSON, made once. */
  private readonly heads = new Map<SigmaRule, string>();

  private readonly ecsAlert: DetectOptions["ecsAlert"];
  /**
   * Whether the parse only counts the records' JSON (InterpreterOptions.countJson): an event an alert prints
   * is then interpreted a second time with its JSON written. Counting saves the writing, ~a fifth of the
   * parse, on events nobody prints; the second pass costs a whole one on those printed. So while more than a
   * sixth of the last few MiB of records were printed (a log of greps for passwords), the JSON is written.
   */
  readonly countJson = { on: true };
  private seenBytes = 0;
  private printedBytes = 0;

  constructor(
    rules: readonly SigmaRule[],
    private readonly options: DetectOptions,
  ) {
    this.engine = new SigmaEngine(rules);
    if (options.format === "ecs" && !options.ecsAlert) throw new Error("Detector: format ecs needs options.ecsAlert");
    this.ecsAlert = options.format === "ecs" ? options.ecsAlert : undefined;
  }

  /** The table's header line, when the output is a table. */
  header(): string | undefined {
    return this.options.format === "table" ? tableHeader(this.options.style) : undefined;
  }

  /**
   * Tests one event and hands each alert's line to `line`; an NDJSON alert, which carries the event's line, to
   * `framed` when given (its head, the event's line as bytes, its tail).
   */
  event(
    event: AuditEvent,
    json: EventJson,
    line: (text: string) => void,
    framed?: (head: string, json: EventJson, tail: string) => void,
  ): void {
    this.stats.events++;
    const table = json.recordTable();
    const matches = table === undefined ? this.engine.match(event) : this.engine.matchTable(event, json);
    // read from the table, the event has no records as objects: ECS alerts want them, made for the matches only
    if (table !== undefined && matches.length > 0 && this.ecsAlert !== undefined) event.records = JSON.parse(`[${json.recordsText()}]`);
    // the event's line, made once for all its alerts (made again, it is the event interpreted a second time)
    let eventLine: string | undefined;
    if (table !== undefined) this.notePrinted(table.bytes.length, matches);
    for (const { rule, records } of matches) {
      if (this.options.failRank !== undefined && rule.rank >= this.options.failRank) this.stats.failing++;
      if (rule.rank < this.options.minRank) continue;
      this.stats.alerts++;
      this.stats.byLevel[rule.level]++;
      // the host the event happened on (node=), never the machine reading the log: null when the log does not say
      const host = event.node ?? null;
      if (this.options.format === "table") line(tableRow(event, rule, host ?? "-", this.options.style));
      else if (this.ecsAlert) line(JSON.stringify(this.ecsAlert(event, rule), null, this.options.pretty ? 2 : undefined));
      else {
        const head = `{"time":${JSON.stringify(event.time)},"host":${JSON.stringify(host)},${this.head(rule)},"records":${JSON.stringify(records)},"event":`;
        if (this.options.pretty) {
          eventLine ??= String(json);
          line(JSON.stringify(JSON.parse(`${head}${eventLine}}`), null, 2));
        } else if (framed !== undefined) framed(head, json, "}");
        else {
          eventLine ??= String(json);
          line(`${head}${eventLine}}`);
        }
      }
    }
  }

  /** Counts an event's logged bytes, and whether an alert prints its JSON, toward countJson. */
  private notePrinted(bytes: number, matches: readonly { rule: SigmaRule }[]): void {
    this.seenBytes += bytes;
    if (this.options.format !== "table" && this.printsAny(matches)) this.printedBytes += bytes;
    if (this.seenBytes < COUNT_WINDOW) return;
    this.countJson.on = this.printedBytes * 6 < this.seenBytes;
    // the older half of the window weighs half: a log's mix changes
    this.seenBytes /= 2;
    this.printedBytes /= 2;
  }

  /** Whether an alert of `matches` is shown (--min-level). A loop, not `some` with a closure made per event. */
  private printsAny(matches: readonly { rule: SigmaRule }[]): boolean {
    for (let i = 0; i < matches.length; i++) if (matches[i]!.rule.rank >= this.options.minRank) return true;
    return false;
  }

  private head(rule: SigmaRule): string {
    let head = this.heads.get(rule);
    if (head === undefined) {
      const { id, title, level, tags, attack, author } = rule;
      head = `"rule":${JSON.stringify({ id, title, level, tags, attack, ...(author === undefined ? {} : { author }) })}`;
      this.heads.set(rule, head);
    }
    return head;
  }
}

/** The logged bytes after which countJson is decided again. */
const COUNT_WINDOW = 1 << 20;

const WIDTHS = { time: 24, level: 13, rule: 44, host: 16 };

function tableHeader(style: ChalkInstance): string {
  return style.bold(
    `${"TIME".padEnd(WIDTHS.time)} ${"LEVEL".padEnd(WIDTHS.level)} ${"RULE".padEnd(WIDTHS.rule)} ${"HOST".padEnd(WIDTHS.host)} WHAT`,
  );
}

function tableRow(e: AuditEvent, rule: SigmaRule, host: string, style: ChalkInstance): string {
  const colour = rule.rank >= 3 ? style.red : rule.rank === 2 ? style.yellow : (s: string) => s;
  const what = e.argv?.join(" ") ?? e.exe ?? e.types.join(",");
  const cell = (s: string, w: number) => {
    const text = escapeControls(s);
    return (text.length > w ? `${text.slice(0, w - 1)}…` : text).padEnd(w);
  };
  return `${cell(e.time ?? "-", WIDTHS.time)} ${colour(cell(rule.level, WIDTHS.level))} ${cell(rule.title, WIDTHS.rule)} ${cell(host, WIDTHS.host)} ${escapeControls(what)}`;
}

/** `--list-rules`: each rule with its level, id, author and source (the attribution the DRL asks for). */
export function listRules(set: RuleSet, json: boolean): string[] {
  if (json) {
    return [
      JSON.stringify({
        rules: set.rules.map(({ id, title, level, tags, author, source }) => ({ id, title, level, tags, author, source })),
        failed: set.failed,
        skipped: set.skipped,
      }),
    ];
  }
  return [
    ...set.rules.map((r) => escapeControls(`${r.level.padEnd(13)} ${r.id}  ${r.title}  (${r.author ?? "no author"}; ${r.source})`)),
    // a file that could not be read as rules is named once (its rule is the file)
    ...set.failed.map((p) => escapeControls(`FAILED        ${p.rule}  ${p.reason}${p.rule === p.source ? "" : `  (${p.source})`}`)),
    ...set.skipped.map((p) => escapeControls(`skipped       ${p.rule}  ${p.reason}  (${p.source})`)),
  ];
}
