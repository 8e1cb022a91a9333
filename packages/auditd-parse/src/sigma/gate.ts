import { fieldSlot, type SigmaDoc } from "./compile";
import type { Atom, Trigger } from "./trigger";

/**
 * The triggers (./trigger.ts) of a record type's rules, compiled into one pass over the fields they name:
 * per field, equality values in one map, prefixes and suffixes in one map per length, substrings in one
 * combined expression. `candidates` reads each named field once and returns the rules whose trigger passed
 * plus those without one; only those run their full test. Rules are numbers (their index in the rule set).
 */
export class Gate {
  private readonly always: number[] = [];
  private readonly fields: FieldIndex[] = [];
  /** Per rule, the call of `candidates` that last took it: each rule is returned once per record. */
  private readonly seen: Uint32Array;
  private call = 0;

  constructor(rules: readonly { index: number; trigger: Trigger }[], ruleCount: number) {
    this.seen = new Uint32Array(ruleCount);
    const byField = new Map<string, FieldIndex>();
    for (const { index, trigger } of rules) {
      if (trigger === undefined) {
        this.always.push(index);
        continue;
      }
      for (const atom of trigger) {
        let f = byField.get(atom.field);
        if (f === undefined) {
          f = new FieldIndex(atom.field);
          byField.set(atom.field, f);
        }
        f.add(atom, index);
      }
    }
    this.fields = [...byField.values()];
    for (const f of this.fields) f.seal();
  }

  /** The rules worth testing on doc, in no particular order (the engine sorts alerts by rule). */
  candidates(doc: SigmaDoc): number[] {
    const out = this.always.slice();
    if (++this.call === 0xffffffff) {
      this.seen.fill(0);
      this.call = 1;
    }
    for (const f of this.fields) {
      const got = doc.at(f.slot, f.field);
      if (got === undefined) continue;
      if (typeof got === "string") f.match(got, this.seen, this.call, out);
      else for (const v of got) f.match(v, this.seen, this.call, out);
    }
    return out;
  }
}

/** One field's atoms, by kind. */
class FieldIndex {
  readonly slot: number;
  private readonly eq = new Map<string, number[]>();
  private readonly prefix = new Map<number, Affix>();
  private readonly suffix = new Map<number, Affix>();
  private readonly contains = new Map<string, number[]>();
  private containsList: [string, number[]][] = [];
  /** prefix and suffix as arrays of [length, affixes], for a loop that makes no iterator per value. */
  private prefixes: [number, Affix][] = [];
  private suffixes: [number, Affix][] = [];
  /** Any of the substrings, for one scan of the value before testing them one by one. */
  private containsAny: RegExp | undefined;

  constructor(readonly field: string) {
    this.slot = fieldSlot(field);
  }

  add(atom: Atom, rule: number): void {
    if (atom.op === "eq") push(this.eq, atom.lit, rule);
    else if (atom.op === "contains") push(this.contains, atom.lit, rule);
    else {
      const byLength = atom.op === "prefix" ? this.prefix : this.suffix;
      let affix = byLength.get(atom.len);
      if (affix === undefined) {
        affix = { lits: new Map(), edges: new Uint8Array(128) };
        byLength.set(atom.len, affix);
      }
      push(affix.lits, atom.lit, rule);
      // the literal's character at the compared end: a value whose end is another ASCII character misses
      const edge = atom.lit.charCodeAt(atom.op === "prefix" ? 0 : atom.lit.length - 1);
      if (edge < 128) affix.edges[edge] = 1;
    }
  }

  seal(): void {
    this.prefixes = [...this.prefix];
    this.suffixes = [...this.suffix];
    this.containsList = [...this.contains];
    if (this.containsList.length > 1)
      this.containsAny = new RegExp(this.containsList.map(([lit]) => lit.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|"));
  }

  /**
   * Adds the rules whose atom on this field passes on value v. The comparisons are compileString's: the
   * value lower-cased whole for equality and substrings, its first or last n characters for a prefix or
   * suffix compared on n characters (toLowerCase can change a string's length, so lower-casing first would
   * differ).
   */
  match(v: string, seen: Uint32Array, call: number, out: number[]): void {
    let lower: string | undefined;
    if (this.eq.size > 0) {
      lower = v.toLowerCase();
      take(this.eq.get(lower), seen, call, out);
    }
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const [n, a] = prefixes[i]!;
      if (v.length >= n && mayEnd(a, v.charCodeAt(0))) take(a.lits.get(v.slice(0, n).toLowerCase()), seen, call, out);
    }
    const suffixes = this.suffixes;
    for (let i = 0; i < suffixes.length; i++) {
      const [n, a] = suffixes[i]!;
      if (v.length >= n && mayEnd(a, v.charCodeAt(v.length - 1))) take(a.lits.get(v.slice(v.length - n).toLowerCase()), seen, call, out);
    }
    const containsList = this.containsList;
    if (containsList.length === 0) return;
    lower ??= v.toLowerCase();
    if (this.containsAny !== undefined && !this.containsAny.test(lower)) return;
    for (let i = 0; i < containsList.length; i++) if (lower.includes(containsList[i]![0])) take(containsList[i]![1], seen, call, out);
  }
}

/** Prefixes (or suffixes) of one length, and the ASCII characters they start (end) with. */
interface Affix {
  lits: Map<string, number[]>;
  edges: Uint8Array;
}

/**
 * Whether a value whose first (last) character is c can have one of the affixes, without making a string:
 * an ASCII character lower-cases to an ASCII character in place, so it must be an edge (a literal ending in a
 * character beyond ASCII needs a value ending in one); any other character may lower-case to anything (the
 * Kelvin sign to "k", "İ" to two characters), so it may match.
 */
function mayEnd(a: Affix, c: number): boolean {
  if (c >= 128) return true;
  return a.edges[c >= 65 && c <= 90 ? c + 32 : c] === 1;
}

function push(m: Map<string, number[]>, key: string, rule: number): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [rule]);
  else if (!list.includes(rule)) list.push(rule);
}

function take(rules: number[] | undefined, seen: Uint32Array, call: number, out: number[]): void {
  if (rules === undefined) return;
  for (const r of rules) {
    if (seen[r] === call) continue;
    seen[r] = call;
    out.push(r);
  }
}
