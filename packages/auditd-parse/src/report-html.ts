import { escapeHtml as h, htmlPage, svgBar } from "@opsguard/core/html";
import { INCOMPLETE_CSS, incompleteBanner } from "./incomplete";
import type { Report, ReportTable, SummaryName } from "./report";

/**
 * `auditd-parse report --format html` (issue #25): aureport's summaries as one self-contained page an auditor
 * can open, print or attach — a count per summary with a bar, then each summary as a table (count, columns,
 * first and last time), most frequent first. Every value from the log is escaped (core's escapeHtml) and the
 * page has no script at all. Bounded like the sessions page: at most ROWS_PER_TABLE rows per summary, the rest
 * counted in a visible note (the full tables are in --json).
 */
export const ROWS_PER_TABLE = 500;

const TITLES: Record<SummaryName, string> = {
  logins: "Logins",
  authentications: "Authentications",
  executables: "Executables",
  keys: "Rule keys",
  files: "Files",
  anomalies: "Anomalies",
  commands: "Commands per user",
};

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#111}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;width:100%;table-layout:auto}th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.failed td{background:#fde8e8}.note{color:#555;font-style:italic}.meta{color:#444}
.bar{margin:.5em 0 1em}.bar rect{stroke:#fff}.b0{fill:#3b82f6}.b1{fill:#f59e0b}.b2{fill:#10b981}.b3{fill:#8b5cf6}.b4{fill:#ef4444}.b5{fill:#6b7280}.b6{fill:#14b8a6}
ul.counts{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1.5em}
@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
${INCOMPLETE_CSS}`;

export interface ReportHtmlOptions {
  /** What was read, shown in the page ("3 files", a path …). */
  source: string;
  /** Inputs that could not be read: the page says the report is incomplete. */
  unread?: number;
  generatedAt?: Date;
}

export function renderReportHtml(report: Report, options: ReportHtmlOptions): string {
  const entries = Object.entries(report) as [SummaryName, ReportTable][];
  const total = (t: ReportTable) => t.rows.reduce((n, r) => n + r.count, 0) + t.other;
  const counts = entries.map(([name, table], i) => [`b${i}`, total(table), TITLES[name]] as const);
  const body = [
    `<h1>Audit report</h1>`,
    `<p class="meta">${h(options.source)} · generated ${h((options.generatedAt ?? new Date()).toISOString())} by auditd-parse</p>`,
    incompleteBanner(options.unread ?? 0),
    `<ul class="counts">${counts.map(([, n, label]) => `<li><strong>${n}</strong> ${h(label)}</li>`).join("")}</ul>`,
    svgBar(counts),
    ...entries.map(([name, table]) => section(name, table, total(table))),
  ].join("\n");
  return htmlPage({ title: "auditd-parse report", css: CSS, body });
}

function section(name: SummaryName, table: ReportTable, total: number): string {
  const head = `<h2 id="${name}">${h(TITLES[name])} <span class="meta">(${total} events)</span></h2>`;
  if (table.rows.length === 0) return `${head}\n<p class="note">none</p>`;
  const shown = table.rows.slice(0, ROWS_PER_TABLE);
  const rows = shown.map((r) => {
    const failed = r.key.result === "failed" ? ' class="failed"' : "";
    const cells = table.columns.map((c) => `<td>${h(r.key[c] ?? "")}</td>`).join("");
    return `<tr${failed}><td class="n">${r.count}</td>${cells}<td>${h(r.first)}</td><td>${h(r.last)}</td></tr>`;
  });
  const hidden = table.rows.length - shown.length;
  const note =
    hidden > 0 || table.other > 0
      ? `<p class="note">${hidden > 0 ? `${hidden} more rows not shown (--json has every row)` : ""}${hidden > 0 && table.other > 0 ? "; " : ""}${table.other > 0 ? `${table.other} events past the row bound, counted above` : ""}.</p>`
      : "";
  const header = ["count", ...table.columns, "first", "last"].map((c) => `<th>${h(c)}</th>`).join("");
  return `${head}\n<table><thead><tr>${header}</tr></thead><tbody>\n${rows.join("\n")}\n</tbody></table>${note}`;
}
