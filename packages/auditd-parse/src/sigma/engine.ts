import type { AuditEvent } from "../event";
import type { EventJson } from "../event-json";
import type { SigmaDoc } from "./compile";
import { eventDocs } from "./document";
import { type FieldIndex, Gate } from "./gate";
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

  constructor(readonly rules: readonly SigmaRule[]) {
    const indexed = rules.map((rule, index) => ({ index, trigger: rule.trigger }));
    const any = indexed.filter((_, i) => rules[i]!.types === undefined);
    const types = new Set(rules.flatMap((r) => [...(r.types ?? [])]));
    const indexes = new Map<string, FieldIndex>();
    for (const type of types)
      this.byType.set(type, new Gate([...indexed.filter((_, i) => rules[i]!.types?.has(type)), ...any], rules.length, indexes));
    this.otherTypes = new Gate(any, rules.length, indexes);
  }

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
    const view = new TableEvent(event, table, line.recordsJson()!, this.places, line);
    let found: Map<number, string[]> | undefined;
    for (const r of view.records) {
      const gate = this.gateOf(table.types[r]!);
      const candidates = gate.candidatesAt(view, r);
      if (candidates.length === 0) continue;
      const doc = view.doc(r);
      const type = this.byType.has(doc.type) ? doc.type : doc.type.toUpperCase();
      for (const index of candidates) {
        if (this.rules[index]!.test(doc)) found = noteMatch(found, index, type);
      }
    }
    return found === undefined ? [] : ordered(found, this.rules);
  }

  /** The gate of a record type (logged in upper case: only a rare lower-case one pays for toUpperCase). */
  private gateOf(type: string): Gate {
    return this.byType.get(type) ?? this.byType.get(type.toUpperCase()) ?? this.otherTypes;
  }

  private matchDocs(docs: readonly (SigmaDoc & { type: string })[]): Match[] {
    let found: Map<number, string[]> | undefined;
    for (const doc of docs) {
      // record types are logged in upper case: only a rare lower-case one pays for toUpperCase
      const type = this.byType.has(doc.type) ? doc.type : doc.type.toUpperCase();
      const gate = this.byType.get(type) ?? this.otherTypes;
      for (const index of gate.candidates(doc)) {
        if (this.rules[index]!.test(doc)) found = noteMatch(found, index, type);
      }
    }
    return found === undefined ? [] : ordered(found, this.rules);
  }
}

/** Records that rule `index` matched a record of `type` (each type once per rule, in the order met). */
function noteMatch(found: Map<number, string[]> | undefined, index: number, type: string): Map<number, string[]> {
  const map = found ?? new Map<number, string[]>();
  const types = map.get(index);
  if (types === undefined) map.set(index, [type]);
  else if (!types.includes(type)) types.push(type);
  return map;
}

/** Matches by rule order. */
function ordered(found: Map<number, string[]>, rules: readonly SigmaRule[]): Match[] {
  return [...found].sort((a, b) => a[0] - b[0]).map(([index, records]) => ({ rule: rules[index]!, records }));
}
