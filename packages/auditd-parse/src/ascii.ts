/** Byte values of the ASCII characters the parsers look for. */
export const GS = 0x1d;
export const SPACE = 32;
export const DQUOTE = 34;
export const SQUOTE = 39;
export const LPAREN = 40;
export const RPAREN = 41;
export const COMMA = 44;
export const DASH = 45;
export const DOT = 46;
export const COLON = 58;
export const LESS_THAN = 60;
export const EQUALS = 61;
export const GREATER_THAN = 62;
/** An ISO 8601 date-time's `T`. */
export const LETTER_T = 84;
export const BACKSLASH = 92;
export const LBRACE = 123;
export const RBRACE = 125;

/** Whether b[from, to) is all ASCII (no byte past 0x7f). */
export function ascii(b: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i]! >= 128) return false;
  return true;
}
