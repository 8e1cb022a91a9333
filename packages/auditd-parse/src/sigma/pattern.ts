/**
 * Sigma string values: wildcards, escapes and case-insensitive matching, as the specification defines them
 * (sigma-specification, specification/sigma-rules-specification.md, "String Wildcard" and "Escape Character":
 * `*` any run, `?` one character, a backslash escapes `*`, `?` and itself; matching is case-insensitive
 * unless the `cased` modifier says otherwise).
 */

import { enableLinearTime, foldLiteral } from "./regex-safety";

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

/**
 * lowerCased forgets its values, and the command line (line) its arguments: an event's 300 KB command line,
 * kept past its event, was promoted by GC.
 */
export function forgetLowerCased(): void {
  lastValue = "";
  lastLower = "";
  lastValue2 = "";
  lastLower2 = "";
  line = undefined;
  lineId++;
  linePieces = NO_PIECES;
  lineForms = undefined;
  lineAnswers.clear();
}

/**
 * The command line from which keywords are searched in its arguments (LONG_LINE characters or more): an exec
 * of 600 arguments joined was a 250-400 KB string, and lower-cased another, per event — allocations of that
 * size go to V8's large-object space, mapped and faulted in page by page, and cost more than the search
 * itself (join 0.48 ms, toLowerCase 0.45, the gate's scan 0.12 per 140 KB, micro-benchmark). Shorter lines are
 * joined as before.
 */
export const LONG_LINE = 16 * 1024;

const NO_PIECES: readonly string[] = [];
/** The long command line being matched, as V8 keeps `a + " " + b`: a rope, flattened only if something reads it. */
let line: string | undefined;
/** Which line it is (LineSearch's memo compares this, not two ropes of maybe equal length by their text). */
let lineId = 0;
let linePieces = NO_PIECES;
/** Per argument, the text searched case-insensitively for ASCII literals: itself if ASCII, else lower-cased. */
let lineForms: string[] | undefined;
/** Literals (lower-case ASCII, no space) the line is known to hold, or not. */
const lineAnswers = new Map<string, boolean>();

/**
 * argv joined by spaces, for keywords to search. A long one is a rope that lineHolds and LineSearch answer for
 * from its arguments: a literal without a space that the lower-cased line holds lies within one argument
 * (a space separates them), and toLowerCase of the joined text is its pieces' lower-cased and joined.
 */
export function commandLine(argv: readonly string[]): string {
  let length = argv.length - 1;
  for (let i = 0; i < argv.length; i++) length += argv[i]!.length;
  if (length < LONG_LINE) return argv.join(" ");
  let text = argv[0]!;
  for (let i = 1; i < argv.length; i++) text = `${text} ${argv[i]!}`;
  line = text;
  lineId++;
  linePieces = argv;
  lineForms = undefined;
  lineAnswers.clear();
  return text;
}

/** Whether a literal is searched in the line's arguments rather than in its lower-cased copy (see commandLine). */
function pieceWise(lit: string): boolean {
  return lit !== "" && !lit.includes(" ") && /^[\x00-\x7f]*$/.test(lit) && lit === lit.toLowerCase();
}

/**
 * The arguments as searched: an ASCII one as it is (a case-insensitive expression folds A-Z alone, as
 * toLowerCase does ASCII), another lower-cased (its letters beyond ASCII may lower-case to ASCII: the Kelvin
 * sign to "k", "İ" to "i" and a dot), where such an expression finds exactly what includes() would.
 */
function forms(): string[] {
  if (lineForms === undefined) {
    lineForms = [];
    for (const piece of linePieces) lineForms.push(NOT_ASCII.test(piece) ? piece.toLowerCase() : piece);
  }
  return lineForms;
}
const NOT_ASCII = /[^\x00-\x7f]/;

/** lowerCased(line).includes(lit) for a pieceWise literal, from the arguments (remembered per line). */
function lineHolds(lit: string): boolean {
  const known = lineAnswers.get(lit);
  if (known !== undefined) return known;
  let re = literalRes.get(lit);
  if (re === undefined) {
    re = new RegExp(escapeRegExp(lit), "i");
    // bounded: each rule's literals are few, but a rule set is compiled per run and tests compile thousands
    if (literalRes.size >= 1024) literalRes.clear();
    literalRes.set(lit, re);
  }
  let holds = false;
  for (const form of forms()) {
    if (form.length >= lit.length && re.test(form)) {
      holds = true;
      break;
    }
  }
  lineAnswers.set(lit, holds);
  return holds;
}
const literalRes = new Map<string, RegExp>();

