import { ByteNames } from "../byte-names";
import { fieldSlot, type SigmaDoc } from "./compile";
import { escapeRegExp, LineSearch, longestPrefixes, lowerCased } from "./pattern";
import type { TableEvent } from "./table-doc";
import type { Atom, Trigger } from "./trigger";

/**
 * The triggers (./trigger.ts) of a record type's rules, compiled into one pass over the fields they name:
 * per field, equality values in one map, prefixes and suffixes in one map per length, substrings in one
 * combined expression. `candidates` reads each named field once and returns the rules whose trigger passed
 * plus those without one; only those run their full test. Rules are numbers (their index in the rule set).
 */
export class Gate {
  private readonly always: number[] = [];
  private readonly scratch: number[] = [];
  private readonly fields: FieldIndex[] = [];
  /** Per rule, the call of `candidates` that last took it: each rule is returned once per record. */
  private readonly seen: Uint32Array;
  private call = 0;
  /** Per record layout (RecordTable.layout): see candidatesAt. */
  private readonly plans = new Map<number, Plan>();

  /**
   * `indexes` holds the field indexes of the engine's gates by what they index: the rules that name no type
   * are in every gate, so a field only they read (argv's a1 … for a CWD record: the event's) has one index
   * for all gates, whose memo of the last value then serves each record of the event.
   */
  constructor(rules: readonly { index: number; trigger: Trigger }[], ruleCount: number, indexes = new Map<string, FieldIndex>()) {
    this.seen = new Uint32Array(ruleCount);
    const byField = new Map<string, { atom: Atom; index: number }[]>();
    for (const { index, trigger } of rules) {
      if (trigger === undefined) {
        this.always.push(index);
        continue;
      }
      for (const atom of trigger) {
        let list = byField.get(atom.field);
        if (list === undefined) {
          list = [];
          byField.set(atom.field, list);
        }
        list.push({ atom, index });
      }
    }
    for (const [field, list] of byField) {
      const key = JSON.stringify([field, list.map(({ atom, index }) => [atom.op, atom.lit, atom.len, index])]);
      let f = indexes.get(key);
      if (f === undefined) {
        f = new FieldIndex(field);
        for (const { atom, index } of list) f.add(atom, index);
        f.seal();
        indexes.set(key, f);
      }
      this.fields.push(f);
    }
  }

  /** The rules worth testing on doc, in no particular order (the engine sorts alerts by rule). */
  candidates(doc: SigmaDoc): number[] {
    const out = this.always.slice();
    const call = this.nextCall();
    for (const f of this.fields) {
      // "": keywords, searched in all of the record's values
      const got = f.field === "" ? doc.values() : doc.at(f.slot, f.field);
      if (got !== undefined) f.match(got, this.seen, call, out);
    }
    return out;
  }

  /**
   * The same for record r of a TableEvent, read without a document. A field
   * the record's layout lacks is the event's value, the same for each of its records: the rules it gives are
   * worked out once per event (Plan), and a record reads only the fields it may have. The array is reused
   * by the next call (one per record: not made for each).
   */
  candidatesAt(view: TableEvent, r: number): readonly number[] {
    const out = this.scratch;
    // most records have no candidate: an empty array is left as it is (setting length costs more than a check)
    if (out.length !== 0) out.length = 0;
    for (let i = 0; i < this.always.length; i++) out.push(this.always[i]!);
    const call = this.nextCall();
    const plan = this.planOf(view, r);
    if (plan === undefined) {
      // a record read from its JSON: every field, each as a value
      for (const f of this.fields) {
        if (f.field === "") this.keywords(f, view, r, call, out);
        else {
          // a record's type is its table's (TableEvent.valueOf)
          const got = f.field === "type" ? view.table.types[r]! : view.value(r, f.slot, f.field);
          if (got !== undefined) f.match(got, this.seen, call, out);
        }
      }
      return out;
    }
    take(plan.typeRules, this.seen, call, out);
    const own = plan.own;
    const places = plan.places;
    for (let i = 0; i < own.length; i++) {
      const f = own[i]!;
      if (f.field === "") {
        this.keywords(f, view, r, call, out);
        continue;
      }
      // a value that is plain ASCII bytes is looked up by them, not made a string; one that no atom can
      // match by its length and ends is not even looked up
      if (view.plainAt(r, places[i]!)) {
        const b = view.spanBuf;
        if (f.mayMatch(b, view.spanFrom, view.spanTo)) take(f.rulesAt(b, view.spanFrom, view.spanTo), this.seen, call, out);
        continue;
      }
      const got = view.value(r, f.slot, f.field);
      if (got !== undefined) f.match(got, this.seen, call, out);
    }
    if (plan.event !== view.id) {
      plan.event = view.id;
      // the array is the plan's, reused: its rules were taken for the last event's records
      if (plan.rules.length !== 0) plan.rules.length = 0;
      for (const f of plan.absent) {
        const got = view.eventValue(f.slot, f.field);
        if (got !== undefined) f.collect(got, plan.rules);
      }
    }
    take(plan.rules, this.seen, call, out);
    return out;
  }

