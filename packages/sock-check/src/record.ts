import type { Person, ReviewState } from "./model";

/** One commit's evidence: what an auditor samples. The JSON schema in the README documents these fields. */

export type Verdict = "compliant" | "exempt" | "emergency" | "noncompliant" | "unverified";

export type Rule =
  | "direct-push"
  | "approvals"
  | "self-approval"
  | "stale-approval"
  | "changes-requested"
  | "check-missing"
  | "check-failed"
  | "ticket"
  | "unsigned"
  | "path-rule"
  | "approval-rule"
  | "retro-overdue"
  | "unverified";

export interface Violation {
  rule: Rule;
  message: string;
}

export interface ApprovalRecord {
  reviewer: string | null;
  state: ReviewState;
  submitted_at: string | null;
  commit: string | null;
  on_head: boolean;
  /** Whether it counts towards the required approvals; why not otherwise. */
  counts: boolean;
  note?: string;
}

export interface CheckRecord {
  name: string;
  /** The GitHub App (check run) or the account that posted it (status). */
  app: string | null;
  kind: "check_run" | "status" | "job";
  /** The conclusion (check run) or state (status), lower case; "pending" while it runs. */
  state: string;
  /** The commit it ran on: the PR's head. */
  sha: string;
  /** When it completed (check run, GitLab job or status) or was posted (GitHub status). */
  completed_at: string | null;
  /** Whether it counts for a required check. */
  required: boolean;
  /**
   * Why a result does not count: for the required check of its name (another app's, another account's status), or
   * as a pass at all (skipped on GitLab, where that is a job that never ran; skipped or neutral under
   * `checks.skippedOrNeutral: fail`; a pass without a readable completion time). Reports show it without a tick.
   */
  note?: string;
}

export interface EmergencyRecord {
  label: string;
  due_at: string;
  status: "pending" | "done" | "overdue";
  retro_reviewer: string | null;
  retro_reviewed_at: string | null;
  /** Reviewers whose latest review requests changes: the retroactive review is not done while any stands. */
  changes_requested_by?: string[];
}

export interface PullRecord {
  number: number;
  url: string;
  title: string;
  author: string | null;
  head_ref: string;
  head_sha: string;
  merged_at: string | null;
  merged_by: string | null;
}

export interface ChangeRecord {
  repo: string;
  range: { from: string; to: string; mode: "first-parent" | "all" };
  commit: { sha: string; subject: string; author: Person; committer: Person; co_authors: Person[]; signed: boolean | null };
  pr: PullRecord | null;
  approvals: ApprovalRecord[];
  checks: CheckRecord[];
  tickets: string[];
  labels: string[];
  emergency: EmergencyRecord | null;
  exemption: string | null;
  verdict: Verdict;
  violations: Violation[];
  tool_version: string;
  generated_at: string;
}

export interface Summary {
  commits: number;
  pulls: number;
  compliant: number;
  exempt: number;
  emergency: number;
  noncompliant: number;
  unverified: number;
}

export interface Report {
  schema: "opsguard.sock-check/v1";
  tool_version: string;
  generated_at: string;
  repo: string;
  /** Whose changes the records' `pr` are: GitHub's pull requests (#N) or GitLab's merge requests (!N). */
  provider: "github" | "gitlab";
  range: ChangeRecord["range"];
  /** Where the policy came from: "<ref>:.sock-check.yml" or a file path. */
  policy_source: string;
  summary: Summary;
  records: ChangeRecord[];
  /** API requests this run made. */
  requests: number;
}

export function summarize(records: readonly ChangeRecord[]): Summary {
  const count = (v: Verdict) => records.filter((r) => r.verdict === v).length;
  return {
    commits: records.length,
    pulls: new Set(records.filter((r) => r.pr).map((r) => r.pr?.number)).size,
    compliant: count("compliant"),
    exempt: count("exempt"),
    emergency: count("emergency"),
    noncompliant: count("noncompliant"),
    unverified: count("unverified"),
  };
}
