import { escapeHtml as h, htmlPage, svgBar } from "@opsguard/core";
import { type ChangeTerms, changeTerms } from "../association";
import type { ChangeRecord, Report, Verdict } from "../record";
import { approversOf, type ChangeGroup, groupRecords, NOT_JUDGED, noPullText, plural, titleOf } from "./groups";
import { httpUrl } from "./url";

/** Results GitHub counts as passing for a required check (as the Markdown report). */
const PASS = new Set(["success", "neutral", "skipped"]);

const VERDICTS: readonly Verdict[] = ["compliant", "exempt", "emergency", "noncompliant", "unverified"];

export interface HtmlOptions {
  blocked: boolean;
  /** "retro": the emergency changes only, with where their after-the-fact review stands. */
  kind?: "check" | "retro";
}

/**
 * `--format html`: the report as one self-contained page for an auditor (no network, prints to PDF). It is
 * rendered from the same Report object as `--format json`, so the two cannot disagree: every record is one
 * row carrying its full SHA and verdict (data-sha, data-verdict), and the summary counts are the report's.
 */
export function renderHtml(report: Report, options: HtmlOptions): string {
  const s = report.summary;
  const terms = changeTerms(report.provider);
  const retro = options.kind === "retro";
  const outcome = options.blocked
    ? "deploy blocked"
    : s.unverified > 0
      ? "not blocked: unverified changes let through (--allow-unverified)"
      : "compliant";
  const title = `sock-check${retro ? " retro" : ""}: ${report.repo} ${report.range.from.slice(0, 7)}..${report.range.to.slice(0, 7)}`;
  const groups = groupRecords(report.records);
  const overdue = groups.filter((g) => g.first.emergency?.status === "overdue").length;
  const body = [
    `<header><h1>${h(title)}</h1>`,
    retro
      ? `<p class="outcome ${overdue > 0 ? "bad" : "good"}">${h(`${plural(groups.length, "emergency change")}: ${overdue} overdue for retroactive review`)}</p>`
      : `<p class="outcome ${options.blocked ? "bad" : s.unverified > 0 ? "warn" : "good"}">${h(outcome)}</p>`,
    '<dl class="meta">',
    `<dt>Repository</dt><dd>${h(report.repo)}</dd>`,
    `<dt>Range</dt><dd><code>${h(report.range.from)}</code> .. <code>${h(report.range.to)}</code> (${h(report.range.mode)})</dd>`,
    `<dt>Policy</dt><dd><code>${h(report.policy_source)}</code></dd>`,
    `<dt>Generated</dt><dd>${h(report.generated_at)} by sock-check ${h(report.tool_version)}</dd>`,
    "</dl></header>",
    `<section class="summary"><h2>Summary: ${h(plural(s.commits, "commit"))} in ${h(plural(s.pulls, terms.kind))}</h2>`,
    `<ul class="counts">${VERDICTS.map((v) => `<li class="${v}"><span class="n" data-count="${v}">${s[v]}</span> ${v}</li>`).join("")}</ul>`,
    svgBar(VERDICTS.map((v) => [v, s[v], v] as const)),
    "</section>",
    groups.length === 0 ? `<p>${retro ? "No emergency changes in this range." : "No changes in this range."}</p>` : "",
    ...groups.map((g) => renderGroup(g, terms)),
  ].join("\n");
  return htmlPage({ title, css: CSS, body });
}

function renderGroup(g: ChangeGroup, terms: ChangeTerms): string {
  const r = g.first;
  const heading = r.pr
    ? `<a href="${h(httpUrl(r.pr.url) ?? "#")}" rel="noreferrer">${terms.number(r.pr.number)}</a> ${h(titleOf(g))}`
    : `<code>${h(r.commit.sha.slice(0, 12))}</code> ${h(r.commit.subject)} <em>(${r.verdict === "unverified" ? noPullText(r, terms.kind) : `no ${terms.kind}: direct push`})</em>`;
  const e = r.emergency;
  const emergency = e
    ? `<p class="emergency ${e.status}">${h(
        e.status === "done"
          ? `emergency change: retroactive review by ${e.retro_reviewer ?? "?"} at ${e.retro_reviewed_at ?? "?"}`
          : e.status === "pending"
            ? `emergency change: retroactive review due by ${e.due_at}`
            : `emergency change: retroactive review OVERDUE since ${e.due_at}`,
      )}</p>`
    : "";
  const violations =
    g.violations.length > 0
      ? `<ul class="violations">${g.violations.map((v) => `<li><code>${h(v.rule)}</code> ${h(v.message)}</li>`).join("")}</ul>`
      : "";
  return [
    `<section class="change ${g.verdict}" data-verdict="${g.verdict}">`,
    `<h3><span class="verdict ${g.verdict}">${g.verdict}</span> ${heading}</h3>`,
    `<p class="who">author ${h(r.pr?.author ?? r.commit.author.login ?? r.commit.author.email ?? "?")}${r.pr?.merged_by ? `, merged by ${h(r.pr.merged_by)}` : ""}${r.verdict === "unverified" && r.pr ? ` · ${NOT_JUDGED}` : ` · approved by ${h(approversOf(r).join(", ") || "nobody")} · ticket ${h(r.tickets.join(", ") || "none")}`}${r.exemption ? ` · exempt: ${h(r.exemption)}` : ""}</p>`,
    emergency,
    violations,
    renderChecks(r),
    '<table class="commits"><thead><tr><th>Commit</th><th>Subject</th><th>Signed</th><th>Verdict</th></tr></thead><tbody>',
    ...g.records.map(
      (c) =>
        `<tr class="commit ${c.verdict}" data-sha="${h(c.commit.sha)}" data-verdict="${c.verdict}"><td><code>${h(c.commit.sha)}</code></td><td>${h(c.commit.subject)}</td><td>${c.commit.signed === null ? "?" : c.commit.signed ? "yes" : "no"}</td><td class="verdict ${c.verdict}">${c.verdict}</td></tr>`,
    ),
    "</tbody></table>",
    "</section>",
  ].join("\n");
}

