import { setFlagsFromString } from "node:v8";
import { escapeRegExp } from "./pattern";

/**
 * What keeps a regular expression from stalling the run on one event (T57 F1). V8 runs an expression on its
 * linear-time engine once it has backtracked too much (compile.ts, enableLinearTime), but that engine takes no `i`
 * flag, lookaround, backreference or large counted repetition. `.*curl.*http.*\|.*sh` with `i` took 350 s on a
 * 4,000-character argument, and Sigma's own case-insensitive wildcards (`*curl*http*|*sh*`) are such an
 * expression too. So:
 * - `i` is written out (foldCase): each letter becomes the class of the characters it matches under `i`
 *   (`a` → `[Aa]`), which is what V8's non-unicode `i` means (ECMA-262 Canonicalize: a character matches
 *   when its upper case does, one character at a time), and the expression runs without `i`, on the linear engine.
 * - What is still left to the backtracking engine (lookaround, backreferences, large counts) must have a bounded
 *   number of ways to match at one place (backtrackPaths): no unbounded repetition (`*`, `+`, `{n,}`) and at most
 *   MAX_PATHS ways, so a match costs at most a constant per character of the value.
 */

/** Ways an expression the backtracking engine runs may try at one start position (see backtrackPaths). */
export const MAX_PATHS = 100;

/** Non-unicode Canonicalize (ECMA-262 22.2.2.7.3) of a UTF-16 code unit: its upper case, unless that is not one unit or leaves ASCII. */
function canonicalize(c: number): number {
  const upper = String.fromCharCode(c).toUpperCase();
  if (upper.length !== 1) return c;
  const u = upper.charCodeAt(0);
  return c >= 128 && u < 128 ? c : u;
}

/** Code units by their canonical form, built once, when a non-ASCII character is first folded. */
let sameCase: Map<number, number[]> | undefined;
function variants(c: number): readonly number[] {
  if (c < 128) {
    // ASCII letters fold among themselves only: no other unit's upper case may become ASCII
    if (c >= 65 && c <= 90) return [c, c + 32];
    if (c >= 97 && c <= 122) return [c - 32, c];
    return [c];
  }
  if (sameCase === undefined) {
    sameCase = new Map();
    for (let u = 0; u < 0x10000; u++) {
      const k = canonicalize(u);
      const list = sameCase.get(k);
      if (list === undefined) sameCase.set(k, [u]);
      else list.push(u);
    }
  }
  return sameCase.get(canonicalize(c)) ?? [c];
}

const hex4 = (c: number) => `\\u${c.toString(16).padStart(4, "0")}`;

/** A set of code units as the inside of a character class (ranges of \uXXXX). */
function classBody(units: Iterable<number>): string {
  const sorted = [...new Set(units)].sort((a, b) => a - b);
  let out = "";
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out += j === i ? hex4(sorted[i]!) : `${hex4(sorted[i]!)}-${hex4(sorted[j]!)}`;
    i = j + 1;
  }
  return out;
}

/** One code unit as an atom matching what it matches under `i`. */
function foldUnit(c: number, verbatim: string): string {
  const v = variants(c);
  if (v.length === 1) return verbatim;
  return c < 128 ? `[${String.fromCharCode(...v)}]` : `[${classBody(v)}]`;
}

/** A literal as a case-insensitive expression without the `i` flag (Sigma's wildcard values). */
export function foldLiteral(literal: string): string {
  let out = "";
  for (let k = 0; k < literal.length; k++) {
    const c = literal.charCodeAt(k);
    out += c < 128 ? foldUnit(c, escapeRegExp(literal[k]!)) : foldUnit(c, hex4(c));
  }
  return out;
}

const CLASS_ESCAPES = "dDwWsS";
/** Escapes whose meaning does not depend on case (assertions, classes, control characters). */
const KEPT_ESCAPES = "bBfnrtv";

/**
 * The expression with `i` written out, for the same matches without the flag; undefined when it holds what is
 * not rewritten here (a backreference or octal escape `\1`, `\k`, `\c` not before a letter, a malformed `\x`/`\u`,
 * a class range to or from a class escape): those keep `i` and the backtracking engine, under backtrackPaths.
 * Non-unicode syntax (Sigma's flags are i, m, s), with its Annex B identity escapes (`\a` is `a`).
 */
