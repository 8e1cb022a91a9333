import { ConfigError } from "./errors";

/**
 * `text` in at most `max` UTF-8 bytes (`max` above the marker's 30 or so): when longer, its first bytes up to a
 * character boundary (never half a character) and `… (cut: N more bytes)`, all within `max`. A syslog message
 * is bounded so (log.ts).
 */
export function cutUtf8(text: string, max: number): string {
  if (Buffer.byteLength(text, "utf8") <= max) return text;
  const bytes = Buffer.from(text, "utf8");
  const marker = (cut: number) => `… (cut: ${cut} more bytes)`;
  // The marker's length depends on N: try the fewest digits first (the most text kept), up to N's most.
  for (let digits = 1; ; digits++) {
    let end = Math.max(0, max - Buffer.byteLength(marker(10 ** (digits - 1))));
    // bytes[end] is the first byte left out: while it continues a character, that character goes too.
    while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    const cut = bytes.length - end;
    if (String(cut).length <= digits) return `${bytes.subarray(0, end).toString("utf8")}${marker(cut)}`;
  }
}

/**
 * Text for a terminal with its control characters made visible: an API error, a schedule or user
 * name can carry ESC sequences that would recolour, retitle or rewrite the screen. Newlines and tabs
 * stay (multi-line output); everything else in C0, DEL and C1 becomes \xNN, and the Unicode line
 * separators and format characters (category Cf: the bidi controls, and the invisible ones such as
 * U+200B ZERO WIDTH SPACE or U+FEFF, which make "carol@example.com\u200b" read as a valid address
 * in an error that refuses it) \u{…}.
 */
export function escapeControlChars(text: string): string {
  return escapeFormatChars(
    text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`),
  );
}

/**
 * The Unicode line separators and format characters (category Cf) of `text` as \u{…}, the rest as it is: for text
 * whose C0 and C1 controls are dealt with otherwise (a one-line title with them as spaces).
 */
export function escapeFormatChars(text: string): string {
  return text.replace(/[\u2028\u2029\p{Cf}]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    // U+00AD SOFT HYPHEN, the one below U+0100, as \xNN like the C1 controls beside it
    return code <= 0xff ? `\\x${code.toString(16)}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * One line of a table or list: control characters made visible as escapeControlChars does, and newlines and
 * tabs too — a name holding "\n" must not start a forged row of its own.
 */
export function escapeLine(text: string): string {
  return escapeControlChars(text).replace(/[\n\t]/g, (c) => (c === "\n" ? "\\n" : "\\t"));
}

/** Longest run without a space an error line quotes whole; a longer one is a value, not a path or name. */
const LONG_WORD = 200;

/**
 * Text with every run of more than LONG_WORD non-space characters cut to its first 80 and "…": an error
 * that quotes a config value (a 1 MiB pasted blob as a file name) stays one readable line.
 */
export function shortenLongWords(text: string): string {
  return text.replace(new RegExp(`\\S{${LONG_WORD + 1},}`, "g"), (word) => `${word.slice(0, 80)}…`);
}

/**
 * Encoded JSON with the characters JSON.stringify leaves raw but a terminal acts on (DEL, C1, line
 * and bidi controls) written as \uXXXX escapes: the same data, safe to print. They can only occur
 * inside strings, where the escape is valid JSON.
 */
export function terminalSafeJson(json: string): string {
  return json.replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/**
 * A file's bytes as UTF-8 text, or a ConfigError naming the first line that is not UTF-8: decoding
 * with replacement characters would turn a broken byte into a wrong email or name, silently.
 */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0x0a) continue;
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw new ConfigError(`${what} is not valid UTF-8 (line ${line})`, { hint: "save it as UTF-8" });
  }
}

/**
 * One RFC 4180 CSV cell, one line and safe to cat: control characters, newlines and tabs written visibly as
 * escapeLine does (a CSV is read on a terminal as often as in a spreadsheet; ESC would act there, and a LF,
 * legal in a quoted cell, would show as a forged row); quoted when it holds a quote or comma or starts or ends
 * with a space; a cell a spreadsheet would run as a formula (starting with = + - or @) gets a leading '
 * (OWASP's CSV injection advice), so a directory value or a logged command line stays text.
 */
export function csvCell(value: string): string {
  const line = escapeLine(value);
  const safe = /^[=+\-@]/.test(line) ? `'${line}` : line;
  return /[",]/.test(safe) || safe !== safe.trim() ? `"${safe.replaceAll('"', '""')}"` : safe;
}