function renderChecks(r: ChangeRecord): string {
  if (r.checks.length === 0) return '<p class="checks none">no checks reported</p>';
  const rows = r.checks.map((c) => {
    // A result that does not count for the required check of its name stands out as that check missing would.
    const cls = c.note ? "fail" : PASS.has(c.state) ? "pass" : c.state === "pending" ? "pending" : "fail";
    return `<tr class="${cls}"><td>${h(c.name)}${c.kind === "status" ? " (status)" : ""}${c.required ? " <em>required</em>" : ""}${c.note ? ` <em>does not count: ${h(c.note)}</em>` : ""}</td><td>${h(c.app ?? "?")}</td><td><code>${h(c.sha.slice(0, 12))}</code></td><td>${h(c.state)}</td></tr>`;
  });
  return `<table class="checks"><thead><tr><th>Check</th><th>App</th><th>SHA</th><th>Conclusion</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/**
 * The page's one style (htmlPage hashes it into the CSP, so an edit here keeps the hash in step). Titles, logins,
 * branch and check names are the provider's and may be one unbroken 100k-character token: overflow-wrap:anywhere
 * lets any of them break anywhere, and counts those breaks in a table cell's minimum width, so the page stays as
 * wide as the window (and the PDF as wide as the paper) instead of a million pixels.
 */
const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#1b1b1b;overflow-wrap:anywhere}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em}h3{font-size:1em;margin:.2em 0}
code{font:12px ui-monospace,monospace;word-break:break-all}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em}.meta dt{font-weight:600}.meta dd{margin:0}
.outcome{font-weight:700;padding:.3em .6em;display:inline-block;border-radius:3px}
.outcome.good{background:#dff3e3}.outcome.warn{background:#fff3cd}.outcome.bad{background:#f8d7da}
.counts{list-style:none;padding:0;display:flex;gap:1.2em;flex-wrap:wrap}.counts .n{font-weight:700;font-size:1.2em}
.bar{display:block;border:1px solid #999;border-radius:2px}
rect.compliant{fill:#2e7d32}rect.exempt{fill:#0277bd}rect.emergency{fill:#f9a825}rect.noncompliant{fill:#c62828}rect.unverified{fill:#8e24aa}
.change{border:1px solid #ccc;border-left:6px solid #2e7d32;margin:1em 0;padding:.5em .8em;break-inside:avoid}
.change.exempt{border-left-color:#0277bd}.change.emergency{border-left-color:#f9a825}
.change.noncompliant{border-left-color:#c62828;background:#fff5f5}.change.unverified{border-left-color:#8e24aa;background:#fbf5fc}
.verdict{font-weight:700;text-transform:uppercase;font-size:.85em}
.verdict.noncompliant{color:#c62828}.verdict.unverified{color:#8e24aa}.verdict.emergency{color:#9a6700}.verdict.exempt{color:#0277bd}.verdict.compliant{color:#2e7d32}
.violations{background:#f8d7da;border:1px solid #c62828;padding:.4em .4em .4em 1.8em;margin:.4em 0}
.emergency.overdue{background:#c62828;color:#fff;font-weight:700;padding:.3em .6em}
.emergency.pending{background:#fff3cd;padding:.3em .6em}.emergency.done{color:#2e7d32}
table{border-collapse:collapse;width:100%;margin:.4em 0}th,td{border:1px solid #ddd;padding:.2em .4em;text-align:left;vertical-align:top}
th{background:#f3f3f3}tr.fail td{background:#f8d7da}tr.pending td{background:#fff3cd}
.who{margin:.2em 0;color:#444}
@media print{body{margin:0;max-width:none;font-size:11px}a{color:inherit;text-decoration:none}
.change,.violations,.emergency.overdue,th,tr.fail td,.outcome,rect{print-color-adjust:exact;-webkit-print-color-adjust:exact}
thead{display:table-header-group}tr{break-inside:avoid}}
`;
