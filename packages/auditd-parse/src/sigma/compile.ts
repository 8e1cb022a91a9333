import { BlockList, isIP } from "node:net";
import { type Condition, ConditionError, parseCondition } from "./condition";
import {
  ANY,
  compileAnyString,
  compileString,
  hasWildcards,
  parseSigmaString,
  plainText,
  type SigmaString,
  type StringTest,
} from "./pattern";
import { backtrackPaths, enableLinearTime, expandCounts, foldCase, MAX_PATHS } from "./regex-safety";
import { allTrigger, anyTrigger, atomsOf, type Trigger } from "./trigger";

/**
 * Compiles a Sigma rule's detection into one test per record, once per rule set: selections as maps (AND)
 * and lists (OR), keywords, the value modifiers of sigma-specification's
 * specification/sigma-appendix-modifiers.md (v2.1.0), and the condition (./condition.ts).
 */

/** What a rule sees of one audit record (see ./document.ts). */
export interface SigmaDoc {
  /** A field's value or values (a multi-valued field matches when any value does); undefined when absent. */
  get(field: string): string | readonly string[] | undefined;
  /** The same, remembered per document under the field's slot (see fieldSlot): each field is read once. */
  at(slot: number, field: string): string | readonly string[] | undefined;
  /** The record's own values, for keyword search. */
  values(): readonly string[];
  /**
   * Fewer values for a search that, finding a text in one value, finds it in any value holding that one: a
   * keyword (`*…*`: a substring, wildcards inside). values() less each value that is a piece of another,
   * between spaces (EXECVE's arguments in its command line): toLowerCase of a text joined by spaces is its
   * pieces' lower-cased and joined (Σ's final form is decided within a piece: a space is neither a letter nor
   * skipped), so a piece holds a keyword only if the whole text does.
   */
  searchValues(): readonly string[];
}

export type Test = (doc: SigmaDoc) => boolean;

export class RuleError extends Error {}

/** Every field name the compiled rules read, numbered: documents keep a field's value in its slot. */
const SLOTS = new Map<string, number>();
export function fieldSlot(field: string): number {
  let slot = SLOTS.get(field);
  if (slot === undefined) {
    slot = SLOTS.size;
    SLOTS.set(field, slot);
  }
  return slot;
}

/** How many field slots there are so far. */
export function slotCount(): number {
  return SLOTS.size;
}

export const LEVELS = ["informational", "low", "medium", "high", "critical"] as const;
export type Level = (typeof LEVELS)[number];

/**
 * Values some fields must have for a test to pass (field → its allowed values, lower-cased): from plain
 * `field: value` items that every branch needs. The engine indexes rules by them (`type` first), so a record
 * meets only the rules that can match it. An empty map: no such field.
 */
export type Keys = ReadonlyMap<string, ReadonlySet<string>>;
const NO_KEYS: Keys = new Map();

/** A test, the keys it needs and its trigger (./trigger.ts). */
interface Part {
  test: Test;
  keys: Keys;
  trigger: Trigger;
}

/**
 * A compiled detection: one test over a record, the record types it can match (undefined: any), its keys,
 * and its trigger: field tests one of which passes on any record the test passes on (undefined: none known).
 */
export interface Detection {
  test: Test;
  types: ReadonlySet<string> | undefined;
  keys: Keys;
  trigger: Trigger;
}

/**
 * Values one rule may hold, and all the rules of a run (after modifiers that make several of one: windash,
 * base64offset). A compiled value costs about 2 KB (a 100,000-value `contains` list: 207 MB of RSS, 5.5 s; T57
 * F12's 400,000: 666 MB, 22 s, and a directory of twelve: 3.4 GB, still compiling after 400 s).
 */
export const MAX_RULE_VALUES = 100_000;
export const MAX_RUN_VALUES = 200_000;

/** How many more values the rule being compiled may hold (compileDetection sets it), and what bounds it. */
let valuesLeft = MAX_RULE_VALUES;
let valuesAtStart = MAX_RULE_VALUES;
let valueBound = "";

