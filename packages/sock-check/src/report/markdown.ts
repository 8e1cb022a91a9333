import { escapeFormatChars } from "@opsguard/core/text";
import { changeTerms } from "../association";
import type { Report, Verdict } from "../record";
import { approversOf, groupRecords, noPullText, plural, titleOf } from "./groups";
import { httpUrl } from "./url";

/** Results GitHub counts as passing for a required check. */
const PASS = new Set(["success", "neutral", "skipped"]);

const ICON: Record<Verdict, string> = { compliant: "✅", exempt: "☑️", emergency: "⚠️", noncompliant: "❌", unverified: "❓" };

/** Markdown for $GITHUB_STEP_SUMMARY, MR comments and chat. Every untrusted string is escaped. */
export function renderMarkdown(report: Report, options: { blocked: boolean }): string {
  const s = report.summary;
  const terms = changeTerms(report.provider);
  const out: string[] = [];
  // Not blocked is not the same as compliant: --allow-unverified lets unverified changes through, flagged.
  const outcome = options.blocked
    ? "❌ deploy blocked"
    : s.unverified > 0
      ? `⚠️ not blocked: ${plural(s.unverified, "commit")} unverified (--allow-unverified)`
      : "✅ compliant";
  out.push(`### sock-check: ${outcome}`);
  out.push("");
  out.push(
    `${md(report.repo)} \`${report.range.from.slice(0, 12)}..${report.range.to.slice(0, 12)}\` (${report.range.mode}): ` +
      `${plural(s.commits, "commit")} in ${plural(s.pulls, terms.kind)} — ${s.compliant} compliant, ${s.exempt} exempt, ` +
      `${s.emergency} emergency, ${s.noncompliant} noncompliant, ${s.unverified} unverified.`,
  );
  out.push("");
  out.push("| | Change | Author | Approved by | Checks | Ticket | Verdict |");
  out.push("|---|---|---|---|---|---|---|");
  const groups = groupRecords(report.records);
  for (const g of groups) {
    const r = g.first;
    const change = r.pr
      ? `${prLink(terms.number(r.pr.number), r.pr.url)} ${md(titleOf(g))}`
      : `\`${r.commit.sha.slice(0, 7)}\` ${md(r.commit.subject)} (${noPullText(r, terms.kind)})`;
    const author = md(r.pr?.author ?? r.commit.author.login ?? r.commit.author.email ?? "?");
    // skipped/neutral pass unless the policy says otherwise; the verdict column says when they did not. A result
    // that does not count for the required check of its name (another account's status) gets no tick.
    const checks =
      r.checks
        .map(
          (c) =>
            `${md(c.name)}${c.kind === "status" ? " (status)" : ""} ${c.note ? md(`${c.state}, does not count: ${c.note}`) : c.state === "success" ? "✓" : PASS.has(c.state) ? `✓ ${c.state}` : `✗ ${c.state}`}`,
        )
        .join(", ") || "—";
    const verdict =
      g.violations.length > 0
        ? g.violations.map((v) => md(v.message)).join("; ")
        : r.emergency
          ? `emergency (${r.emergency.status})`
          : g.verdict;
    out.push(
      `| ${ICON[g.verdict]} | ${change} | ${author} | ${md(approversOf(r).join(", ")) || "—"} | ${checks} | ${md(r.tickets.join(", ")) || "—"} | ${verdict} |`,
    );
  }
  out.push("");
  out.push(`<sub>sock-check ${md(report.tool_version)} · policy ${md(report.policy_source)} · ${report.generated_at}</sub>`);
  return `${out.join("\n")}\n`;
}

/** `[#N](url)` (GitLab: `[!N](url)`) for an http(s) URL, else plain `#N`: a `javascript:` link must never reach a reviewer. */
function prLink(number: string, url: string): string {
  const href = httpUrl(url);
  // Brackets, backslashes and pipes a URL may keep would end the link or the table cell early: percent-encode them.
  return href
    ? `[${number}](${href.replace(/[()[\]\\|<> `]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)})`
    : md(number);
}

/** Escapes Markdown and HTML so a PR title cannot add links, images, mentions or break the table. */
export function md(text: string): string {
  return (
    escapeFormatChars(text)
      // Line breaks would end the table row; other control characters (ESC ...) have no place in a report.
      .replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ")
      .replace(/[\\`*_{}[\]()<>#+!|~@]/g, "\\$&")
      .trim()
  );
}