/** A literal as a regular expression source that matches exactly it. */
export function escapeRegExp(lit: string): string {
  return lit.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/**
 * Several literals looked for in the long command line at once (the gate's keyword substrings): one scan of
 * each argument by an alternation, longest first, resumed one character after each match, so a literal
 * starting inside another is found too, and each match gives the literals it holds.
 */
export class LineSearch {
  private readonly any: RegExp;
  private readonly held = new Map<string, string[]>();
  private readonly lits: readonly string[];
  private searched = -1;
  private readonly found = new Set<string>();

  /** undefined when a literal is not pieceWise: such a set is searched in the lower-cased line, as before. */
  static of(lits: readonly string[]): LineSearch | undefined {
    return lits.length > 0 && lits.every(pieceWise) ? new LineSearch(lits) : undefined;
  }

  private constructor(lits: readonly string[]) {
    this.lits = lits;
    const longestFirst = [...lits].sort((a, b) => b.length - a.length);
    this.any = new RegExp(longestFirst.map(escapeRegExp).join("|"), "gi");
    for (const [lit, parent] of longestPrefixes(lits)) this.held.set(lit, parent === undefined ? [lit] : [lit, ...this.held.get(parent)!]);
  }

  /** The literals lowerCased(v) holds, when v is the long command line; undefined for any other value. */
  foundIn(v: string): ReadonlySet<string> | undefined {
    if (v !== line) return undefined;
    if (this.searched === lineId) return this.found;
    const found = this.found;
    found.clear();
    const any = this.any;
    for (const form of forms()) {
      any.lastIndex = 0;
      for (let m = any.exec(form); m !== null; m = any.exec(form)) {
        for (const lit of this.held.get(m[0].toLowerCase())!) found.add(lit);
        any.lastIndex = m.index + 1;
      }
    }
    // what was looked for is known for the full tests too (lineHolds)
    for (const lit of this.lits) lineAnswers.set(lit, found.has(lit));
    this.searched = lineId;
    return found;
  }
}

/**
 * Each literal with the longest other literal that is a prefix of it (undefined: none), a literal after its
 * prefixes. The scans by a longest-first alternation (LineSearch, gate.ts's FieldIndex) visit every place where
 * a literal starts and find the longest there, so the shorter ones starting there, its prefixes, are all they
 * miss. Sorted, a literal's prefixes come before it, and the literals between hold them too: one stack of
 * prefixes finds them all in time linear in the literals' length (T22: `lit.includes(other)` for every pair
 * took 7.8 s for 20,000 literals and minutes for 60,000).
 */
export function longestPrefixes(lits: Iterable<string>): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  const stack: string[] = [];
  for (const lit of [...new Set(lits)].sort()) {
    while (stack.length > 0 && !lit.startsWith(stack[stack.length - 1]!)) stack.pop();
    out.set(lit, stack[stack.length - 1]);
    stack.push(lit);
  }
  return out;
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
    if (lead && trail) {
      if (cased) return (v) => v.includes(lit);
      // the long command line is searched in its arguments (commandLine), not joined and lower-cased
      if (pieceWise(lit)) return (v) => v.length >= n && (v === line ? lineHolds(lit) : lowerCased(v).includes(lit));
      return (v) => v.length >= n && lowerCased(v).includes(lit);
    }
    if (lead)
      return cased ? (v) => v.endsWith(lit) : (v) => v.length >= n && (v.endsWith(written) || v.slice(v.length - n).toLowerCase() === lit);
    if (trail)
      return cased ? (v) => v.startsWith(lit) : (v) => v.length >= n && (v.startsWith(written) || v.slice(0, n).toLowerCase() === lit);
    return cased ? (v) => v === lit : (v) => v === written || (v.length === n && lowerCased(v) === lit);
  }
  enableLinearTime();
  const re = new RegExp(`^${regexSource(s, cased)}$`);
  return (v) => re.test(v);
}

/**
 * A wildcard value as an expression, its case-insensitive letters written out rather than under the `i` flag:
 * with `i` V8 cannot run it in linear time, and `*curl*http*|*sh*` took 355 ms on a 4,000-character argument,
 * a power of its length (T57 F1); without, it falls back to the linear-time engine (enableLinearTime).
 */
function regexSource(s: SigmaString, cased: boolean): string {
  return s.map((p) => (p === ANY ? "[\\s\\S]*" : p === ONE ? "[\\s\\S]" : cased ? escapeRegExp(p) : foldLiteral(p))).join("");
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
    else if (s.slice(1, -1).some((p) => typeof p !== "string") || s.some((p) => p === ONE)) patterns.push(regexSource(s, cased));
    else others.push(compileString(s, cased));
  }
  if (exact.size > 0) others.unshift(cased ? (v) => exact.has(v) : (v) => exact.has(lowerCased(v)));
  if (patterns.length > 0) {
    enableLinearTime();
    const re = new RegExp(`^(?:${patterns.join("|")})$`);
    others.push((v) => re.test(v));
  }
  if (others.length === 1) return others[0]!;
  return (v) => {
    for (const t of others) if (t(v)) return true;
    return false;
  };
}