export function foldCase(source: string): string | undefined {
  let out = "";
  let i = 0;
  const n = source.length;
  /** One escape at source[i] === "\\": its code unit, or a class escape/assertion kept as written, or undefined. */
  const readEscape = (inClass: boolean): { unit: number; text: string } | { kept: string } | undefined => {
    const e = source[i + 1];
    if (e === undefined) return undefined;
    if (/[0-9]/.test(e)) {
      if (e === "0" && !/[0-9]/.test(source[i + 2] ?? "")) {
        i += 2;
        return { unit: 0, text: "\\0" };
      }
      return undefined;
    }
    if (e === "k") return undefined;
    if (CLASS_ESCAPES.includes(e)) {
      i += 2;
      return { kept: `\\${e}` };
    }
    if (e === "b" && inClass) {
      i += 2;
      return { unit: 8, text: "\\b" };
    }
    if (KEPT_ESCAPES.includes(e) && !(inClass && e === "B")) {
      i += 2;
      return { kept: `\\${e}` };
    }
    if (e === "c") {
      const l = source[i + 2] ?? "";
      if (!/[A-Za-z]/.test(l)) return undefined;
      i += 3;
      return { unit: l.charCodeAt(0) % 32, text: `\\c${l}` };
    }
    if (e === "x" || e === "u") {
      const len = e === "x" ? 2 : 4;
      const digits = source.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9A-Fa-f]{${len}}$`).test(digits)) return undefined;
      i += 2 + len;
      return { unit: Number.parseInt(digits, 16), text: `\\${e}${digits}` };
    }
    // an identity escape: the character itself (a surrogate pair's first unit; its second follows as a literal)
    i += 2;
    return { unit: e.charCodeAt(0), text: `\\${e}` };
  };
  while (i < n) {
    const c = source[i]!;
    if (c === "\\") {
      const at = readEscape(false);
      if (at === undefined) return undefined;
      out += "kept" in at ? at.kept : foldUnit(at.unit, at.text);
    } else if (c === "[") {
      i++;
      const negated = source[i] === "^";
      if (negated) i++;
      const units: number[] = [];
      let kept = "";
      while (i < n && source[i] !== "]") {
        let lo: number;
        if (source[i] === "\\") {
          const at = readEscape(true);
          if (at === undefined) return undefined;
          if ("kept" in at) {
            if (source[i] === "-" && source[i + 1] !== "]") return undefined;
            kept += at.kept;
            continue;
          }
          lo = at.unit;
        } else lo = source.charCodeAt(i++);
        let hi = lo;
        if (source[i] === "-" && i + 1 < n && source[i + 1] !== "]") {
          i++;
          if (source[i] === "\\") {
            const at = readEscape(true);
            if (at === undefined || "kept" in at) return undefined;
            hi = at.unit;
          } else hi = source.charCodeAt(i++);
          if (hi < lo) return undefined;
        }
        for (let u = lo; u <= hi; u++) for (const v of variants(u)) units.push(v);
      }
      if (i >= n) return undefined;
      i++;
      out += `[${negated ? "^" : ""}${kept}${classBody(units)}]`;
    } else if (c === "(" && source.startsWith("(?<", i) && source[i + 3] !== "=" && source[i + 3] !== "!") {
      // a group's name is no text to match
      const end = source.indexOf(">", i);
      if (end < 0) return undefined;
      out += source.slice(i, end + 1);
      i = end + 1;
    } else if (c === "{") {
      // a count (`{2,5}`) as written; a `{` that starts none is a literal brace (Annex B), which has no case
      const count = /^\{\d+(,\d*)?\}/.exec(source.slice(i));
      const text = count?.[0] ?? "{";
      out += text;
      i += text.length;
    } else if (c === "(" && source[i + 1] === "?") {
      const head = /^\(\?(?:[:=!]|<[=!])/.exec(source.slice(i))?.[0];
      if (head === undefined) return undefined;
      out += head;
      i += head.length;
    } else {
      out += foldUnit(source.charCodeAt(i), c);
      i++;
    }
  }
  return out;
}

/** Characters a rewritten expression may have (expandCounts): its copies are what the linear-time engine runs. */
const MAX_EXPANDED = 20_000;

/**
 * The expression with its counted repetitions written out (`x{3,5}` → `xxx(?:x)?(?:x)?`, `x{20,}` → 20 `x` and
 * `(?:x)*`), which V8's linear-time engine refuses past 16 copies (`[A-Za-z0-9+/=]{20,}`, `[0-9a-f]{32}`), for
 * the same matches: a rule's expression is only tested, so which match and what its groups hold do not matter.
 * Undefined when it holds what this does not rewrite (a backreference, a named group to copy) or would grow
 * past MAX_EXPANDED.
 */
export function expandCounts(source: string): string | undefined {
  let i = 0;
  const n = source.length;
  let failed = false;
  const fail = () => {
    failed = true;
    return "";
  };
  const atom = (): string => {
    const start = i;
    const c = source[i]!;
    if (c === "\\") {
      const e = source[i + 1] ?? "";
      if (/[0-9k]/.test(e) && !(e === "0" && !/[0-9]/.test(source[i + 2] ?? ""))) return fail();
      i +=
        e === "x" && /^[0-9A-Fa-f]{2}$/.test(source.slice(i + 2, i + 4))
          ? 4
          : e === "u" && /^[0-9A-Fa-f]{4}$/.test(source.slice(i + 2, i + 6))
            ? 6
            : e === "c" && /[A-Za-z]/.test(source[i + 2] ?? "")
              ? 3
              : 2;
    } else if (c === "[") {
      i++;
      while (i < n && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      i++;
    } else if (c === "(") {
      i++;
      const head = /^\?(?::|=|!|<=|<!|<[^>]*>)/.exec(source.slice(i))?.[0] ?? "";
      i += head.length;
      const inner = alternation();
      i++;
      return `(${head}${inner})`;
    } else i++;
    return source.slice(start, i);
  };
  const alternation = (): string => {
    let out = sequence();
    while (source[i] === "|") {
      i++;
      out += `|${sequence()}`;
    }
    return out;
  };
  const sequence = (): string => {
    let out = "";
    while (i < n && source[i] !== "|" && source[i] !== ")" && !failed) {
      const text = atom();
      const count = /^\{(\d+)(?:(,)(\d*))?\}\??/.exec(source.slice(i));
      if (count === null || text === "{" || text === "}") {
        out += text;
        continue;
      }
      i += count[0].length;
      // a copied name would be a duplicate group name, a syntax error
      if (/\(\?<[^=!]/.test(text)) return fail();
      const min = Number(count[1]);
      const max = count[2] === undefined ? min : count[3] === "" ? Number.POSITIVE_INFINITY : Number(count[3]);
      if (max < min || (text.length + 5) * (Number.isFinite(max) ? max : min + 1) + out.length > MAX_EXPANDED) return fail();
      out += text.repeat(min);
      out += Number.isFinite(max) ? `(?:${text})?`.repeat(max - min) : `(?:${text})*`;
    }
    return out;
  };
  const out = alternation();
  return failed || i < n || out.length > MAX_EXPANDED ? undefined : out;
}

/**
 * An upper bound on the ways the backtracking engine may try to match the expression at one place: Infinity
 * with an unbounded repetition (`.*x.*y` tries every split: its cost grows as a power of the value's length) or a
 * backreference count we cannot see through. Alternatives add, a sequence multiplies, `X{m,n}` is the sum of
 * paths(X)^k for k from m to n. Escapes and classes are one atom each.
 */
export function backtrackPaths(source: string): number {
  let i = 0;
  const n = source.length;
  const cap = (x: number) => (x > MAX_PATHS ? Number.POSITIVE_INFINITY : x);
  const alternation = (): number => {
    let sum = 0;
    for (;;) {
      sum += sequence();
      if (source[i] !== "|") return cap(sum);
      i++;
    }
  };
  const sequence = (): number => {
    let product = 1;
    while (i < n && source[i] !== "|" && source[i] !== ")") {
      let atom = 1;
      const c = source[i]!;
      if (c === "\\") i += 2;
      else if (c === "[") {
        i++;
        if (source[i] === "^") i++;
        while (i < n && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
        i++;
      } else if (c === "(") {
        i++;
        if (source[i] === "?") {
          const head = /^\?(?::|=|!|<=|<!|<[^>]*>)/.exec(source.slice(i))?.[0] ?? "?";
          i += head.length;
        }
        atom = alternation();
        i++;
      } else i++;
      // its quantifier
      const q = /^(?:([*+?])|\{(\d+)(?:(,)(\d*))?\})\??/.exec(source.slice(i));
      if (q !== null) {
        i += q[0].length;
        let min: number;
        let max: number;
        if (q[1] !== undefined) {
          min = q[1] === "+" ? 1 : 0;
          max = q[1] === "?" ? 1 : Number.POSITIVE_INFINITY;
        } else {
          min = Number(q[2]);
          max = q[3] === undefined ? min : q[4] === "" ? Number.POSITIVE_INFINITY : Number(q[4]);
        }
        if (max === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
        let ways = 0;
        for (let k = min; k <= max && ways <= MAX_PATHS; k++) ways += atom ** k;
        atom = cap(ways);
      }
      product = cap(product * atom);
      if (product === Number.POSITIVE_INFINITY) return product;
    }
    return product;
  };
  const paths = alternation();
  return i < n ? Number.POSITIVE_INFINITY : paths;
}

let linearEnabled = false;

/**
 * V8's linear-time regexp engine (flags read at run time, as heap.ts sets the parse's): a backtracking match
 * that passes regexp-backtracks-before-fallback (V8's default, 50,000) backtracks is rerun on it, in time linear
 * in the value, and the `l` flag (a check in compile.ts, never used to match) says which expressions it can run.
 * Measured (T-aud17's `^(a|a)*$` on "a"×n + "!"): n=28 1.75 s and n=32 28 s before, 0.2 ms each after.
 * Called before a rule's first expression is made (a `re`, or a wildcard value with `*` inside).
 */
export function enableLinearTime(): void {
  if (linearEnabled) return;
  setFlagsFromString("--enable-experimental-regexp-engine");
  setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");
  linearEnabled = true;
}
