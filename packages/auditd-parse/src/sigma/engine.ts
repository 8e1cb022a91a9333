import type { AuditEvent } from "../event";
import type { EventJson } from "../event-json";
import type { SigmaDoc } from "./compile";
import { type Doc, eventDocs } from "./document";
import { type FieldIndex, Gate } from "./gate";
import { forgetLowerCased } from "./pattern";
import type { SigmaRule } from "./rules";
import { Places, TableEvent } from "./table-doc";

/** One rule that matched an event, and the record types it matched in (in record order). */
export interface Match {
  rule: SigmaRule;
  records: string[];
}

/**
 * Runs a compiled rule set over events, compiled once into one decision per record type: a record meets
 * only the rules whose detection can match its type (a `type: EXECVE` that every branch needs) and those
 * that name no type, and of those only the ones whose trigger passed on its fields (./gate.ts) run their
 * full test. With SigmaHQ's auditd set an EXECVE record running `ls` reads a few fields and runs a few
 * tests instead of 33 rules' tests. The alerts are those of testing every rule on every record of its
 * types, as test/sigma-gate.test.ts checks on every known log and random events.
 */
export class SigmaEngine {
  private readonly byType = new Map<string, Gate>();
  /** Records of a type no rule names: only the rules that name no type. */
  private readonly otherTypes: Gate;
  /** Where records of each layout have the fields the rules read (TableEvent). */
  private readonly places = new Places();
  /** The view matchTable reads every event through (TableEvent.reset): nothing of it outlives the call. */
  private view: TableEvent | undefined;

  constructor(readonly rules: readonly SigmaRule[]) {
    const indexed = rules.map((rule, index) => ({ index, trigger: rule.trigger }));
    const any = indexed.filter((_, i) => rules[i]!.types === undefined);
    const types = new Set(rules.flatMap((r) => [...(r.types ?? [])]));
    const indexes = new Map<string, FieldIndex>();
    for (const type of types)
      this.byType.set(type, new Gate([...indexed.filter((_, i) => rules[i]!.types?.has(type)), ...any], rules.length, indexes));
    this.otherTypes = new Gate(any, rules.length, indexes);
    this.indexes = [...indexes.values()];
  }

  /** Every gate's field indexes (shared between gates), for release. */
  private readonly indexes: FieldIndex[];

  /** The rules that match the event, each once, in rule order. */
  match(event: AuditEvent): Match[] {
    if (event.records.length === 0) return [];
    return this.matchDocs(eventDocs(event));
  }

  /**
   * The same, with the records read from the interpreter's table and JSON (see Interpreter's recordObjects):
   * the gate reads a record's fields from the table, and a document is made only for a record with rules to test.
   */
  matchTable(event: AuditEvent, line: EventJson): Match[] {
    const table = line.recordTable();
    if (table === undefined || table.count === 0) return [];
    const json = line.recordsJson()!;
    let view = this.view;
    if (view === undefined) {
      view = new TableEvent(event, table, json, this.places, line);
      this.view = view;
    } else view.reset(event, table, json, line);
    let found: Found | undefined;
    for (let i = 0; i < view.count; i++) {
      const r = view.records[i]!;
      const gate = this.gateOf(table.types[r]!);
      const candidates = gate.candidatesAt(view, r);
      if (candidates.length === 0) continue;
      const doc = view.doc(r);
      const type = this.byType.has(doc.type) ? doc.type : doc.type.toUpperCase();
      for (const index of candidates) {
        if (this.rules[index]!.test(doc)) found = noteMatch(found, index, type, doc);
      }
    }
    const matches = found === undefined ? [] : ordered(found, this.rules);
    if (table.bytes.length >= RELEASE_BYTES) this.release(view);
    return matches;
  }

  /**
   * Lets go of what matching an event kept: the view, the field indexes' last values and lowerCased's copies
   * outlive it, and held while the next event is parsed an exec's argv, command line (300 KB) and its
   * lower-cased copy were promoted to the old generation at each scavenge: 43 MB promoted per 30 MiB of
   * 600-argument execs against the parse's 7, and detect's collector took twice the parse's time. Done for
   * large events only (RELEASE_BYTES): what a small one leaves is small, and a log of small events would pay
   * for the release at each.
   */
  private release(view: TableEvent): void {
    view.release();
    for (const f of this.indexes) f.forget();
    forgetLowerCased();
  }

  /** The gate of a record type (logged in upper case: only a rare lower-case one pays for toUpperCase). */
  private gateOf(type: string): Gate {
    return this.byType.get(type) ?? this.byType.get(type.toUpperCase()) ?? this.otherTypes;
  }

  private matchDocs(docs: readonly (SigmaDoc & { type: string })[]): Match[] {
    let found: Found | undefined;
    for (const doc of docs) {
      // record types are logged in upper case: only a rare lower-case one pays for toUpperCase
      const type = this.byType.has(doc.type) ? doc.type : doc.type.toUpperCase();
      const gate = this.byType.get(type) ?? this.otherTypes;
      for (const index of gate.candidates(doc)) {
        if (this.rules[index]!.test(doc)) found = noteMatch(found, index, type, doc as Doc);
      }
    }
    return found === undefined ? [] : ordered(found, this.rules);
  }
}

/** The logged bytes of an event from which the engine lets go of it once matched (SigmaEngine.release). */
export const RELEASE_BYTES = 64 * 1024;

/** The records rule `index` matched: each as its type and its document. */
type Found = Map<number, { type: string; doc: Doc }[]>;

/** Records that rule `index` matched a record of `type` (in the order met). */
function noteMatch(found: Found | undefined, index: number, type: string, doc: Doc): Found {
  const map = found ?? new Map();
  const docs = map.get(index);
  if (docs === undefined) map.set(index, [{ type, doc }]);
  else docs.push({ type, doc });
  return map;
}

/**
 * Matches by rule order, each with the record types it matched: those whose own fields match the rule, when
 * any does. A record lacking a field reads it from the event's other records, so a rule without a type (`a7`
 * on any record) matched SYSCALL, CWD and PROCTITLE too with EXECVE's a7, and the alert named them all (T-aud17
 * #11). Checked only for a match, with a document that reads no other record. When no record matches alone (a
 * rule joining `type: EXECVE` with SYSCALL's `key`), every record that matched is named.
 */
function ordered(found: Found, rules: readonly SigmaRule[]): Match[] {
  return [...found]
    .sort((a, b) => a[0] - b[0])
    .map(([index, docs]) => ({ rule: rules[index]!, records: matchedTypes(rules[index]!, docs) }));
}

/** The record types an alert names, of the records `rule` matched (see ordered). */
export function matchedTypes(rule: SigmaRule, docs: readonly { type: string; doc: Doc }[]): string[] {
  const alone = docs.length > 1 ? docs.filter(({ doc }) => rule.test(ownOnly(doc))) : docs;
  const types: string[] = [];
  for (const { type } of alone.length > 0 ? alone : docs) if (!types.includes(type)) types.push(type);
  return types;
}

/** A record's document that reads its own fields only. */
function ownOnly(doc: Doc): SigmaDoc {
  return {
    get: (field) => doc.own(field),
    at: (_slot, field) => doc.own(field),
    values: () => doc.values(),
    searchValues: () => doc.searchValues(),
  };
}
