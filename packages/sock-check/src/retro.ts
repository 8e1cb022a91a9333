import { type CliContext, PolicyError } from "@opsguard/core";
import { changeTerms } from "./association";
import type { Report } from "./record";
import { oneLine } from "./report/digest";
import { groupRecords, plural } from "./report/groups";

/** `sock-check retro`: every emergency change in the range and where its after-the-fact review stands. */
export function renderRetro(report: Report, style: CliContext["style"]): string {
  const groups = groupRecords(report.records).filter((g) => g.first.emergency);
  const terms = changeTerms(report.provider);
  if (groups.length === 0) return `no emergency changes in ${report.range.from.slice(0, 7)}..${report.range.to.slice(0, 7)}\n`;
  const lines = groups.map((g) => {
    const e = g.first.emergency!;
    const what = g.first.pr ? `${terms.number(g.first.pr.number)} ${oneLine(g.first.pr.title)}` : g.first.commit.sha.slice(0, 7);
    if (e.status === "done")
      return `${style.green("✓")} ${what}: reviewed by ${oneLine(e.retro_reviewer ?? "?")} at ${oneLine(e.retro_reviewed_at ?? "?")}`;
    // A standing "changes requested" is why a review that happened is not done: say whose.
    const objection = e.changes_requested_by ? ` (changes requested by ${e.changes_requested_by.map(oneLine).join(", ")} still stand)` : "";
    if (e.status === "pending") return `${style.yellow("!")} ${what}: needs retroactive review by ${oneLine(e.due_at)}${objection}`;
    return `${style.red("✗")} ${what}: retroactive review OVERDUE since ${oneLine(e.due_at)}${objection}`;
  });
  const overdue = groups.filter((g) => g.first.emergency?.status === "overdue").length;
  lines.push("", `${plural(groups.length, "emergency change")}: ${overdue} overdue`);
  return `${lines.join("\n")}\n`;
}

export function retroError(report: Report): PolicyError | undefined {
  const overdue = groupRecords(report.records).filter((g) => g.first.emergency?.status === "overdue").length;
  return overdue > 0 ? new PolicyError(`${plural(overdue, "emergency change")} overdue for retroactive review`) : undefined;
}
