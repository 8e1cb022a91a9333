import { csvCell, escapeLine } from "@opsguard/core/text";
import type { createStyle } from "@opsguard/core/tty";
import { type AuditReport, FAILING_KINDS, type FindingKind } from "./audit";

const LABELS: Record<FindingKind, string> = {
  "invalid-key": "invalid or unreadable keys",
  "disallowed-type": "key types not allowed (keyTypes)",
  "weak-rsa": "RSA keys under minRsaBits",
  "duplicate-key": "keys shared by several accounts",
  "disabled-user-key": "disabled accounts still holding keys",
  "parser-disagreement": "values authkeys and ssh2's parser judge differently",
  "no-key": "accounts with no key",
};

/** For people: a summary, then one line per finding; every directory value has its control characters escaped. */
export function renderAuditTable(report: AuditReport, style: ReturnType<typeof createStyle>): string {
  const lines = [`${report.users} accounts, ${report.keys} keys`];
  for (const [kind, label] of Object.entries(LABELS) as [FindingKind, string][]) {
    const count = report.counts[kind];
    const text = `  ${String(count).padStart(6)}  ${label}`;
    lines.push(count > 0 && FAILING_KINDS.has(kind) ? style.red(text) : text);
  }
  if (report.findings.length > 0) lines.push("");
  for (const f of report.findings) {
    const mark = FAILING_KINDS.has(f.kind) ? style.red("FAIL") : "info";
    lines.push(`${mark}  ${escapeLine(`${f.user}  ${f.kind}  ${f.detail}${f.fingerprint ? `  ${f.fingerprint}` : ""}`)}`);
  }
  lines.push("", report.failing > 0 ? style.red(`${report.failing} finding(s) fail policy`) : "no finding fails policy");
  return `${lines.join("\n")}\n`;
}

export function renderAuditJson(report: AuditReport): string {
  return `${JSON.stringify(report)}\n`;
}

/** RFC 4180, one row per finding, for a spreadsheet. */
export function renderAuditCsv(report: AuditReport): string {
  const rows = [
    ["user", "dn", "kind", "fails_policy", "detail", "fingerprint"],
    ...report.findings.map((f) => [f.user, f.dn, f.kind, String(FAILING_KINDS.has(f.kind)), f.detail, f.fingerprint ?? ""]),
  ];
  return `${rows.map((r) => r.map(csvCell).join(",")).join("\r\n")}\r\n`;
}