/** The values the last rule compiled holds (for its run's MAX_RUN_VALUES). */
export function valuesCompiled(): number {
  return valuesAtStart - valuesLeft;
}

/** Compiles a rule's detection; `runValuesLeft`: what the rules compiled before it left of MAX_RUN_VALUES. */
export function compileDetection(detection: unknown, runValuesLeft = MAX_RUN_VALUES): Detection {
  if (!isMap(detection)) throw new RuleError("detection is not a map");
  valuesLeft = Math.min(MAX_RULE_VALUES, runValuesLeft);
  valuesAtStart = valuesLeft;
  valueBound =
    valuesLeft === MAX_RULE_VALUES
      ? `the ${MAX_RULE_VALUES} one rule may hold`
      : `the ${valuesLeft} left of the ${MAX_RUN_VALUES} all rules of a run may hold`;
  const parts = new Map<string, Part>();
  let conditions: unknown;
  for (const [name, value] of Object.entries(detection)) {
    if (name === "condition") conditions = value;
    else if (name === "timeframe") throw new RuleError("timeframe (aggregation) is not supported: use a correlation rule");
    else parts.set(name, compileSearch(name, value));
  }
  if (conditions === undefined) throw new RuleError("detection has no condition");
  // a list of conditions is linked with OR (specification, "Condition")
  const list = Array.isArray(conditions) ? conditions : [conditions];
  if (list.length === 0 || list.some((c) => typeof c !== "string")) throw new RuleError("condition is not a string or a list of strings");
  const identifiers = [...parts.keys()];
  let parsed: Condition[];
  try {
    parsed = list.map((c: string) => parseCondition(c, identifiers));
  } catch (error) {
    if (error instanceof ConditionError) throw new RuleError(error.message);
    throw error;
  }
  const whole = build(parsed.length === 1 ? parsed[0]! : { op: "or", items: parsed }, parts);
  const types = whole.keys.get("type");
  return {
    test: whole.test,
    types: types && new Set([...types].map((t) => t.toUpperCase())),
    keys: whole.keys,
    trigger: whole.trigger,
  };
}

function build(c: Condition, parts: Map<string, Part>): Part {
  switch (c.op) {
    case "id":
      return parts.get(c.name)!;
    case "not": {
      const inner = build(c.item, parts).test;
      return { test: (d) => !inner(d), keys: NO_KEYS, trigger: undefined };
    }
    case "and":
    case "or":
      return combine(
        c.op,
        c.items.map((i) => build(i, parts)),
      );
    case "of": {
      const items = c.names.map((n) => parts.get(n)!);
      if (c.count === "all") return combine("and", items);
      if (c.count === 1) return combine("or", items);
      const tests = items.map((i) => i.test);
      const need = c.count;
      // n of them: at least one of them passes, so any one's trigger will do
      return {
        trigger: anyTrigger(items.map((i) => i.trigger)),
        test: (d) => {
          let n = 0;
          for (const t of tests) if (t(d) && ++n >= need) return true;
          return false;
        },
        keys: NO_KEYS,
      };
    }
  }
}

function combine(op: "and" | "or", items: Part[]): Part {
  const tests = items.map((i) => i.test);
  const test: Test =
    op === "and"
      ? (d) => {
          for (const t of tests) if (!t(d)) return false;
          return true;
        }
      : (d) => {
          for (const t of tests) if (t(d)) return true;
          return false;
        };
  return {
    test,
    keys: op === "and" ? allOf(items.map((i) => i.keys)) : anyOf(items.map((i) => i.keys)),
    trigger: (op === "and" ? allTrigger : anyTrigger)(items.map((i) => i.trigger)),
  };
}

/** AND: every branch's keys hold (a field two branches name keeps the values both allow). */
function allOf(list: Keys[]): Keys {
  const out = new Map<string, ReadonlySet<string>>();
  for (const keys of list) {
    for (const [field, values] of keys) {
      const had = out.get(field);
      out.set(field, had === undefined ? values : new Set([...had].filter((v) => values.has(v))));
    }
  }
  return out;
}