  /**
   * Keyword atoms (the field "") on record r: on an EXECVE record, whose values are mostly its arguments and
   * also the command line they make (argvText), only the command line and the values that are not arguments
   * (argc …) are matched: each argument is a piece of the command line, so a substring an argument holds
   * lower-cased, the lower-cased command line holds too (SigmaDoc.searchValues), and the rules it gives are
   * among the command line's. A rsync with 60 arguments is one search instead of 61 values each lower-cased
   * and searched, and so is an exec of 600 whose command line holds a keyword (random text often holds
   * `init` or `halt`).
   */
  private keywords(f: FieldIndex, view: TableEvent, r: number, call: number, out: number[]): void {
    if (f.asciiSubstrings) {
      const others = view.execveOthers(r);
      if (others !== undefined) {
        f.match(others, this.seen, call, out);
        const text = view.argvText();
        if (text !== undefined) f.match(text, this.seen, call, out);
        return;
      }
    }
    f.match(view.values(r), this.seen, call, out);
  }

  /** The fields record r's layout may have and those it lacks; undefined for a record without a layout. */
  private planOf(view: TableEvent, r: number): Plan | undefined {
    const layout = view.table.layout(r);
    let plan = this.plans.get(layout);
    if (plan === undefined) {
      const own: FieldIndex[] = [];
      const places: number[] = [];
      const absent: FieldIndex[] = [];
      const typeRules: number[] = [];
      for (const f of this.fields) {
        const may = f.field === "" || view.mayOwn(r, f.slot, f.field);
        if (may === undefined) return undefined;
        // a layout is of one record type: what its type gives, worked out once
        if (f.field === "type") f.collect(view.table.types[r]!, typeRules);
        else if (may) {
          own.push(f);
          places.push(f.field === "" ? 0 : view.placeOf(r, f.slot, f.field));
        } else absent.push(f);
      }
      plan = { own, places: Int32Array.from(places), absent, typeRules, event: 0, rules: [] };
      // corrupt input could invent endless layouts: a bounded number is kept
      if (this.plans.size >= 4096) this.plans.clear();
      this.plans.set(layout, plan);
    }
    return plan;
  }

  private nextCall(): number {
    if (++this.call === 0xffffffff) {
      this.seen.fill(0);
      this.call = 1;
    }
    return this.call;
  }
}

/** A layout's fields, split: those its records may have, those they lack; the rules the latter gave for one event. */
interface Plan {
  own: FieldIndex[];
  /** Where the layout has each of `own` (TableEvent.placeOf, the same for all its records). */
  places: Int32Array;
  /** The rules the record type gives (the field `type`). */
  typeRules: number[];
  absent: FieldIndex[];
  event: number;
  rules: number[];
}

