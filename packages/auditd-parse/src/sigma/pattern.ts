/**
 * Sigma string values: wildcards, escapes and case-insensitive matching, as the specification defines them
 * (sigma-specification, specification/sigma-rules-specification.md, "String Wildcard" and "Escape Character":
 * `*` any run, `?` one character, a backslash escapes `*`, `?` and itself; matching is case-insensitive
 * unless the `cased` modifier says otherwise).
 */

/** One piece of a Sigma string: literal text or a wildcard. */
export type Piece = string | typeof ANY | typeof ONE;
export const ANY = Symbol("*");
export const ONE = Symbol("?");

/** A Sigma string value split into literal text and wildcards. */
export type SigmaString = Piece[];

/** Reads a rule's string with Sigma's escapes: `\*` `\?` `\\` are literal, a lone `\` stays a backslash. */
export function parseSigmaString(text: string): SigmaString {
  const out: SigmaString = [];
  let lit = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\\") {
      const next = text[i + 1];
      if (next === "*" || next === "?" || next === "\\") {
        lit += next;
        i++;
      } else lit += c;
    } else if (c === "*" || c === "?") {
      if (lit) out.push(lit);
      lit = "";
      out.push(c === "*" ? ANY : ONE);
    } else lit += c;
  }
  if (lit) out.push(lit);
  return out;
}

export function hasWildcards(s: SigmaString): boolean {
  return s.some((p) => typeof p !== "string");
}

/** The literal text of a wildcard-free string (the encoding modifiers need one). */
export function plainText(s: SigmaString): string {
  return s.map((p) => (typeof p === "string" ? p : "")).join("");
}

/** A test on one field value. */
export type StringTest = (value: string) => boolean;

/**
 * Compiles a Sigma string to a test: equality, prefix, suffix or substring when its wildcards allow (the
 * common cases, without a regular expression), else an anchored regular expression.
 */
export function compileString(s: SigmaString, cased: boolean): StringTest {
  const norm = (t: string) => (cased ? t : t.toLowerCase());
  const inner = s.slice(s[0] === ANY ? 1 : 0, s[s.length - 1] === ANY && s.length > 1 ? -1 : undefined);
  const lead = s[0] === ANY;
  const trail = s.length > 1 && s[s.length - 1] === ANY;
  if (s.length === 0) return (v) => v === "";
  if (s.length === 1 && s[0] === ANY) return () => true;
  if (inner.length === 1 && typeof inner[0] === "string") {
    const lit = norm(inner[0]);
    if (lead && trail) return (v) => norm(v).includes(lit);
    if (lead) return (v) => norm(v).endsWith(lit);
    if (trail) return (v) => norm(v).startsWith(lit);
    return cased ? (v) => v === lit : (v) => v.length === lit.length && v.toLowerCase() === lit;
  }
  const source = s.map((p) => (p === ANY ? "[\\s\\S]*" : p === ONE ? "[\\s\\S]" : p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))).join("");
  const re = new RegExp(`^${source}$`, cased ? "" : "i");
  return (v) => re.test(v);
}
