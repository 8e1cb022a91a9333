import { ANY, hasWildcards, plainText, type SigmaString } from "./pattern";

/**
 * A rule's trigger: tests on single field values, one of which passes on every record the rule matches (a
 * necessary condition, not a sufficient one). The engine indexes rules by them (./gate.ts), so a record
 * costs one read of each indexed field and a few hash lookups, and a rule runs its full test only when its
 * trigger passed; the full test decides, so the alerts are those of running every rule on every record.
 */
export interface Atom {
  field: string;
  /** eq: the value, prefix/suffix: its start/end, contains: any part of it; all case-insensitive. */
  op: "eq" | "prefix" | "suffix" | "contains";
  /** Lower-cased, as the tests compare (pattern.ts's compileString lower-cases both sides with toLowerCase). */
  lit: string;
  /** prefix/suffix: how many characters of the value are lower-cased and compared with lit. */
  len: number;
}

/** A disjunction of atoms; undefined: no trigger (the rule runs on every record of its types). */
export type Trigger = readonly Atom[] | undefined;

/**
 * The atom a case-insensitive Sigma string implies on a field, mirroring compileString's shapes exactly:
 * a plain value is equality, `x*` a prefix, `*x` a suffix, `*x*` a substring, all compared through
 * toLowerCase as compileString does. Any other shape is a regular expression with the `i` flag, whose
 * match implies its longest ASCII literal piece is in the lower-cased value (for ASCII, `i` folds exactly
 * what toLowerCase folds; beyond ASCII they differ, e.g. /σ/i matches "ς", so such pieces are not used).
 * Undefined when nothing literal is needed (`*`).
 */
export function atomsOf(field: string, s: SigmaString): Atom[] | undefined {
  if (!hasWildcards(s)) return [{ field, op: "eq", lit: plainText(s).toLowerCase(), len: 0 }];
  const lead = s[0] === ANY;
  const trail = s.length > 1 && s[s.length - 1] === ANY;
  const inner = s.slice(lead ? 1 : 0, trail ? -1 : undefined);
  if (inner.length === 1 && typeof inner[0] === "string") {
    const written = inner[0];
    const lit = written.toLowerCase();
    if (lead && trail) return [{ field, op: "contains", lit, len: 0 }];
    // compileString: `v.startsWith(written) || v.slice(0, lit.length).toLowerCase() === lit` (endsWith alike);
    // toLowerCase can change the length ("İ" is 2 characters lower-cased), so the written form's length too
    const op = lead ? "suffix" : "prefix";
    const atoms: Atom[] = [{ field, op, lit, len: lit.length }];
    if (written.length !== lit.length) atoms.push({ field, op, lit, len: written.length });
    return atoms;
  }
  let best = "";
  for (const p of s) if (typeof p === "string" && p.length > best.length && isAscii(p)) best = p;
  return best === "" ? undefined : [{ field, op: "contains", lit: best.toLowerCase(), len: 0 }];
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 127) return false;
  return true;
}

/** Any of several triggers: each must exist (a branch without one could match anything). */
export function anyTrigger(list: readonly Trigger[]): Trigger {
  const out: Atom[] = [];
  for (const t of list) {
    if (t === undefined) return undefined;
    out.push(...t);
  }
  return out;
}

/** All of several: any one of them is necessary, so the cheapest and most selective is kept. */
export function allTrigger(list: readonly Trigger[]): Trigger {
  let best: Trigger;
  let bestCost = Number.POSITIVE_INFINITY;
  for (const t of list) {
    if (t === undefined) continue;
    const c = cost(t);
    if (c < bestCost) {
      best = t;
      bestCost = c;
    }
  }
  return best;
}

/**
 * How much a trigger costs and lets through, roughly: equality is one hash lookup and rarely passes, a
 * prefix or suffix one lookup per length, a substring a scan of the value; a short affix or substring passes
 * often, a longer one less (a short value compared whole, `euid: 33`, is as selective as a long one). Fields
 * with a handful of values pass often whatever the literal: on a web server nearly every SYSCALL record is
 * an execve, so SigmaHQ's webshell rule is better told by its `euid: 33` than by `SYSCALL: execve`. `type` is
 * indexed apart (the engine's buckets), so a trigger on it is the last choice.
 */
function cost(t: readonly Atom[]): number {
  let c = 0;
  for (const a of t) {
    if (a.field === "type") return 1000;
    c += (a.op === "eq" ? 1 : a.op === "contains" ? 3 : 2) + (a.op !== "eq" && a.lit.length < 3 ? 4 : 0) - Math.min(a.lit.length, 20) / 100;
    if (FEW_VALUES.has(a.field)) c += 8;
  }
  return c;
}

/** Fields whose values are few (a syscall name, an architecture, yes/no, a path's role). */
const FEW_VALUES = new Set(["SYSCALL", "syscall", "ARCH", "arch", "success", "nametype", "res", "result"]);
