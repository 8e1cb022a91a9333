import type { AuditEvent } from "../event";
import { eventDocs } from "./document";
import type { SigmaRule } from "./rules";

/** One rule that matched an event, and the record types it matched in (in record order). */
export interface Match {
  rule: SigmaRule;
  records: string[];
}

/**
 * Runs a compiled rule set over events. Rules are indexed by the record types their detection can match
 * (a `type: EXECVE` selection that every branch needs), so a record is tested only against the rules for its
 * type plus those that name no type: with SigmaHQ's auditd set, a PATH record meets 12 rules, not 53.
 */
export class SigmaEngine {
  private readonly byType = new Map<string, SigmaRule[]>();
  private readonly anyType: SigmaRule[] = [];

  constructor(readonly rules: readonly SigmaRule[]) {
    for (const rule of rules) {
      if (rule.types === undefined) {
        this.anyType.push(rule);
        continue;
      }
      for (const type of rule.types) {
        const list = this.byType.get(type);
        if (list === undefined) this.byType.set(type, [rule]);
        else list.push(rule);
      }
    }
  }

  /** The rules that match the event, each once, in rule order. */
  match(event: AuditEvent): Match[] {
    if (event.records.length === 0) return [];
    let found: Map<SigmaRule, string[]> | undefined;
    for (const doc of eventDocs(event)) {
      // record types are logged in upper case: only a rare lower-case one pays for toUpperCase
      const type = this.byType.has(doc.type) ? doc.type : doc.type.toUpperCase();
      const typed = this.byType.get(type);
      if (typed !== undefined) found = this.run(typed, doc, type, found);
      found = this.run(this.anyType, doc, type, found);
    }
    if (found === undefined) return [];
    const order = new Map(this.rules.map((r, i) => [r, i]));
    return [...found].sort((a, b) => order.get(a[0])! - order.get(b[0])!).map(([rule, records]) => ({ rule, records }));
  }

  private run(
    rules: readonly SigmaRule[],
    doc: ReturnType<typeof eventDocs>[number],
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
}
