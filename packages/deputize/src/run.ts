import { describeError, ExitCode, exitCodeOf, type Logger } from "@opsguard/core";
import type { Deputize } from "./build";
import { field } from "./format";
import { type DmLedger, type DmReport, fileDmLedger, remindUpcoming, upcomingShifts } from "./next";
import { mergePeople, type Person, type ScheduleOnCall } from "./people";
import { type AnnouncedLedger, hasChanges, type PartOutcome, type Sink, type SinkPlan } from "./sinks/sink";
import { accessWindow, type Window } from "./window";

export interface RunOptions {
  /** Plan and report, write nothing. */
  dryRun: boolean;
  /** Apply even a change that removes more than maxRemovals members. */
  force?: boolean;
  now?: Date;
  log?: Logger;
  /** Where look-ahead DMs are remembered; this host's state file by default. */
  dmLedger?: DmLedger;
  /** What webhooks last delivered, shared by a lease.redis pair; this host's state file by default. */
  announced?: AnnouncedLedger;
  /** Filled while the run goes, so a signal mid-run can say what was already applied. */
  progress?: RunProgress;
  /**
   * Called right before every write (the lease.redis fence): throws when this run may no longer
   * write, and then nothing more is written this run.
   */
  beforeWrite?: () => Promise<void>;
  /** Told what the run is doing as it goes (asking the sources, sinks done), for the progress line on a terminal. */
  onStep?: (text: string) => void;
}

export interface RunProgress {
  /** Sinks whose change finished applying, with how it went. */
  applied: SinkReport[];
  /** Sinks whose change is being applied right now (may be partly done). */
  applying: Set<string>;
  /** Hands the Redis lease back, when one is held (a signal ends the run). */
  releaseLease?: () => Promise<void>;
}

export type SinkStatus = "unchanged" | "changed" | "partly-changed" | "would-change" | "refused" | "failed" | "skipped";

export interface SinkReport {
  sink: string;
  kind: string;
  status: SinkStatus;
  /** Who this sink should hold, from its schedules. */
  onCall: string[];
  plan?: Omit<SinkPlan, "apply">;
  /** Why it failed, was refused or skipped: one line, no secrets. */
  reason?: string;
  exitCode?: ExitCode;
  /** For a sink written in independent parts (Slack topic, user group, message): how each went. */
  parts?: Array<{ part: string; status: "applied" | "already-posted" | "failed"; reason?: string }>;
}

export interface RunReport {
  window: { since: string; now: string; until: string };
  schedules: Array<{ source: string; schedule: string; onCall: string[] }>;
  sourceErrors: Array<{ source: string; error: string; exitCode: ExitCode }>;
  sinks: SinkReport[];
  /** Look-ahead DMs this run sent or failed to send (lookAhead.dm); shifts already told are not listed. */
  dms?: DmReport[];
  exitCode: ExitCode;
}

/**
 * One pass: who is on call → each sink's current state → diff → apply. Sinks are independent: a
 * failing one is reported and the others still run. Nothing is written in a dry run.
 */
