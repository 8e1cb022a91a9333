import type { ChangeRecord, Verdict, Violation } from "../record";

/** Records of one PR (or one direct push) together, for the human-facing reports. */
export interface ChangeGroup {
  key: string;
  records: ChangeRecord[];
  first: ChangeRecord;
  verdict: Verdict;
  violations: Violation[];
}

const SEVERITY: Record<Verdict, number> = { noncompliant: 0, unverified: 1, emergency: 2, exempt: 3, compliant: 4 };

export function groupRecords(records: readonly ChangeRecord[]): ChangeGroup[] {
  const groups = new Map<string, ChangeRecord[]>();
  for (const record of records) {
    const key = record.pr ? `#${record.pr.number}` : record.commit.sha;
    groups.set(key, [...(groups.get(key) ?? []), record]);
  }
  return [...groups.entries()]
    .map(([key, list]) => {
      const verdict = list.map((r) => r.verdict).sort((a, b) => SEVERITY[a] - SEVERITY[b])[0] ?? "compliant";
      const seen = new Set<string>();
      const violations = list
        .flatMap((r) => r.violations)
        .filter((v) => {
          const id = `${v.rule}:${v.message}`;
          if (seen.has(id)) return false;
          seen.add(id);
          return true;
        });
      return { key, records: list, first: list[0]!, verdict, violations };
    })
    .sort((a, b) => SEVERITY[a.verdict] - SEVERITY[b.verdict]);
}

export function approversOf(record: ChangeRecord): string[] {
  return [...new Set(record.approvals.filter((a) => a.counts).map((a) => a.reviewer ?? "?"))];
}

export function titleOf(group: ChangeGroup): string {
  return group.first.pr ? group.first.pr.title : group.first.commit.subject;
}

/** "12 commits" etc. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * What a record without a PR/MR says in its place. An unverified one may have one that was never read (a paging
 * failure of the events or jobs list, T67 F5): "(no MR)" beside a message naming MR !1 said otherwise.
 */
export function noPullText(record: ChangeRecord, kind: string): string {
  return record.verdict === "unverified" ? `${kind} unknown` : `no ${kind}`;
}

/**
 * An unverified change is not judged on approvals, checks or ticket (evaluate.ts carries none for it), so it shows
 * that, not dashes that read as "none given" (T67 F5, T65 E1: "approved by — · checks — · ticket —").
 */
export const NOT_JUDGED = "not judged: approvals, checks and ticket are weighed once it can be verified";
