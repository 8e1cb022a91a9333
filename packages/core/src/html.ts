import { escapeControlChars } from "./text";

// Re-exported for pages that compare against what escapeHtml shows (a filter's values), without loading all of core.
export { escapeControlChars };

/**
 * Self-contained HTML reports (issue #25): what every tool's `--format html` shares. Everything a report shows
 * comes from outside (PR titles, user names, command lines, file names), so text goes through escapeHtml, data
 * for the page's script through jsonForScript, and the page's Content-Security-Policy allows only its own
 * style and script (by hash): an injected <script>, inline handler or remote load would not run even if some
 * escape were missed. No network: default-src 'none' also stops images, fonts and fetches.
 */

/** Text for an HTML text node or a quoted attribute value: control and bidi characters made visible, then & < > " ' escaped. */
export function escapeHtml(text: string): string {
  return escapeControlChars(text).replace(/[&<>"']/g, (c) => ENTITY[c]!);
}

const ENTITY: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * JSON for a <script type="application/json"> element: `<`, `>` and `&` as \u escapes (so `</script>` or
 * `<!--` in a value cannot end or change the element), and U+2028/2029 too (old parsers end a line there).
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

export interface HtmlPage {
  title: string;
  css: string;
  body: string;
  /** The page's one inline script, if any (no inline handlers: the CSP would block them). */
  script?: string;
}

/** A whole page with a strict CSP: only this style and this script (by SHA-256) may apply. */
export function htmlPage(page: HtmlPage): string {
  const csp = [
    "default-src 'none'",
    `style-src '${sha256(page.css)}'`,
    page.script ? `script-src '${sha256(page.script)}'` : "script-src 'none'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(page.title)}</title>`,
    `<style>${page.css}</style>`,
    "</head>",
    "<body>",
    page.body,
    page.script ? `<script>${page.script}</script>` : "",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

// node:crypto loaded here, not imported: a bin that bundles this module paid ~7.5 M instructions to load it at each start.
function sha256(text: string): string {
  return `sha256-${process.getBuiltinModule("node:crypto").createHash("sha256").update(text, "utf8").digest("base64")}`;
}

/**
 * A horizontal bar of parts as an inline SVG: widths are SVG attributes, not style="" (which a strict CSP
 * refuses), and it prints. `parts` are [css class, count, label].
 */
export function svgBar(parts: readonly (readonly [string, number, string])[]): string {
  const total = parts.reduce((n, [, count]) => n + count, 0);
  if (total === 0) return "";
  let x = 0;
  const rects = parts
    .filter(([, count]) => count > 0)
    .map(([cls, count, label]) => {
      const w = (100 * count) / total;
      const rect = `<rect class="${escapeHtml(cls)}" x="${x.toFixed(3)}%" y="0" width="${w.toFixed(3)}%" height="100%"><title>${escapeHtml(`${count} ${label}`)}</title></rect>`;
      x += w;
      return rect;
    });
  return `<svg class="bar" width="100%" height="18" role="img" aria-label="summary bar">${rects.join("")}</svg>`;
}
