import type { CliContext } from "@opsguard/core/cli";
import { DataError, NoInputError, type OpsguardError, PolicyError } from "@opsguard/core/errors";
import { createStyle } from "@opsguard/core/tty";
import { DETECT_BOUNDS, LATE_PARTS } from "./assemble";
import type { ParseFlags } from "./commands/flags";
import { type DetectOptions, type Detector, listRules, loadRuleSet, NO_RULE_IN_FILE, parseLevel } from "./detect";
import type { EcsModule } from "./pipeline";
import type { RuleSet } from "./sigma/rules";

/**
 * detect: the rules, compiled once; null when --list-rules printed them (nothing else to do). The rule set is
 * judged as inputs are: some rules not usable (a file unreadable, a rule not compiled) is incomplete, exit 65
 * after the run (detectVerdict), and --list-rules exits so too; no rule to run at all is exit 66 at once.
 */
export function detectRules(flags: ParseFlags, ctx: CliContext): RuleSet | null {
  parseLevel(flags.minLevel, "--min-level");
  parseLevel(flags.failLevel, "--fail-level");
  const set = loadRuleSet(flags.rules);
  for (const file of set.empty ?? []) ctx.log.warn(`rule file ${file} ${NO_RULE_IN_FILE}`);
  if (flags.listRules) {
    for (const line of listRules(set, ctx.opts.json)) ctx.io.stdout.write(`${line}\n`);
    // the list is a check of the rules too: a failed one is not a clean list (each is in it, FAILED)
    const none = noRule(set);
    if (none !== undefined) throw none;
    if (set.failed.length > 0) throw compileFailures(set, true);
    return null;
  }
  for (const p of set.failed) {
    if (p.unread) ctx.log.error(`rule file ${p.source} ${p.reason}: its rules are not run`);
    else ctx.log.error(`${p.rule === p.source ? `rule file ${p.source}` : `rule ${p.rule} (${p.source})`} cannot be compiled: ${p.reason}`);
  }
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
  const none = noRule(set);
  if (none !== undefined) throw none;
  return set;
}

/** Nothing to run (every rule failed, or is for another log source): exit 66, as when no input could be read. */
function noRule(set: RuleSet): NoInputError | undefined {
  if (set.rules.length > 0) return undefined;
  const empty = set.empty?.length ?? 0;
  // only the reasons there are, each with its own verb (T27 #6: "0 failed (named above), 1 are for …")
  const why = [
    set.failed.length > 0 ? `${set.failed.length} failed (named above)` : "",
    set.skipped.length > 0
      ? `${set.skipped.length} ${set.skipped.length === 1 ? "is" : "are"} for other log sources than linux/auditd`
      : "",
    empty > 0 ? `${empty} rule file(s) hold none (named above)` : "",
  ].filter((part) => part !== "");
  return new NoInputError(`no rule to run${why.length > 0 ? `: ${why.join(", ")}` : ""}`, {
    hint: "give --rules Sigma rules for logsource product: linux, service: auditd",
  });
}

/** listing: --list-rules, which lists the failures (FAILED) and writes no alerts. */
function compileFailures(set: RuleSet, listing = false): DataError {
  const failed = `${set.failed.length} rule file(s) or rule(s) could not be read or compiled`;
  return new DataError(
    listing
      ? `${failed} (listed FAILED): the other ${set.rules.length} can run`
      : `${failed} (named above): the alerts cover the other ${set.rules.length}`,
    { hint: "fix or remove those rules" },
  );
}

export function detectOptions(flags: ParseFlags, ctx: CliContext, ecs: EcsModule | undefined): DetectOptions {
  // a table for people at a terminal; NDJSON for files, pipes and --json; ECS documents when asked
  const table = !ctx.opts.json && flags.output === undefined && ctx.io.stdout.isTTY;
  return {
    minRank: parseLevel(flags.minLevel, "--min-level") ?? 0,
    failRank: parseLevel(flags.failLevel, "--fail-level"),
    format: ecs ? "ecs" : table ? "table" : "ndjson",
    ...(ecs ? { ecsAlert: ecs.ecsAlert } : {}),
    style: createStyle(ctx.io.colorEnabled(ctx.io.stdout, ctx.opts.color)),
    pretty: flags.pretty,
  };
}

/** How many events were written in parts, and why (the parser's stats: AssemblerStats). */
export interface PartsStats {
  split: number;
  late: number;
  cut: number;
}

/** The events matched in parts, by cause: too big to be held whole (DETECT_BOUNDS), or records that came late. */
function inParts({ split, late }: PartsStats): string {
  const big = split - late;
  const causes = [
    ...(big > 0
      ? [
          `${big} event(s) too big to match whole (over ${DETECT_BOUNDS.records} records or ${DETECT_BOUNDS.bytes >> 20} MiB) were matched in parts`,
        ]
      : []),
    ...(late > 0 ? [`${late} later part(s) of events were matched apart from their first, as ${LATE_PARTS}`] : []),
  ];
  return causes.join("; ");
}

/**
 * Live input (-F, plugin --detect): says on stderr, as it happens, that an event was matched in parts (the
 * end-of-run verdict comes only when the run stops). Call after each chunk with the parser's stats.
 */
export function splitWatch(ctx: CliContext): (stats: PartsStats) => void {
  let said = 0;
  return (stats) => {
    if (stats.split === said) return;
    said = stats.split;
    ctx.log.error(`so far ${inParts(stats)}: a rule needing the whole event may have missed them`);
  };
}

/**
 * Why the input was not matched whole, each an exit 65: an event matched in parts (over DETECT_BOUNDS, or late
 * parts), a line cut at 4 MiB. detect's verdict, and plugin --detect's at EOF or SIGTERM, so a gate run by hand
 * does not pass (T28 #5; auditd itself ignores its plugins' exit codes).
 */
export function incompleteReasons(parts: PartsStats): DataError[] {
  const reasons: DataError[] = [];
  if (parts.split > 0) {
    reasons.push(
      new DataError(`incomplete: ${inParts(parts)}, so a rule needing the whole event may have missed them`, {
        hint:
          parts.split > parts.late
            ? "find them with auditd-parse -v (counted as split): no real command line is that big"
            : "find them with auditd-parse -v (counted as split): their id is on more than one event",
      }),
    );
  }
  if (parts.cut > 0) {
    reasons.push(
      new DataError(`incomplete: ${parts.cut} line(s) longer than 4 MiB were cut, so no rule saw the values dropped from them`, {
        hint: "the kernel writes no such line: the log is damaged or forged",
      }),
    );
  }
  return reasons;
}

/**
 * After the input: the summary, then exit 1 for a match at --fail-level, 65 when a rule failed to compile, an
 * event was matched in parts (`split`: over DETECT_BOUNDS, or records of it came after it was written (`late`),
 * so no rule saw it whole: a keyword or field in one part and another in the next matched nothing, and a warning
 * alone would be a silent miss), or a line was cut at 4 MiB (`cut`: the value there and the rest of the record
 * were never matched, T22 #6).
 */
export function detectVerdict(
  ctx: CliContext,
  detector: Detector,
  rules: RuleSet,
  flags: ParseFlags,
  unread?: OpsguardError,
  parts: PartsStats = { split: 0, late: 0, cut: 0 },
): void {
  // the first reason is the verdict; the others are said, so none goes unmentioned
  const [incomplete, ...others] = [unread, ...incompleteReasons(parts)].filter((e) => e !== undefined);
  for (const e of others) ctx.log.error(e.message);
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
  if (rules.failed.length > 0) throw compileFailures(rules);
}
