import { csvCell, escapeFormatChars } from "@opsguard/core/text";
import type { ChangeRecord, Report } from "../record";

const COLUMNS: Array<[string, (r: ChangeRecord) => string]> = [
  ["repo", (r) => r.repo],
  ["range_from", (r) => r.range.from],
  ["range_to", (r) => r.range.to],
  ["commit_sha", (r) => r.commit.sha],
  ["commit_subject", (r) => r.commit.subject],
  ["commit_author", (r) => r.commit.author.login ?? r.commit.author.email ?? ""],
  ["commit_committer", (r) => r.commit.committer.login ?? r.commit.committer.email ?? ""],
  ["pr_number", (r) => (r.pr ? String(r.pr.number) : "")],
  ["pr_url", (r) => r.pr?.url ?? ""],
  ["pr_author", (r) => r.pr?.author ?? ""],
  ["merged_at", (r) => r.pr?.merged_at ?? ""],
  ["merged_by", (r) => r.pr?.merged_by ?? ""],
  ["approvers", (r) => [...new Set(r.approvals.filter((a) => a.counts).map((a) => a.reviewer ?? ""))].join(" ")],
  ["approved_on_head", (r) => String(r.approvals.some((a) => a.counts && a.on_head))],
  ["checks", (r) => r.checks.map((c) => `${c.name}=${c.state}`).join(" ")],
  // Which app ran each check (or which account posted the status), in the order of `checks`.
  ["check_apps", (r) => r.checks.map((c) => `${c.name}=${c.app ?? ""}`).join(" ")],
  ["tickets", (r) => r.tickets.join(" ")],
  ["labels", (r) => r.labels.join(" ")],
  ["emergency", (r) => r.emergency?.status ?? ""],
  ["emergency_due_at", (r) => r.emergency?.due_at ?? ""],
  ["retro_reviewer", (r) => r.emergency?.retro_reviewer ?? ""],
  ["exemption", (r) => r.exemption ?? ""],
  ["verdict", (r) => r.verdict],
  ["violations", (r) => r.violations.map((v) => `${v.rule}: ${v.message}`).join("; ")],
  ["tool_version", (r) => r.tool_version],
  ["generated_at", (r) => r.generated_at],
];

/** RFC 4180 CSV, one row per commit, for auditors' sampling in a spreadsheet. */
export function renderCsv(report: Report): string {
  const rows = [COLUMNS.map(([name]) => name), ...report.records.map((r) => COLUMNS.map(([, get]) => get(r)))];
  return `${rows.map((row) => row.map(cell).join(",")).join("\r\n")}\r\n`;
}

/** Core's RFC 4180 cell (quoted, a formula defused) of the value on one line, as a terminal shows it safely. */
export function cell(value: string): string {
  // One line per row, and no terminal escapes for whoever cats the file: control characters become spaces,
  // and bidi controls (which would show a login or title reordered) are written out as the digest does.
  return csvCell(escapeFormatChars(value).replace(/[\u0000-\u001f\u007f-\u009f]+/g, " "));
}