export async function runOnce(dep: Deputize, given: RunOptions): Promise<RunReport> {
  // Once the fence refused a write, every later write is refused at once (no second chance to race).
  let fenced: unknown;
  const fence = given.beforeWrite;
  const options: RunOptions = {
    ...given,
    ...(fence
      ? {
          beforeWrite: async () => {
            if (fenced !== undefined) throw fenced;
            await fence().catch((error: unknown) => {
              fenced ??= error;
              throw error;
            });
          },
        }
      : {}),
  };
  const window = accessWindow(options.now ?? new Date(), dep.settings.lookAheadMinutes, dep.settings.graceMinutes);
  options.onStep?.(`asking ${dep.sources.length} source(s) who is on call`);
  const { schedules, sourceErrors } = await gatherOnCall(dep, window);
  for (const e of sourceErrors) options.log?.error(`source ${e.source} failed: ${e.error}`);
  for (const s of schedules) {
    options.log?.debug(`schedule ${s.schedule} (${s.source}): ${s.people.map((p) => p.key).join(", ") || "nobody"} on call`);
  }
  const conflicts = await identityConflicts(dep, schedules, options.log);
  let done = 0;
  const step = () => options.onStep?.(`${options.dryRun ? "planning" : "updating"} sinks: ${done} of ${dep.sinks.length} done`);
  step();
  const sinks = await Promise.all(
    dep.sinks.map((sink) =>
      runSink(dep, sink, schedules, sourceErrors, conflicts, options).finally(() => {
        done++;
        step();
      }),
    ),
  );
  for (const r of sinks) logSink(options.log, r);
  // A source that just failed is not asked again for the DMs: its error is already reported above.
  const dms = options.dryRun || sourceErrors.length > 0 || fenced !== undefined ? undefined : await lookAheadDms(dep, window.now, options);
  let exitCode = overallExitCode(sinks, sourceErrors);
  if (fenced !== undefined) {
    // The lease is gone: whatever else happened, this run stopped writing and the next one carries on.
    options.log?.error(describeError(fenced));
    exitCode = exitCodeOf(fenced);
  }
  return {
    window: { since: window.since.toISOString(), now: window.now.toISOString(), until: window.until.toISOString() },
    schedules: schedules.map((s) => ({ source: s.source, schedule: s.schedule, onCall: s.people.map((p) => p.key) })),
    sourceErrors,
    sinks,
    ...(dms ? { dms } : {}),
    // A DM not sent is retried next run, but monitoring should see it: partial, unless worse already.
    exitCode: exitCode === ExitCode.OK && dms?.some((d) => d.status === "failed") ? ExitCode.PARTIAL : exitCode,
  };
}

/** lookAhead.dm: tell whoever goes on call within lookAhead.hours, once per shift. A failing source is logged, not fatal. */
async function lookAheadDms(dep: Deputize, now: Date, options: RunOptions): Promise<DmReport[] | undefined> {
  const log = options.log;
  const slack = dep.lookAhead.dm;
  if (!slack) return undefined;
  const { shifts, sourceErrors } = await upcomingShifts(dep, now, dep.lookAhead.hours);
  for (const e of sourceErrors) log?.warn(`look-ahead: source ${e.source} failed: ${e.error}; no DMs for its schedules this run`);
  return remindUpcoming(shifts, {
    slack,
    state: dep.state,
    ledger: options.dmLedger ?? fileDmLedger(dep.state),
    now,
    log,
    ...(options.beforeWrite ? { beforeWrite: options.beforeWrite } : {}),
  });
}

async function gatherOnCall(dep: Deputize, window: Window) {
  const results = await Promise.allSettled(dep.sources.map((s) => s.onCall(window)));
  const schedules: ScheduleOnCall[] = [];
  const sourceErrors: RunReport["sourceErrors"] = [];
  results.forEach((result, i) => {
    const source = dep.sources[i]?.name ?? String(i);
    if (result.status === "fulfilled") schedules.push(...result.value);
    else sourceErrors.push({ source, error: describeError(result.reason), exitCode: exitCodeOf(result.reason) });
  });
  return { schedules, sourceErrors };
}

/**
 * People given with both a uid and an email (rotation files) whose two keys name different people in the
 * directory, asked once per run of the first sink that can tell (an LDAP sink) so that every sink leaves them out alike (T56 F12).
 * A directory that cannot be asked fails closed: nobody can tell whether such an entry is one person, so every
 * such entry is left out of every sink this run (T59 N4), rather than granted in GitLab by its uid and in
 * Slack by its email when the directory would have said they are two people.
 */
