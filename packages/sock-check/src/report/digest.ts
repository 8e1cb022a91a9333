import type { CliContext } from "@opsguard/core";
import { escapeFormatChars } from "@opsguard/core/text";
import { type ChangeTerms, changeTerms } from "../association";
import type { CheckRecord, Report, Verdict } from "../record";
import { approversOf, type ChangeGroup, groupRecords, NOT_JUDGED, noPullText, plural, titleOf } from "./groups";

type ChalkInstance = CliContext["style"];

const MARK: Record<Verdict, string> = { compliant: "✓", exempt: "~", emergency: "!", noncompliant: "✗", unverified: "?" };

/** The terminal digest: one block per PR, worst first, and a summary line. Colour only when `style` has it. */
export function renderDigest(report: Report, style: ChalkInstance, options: { blocked: boolean }): string {
  const colour: Record<Verdict, (s: string) => string> = {
    compliant: style.green,
    exempt: style.cyan,
    emergency: style.yellow,
    noncompliant: style.red,
    unverified: style.magenta,
  };
  const lines: string[] = [];
  const { range } = report;
  const terms = changeTerms(report.provider);
  lines.push(
    style.bold(
      `${oneLine(report.repo)} ${range.from.slice(0, 7)}..${range.to.slice(0, 7)} (${range.mode}): ${plural(report.summary.commits, "commit")} in ${plural(report.summary.pulls, terms.kind)}`,
    ),
  );
  lines.push(style.dim(`policy: ${oneLine(report.policy_source)}`));
  for (const group of groupRecords(report.records)) {
    lines.push("");
    lines.push(`${colour[group.verdict](MARK[group.verdict])} ${headline(group, style, terms)}`);
    const detail = details(group, style);
    if (detail) lines.push(`    ${detail}`);
    for (const v of group.violations) lines.push(`    ${colour[group.verdict]("✗")} ${v.rule}: ${oneLine(v.message)}`);
  }
  const s = report.summary;
  const counts = [
    `${s.compliant} compliant`,
    `${s.exempt} exempt`,
    `${s.emergency} emergency`,
    `${s.noncompliant} noncompliant`,
    `${s.unverified} unverified`,
  ].join(", ");
  // Not blocked is not the same as compliant: under --allow-unverified the line says what the Markdown summary says.
  const outcome = options.blocked
    ? style.red.bold("BLOCKED")
    : s.unverified > 0
      ? style.yellow.bold(`not blocked: ${plural(s.unverified, "commit")} unverified (--allow-unverified)`)
      : style.green.bold("OK to deploy");
  lines.push("");
  lines.push(`${plural(s.commits, "commit")}, ${plural(s.pulls, terms.kind)}: ${counts} — ${outcome}`);
  return `${lines.join("\n")}\n`;
}

function headline(group: ChangeGroup, style: ChalkInstance, terms: ChangeTerms): string {
  const r = group.first;
  const tags: string[] = [];
  if (r.emergency) {
    tags.push(
      r.emergency.status === "done"
        ? `emergency, retro review by ${oneLine(r.emergency.retro_reviewer ?? "?")}`
        : r.emergency.status === "pending"
          ? `emergency: needs retroactive review by ${oneLine(r.emergency.due_at)}`
          : "emergency: retroactive review OVERDUE",
    );
  }
  if (r.exemption) tags.push(`exempt: ${oneLine(r.exemption)}`);
  const suffix = tags.length > 0 ? ` ${style.yellow(`[${tags.join("; ")}]`)}` : "";
  if (r.pr) {
    const commits = group.records.length > 1 ? style.dim(` (${group.records.length} commits)`) : "";
    return `${style.bold(terms.number(r.pr.number))} ${oneLine(titleOf(group))}${commits}${suffix}`;
  }
  return `${style.bold(r.commit.sha.slice(0, 7))} ${oneLine(r.commit.subject)} ${style.dim(`(${noPullText(r, terms.kind)})`)}${suffix}`;
}

function details(group: ChangeGroup, style: ChalkInstance): string {
  const r = group.first;
  if (!r.pr) {
    const who = r.commit.author.login ?? r.commit.author.email ?? r.commit.author.name ?? "?";
    return r.verdict === "unverified" ? "" : `author ${oneLine(who)}`;
  }
  if (r.verdict === "unverified") return [`author ${oneLine(r.pr.author ?? "?")}`, NOT_JUDGED].join(style.dim(" · "));
  const approvers = approversOf(r);
  const parts = [
    `author ${oneLine(r.pr.author ?? "?")}`,
    `approved by ${approvers.length > 0 ? oneLine(approvers.join(", ")) : "—"}`,
    `checks ${r.checks.length > 0 ? r.checks.map((c) => checkText(c, r.checks, style)).join(" ") : "—"}`,
    `ticket ${r.tickets.length > 0 ? oneLine(r.tickets.join(", ")) : "—"}`,
  ];
  return parts.join(style.dim(" · "));
}

function checkText(check: CheckRecord, all: readonly CheckRecord[], style: ChalkInstance): string {
  // Skipped and neutral pass a required check (as on GitHub); say which, so a skipped build is not read as a green one.
  // A result that does not count for the required check of its name (another account's status) gets no tick at all.
  const mark = check.note
    ? style.yellow(`(${oneLine(check.state)}, does not count: ${oneLine(check.note)})`)
    : check.state === "success"
      ? style.green("✓")
      : ["neutral", "skipped"].includes(check.state)
        ? `${style.green("✓")}${style.dim(`(${check.state})`)}`
        : check.state === "pending"
          ? style.yellow("…")
          : style.red("✗");
  // A check run and a commit status may share a name; both count, so tell them apart.
  const twin = all.some((c) => c !== check && c.name === check.name && c.kind !== check.kind);
  return `${oneLine(check.name)}${twin && check.kind === "status" ? style.dim("[status]") : ""}${mark}`;
}

/**
 * Every string the provider or the PR supplies (titles, logins, check names, tickets) goes through here: no
 * newline or terminal escape (an OSC retitling the CI log, a CSI clearing it) reaches the terminal.
 */
export function oneLine(text: string): string {
  // bidi controls and the other invisible format characters reorder, break or hide what a reader sees (a title with
  // U+202E shows its tail backwards): written as \u{…} (core), so the title reads as it is and the change is visible
  return escapeFormatChars(text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim());
}