/** One field's atoms, by kind. */
export class FieldIndex {
  readonly slot: number;
  private readonly eq = new Map<string, number[]>();
  private readonly prefix = new Map<number, Affix>();
  private readonly suffix = new Map<number, Affix>();
  private readonly contains = new Map<string, number[]>();
  private containsList: [string, number[]][] = [];
  /** prefix and suffix as arrays of [length, affixes], for a loop that makes no iterator per value. */
  private prefixes: [number, Affix][] = [];
  private suffixes: [number, Affix][] = [];
  /**
   * Any of the substrings, longest first, for one scan of the lower-cased value that finds which it holds
   * (containsAt), instead of one search per substring through a command line of 300 KB.
   */
  private containsAny: RegExp | undefined;
  /** The substrings looked for in a long command line's arguments, not in its lower-cased copy (pattern.ts). */
  private lineSearch: LineSearch | undefined;
  /** Per substring, its rules and those of every substring that is a prefix of it (containsAny finds the longest at a place). */
  private readonly containsAt = new Map<string, number[]>();
  /**
   * The substrings of two or more ASCII characters by their first two (a code c0 * 128 + c1, marked in
   * `pairs`), for one pass over an ASCII value's bytes (containedBytes) instead of one per substring: PATH
   * names are matched against 13 substrings, 11 of them starting `/.`. The others (one character, or beyond
   * ASCII) in `unpaired`.
   */
  private readonly byPair = new Map<number, { lit: string; rules: number[]; n: number }[]>();
  private pairs = new Uint8Array(0);
  private unpaired: [string, number[]][] = [];
  /** Per substring in byPair (its n), the containedBytes call that found it (each is taken once per value). */
  private pairFound = new Uint32Array(0);
  private pairCall = 0;
  /**
   * Whether every atom is a substring of ASCII characters: then the rules a text gives lower-cased include
   * those of any part of it (toLowerCase maps characters alone, but for `Σ`'s two lower-case forms, neither
   * ASCII), so such a text stands for the values it was made of (Gate.keywords).
   */
  asciiSubstrings = false;
  /** The lengths of the equality literals, and of the shortest substring (mayMatch). */
  private eqLengths = new Uint8Array(0);
  private shortestContains = 0;
  /**
   * Whether prefixes and suffixes are all the atoms: a value is then told by its length, an end character and
   * a comparison in place, cheaper than looking it up in the memo (argv's a1 … of SigmaHQ's `--cpu-priority`).
   */
  private affixesOnly = false;
  /** matched()'s scratch list (most values give no rule, and then no array is made). */
  private readonly found: number[] = [];
  /** The last value matched, and the rules it gave. */
  private lastValue: string | undefined;
  private lastRules: number[] = [];
  /**
   * The rules of values seen before, by value and by logged bytes: a log repeats its values (the same exe,
   * key, argv words, file names on many events), and matching one costs a lower-cased copy and the lookups.
   * Both bounded (corrupt input makes them forget, not grow); a field whose values seldom repeat (a file
   * name, an inode) pays for the lookups and gains nothing, so each window of lookups that found too few
   * values it had seen turns the memo off for a while (MemoUse).
   */
  private readonly memo = new Map<string, number[]>();
  /**
   * A value the byte memo has not seen is matched on the bytes being looked up (rulesAt sets `missed`), not on
   * the string ByteNames makes of them: matchedBytes costs a third of matched() on a PATH name (79 literals:
   * no lower-cased copy, no regular expression), and a memo that found about half of its values (a
   * PATH-heavy log's names) paid matched() for every other one.
   */
  private readonly byBytes = new ByteNames<number[]>(() => {
    this.bytesUse.miss();
    const m = this.missed;
    return this.matchedBytes(m.buf, m.from, m.to);
  }, MEMO_SIZE);
  private readonly missed: { buf: Buffer; from: number; to: number } = { buf: Buffer.alloc(0), from: 0, to: 0 };
  private readonly bytesUse = new MemoUse();
  private readonly memoUse = new MemoUse();

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
        affix = { lits: new Map(), list: [], edges: new Uint8Array(128) };
        byLength.set(atom.len, affix);
      }
      push(affix.lits, atom.lit, rule);
      // the literal's character at the compared end: a value whose end is another ASCII character misses
      const edge = atom.lit.charCodeAt(atom.op === "prefix" ? 0 : atom.lit.length - 1);
      if (edge < 128) affix.edges[edge] = 1;
    }
  }

  /**
   * Whether an ASCII value, b[from, to), may pass one of the atoms, told from its length and end bytes (an ASCII
   * value keeps its length lower-cased): equality needs a literal of its length, a prefix or suffix of n
   * characters n of them and an edge byte, a substring the shortest one's length. Never false for a value
   * that matches.
   */
  mayMatch(b: Buffer, from: number, to: number): boolean {
    const n = to - from;
    if (n < this.eqLengths.length && this.eqLengths[n] === 1) return true;
    if (this.containsList.length > 0 && n >= this.shortestContains) return true;
    if (n === 0) return false;
    for (let i = 0; i < this.prefixes.length; i++) {
      const [len, a] = this.prefixes[i]!;
      if (n >= len && mayEnd(a, b[from]!)) return true;
    }
    for (let i = 0; i < this.suffixes.length; i++) {
      const [len, a] = this.suffixes[i]!;
      if (n >= len && mayEnd(a, b[to - 1]!)) return true;
    }
    return false;
  }

  seal(): void {
    // by length, a byte each: a Set's lookup was most of mayMatch's time
    // loops, not Math.max(...lengths): a spread of 200,000 values overflows the stack (T22's long IOC lists)
    let longestEq = 0;
    for (const lit of this.eq.keys()) longestEq = Math.max(longestEq, lit.length + 1);
    this.eqLengths = new Uint8Array(longestEq);
    for (const lit of this.eq.keys()) this.eqLengths[lit.length] = 1;
    this.shortestContains = Number.POSITIVE_INFINITY;
    for (const lit of this.contains.keys()) this.shortestContains = Math.min(this.shortestContains, lit.length);
    this.prefixes = [...this.prefix];
    this.suffixes = [...this.suffix];
    for (const [, a] of [...this.prefixes, ...this.suffixes]) a.list = [...a.lits];
    this.containsList = [...this.contains];
    // keywords alone search the command line (Gate.keywords)
    if (this.field === "") this.lineSearch = LineSearch.of([...this.contains.keys()]);
    let paired = 0;
    for (const [lit, rules] of this.containsList) {
      if (lit.length < 2 || !isAscii(lit)) {
        this.unpaired.push([lit, rules]);
        continue;
      }
      if (this.pairs.length === 0) this.pairs = new Uint8Array(128 * 128);
      const code = lit.charCodeAt(0) * 128 + lit.charCodeAt(1);
      this.pairs[code] = 1;
      const list = this.byPair.get(code);
      const entry = { lit, rules, n: paired++ };
      if (list === undefined) this.byPair.set(code, [entry]);
      else list.push(entry);
    }
    this.pairFound = new Uint32Array(paired);
    this.affixesOnly = this.eq.size === 0 && this.contains.size === 0;
    this.asciiSubstrings =
      this.eq.size === 0 && this.prefix.size === 0 && this.suffix.size === 0 && this.containsList.every(([lit]) => isAscii(lit));
    if (this.containsList.length > 1) {
      const longestFirst = this.containsList.map(([lit]) => lit).sort((a, b) => b.length - a.length);
      this.containsAny = new RegExp(longestFirst.map(escapeRegExp).join("|"), "g");
      for (const [lit, parent] of longestPrefixes(longestFirst)) {
        const rules = [...this.contains.get(lit)!];
        if (parent !== undefined) add(this.containsAt.get(parent), rules);
        this.containsAt.set(lit, rules);
      }
    }
  }

  /** Forgets the last value matched (an event's, perhaps a 300 KB command line): called when the event is done. */
  forget(): void {
    this.lastValue = undefined;
    this.lastRules = NONE;
  }

  /**
   * Adds the rules whose atom on this field passes on value v. The comparisons are compileString's: the
   * value lower-cased whole for equality and substrings, its first or last n characters for a prefix or
   * suffix compared on n characters (toLowerCase can change a string's length, so lower-casing first would
   * differ).
   */
  match(got: string | readonly string[], seen: Uint32Array, call: number, out: number[]): void {
    if (typeof got === "string") take(this.rulesOf(got), seen, call, out);
    else for (const v of got) take(this.rulesOf(v), seen, call, out);
  }

  /** The rules the value or values give, into `rules` (a rule may come twice). */
  collect(got: string | readonly string[], rules: number[]): void {
    if (typeof got === "string") add(this.rulesOf(got), rules);
    else for (const v of got) add(this.rulesOf(v), rules);
  }

  /** The rules of the ASCII value b[from, to) (what rulesOf gives its text), by its bytes. */
  rulesAt(b: Buffer, from: number, to: number): number[] {
    if (to - from <= MEMO_MAX_LENGTH && this.bytesUse.on()) {
      const m = this.missed;
      m.buf = b;
      m.from = from;
      m.to = to;
      return this.byBytes.get(b, from, to);
    }
    return this.matchedBytes(b, from, to);
  }

  /**
   * matched() for the ASCII value b[from, to), compared on its bytes (a file name seldom repeats, and making
   * it a string and lower-casing it was most of a PATH record's matching): an ASCII value lower-cases byte by
   * byte and keeps its length, so an affix or substring is compared folded in place, and equality is looked
   * up (as a string) only when a literal has the value's length.
   */
  private matchedBytes(b: Buffer, from: number, to: number): number[] {
    const found = this.found;
    const n = to - from;
    if (n < this.eqLengths.length && this.eqLengths[n] === 1) add(this.eq.get(b.toString("latin1", from, to).toLowerCase()), found);
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const [len, a] = prefixes[i]!;
      if (n < len || !mayEnd(a, b[from]!)) continue;
      for (const [lit, rules] of a.list) if (foldedBytesAt(b, from, lit, len)) add(rules, found);
    }
    const suffixes = this.suffixes;
    for (let i = 0; i < suffixes.length; i++) {
      const [len, a] = suffixes[i]!;
      if (n < len || !mayEnd(a, b[to - 1]!)) continue;
      for (const [lit, rules] of a.list) if (foldedBytesAt(b, to - len, lit, len)) add(rules, found);
    }
    if (this.pairs.length > 0) this.containedBytes(b, from, to, found);
    const unpaired = this.unpaired;
    for (let i = 0; i < unpaired.length; i++) if (holdsFolded(b, from, to, unpaired[i]![0])) add(unpaired[i]![1], found);
    if (found.length === 0) return NONE;
    const rules = found.slice();
    found.length = 0;
    return rules;
  }

  /**
   * The rules of the substrings in byPair that the ASCII bytes b[from, to) hold lower-cased: each place whose
   * two bytes, folded as toLowerCase folds ASCII, start one is compared there.
   */
  private containedBytes(b: Buffer, from: number, to: number, found: number[]): void {
    if (++this.pairCall === 0xffffffff) {
      this.pairFound.fill(0);
      this.pairCall = 1;
    }
    const call = this.pairCall;
    const pairs = this.pairs;
    let c0 = to > from ? folded(b[from]!) : 0;
    for (let i = from; i < to - 1; i++) {
      const c1 = folded(b[i + 1]!);
      if (pairs[c0 * 128 + c1] === 1) {
        for (const { lit, rules, n } of this.byPair.get(c0 * 128 + c1)!) {
          if (this.pairFound[n] === call || i + lit.length > to || !foldedBytesAt(b, i, lit, lit.length)) continue;
          this.pairFound[n] = call;
          add(rules, found);
        }
      }
      c0 = c1;
    }
  }

  private rulesOf(v: string): number[] {
    // a value a record lacks is the event's, the same string for each of its records: its rules are known
    if (v === this.lastValue) return this.lastRules;
    let rules: number[] | undefined;
    if (v.length <= MEMO_MAX_LENGTH && !this.affixesOnly && this.memoUse.on()) {
      rules = this.memo.get(v);
      if (rules === undefined) {
        this.memoUse.miss();
        rules = this.matched(v);
        if (this.memo.size >= MEMO_SIZE) this.memo.clear();
        this.memo.set(v, rules);
      }
    } else rules = this.matched(v);
    this.lastValue = v;
    this.lastRules = rules;
    return rules;
  }

  private matched(v: string): number[] {
    const found = this.found;
    this.matchValue(v, found);
    if (found.length === 0) return NONE;
    const rules = found.slice();
    found.length = 0;
    return rules;
  }

  /**
   * Every rule whose atom on this field passes on v, into `rules` (a rule may come twice). An affix whose n
   * characters are ASCII is compared in place, folded as toLowerCase folds ASCII (no lower-cased copy of a
   * long argument to look at its ends); other characters lower-case as a whole (`İ` to two), as compileString.
   */
  private matchValue(v: string, rules: number[]): void {
    let lower: string | undefined;
    if (this.eq.size > 0) {
      lower = v.toLowerCase();
      add(this.eq.get(lower), rules);
    }
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const [n, a] = prefixes[i]!;
      if (v.length < n || !mayEnd(a, v.charCodeAt(0))) continue;
      if (!asciiRange(v, 0, n)) add(a.lits.get(v.slice(0, n).toLowerCase()), rules);
      else for (const [lit, found] of a.list) if (foldedAt(v, 0, lit, n)) add(found, rules);
    }
    const suffixes = this.suffixes;
    for (let i = 0; i < suffixes.length; i++) {
      const [n, a] = suffixes[i]!;
      if (v.length < n || !mayEnd(a, v.charCodeAt(v.length - 1))) continue;
      if (!asciiRange(v, v.length - n, v.length)) add(a.lits.get(v.slice(v.length - n).toLowerCase()), rules);
      else for (const [lit, found] of a.list) if (foldedAt(v, v.length - n, lit, n)) add(found, rules);
    }
    const containsList = this.containsList;
    if (containsList.length === 0) return;
    const inLine = this.lineSearch?.foundIn(v);
    if (inLine !== undefined) {
      for (const [lit, found] of containsList) if (inLine.has(lit)) add(found, rules);
      return;
    }
    lower ??= lowerCased(v);
    const any = this.containsAny;
    if (any === undefined) {
      if (lower.includes(containsList[0]![0])) add(containsList[0]![1], rules);
      return;
    }
    // every place where a substring starts: the alternation gives the longest there, whose rules include those
    // of the shorter ones starting there, its prefixes (containsAt); a substring that starts inside one found starts at a later
    // place, so the scan goes on from the next character, not from the end of the match
    any.lastIndex = 0;
    for (let m = any.exec(lower); m !== null; m = any.exec(lower)) {
      add(this.containsAt.get(m[0]), rules);
      any.lastIndex = m.index + 1;
    }
  }
}