/** OR: only a field every branch names is needed, with the values of any branch. */
function anyOf(list: Keys[]): Keys {
  const out = new Map<string, ReadonlySet<string>>();
  if (list.length === 0) return out;
  for (const [field] of list[0]!) {
    if (!list.every((k) => k.has(field))) continue;
    out.set(field, new Set(list.flatMap((k) => [...k.get(field)!])));
  }
  return out;
}

/** A search identifier: a map (AND of its fields), a list of maps (OR), or keywords (a list of values, OR). */
function compileSearch(name: string, value: unknown): Part {
  const where = `search identifier "${name}"`;
  if (isMap(value)) return compileMap(value, where);
  if (Array.isArray(value)) {
    if (value.length === 0) throw new RuleError(`${where} is an empty list`);
    if (value.every(isMap))
      return combine(
        "or",
        value.map((m) => compileMap(m, where)),
      );
    if (value.some(isMap)) throw new RuleError(`${where} mixes maps and plain values in one list`);
    const { test, trigger } = compileItem("", [], value, where);
    return { test, keys: NO_KEYS, trigger };
  }
  if (isScalar(value)) {
    const { test, trigger } = compileItem("", [], [value], where);
    return { test, keys: NO_KEYS, trigger };
  }
  throw new RuleError(`${where} is neither a map nor a list`);
}

function compileMap(map: Record<string, unknown>, where: string): Part {
  const parts: Part[] = [];
  for (const [key, value] of Object.entries(map)) {
    const [field = "", ...modifiers] = key.split("|");
    const { test, trigger } = compileItem(field, modifiers, value, `${where}, "${key}"`);
    // `field: value` (no modifier, no wildcard) names the values the field must have
    const values = field !== "" && modifiers.length === 0 ? plainValues(value) : undefined;
    parts.push({ test, keys: values === undefined ? NO_KEYS : new Map([[field, values]]), trigger });
  }
  if (parts.length === 0) throw new RuleError(`${where} is an empty map`);
  return combine("and", parts);
}

/** The lower-cased values of a plain value or list (no wildcard), else undefined. */
function plainValues(value: unknown): Set<string> | undefined {
  const list = Array.isArray(value) ? value : [value];
  const out = new Set<string>();
  for (const v of list) {
    if (typeof v === "number") out.add(String(v));
    else if (typeof v === "string" && !hasWildcards(parseSigmaString(v))) out.add(plainText(parseSigmaString(v)).toLowerCase());
    else return undefined;
  }
  return out;
}

/** One value after the modifiers so far. */
type Value =
  | { kind: "str"; s: SigmaString; text?: string }
  | { kind: "bytes"; bytes: Buffer }
  | { kind: "re"; source: string; flags: string }
  | { kind: "cidr"; list: BlockList }
  | { kind: "cmp"; op: "lt" | "lte" | "gt" | "gte"; n: number }
  | { kind: "ref"; field: string }
  | { kind: "null" }
  | { kind: "exists"; want: boolean };

const RE_FLAGS: Record<string, string> = { i: "i", ignorecase: "i", m: "m", multiline: "m", s: "s", dotall: "s" };
const WINDASH = ["-", "/", "\u2013", "\u2014", "\u2015"];

/**
 * One field (or, with field "", the keywords) and its values through the modifiers, left to right as the
 * specification says ("Value Modifiers": "applied in the given order").
 */
