import { describeError, ExitCode, escapeSlackText, exitCodeOf, type Logger, type SlackClient, SlackNotFoundError } from "@opsguard/core";
import type { Deputize } from "./build";
import type { ScheduleShifts, Shift } from "./sources/source";
import type { DeputizeState } from "./state";

/** `deputize next`: who is on call in the coming hours, per schedule. */
export interface UpcomingReport {
  window: { since: string; until: string };
  schedules: Array<{
    source: string;
    schedule: string;
    shifts: Array<{ person: string; name?: string; start: string | null; end: string | null; onCallNow: boolean }>;
  }>;
  sourceErrors: Array<{ source: string; error: string; exitCode: ExitCode }>;
  exitCode: ExitCode;
}

/** One look-ahead DM: sent now, already sent for this shift (not listed), or failed and retried next run. */
export interface DmReport {
  person: string;
  schedule: string;
  start: string;
  status: "sent" | "failed";
  reason?: string;
}

export const MAX_LOOKAHEAD_HOURS = 168;

/** Where sent look-ahead DMs are remembered: this host's state file, or Redis shared by two hosts. */
export interface DmLedger {
  sent(shift: string): Promise<boolean>;
  record(shift: string, until: Date, now: Date): Promise<void>;
}

export function fileDmLedger(state: DeputizeState): DmLedger {
  return { sent: (shift) => state.dmSent(shift), record: (shift, until, now) => state.recordDm(shift, until, now) };
}

/** Every source's shifts from now to now + hours; a failing source is reported, the others still answer. */
export async function upcomingShifts(
  dep: Pick<Deputize, "sources">,
  now: Date,
  hours: number,
): Promise<{ shifts: ScheduleShifts[]; sourceErrors: UpcomingReport["sourceErrors"] }> {
  const window = { since: now, now, until: new Date(now.getTime() + hours * 3_600_000) };
  const results = await Promise.allSettled(dep.sources.map((s) => s.shifts(window)));
  const shifts: ScheduleShifts[] = [];
  const sourceErrors: UpcomingReport["sourceErrors"] = [];
  results.forEach((result, i) => {
    if (result.status === "fulfilled") shifts.push(...result.value);
    else
      sourceErrors.push({
        source: dep.sources[i]?.name ?? String(i),
        error: describeError(result.reason),
        exitCode: exitCodeOf(result.reason),
      });
  });
  return { shifts, sourceErrors };
}

export async function upcoming(dep: Pick<Deputize, "sources">, now: Date, hours: number): Promise<UpcomingReport> {
  const { shifts, sourceErrors } = await upcomingShifts(dep, now, hours);
  const first = sourceErrors[0];
  return {
    window: { since: now.toISOString(), until: new Date(now.getTime() + hours * 3_600_000).toISOString() },
    schedules: shifts.map((s) => ({
      source: s.source,
      schedule: s.schedule,
      shifts: s.shifts.map((shift) => ({
        person: shift.person.key,
        ...(shift.person.name ? { name: shift.person.name } : {}),
        start: shift.start?.toISOString() ?? null,
        end: shift.end?.toISOString() ?? null,
        onCallNow: (shift.start?.getTime() ?? 0) <= now.getTime(),
      })),
    })),
    sourceErrors,
    // Every source failed: its own code; some: partial (the rest is shown).
    exitCode: !first ? ExitCode.OK : sourceErrors.length === dep.sources.length ? first.exitCode : ExitCode.PARTIAL,
  };
}

/**
 * A Slack DM to each person whose shift starts within the look-ahead, once per shift: a shift is
 * remembered in the ledger (the state dir, or Redis with lease.redis so two hosts share it) only
 * after Slack took the message, so a failed DM is sent again on the next run and a delivered one
 * never twice.
 */
export async function remindUpcoming(
  shifts: readonly ScheduleShifts[],
  options: {
    slack: SlackClient;
    state: DeputizeState;
    ledger: DmLedger;
    now: Date;
    log?: Logger | undefined;
    /** The lease fence: throws when this run may no longer write; the remaining DMs then wait for the next run. */
    beforeWrite?: () => Promise<void>;
  },
): Promise<DmReport[]> {
  const { slack, state, ledger, now } = options;
  const reports: DmReport[] = [];
  const looked: Record<string, string> = {};
  // The lease fence refused a write: no more DMs this run (they are not recorded, so the next run sends them).
  let fenced = false;
  const fence = async () => {
    await options.beforeWrite?.().catch((error: unknown) => {
      fenced = true;
      throw error;
    });
  };
  for (const schedule of shifts) {
    // Who is on call now: a later shift of theirs (their turn resuming after an override) is told as "again from".
    const onNow = new Set(
      schedule.shifts
        .filter((s) => (s.start?.getTime() ?? 0) <= now.getTime() && (s.end?.getTime() ?? Number.POSITIVE_INFINITY) > now.getTime())
        .map((s) => s.person.key),
    );
    for (const shift of schedule.shifts) {
      if (fenced) break;
      if (!shift.start || shift.start.getTime() <= now.getTime()) continue;
      const key = dmKey(schedule, shift);
      if (await ledger.sent(key)) continue;
      const base = { person: shift.person.key, schedule: schedule.schedule, start: shift.start.toISOString() };
      const email = shift.person.email;
      if (!email) {
        options.log?.warn(`look-ahead DM to ${shift.person.key} (${schedule.schedule}) not sent: no e-mail to find a Slack user by`);
        reports.push({ ...base, status: "failed", reason: "no e-mail to find a Slack user by" });
        continue;
      }
      try {
        let id = (await state.slackId(email)) ?? looked[email];
        if (!id) {
          id = (await slack.lookupUserByEmail(email)).id;
          looked[email] = id;
        }
        await fence();
        await slack.postMessage({ channel: id, text: dmText(schedule.schedule, shift, onNow.has(shift.person.key)), unfurl_links: false });
        await ledger.record(key, shift.end ?? shift.start, now);
        reports.push({ ...base, status: "sent" });
      } catch (error) {
        // users_not_found is the lookup's answer; channel_not_found from the DM itself is not about the e-mail.
        const reason =
          error instanceof SlackNotFoundError && error.method === "users.lookupByEmail"
            ? "no Slack user with this e-mail"
            : describeError(error);
        options.log?.warn(`look-ahead DM to ${shift.person.key} (${schedule.schedule}) not sent: ${reason}; retried next run`);
        reports.push({ ...base, status: "failed", reason });
      }
    }
  }
  await state.recordSlackIds(looked);
  return reports;
}

function dmKey(schedule: ScheduleShifts, shift: Shift): string {
  return [schedule.source, schedule.schedule, shift.person.key, shift.start?.toISOString() ?? ""].join(" ");
}

/**
 * "You are on call for SRE from … to …", the times as Slack date tokens so each person reads them in
 * their own time zone (https://docs.slack.dev/messaging/formatting-message-text#date-formatting),
 * with UTC as the fallback text. To someone on call now (`again`) it says "again from": a shift that
 * resumes after an override is not news of a new turn (T41 F9).
 */
export function dmText(schedule: string, shift: Shift, again = false): string {
  const when = (d: Date) => {
    const fallback = `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
    return `<!date^${Math.floor(d.getTime() / 1000)}^{date_short_pretty} {time}|${fallback}>`;
  };
  const start = shift.start ? when(shift.start) : "now";
  const end = shift.end ? ` to ${when(shift.end)}` : "";
  return `You are on call for ${escapeSlackText(schedule)} ${again ? "again " : ""}from ${start}${end}.`;
}