/** foldedAt on bytes: whether the n ASCII bytes of b from `at`, lower-cased, are `lit`. */
function foldedBytesAt(b: Buffer, at: number, lit: string, n: number): boolean {
  if (lit.length !== n) return false;
  for (let i = 0; i < n; i++) if (folded(b[at + i]!) !== lit.charCodeAt(i)) return false;
  return true;
}

/** An ASCII character code lower-cased, as toLowerCase lower-cases its character (others as they are). */
function folded(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Whether the ASCII bytes b[from, to), lower-cased, hold the lower-cased `lit` (String.includes on their text). */
function holdsFolded(b: Buffer, from: number, to: number, lit: string): boolean {
  const n = lit.length;
  if (n === 0) return true;
  const head = lit.charCodeAt(0);
  outer: for (let i = from; i <= to - n; i++) {
    if (folded(b[i]!) !== head) continue;
    for (let j = 1; j < n; j++) if (folded(b[i + j]!) !== lit.charCodeAt(j)) continue outer;
    return true;
  }
  return false;
}

/** Whether v's characters from `from` to `to` are ASCII. */
function asciiRange(v: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (v.charCodeAt(i) > 127) return false;
  return true;
}

/**
 * Whether v's n ASCII characters from `at`, lower-cased, are the lower-cased literal `lit` (which has n
 * characters, or it cannot be: toLowerCase keeps an ASCII text's length).
 */
function foldedAt(v: string, at: number, lit: string, n: number): boolean {
  if (lit.length !== n) return false;
  for (let i = 0; i < n; i++) if (folded(v.charCodeAt(at + i)) !== lit.charCodeAt(i)) return false;
  return true;
}

/** No rule: shared by every value that gives none (never written to). */
const NONE: number[] = [];

/**
 * Values whose rules a field index remembers, per way of looking them up, and the longest remembered: a
 * bound on memory (an argument may be 128 KiB) that costs little, as long values seldom repeat.
 */
const MEMO_SIZE = 1024;
const MEMO_MAX_LENGTH = 128;
/** Lookups per window of MemoUse, and the windows a memo stays off after one with too few hits. */
const WINDOW = 1024;
const OFF_WINDOWS = 16;

/**
 * Whether a memo is worth its lookups: counted per window of WINDOW lookups, one where fewer than half found
 * the value turns it off for OFF_WINDOWS windows' worth of values, then it is tried again (a log's mix changes).
 */
class MemoUse {
  private count = 0;
  private misses = 0;
  private off = 0;

  /** Whether to look this value up (counted). */
  on(): boolean {
    if (++this.count < WINDOW) return this.off === 0;
    this.count = 0;
    if (this.off > 0) this.off--;
    else if (this.misses * 2 > WINDOW) this.off = OFF_WINDOWS;
    this.misses = 0;
    return this.off === 0;
  }

  miss(): void {
    this.misses++;
  }
}

function isAscii(v: string): boolean {
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) > 127) return false;
  return true;
}

/** Prefixes (or suffixes) of one length, and the ASCII characters they start (end) with. */
interface Affix {
  lits: Map<string, number[]>;
  /** lits as a list (matchValue's in-place comparison). */
  list: [string, number[]][];
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
  return a.edges[folded(c)] === 1;
}

function push(m: Map<string, number[]>, key: string, rule: number): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [rule]);
  else if (!list.includes(rule)) list.push(rule);
}

function add(found: number[] | undefined, rules: number[]): void {
  if (found !== undefined) for (const r of found) rules.push(r);
}

function take(rules: number[] | undefined, seen: Uint32Array, call: number, out: number[]): void {
  if (rules === undefined) return;
  for (const r of rules) {
    if (seen[r] === call) continue;
    seen[r] = call;
    out.push(r);
  }
}