function compileItem(field: string, modifiers: string[], raw: unknown, where: string): { test: Test; trigger: Trigger } {
  const scalars = Array.isArray(raw) ? raw : [raw];
  if (scalars.length === 0) throw new RuleError(`${where}: empty list of values`);
  let values: Value[] = scalars.map((v) => initial(v, where));
  let all = false;
  let cased = false;
  let negate = false;
  const applied: string[] = [];
  for (const mod of modifiers) {
    const m = mod.toLowerCase();
    switch (m) {
      case "all":
        if (scalars.length < 2 && field !== "") throw new RuleError(`${where}: "all" needs a list of values`);
        all = true;
        break;
      case "cased":
        cased = true;
        break;
      case "neq":
        negate = true;
        break;
      case "contains":
      case "startswith":
      case "endswith":
        values = values.map((v) => {
          const s = str(v, m, where);
          const lead: SigmaString = m !== "startswith" && s[0] !== ANY ? [ANY] : [];
          const trail: SigmaString = m !== "endswith" && s[s.length - 1] !== ANY ? [ANY] : [];
          return { kind: "str", s: [...lead, ...s, ...trail] };
        });
        break;
      case "windash":
        values = values.flatMap((v) => windash(str(v, m, where), where).map((s): Value => ({ kind: "str", s })));
        break;
      case "base64":
        values = values.map((v) => ({ kind: "str", s: [bytesOf(v, m, where).toString("base64")] }));
        break;
      case "base64offset":
        values = values.flatMap((v) => base64Offsets(bytesOf(v, m, where)).map((t): Value => ({ kind: "str", s: [t] })));
        break;
      case "utf16le":
      case "wide":
        values = values.map((v) => ({ kind: "bytes", bytes: Buffer.from(plain(v, m, where), "utf16le") }));
        break;
      case "utf16be":
        values = values.map((v) => ({ kind: "bytes", bytes: Buffer.from(plain(v, m, where), "utf16le").swap16() }));
        break;
      case "utf16":
        values = values.map((v) => ({
          kind: "bytes",
          bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(plain(v, m, where), "utf16le")]),
        }));
        break;
      case "re":
        if (applied.some((a) => a !== "cased")) throw new RuleError(`${where}: "re" must come before other modifiers`);
        values = values.map((v) => {
          if (v.kind !== "str" || v.text === undefined) throw new RuleError(`${where}: "re" needs a string`);
          // the expression as written: Sigma's wildcard escapes do not apply to it
          return { kind: "re", source: v.text, flags: "" };
        });
        break;
      case "i":
      case "ignorecase":
      case "m":
      case "multiline":
      case "s":
      case "dotall":
        values = values.map((v) => {
          if (v.kind !== "re") throw new RuleError(`${where}: "${m}" is a flag of "re" and must follow it`);
          return { ...v, flags: v.flags + RE_FLAGS[m] };
        });
        break;
      case "cidr":
        values = values.map((v) => ({ kind: "cidr", list: cidr(plain(v, m, where), where) }));
        break;
      case "lt":
      case "lte":
      case "gt":
      case "gte":
        values = values.map((v) => {
          const n = Number(plain(v, m, where));
          if (!Number.isFinite(n)) throw new RuleError(`${where}: "${m}" needs a number`);
          return { kind: "cmp", op: m, n };
        });
        break;
      case "exists":
        values = values.map((v) => {
          if (v.kind !== "exists") throw new RuleError(`${where}: "exists" needs true or false`);
          return v;
        });
        break;
      case "fieldref":
        values = values.map((v) => ({ kind: "ref", field: plain(v, m, where) }));
        break;
      case "expand":
        throw new RuleError(`${where}: placeholders ("expand") are not supported; the specification says to reject such a rule`);
      case "minute":
      case "hour":
      case "day":
      case "week":
      case "month":
      case "year":
        throw new RuleError(`${where}: time modifier "${m}" is not supported`);
      default:
        throw new RuleError(`${where}: unknown modifier "${mod}"`);
    }
    applied.push(m);
  }
  valuesLeft -= values.length;
  if (valuesLeft < 0)
    throw new RuleError(
      `${where}: the rule holds more values than ${valueBound} (each costs about 2 KB while it runs); split it or trim its lists`,
    );
  const tests = values.map((v) => valueTest(v, cased, where));
  const slot = fieldSlot(field);
  const exists = values.find((v) => v.kind === "exists");
  if (exists !== undefined) {
    if (field === "") throw new RuleError(`${where}: "exists" needs a field`);
    return { test: (d) => (d.at(slot, field) !== undefined) === exists.want, trigger: undefined };
  }
  if (values.some((v) => v.kind === "null")) {
    if (values.length > 1) throw new RuleError(`${where}: null cannot be part of a list of values`);
    return { test: (d) => isNull(d.at(slot, field)), trigger: undefined };
  }
  if (field === "")
    return {
      test: keywordTest(
        values.map((v, i) => (v.kind === "str" ? { test: keyword(v.s, cased), search: true } : { test: tests[i]!, search: false })),
        all,
      ),
      // keywords search all of a record's values: indexed under the field "", whose values are all of them
      trigger: cased
        ? undefined
        : (all ? allTrigger : anyTrigger)(values.map((v) => (v.kind === "str" ? atomsOf("", keywordString(v.s)) : undefined))),
    };
  const strings = values.flatMap((v) => (v.kind === "str" ? [v.s] : []));
  // a plain list of strings (the usual case) is one combined test; `all` and other kinds test one by one
  const checks: ValueCheck[] =
    !all && strings.length === values.length
      ? [compileAnyString(strings, cased)]
      : values.map((v, i): ValueCheck => {
          if (v.kind !== "ref") return tests[i]!;
          const other = v.field;
          return (value, d) => anyValue(d.get(other), cased ? (o) => o === value : (o) => o.toLowerCase() === value.toLowerCase());
        });
  const match: Test = all
    ? (d) => {
        const got = d.at(slot, field);
        if (got === undefined) return false;
        for (const check of checks) if (!anyCheck(got, check, d)) return false;
        return true;
      }
    : (d) => {
        const got = d.at(slot, field);
        if (got === undefined) return false;
        for (const check of checks) if (anyCheck(got, check, d)) return true;
        return false;
      };
  // neq: the field is there and differs from every value (a missing field is no match either way)
  if (negate) return { test: (d) => d.at(slot, field) !== undefined && !match(d), trigger: undefined };
  return { test: match, trigger: itemTrigger(field, values, all, cased) };
}