async function identityConflicts(dep: Deputize, schedules: readonly ScheduleOnCall[], log?: Logger): Promise<Map<string, string>> {
  const check = dep.sinks.find((s) => s.identityConflicts)?.identityConflicts;
  const people = mergePeople(schedules.map((s) => s.people));
  if (!check || !people.some((p) => p.email && p.uid)) return new Map();
  try {
    return await check(people);
  } catch (error) {
    const reason = describeError(error);
    log?.warn(
      `could not check the uids and emails on call against the directory: ${reason}; those entries are left out of every sink this run`,
    );
    return new Map(
      people.flatMap((p) =>
        p.email && p.uid
          ? [
              [
                p.key,
                `${p.email} (uid ${p.uid}): could not check against the directory that this uid and email are one person (${reason}); left out of every sink this run`,
              ] as const,
            ]
          : [],
      ),
    );
  }
}

async function runSink(
  dep: Deputize,
  sink: Sink,
  schedules: readonly ScheduleOnCall[],
  sourceErrors: RunReport["sourceErrors"],
  conflicts: ReadonlyMap<string, string>,
  options: RunOptions,
): Promise<SinkReport> {
  const base = { sink: sink.name, kind: sink.kind };
  const feeding = sink.schedules ? schedules.filter((s) => sink.schedules?.includes(s.schedule)) : schedules;
  const missing = (sink.schedules ?? []).filter((name) => !schedules.some((s) => s.schedule === name));
  // A source that failed may have held people for this sink: acting on the rest would remove them.
  if (sourceErrors.length > 0 && (!sink.schedules || missing.length > 0)) {
    const failed = sourceErrors.map((e) => e.source).join(", ");
    return {
      ...base,
      status: "skipped",
      onCall: [],
      reason: `source ${failed} failed; left as it is`,
      exitCode: sourceErrors[0]?.exitCode,
    };
  }
  if (missing.length > 0) {
    return { ...base, status: "failed", onCall: [], reason: `no schedule named ${missing.join(", ")}`, exitCode: ExitCode.CONFIG };
  }
  const everyone: Person[] = mergePeople(feeding.map((s) => s.people));
  const onCall = everyone.map((p) => p.key);
  // Someone whose uid and email are two people is placed in no sink: an `!` line in each, like an unknown email.
  const people = everyone.filter((p) => !conflicts.has(p.key));
  const refused = everyone.flatMap((p) => conflicts.get(p.key) ?? []);
  let planned: Omit<SinkPlan, "apply"> | undefined;
  try {
    const full = await sink.plan(people, { announced: options.announced });
    const placedBySink = full.placed ?? (full.unresolved.length >= people.length && full.add.length === 0 ? 0 : people.length);
    full.unresolved = [...refused, ...full.unresolved];
    const { apply, ...plan } = full;
    planned = plan;
    // Someone on call without access is what an operator must hear about: partial, not OK.
    const report: SinkReport = {
      ...base,
      onCall,
      plan,
      status: "unchanged",
      ...(plan.unresolved.length > 0 ? { exitCode: ExitCode.PARTIAL } : {}),
    };
    if (!hasChanges(plan)) return report;
    if (everyone.length === 0 && !dep.settings.allowEmpty) {
      return {
        ...report,
        status: "refused",
        reason: "nobody is on call; left as it is (set allowEmpty to empty it)",
        exitCode: ExitCode.FAILED,
      };
    }
    // Nobody placed (a wrong peopleBase, a typo in emailAttribute or peopleFilter, accounts not in the
    // directory yet) must not read as "nobody on call". Whatever it would change then (removals, a topic
    // of bare handles), the sink is left as it is. allowEmpty does not open this: it lets a sink follow
    // an on-call list that is really empty, never one whose people deputize could not find (T56 F16).
    if (everyone.length > 0 && placedBySink === 0) {
      return {
        ...report,
        status: "refused",
        reason: `none of the ${everyone.length} people on call could be placed; left as it is (check the sink's lookup settings and the accounts)`,
        exitCode: ExitCode.FAILED,
      };
    }
    if (plan.remove.length > dep.settings.maxRemovals && !options.force) {
      return {
        ...report,
        status: "refused",
        reason: `would remove ${plan.remove.length} members, more than maxRemovals (${dep.settings.maxRemovals}); re-run with --force if intended`,
        exitCode: ExitCode.FAILED,
      };
    }
    if (options.dryRun) return { ...report, status: "would-change" };
    await options.beforeWrite?.();
    options.progress?.applying.add(sink.name);
    const outcomes = await apply(options.beforeWrite).finally(() => options.progress?.applying.delete(sink.name));
    // A sink may correct its plan while applying (LDAP re-read after a conflict): report what was written.
    const { apply: _applied, ...written } = full;
    const done = outcomes ? withParts({ ...report, plan: written }, outcomes) : { ...report, plan: written, status: "changed" as const };
    options.progress?.applied.push(done);
    return done;
  } catch (error) {
    return {
      ...base,
      onCall,
      ...(planned ? { plan: planned } : {}),
      status: "failed",
      reason: describeError(error),
      exitCode: exitCodeOf(error),
    };
  }
}

