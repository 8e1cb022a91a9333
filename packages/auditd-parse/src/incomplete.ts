import { escapeHtml as h } from "@opsguard/core/html";

/**
 * What a run that could not read every input says in its output, so a partial result never looks whole:
 * one wording for the sessions page and timeline, the report page and the readable report (the stderr line and exit
 * 65 says it too, but a page or a report file is read later, without either). JSON keeps its shape. A run
 * that could read nothing (66) writes no output at all.
 */
export function incompleteText(unread: number, where: "follows" | "precedes" = "follows"): string {
  return `incomplete: ${unread} input(s) could not be read whole (named on stderr); what ${where} covers only what was read.`;
}

/** The pages' banner at the top, empty for a whole run; INCOMPLETE_CSS styles it (a page's CSP admits its CSS by hash). */
export function incompleteBanner(unread: number): string {
  return unread > 0 ? `<p class="incomplete" id="incomplete" role="alert">${h(incompleteText(unread))}</p>` : "";
}

export const INCOMPLETE_CSS =
  ".incomplete{background:#fde8e8;border:2px solid #b71c1c;color:#b71c1c;font-weight:700;padding:.5em .8em;margin:.6em 0}";
