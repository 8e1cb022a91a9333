/**
 * Text from the log made safe for a terminal: a logged command line or name may carry ESC, CR, LF or
 * bidirectional overrides that would rewrite the reader's screen or forge lines. Control characters (C0,
 * DEL, C1) become a backslash and three octal digits, as `ausearch` writes them (`\033`); a backslash
 * itself is doubled so the escape cannot be forged; Unicode bidi controls, line/paragraph separators
 * (U+2028/2029 break lines in some terminals and viewers) and every format or default-ignorable character —
 * zero-width ones, the soft hyphen, tag characters, variation selectors, Hangul fillers, which render as
 * nothing, hide text or make two names look alike (T34 #12), and every space but the plain one (T35 N11) —
 * become `\u202e` (an astral one as its two UTF-16 units, `\udb40\udc41`). JSON output is not touched (JSON
 * escapes control characters itself).
 */
export function escapeControls(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(ESCAPED, escapeOne) : s;
}

// and every space but U+0020 (no-break, figure, ideographic …) and the blank Braille cell, which read as a plain
// space or as nothing: `ls\u00a0-la` is no `ls -la` (T35 N11)
const ESCAPE_CLASS = String.raw`[\x00-\x1f\x7f-\x9f\\\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u2800\u3000\p{Cf}\p{Default_Ignorable_Code_Point}]`;
const NEEDS_ESCAPE = new RegExp(ESCAPE_CLASS, "u");
const ESCAPED = new RegExp(ESCAPE_CLASS, "gu");

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
  if (code <= 0x9f) return `\\${code.toString(8).padStart(3, "0")}`;
  let units = "";
  for (let i = 0; i < c.length; i++) units += `\\u${c.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return units;
}