/**
 * The trigger of a field's test: any value's atom (with `all`, one needed value's atom is enough), when
 * every value is a case-insensitive string; `cased`, `re`, `cidr` and the other kinds have none.
 */
function itemTrigger(field: string, values: readonly Value[], all: boolean, cased: boolean): Trigger {
  if (cased) return undefined;
  const triggers = values.map((v) => (v.kind === "str" ? atomsOf(field, v.s) : undefined));
  return (all ? allTrigger : anyTrigger)(triggers);
}

/**
 * Keywords: each test against the record's own values (any value will do); `all` needs every keyword. A
 * keyword string matches any text that holds a value it matches, so it needs only searchValues(); a `re` (which
 * may anchor) or an encoded value reads them all.
 */
function keywordTest(tests: { test: StringTest; search: boolean }[], all: boolean): Test {
  const has = (d: SigmaDoc, { test, search }: { test: StringTest; search: boolean }) => (search ? d.searchValues() : d.values()).some(test);
  return all ? (d) => tests.every((t) => has(d, t)) : (d) => tests.some((t) => has(d, t));
}

/** A keyword is found anywhere in a value (full-text search), so it is wrapped in `*` unless it already is. */
function keyword(s: SigmaString, cased: boolean): StringTest {
  return compileString(keywordString(s), cased);
}

function keywordString(s: SigmaString): SigmaString {
  const lead: SigmaString = s[0] === ANY ? [] : [ANY];
  const trail: SigmaString = s[s.length - 1] === ANY ? [] : [ANY];
  return [...lead, ...s, ...trail];
}

/** A test on one value of a field; `fieldref` also reads the document. */
type ValueCheck = (value: string, doc: SigmaDoc) => boolean;

