/**
 * Text from the log made safe for a terminal: a logged command line or name may carry ESC, CR, LF or
 * bidirectional overrides that would rewrite the reader's screen or forge lines. Control characters (C0,
 * DEL, C1) become a backslash and three octal digits, as `ausearch` writes them (`\033`); a backslash
 * itself is doubled so the escape cannot be forged; Unicode bidi controls, line/paragraph separators
 * (U+2028/2029 break lines in some terminals and viewers) and zero-width characters (which hide text or make
 * two names look alike) become `\u202e`. JSON output is not touched (JSON escapes control characters itself).
 */
export function escapeControls(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, escapeOne) : s;
}

const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\\\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
const ESCAPED = /[\x00-\x1f\x7f-\x9f\\\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** One character of escapeControls() output: an escape (`\\`, `\033`, `\u202e`) or a character. */
const UNIT = /\\(?:\\|[0-7]{3}|u[0-9a-f]{4})|[\s\S]/g;

/** The first units of escaped text that fit in `width` characters: never half an escape. */
export function escapedPrefix(escaped: string, width: number): string {
  let out = "";
  for (const unit of escaped.match(UNIT) ?? []) {
    if (out.length + unit.length > width) break;
    out += unit;
  }
  return out;
}

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  if (c === "\\") return "\\\\";
  if (code <= 0xff) return `\\${code.toString(8).padStart(3, "0")}`;
  return `\\u${code.toString(16).padStart(4, "0")}`;
}