/** A sink applied part by part: failed parts are named, and the rest count as applied. */
function withParts(report: SinkReport, outcomes: readonly PartOutcome[]): SinkReport {
  const parts = outcomes.map((o) =>
    o.error !== undefined
      ? { part: o.part, status: "failed" as const, reason: describeError(o.error) }
      : o.alreadyPosted
        ? { part: o.part, status: "already-posted" as const, reason: "already posted (found in the channel history); not posted again" }
        : { part: o.part, status: "applied" as const },
  );
  const failed = outcomes.filter((o) => o.error !== undefined);
  // Nothing written because it was all there already (the other host's post): not a change.
  if (failed.length === 0) return { ...report, status: outcomes.every((o) => o.alreadyPosted) ? "unchanged" : "changed", parts };
  const reason = parts.flatMap((p) => (p.status === "failed" ? [`${p.part}: ${p.reason}`] : [])).join("; ");
  const anyApplied = failed.length < outcomes.length;
  return {
    ...report,
    parts,
    status: anyApplied ? "partly-changed" : "failed",
    reason,
    exitCode: anyApplied ? ExitCode.PARTIAL : exitCodeOf(failed[0]?.error),
  };
}

/**
 * 0 when every sink is fine; the failure's own code when every sink failed; PARTIAL when some
 * sinks (or some people in a sink) could not be brought in line and the rest were.
 */
function overallExitCode(sinks: readonly SinkReport[], sourceErrors: RunReport["sourceErrors"]): ExitCode {
  const bad = sinks.filter((s) => s.exitCode !== undefined);
  if (bad.length === 0) return sourceErrors.length > 0 ? ExitCode.PARTIAL : ExitCode.OK;
  const failures = bad.filter((s) => s.exitCode !== ExitCode.PARTIAL);
  if (failures.length === sinks.length) return failures[0]?.exitCode ?? ExitCode.FAILED;
  return ExitCode.PARTIAL;
}

function logSink(log: Logger | undefined, r: SinkReport): void {
  if (!log) return;
  // A log line is one line: a name from a schedule (or a sink named after a config value) with a
  // newline in it must not forge another.
  const sink = field(r.sink);
  for (const problem of r.plan?.unresolved ?? []) log.warn(`${sink}: ${field(problem)}`);
  // A message given up is not retried any more: said on every run until a later one gets through.
  for (const [part, d] of Object.entries(r.plan?.deliveries ?? {})) {
    if (d.status === "gave-up") log.warn(`${sink}: ${part} was never delivered and is not retried: ${field(d.error ?? "")}`);
  }
  if (r.status === "failed" || r.status === "skipped" || r.status === "partly-changed")
    log.error(`sink ${sink} ${r.status}: ${field(r.reason ?? "")}`);
  else if (r.status === "refused") log.warn(`sink ${sink} refused: ${field(r.reason ?? "")}`);
  else if (r.status === "changed") log.info(`sink ${sink} updated`, { added: r.plan?.add, removed: r.plan?.remove });
  else log.debug(`sink ${sink} ${r.status}`, { members: r.plan?.current });
}
