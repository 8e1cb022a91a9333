import type { AuditEvent } from "../event";
import { fieldSlot } from "./compile";
import { eventDocs, type RecordDoc } from "./document";
import type { SigmaRule } from "./rules";

/** One rule that matched an event, and the record types it matched in (in record order). */
export interface Match {
  rule: SigmaRule;
  records: string[];
}

/**
 * The rules a record can meet: those indexed by the value of one field (the field most of them need a
 * plain value of, e.g. EXECVE's `a0` or SYSCALL's `SYSCALL`) and the rest, which always run.
 */
class Bucket {
  private readonly field: string | undefined;
  private readonly slot: number;
  private readonly byValue = new Map<string, SigmaRule[]>();
  private readonly always: SigmaRule[] = [];

  constructor(rules: readonly SigmaRule[]) {
    const counts = new Map<string, number>();
    for (const r of rules) for (const f of r.keys.keys()) if (f !== "type") counts.set(f, (counts.get(f) ?? 0) + 1);
    const best = [...counts].sort((a, b) => b[1] - a[1])[0];
    this.field = best?.[0];
    this.slot = this.field === undefined ? -1 : fieldSlot(this.field);
    for (const r of rules) {
      const values = this.field === undefined ? undefined : r.keys.get(this.field);
      if (values === undefined) {
        this.always.push(r);
        continue;
      }
      for (const v of values) {
        const list = this.byValue.get(v);
        if (list === undefined) this.byValue.set(v, [r]);
        else list.push(r);
      }
    }
  }

  /** Runs the rules that can match `doc`, recording matches in `found` (made when the first one matches). */
  run(doc: RecordDoc, type: string, found: Map<SigmaRule, string[]> | undefined): Map<SigmaRule, string[]> | undefined {
    let out = runAll(this.always, doc, type, found);
    if (this.field === undefined) return out;
    const value = doc.at(this.slot, this.field);
    if (value === undefined) return out;
    for (const v of typeof value === "string" ? [value] : value) {
      const rules = this.byValue.get(v.toLowerCase());
      if (rules !== undefined) out = runAll(rules, doc, type, out);
    }
    return out;
  }
}

function runAll(
  rules: readonly SigmaRule[],
  doc: RecordDoc,
  type: string,
  found: Map<SigmaRule, string[]> | undefined,
): Map<SigmaRule, string[]> | undefined {
  for (const rule of rules) {
    if (!rule.test(doc)) continue;
    found ??= new Map();
    const types = found.get(rule);
    if (types === undefined) found.set(rule, [type]);
    else if (!types.includes(type)) types.push(type);
  }
  return found;
}

/**
 * Runs a compiled rule set over events. Rules are indexed by the record types their detection can match
 * (a `type: EXECVE` that every branch needs) and, within a type, by the value of the field most of them
 * need (see Bucket): with SigmaHQ's auditd set an EXECVE record meets the rules naming its `a0` and the 13
 * that name no plain `a0`, not all 31 EXECVE rules.
 */
export class SigmaEngine {
  private readonly byType = new Map<string, Bucket>();
  private readonly anyType: Bucket;
  private readonly order: Map<SigmaRule, number>;

  constructor(readonly rules: readonly SigmaRule[]) {
    const typed = new Map<string, SigmaRule[]>();
    const any: SigmaRule[] = [];
    for (const rule of rules) {
      if (rule.types === undefined) any.push(rule);
      else
        for (const type of rule.types) {
          const list = typed.get(type);
          if (list === undefined) typed.set(type, [rule]);
          else list.push(rule);
        }
    }
    for (const [type, list] of typed) this.byType.set(type, new Bucket(list));
    this.anyType = new Bucket(any);
    this.order = new Map(rules.map((r, i) => [r, i]));
  }

  /** The rules that match the event, each once, in rule order. */
  match(event: AuditEvent): Match[] {
    if (event.records.length === 0) return [];
    let found: Map<SigmaRule, string[]> | undefined;
    for (const doc of eventDocs(event)) {
      // record types are logged in upper case: only a rare lower-case one pays for toUpperCase
      const type = this.byType.has(doc.type) ? doc.type : doc.type.toUpperCase();
      found = this.byType.get(type)?.run(doc, type, found) ?? found;
      found = this.anyType.run(doc, type, found);
    }
    if (found === undefined) return [];
    return [...found].sort((a, b) => this.order.get(a[0])! - this.order.get(b[0])!).map(([rule, records]) => ({ rule, records }));
  }
}
