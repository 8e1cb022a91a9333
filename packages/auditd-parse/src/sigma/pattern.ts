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

/**
 * toLowerCase of the last two values asked for: the rules for a record test the same few values one after
 * another (a0 of an EXECVE against 30 rules), and keywords take turns between an EXECVE record's argc and its
 * command line (which may be 300 KB), which the gate (gate.ts) lower-cases too: this saves most of the copies.
 */
let lastValue = "";
let lastLower = "";
let lastValue2 = "";
let lastLower2 = "";
export function lowerCased(v: string): string {
  if (v === lastValue) return lastLower;
  if (v === lastValue2) {
    lastValue2 = lastValue;
    lastValue = v;
    const l = lastLower;
    lastLower = lastLower2;
    lastLower2 = l;
    return lastLower;
  }
  lastValue2 = lastValue;
  lastLower2 = lastLower;
  lastValue = v;
  lastLower = v.toLowerCase();
  return lastLower;
}

/** lowerCased forgets its values (an event's 300 KB command line, kept past its event, was promoted by GC). */
export function forgetLowerCased(): void {
  lastValue = "";
  lastLower = "";
  lastValue2 = "";
  lastLower2 = "";
}

/** A test on one field value. */
export type StringTest = (value: string) => boolean;

/**
 * Compiles a Sigma string to a test: equality, prefix, suffix or substring when its wildcards allow (the
 * common cases, without a regular expression), else an anchored regular expression.
 */
export function compileString(s: SigmaString, cased: boolean): StringTest {
  const norm = (t: string) => (cased ? t : lowerCased(t));
  const inner = s.slice(s[0] === ANY ? 1 : 0, s[s.length - 1] === ANY && s.length > 1 ? -1 : undefined);
  const lead = s[0] === ANY;
  const trail = s.length > 1 && s[s.length - 1] === ANY;
  if (s.length === 0) return (v) => v === "";
  if (s.length === 1 && s[0] === ANY) return () => true;
  if (inner.length === 1 && typeof inner[0] === "string") {
    // the common shapes without a regular expression; case-insensitive ones compare the value's ends only
    const written = inner[0];
    const lit = norm(written);
    const n = lit.length;
    if (lead && trail) return cased ? (v) => v.includes(lit) : (v) => v.length >= n && lowerCased(v).includes(lit);
    if (lead)
      return cased ? (v) => v.endsWith(lit) : (v) => v.length >= n && (v.endsWith(written) || v.slice(v.length - n).toLowerCase() === lit);
    if (trail)
      return cased ? (v) => v.startsWith(lit) : (v) => v.length >= n && (v.startsWith(written) || v.slice(0, n).toLowerCase() === lit);
    return cased ? (v) => v === lit : (v) => v === written || (v.length === n && lowerCased(v) === lit);
  }
  const re = new RegExp(`^${regexSource(s)}$`, cased ? "" : "i");
  return (v) => re.test(v);
}

function regexSource(s: SigmaString): string {
  return s.map((p) => (p === ANY ? "[\\s\\S]*" : p === ONE ? "[\\s\\S]" : p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))).join("");
}

/**
 * Several Sigma strings OR-ed (a list of values): plain values become one set lookup and values with inner
 * wildcards one regular expression, so a rule listing 25 paths costs two tests per record, not 25.
 */
export function compileAnyString(list: readonly SigmaString[], cased: boolean): StringTest {
  if (list.length === 1) return compileString(list[0]!, cased);
  const exact = new Set<string>();
  const patterns: string[] = [];
  const others: StringTest[] = [];
  for (const s of list) {
    if (!hasWildcards(s)) exact.add(cased ? plainText(s) : plainText(s).toLowerCase());
    else if (s.slice(1, -1).some((p) => typeof p !== "string") || s.some((p) => p === ONE)) patterns.push(regexSource(s));
    else others.push(compileString(s, cased));
  }
  if (exact.size > 0) others.unshift(cased ? (v) => exact.has(v) : (v) => exact.has(lowerCased(v)));
  if (patterns.length > 0) {
    const re = new RegExp(`^(?:${patterns.join("|")})$`, cased ? "" : "i");
    others.push((v) => re.test(v));
  }
  if (others.length === 1) return others[0]!;
  return (v) => {
    for (const t of others) if (t(v)) return true;
    return false;
  };
}