/** Whether any value of a (possibly multi-valued) field passes: no closure made per call, this runs per record. */
function anyCheck(got: string | readonly string[], check: ValueCheck, doc: SigmaDoc): boolean {
  if (typeof got === "string") return check(got, doc);
  for (const v of got) if (check(v, doc)) return true;
  return false;
}

function anyValue(got: string | readonly string[] | undefined, test: StringTest): boolean {
  if (got === undefined) return false;
  if (typeof got === "string") return test(got);
  for (const v of got) if (test(v)) return true;
  return false;
}

function valueTest(v: Value, cased: boolean, where: string): StringTest {
  switch (v.kind) {
    case "str":
      return compileString(v.s, cased);
    case "re": {
      let flags = [...new Set(v.flags)].join("");
      // before the expression is made: V8 reads the flags as it compiles it
      enableLinearTime();
      try {
        new RegExp(v.source, flags);
      } catch (error) {
        throw new RuleError(`${where}: invalid regular expression: ${(error as Error).message}`);
      }
      // One event must not stall the run (and the auditd plugin queue behind it): `(a+)+$` is exponential and
      // `.*a.*b.*c` a power of the value's length on V8's backtracking matcher. An expression the linear-time
      // engine can run is safe whatever it looks like (enableLinearTime); `i` (foldCase) and counts over 16
      // copies (expandCounts) are written out so that it can. One it still cannot (lookaround, a backreference)
      // must have a bounded number of ways to match at one place (backtrackPaths), or the rule is a compile failure.
      let source = v.source;
      if (!linearTime(source, flags)) {
        const rest = flags.replace("i", "");
        const folded = flags.includes("i") ? foldCase(source) : source;
        const written = folded === undefined || linearTime(folded, rest) ? folded : expandCounts(folded);
        if (written !== undefined && linearTime(written, rest)) {
          source = written;
          flags = rest;
        }
      }
      if (!linearTime(source, flags) && backtrackPaths(source) > MAX_PATHS)
        throw new RuleError(
          `${where}: regular expression refused: with lookaround, a backreference or a count over 16 it runs on V8's backtracking engine, where an unbounded repetition (*, +, {n,}) or over ${MAX_PATHS} ways to match at one place can take minutes on one long value; rewrite it without them`,
        );
      const re = new RegExp(source, flags);
      return (s) => re.test(s);
    }
    case "cidr":
      return (s) => {
        const family = isIP(s);
        return family !== 0 && v.list.check(s, family === 4 ? "ipv4" : "ipv6");
      };
    case "cmp":
      return (s) => {
        if (s.trim() === "") return false;
        const n = Number(s);
        if (Number.isNaN(n)) return false;
        return v.op === "lt" ? n < v.n : v.op === "lte" ? n <= v.n : v.op === "gt" ? n > v.n : n >= v.n;
      };
    case "bytes":
      throw new RuleError(`${where}: a UTF-16 value must be base64-encoded to match audit text (add base64 or base64offset)`);
    default:
      return () => false;
  }
}

/**
 * auditd's own "no value" (`key=(null)`, `tty=(none)`, `addr=?`: the event's JSON shows null for each). Sigma's
 * `null` (sigma-rules-specification, Special Field Values: "a null value", its meaning left to the target) is such
 * a value or an absent field, as a SIEM holding these events (the JSON's null, SQL NULL: pySigma's SQLite `IS
 * NULL`) reads it. The field is still there as logged: `key: '(null)'`, `key: '*'` and `key|exists: true` match it.
 */
const NO_VALUE = new Set(["(null)", "(none)", "?"]);

function isNull(got: string | readonly string[] | undefined): boolean {
  return got === undefined || (typeof got === "string" ? NO_VALUE.has(got) : got.every((v) => NO_VALUE.has(v)));
}

/** Whether V8's linear-time engine can run the expression (see enableLinearTime). */
function linearTime(source: string, flags: string): boolean {
  try {
    new RegExp(source, `${flags}l`);
    return true;
  } catch {
    return false;
  }
}

