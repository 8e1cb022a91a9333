import { escapeControlChars } from "@opsguard/core";
import type { UpcomingReport } from "./next";
import type { RunProgress, RunReport, SinkReport } from "./run";

/** One field of a line: a newline from a schedule's name must not forge another line. */
export function field(text: string): string {
  return escapeControlChars(text).replace(/\n/g, "\\n").replace(/\t/g, "\\t");
}

const VERB: Record<SinkReport["status"], string> = {
  unchanged: "unchanged",
  changed: "changed",
  "partly-changed": "PARTLY changed",
  "would-change": "would change",
  refused: "refused",
  failed: "FAILED",
  skipped: "skipped",
};

/**
 * The per-sink diff as people read it: `+` added, `-` removed, `~` another write, `!` a problem.
 * `all` includes sinks with nothing to do (dry run, status); a cron run prints only what happened.
 */
export function formatDiff(report: RunReport, all: boolean): string {
  const lines: string[] = [];
  for (const e of report.sourceErrors) lines.push(`source ${field(e.source)}: FAILED: ${field(e.error)}`);
  for (const sink of report.sinks) {
    const problems = sink.plan?.unresolved ?? [];
    // A hand-off found already in the channel was not written: said as such, never as a change.
    const already = (sink.parts ?? []).filter((p) => p.status === "already-posted").map((p) => p.part);
    const isAlready = (u: string) => already.some((part) => u.startsWith(`${part}:`) || u.startsWith(`${part} (attempt`));
    if (!all && sink.status === "unchanged" && problems.length === 0 && already.length === 0) continue;
    lines.push(`${field(sink.sink)} (${sink.kind}): ${VERB[sink.status]}${sink.reason ? `: ${field(sink.reason)}` : ""}`);
    // A sink applied change by change (GitLab's one request per member) names the ones that did not go through.
    const notApplied = new Set((sink.parts ?? []).filter((p) => p.status === "failed").map((p) => p.part));
    const mark = (line: string) => `  ${field(line)}${notApplied.has(line) ? " (not applied)" : ""}`;
    for (const a of sink.plan?.add ?? []) lines.push(mark(`+ ${a}`));
    for (const r of sink.plan?.remove ?? []) lines.push(mark(`- ${r}`));
    for (const u of sink.plan?.updates ?? []) if (!isAlready(u)) lines.push(`  ~ ${field(u)}`);
    for (const part of already) lines.push(`  = ${field(part)}: already posted (found in the channel history); not posted again`);
    for (const p of problems) lines.push(`  ! ${field(p)}`);
  }
  for (const dm of report.dms ?? []) {
    const what = `look-ahead DM to ${field(dm.person)} (${field(dm.schedule)}, from ${dm.start})`;
    lines.push(dm.status === "sent" ? `${what}: sent` : `${what}: FAILED: ${field(dm.reason ?? "")}; retried next run`);
  }
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/** `deputize next`: one row per shift, by schedule; "now" for a shift already running. */
export function formatUpcoming(report: UpcomingReport): string {
  const when = (t: string | null, fallback: string) => (t ? t.slice(0, 16).replace("T", " ") : fallback);
  const rows = report.schedules.flatMap((s) =>
    s.shifts.length === 0
      ? [[s.schedule, "nobody", "", ""]]
      : s.shifts.map((shift) => [
          s.schedule,
          shift.name ? `${shift.person} (${shift.name})` : shift.person,
          shift.onCallNow ? `now (since ${when(shift.start, "always")})` : when(shift.start, "always"),
          when(shift.end, "open end"),
        ]),
  );
  const errors = report.sourceErrors.map((e) => `source ${field(e.source)} FAILED: ${field(e.error)}\n`).join("");
  return `${table(["SCHEDULE", "WHO", "FROM (UTC)", "TO (UTC)"], rows)}${errors}`;
}

/** `deputize status`: who is on call per schedule, who is in each sink, what the next run would change. */
export function formatStatus(report: RunReport): string {
  const schedules = table(
    ["SCHEDULE", "SOURCE", "ON CALL"],
    report.schedules.map((s) => [s.schedule, s.source, s.onCall.join(", ") || "nobody"]),
  );
  const sinks = table(
    ["SINK", "KIND", "NOW", "NEXT RUN"],
    report.sinks.map((s) => [s.sink, s.kind, (s.plan?.current ?? []).join(", ") || "-", nextRun(s)]),
  );
  const errors = report.sourceErrors.map((e) => `source ${field(e.source)} FAILED: ${field(e.error)}\n`).join("");
  const records = report.sinks.flatMap((s) => deliveryLines(s));
  return `${schedules}\n${errors}${errors ? "\n" : ""}${sinks}${records.length > 0 ? `\nLAST DELIVERIES\n${records.join("\n")}\n` : ""}`;
}

/** A sink's per-part delivery records and a message still to be sent, for `status`. */
function deliveryLines(s: SinkReport): string[] {
  const lines = Object.entries(s.plan?.deliveries ?? {}).map(
    ([part, d]) => `${field(s.sink)} ${part}: ${d.status.replace("-", " ")} ${d.at}${d.error ? `: ${field(d.error)}` : ""}`,
  );
  for (const pending of s.plan?.pendingMessages ?? []) {
    lines.push(
      `${field(s.sink)} message to ${field(pending.channel)} pending since ${pending.since}, ${pending.attempts} of ${pending.maxAttempts} attempts failed; ${PENDING_NEXT[pending.next]}: "${field(pending.text)}"`,
    );
  }
  return lines;
}

/** What `status` says the next run does with a pending hand-off. */
const PENDING_NEXT = {
  retry: "next run retries",
  replace: "not retried, the next run posts the hand-off of who is on call now instead",
  drop: "never sent, the next run drops it (on call again: the set last announced)",
} as const;

function nextRun(s: SinkReport): string {
  if (s.status === "failed" || s.status === "skipped" || s.status === "refused") return `${VERB[s.status]}: ${s.reason ?? ""}`;
  const plan = s.plan;
  if (!plan || (plan.add.length === 0 && plan.remove.length === 0 && plan.updates.length === 0)) return "nothing";
  const parts = [...plan.add.map((a) => `+${a}`), ...plan.remove.map((r) => `-${r}`)];
  if (plan.updates.length > 0) parts.push(`${plan.updates.length} other update${plan.updates.length > 1 ? "s" : ""}`);
  return parts.join(" ");
}

function table(header: readonly string[], raw: ReadonlyArray<readonly string[]>): string {
  const rows = raw.map((r) => r.map(field));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}

/** The one line a run stopped by a signal leaves on stderr: what was applied, what may be half-done. */
export function formatInterrupted(signal: string, progress: RunProgress): string {
  const applied = progress.applied.map((r) => {
    const changes = [...(r.plan?.add ?? []).map((a) => `+${a}`), ...(r.plan?.remove ?? []).map((m) => `-${m}`)];
    if ((r.plan?.updates.length ?? 0) > 0) changes.push(`${r.plan?.updates.length} other update(s)`);
    return `${r.sink} ${VERB[r.status]}${changes.length > 0 ? ` (${changes.join(" ")})` : ""}`;
  });
  const pending = [...progress.applying];
  return field(
    `interrupted by ${signal}; applied: ${applied.join(", ") || "nothing"}` +
      (pending.length > 0 ? `; cut off while applying (may be partly applied): ${pending.join(", ")}` : "") +
      "; the next run finishes the job",
  );
}
