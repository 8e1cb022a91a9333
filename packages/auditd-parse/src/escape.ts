/**
 * Text from the log made safe for a terminal: a logged command line or name may carry ESC, CR, LF or
 * bidirectional overrides that would rewrite the reader's screen or forge lines. Control characters (C0,
 * DEL, C1) become a backslash and three octal digits, as `ausearch` writes them (`\033`); a backslash
 * itself is doubled so the escape cannot be forged; Unicode bidi controls become `\u202e`. JSON output is
 * not touched (JSON escapes control characters itself).
 */
export function escapeControls(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, escapeOne) : s;
}

const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const ESCAPED = /[\x00-\x1f\x7f-\x9f\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escapeOne(c: string): string {
  const code = c.charCodeAt(0);
  if (c === "\\") return "\\\\";
  if (code <= 0xff) return `\\${code.toString(8).padStart(3, "0")}`;
  return `\\u${code.toString(16).padStart(4, "0")}`;
}