function initial(v: unknown, where: string): Value {
  if (v === null) return { kind: "null" };
  if (typeof v === "boolean") return { kind: "exists", want: v };
  if (typeof v === "number" || typeof v === "bigint") return { kind: "str", s: [String(v)] };
  if (typeof v === "string") return { kind: "str", s: parseSigmaString(v), text: v };
  throw new RuleError(`${where}: a value is a ${Array.isArray(v) ? "nested list" : typeof v}, not a string or number`);
}

function str(v: Value, mod: string, where: string): SigmaString {
  if (v.kind !== "str") throw new RuleError(`${where}: "${mod}" needs a string value`);
  return v.s;
}

function plain(v: Value, mod: string, where: string): string {
  const s = str(v, mod, where);
  if (hasWildcards(s)) throw new RuleError(`${where}: "${mod}" cannot take wildcards`);
  return plainText(s);
}

function bytesOf(v: Value, mod: string, where: string): Buffer {
  return v.kind === "bytes" ? v.bytes : Buffer.from(plain(v, mod, where), "utf8");
}

/** pySigma's base64offset: the value at the three offsets in a base64 text, without the edge characters that vary. */
function base64Offsets(bytes: Buffer): string[] {
  const starts = [0, 2, 3];
  const ends = [undefined, -3, -2];
  return [0, 1, 2].map((i) => {
    const enc = Buffer.concat([Buffer.alloc(i, " "), bytes]).toString("base64");
    return enc.slice(starts[i], ends[(bytes.length + i) % 3]);
  });
}

/**
 * The most values windash makes of one: each option dash is five spellings, so n dashes make 5^n values — 10
 * dashes took over a minute to compile (T22) — and a value with more than 5 is refused, not expanded.
 */
const WINDASH_MAX = 5 ** 5;

/** Every dash or slash that starts an option (pySigma's `\B[-/]\b`), in each of the five spellings. */
function windash(s: SigmaString, where: string): SigmaString[] {
  const options = s.reduce((n, piece) => n + (typeof piece === "string" ? piece.split(OPTION_DASH).length >> 1 : 0), 0);
  if (WINDASH.length ** options > WINDASH_MAX)
    throw new RuleError(
      `${where}: "windash" of a value with ${options} option dashes would be ${WINDASH.length}^${options} values (over ${WINDASH_MAX}): split the value`,
    );
  let out: SigmaString[] = [[]];
  for (const piece of s) {
    if (typeof piece !== "string") {
      for (const o of out) o.push(piece);
      continue;
    }
    const parts = piece.split(OPTION_DASH);
    for (let i = 0; i < parts.length; i++) {
      const text = parts[i]!;
      if (i % 2 === 0) {
        for (const o of out) if (text) o.push(text);
      } else out = out.flatMap((o) => WINDASH.map((d) => [...o, d]));
    }
  }
  // merge adjacent literal pieces so simple matchers apply
  return out.map((o) =>
    o.reduce<SigmaString>((acc, p) => {
      const last = acc[acc.length - 1];
      if (typeof p === "string" && typeof last === "string") acc[acc.length - 1] = last + p;
      else acc.push(p);
      return acc;
    }, []),
  );
}

const OPTION_DASH = /(?<!\w)([-/])(?=\w)/;

function cidr(text: string, where: string): BlockList {
  const [address = "", bits = ""] = text.split("/");
  const family = isIP(address);
  const prefix = Number(bits);
  if (family === 0 || !/^[0-9]+$/.test(bits) || prefix > (family === 4 ? 32 : 128))
    throw new RuleError(`${where}: "${text}" is not a CIDR range like 10.0.0.0/8`);
  const list = new BlockList();
  list.addSubnet(address, prefix, family === 4 ? "ipv4" : "ipv6");
  return list;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): boolean {
  return v === null || ["string", "number", "boolean", "bigint"].includes(typeof v);
}
