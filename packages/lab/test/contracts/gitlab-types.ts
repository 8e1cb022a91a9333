import type {
  AdminUserSchema,
  ApprovalStateSchema,
  CommitSchema,
  CommitStatusSchema,
  CondensedCommitSchema,
  DiffRefsSchema,
  EventSchema,
  GroupSchema,
  JobSchema,
  MemberSchema,
  MergeRequestDiffVersionsSchema,
  MergeRequestLevelMergeRequestApprovalSchema,
  MergeRequestNoteSchema,
  MergeRequestSchema,
  PipelineSchema,
  PipelineStatus,
  ProjectLevelApprovalRuleSchema,
  SimpleProjectSchema,
  SimpleUserSchema,
  UserSchema,
} from "@gitbeaker/core";

/**
 * The GitLab response contract the simulator is held to: @gitbeaker/core's response types, widened or
 * completed only where GitLab's own REST docs say more or differently — each such change cites the page.
 * The checker (gitlab-check.ts) also refuses any field that is neither in these types nor in the docs.
 */

type MappedOmit<T, K extends keyof T> = { [P in keyof T as P extends K ? never : P]: T[P] };

type EmbeddedUser = MappedOmit<SimpleUserSchema, "created_at"> & {
  /** https://docs.gitlab.com/api/users/#list-users: UserBasic carries `locked`. */
  locked: boolean;
};

/** GET /users for an ordinary token: UserBasic, no created_at and no e-mail (https://docs.gitlab.com/api/users/#list-users). */
export type ListedUser = EmbeddedUser;
/** GET /users/:id for an ordinary token: the public profile. */
export type PublicUser = UserSchema & { locked: boolean };
/** GET /users and /users/:id for an administrator. */
export type AdminUser = AdminUserSchema & { locked: boolean };

/**
 * https://docs.gitlab.com/api/members/#list-all-members-of-a-group-or-project: `expires_at` is null for a
 * membership that does not expire, `email` is shown to administrators only, `group_saml_identity` only
 * with SAML SSO. `membership_state` is the membership's state name, `active` or `awaiting` (GitLab's API::Entities::Member
 * exposes `human_state_name` as it; the docs' example responses show `"membership_state": "active"`, and `/members/all`
 * filters on the same two states).
 */
export type Member = MappedOmit<MemberSchema, "expires_at" | "email" | "group_saml_identity"> & {
  locked: boolean;
  created_at: string;
  expires_at: string | null;
  email?: string;
  membership_state: "active" | "awaiting";
};

/** https://docs.gitlab.com/api/groups/#get-a-single-group: `parent_id` is null for a top-level group. */
export type Group = MappedOmit<GroupSchema, "parent_id"> & { parent_id: number | null };

/** The project fields every project has; the simulator does not model the ~80 project settings of ProjectSchema. */
export type Project = SimpleProjectSchema;

/** https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests: `merge_user` (since 14.7) and `squash_on_merge`. */
export type MergeRequest = MappedOmit<MergeRequestSchema, "author" | "merged_by" | "closed_by" | "assignees" | "assignee" | "reviewers"> & {
  author: EmbeddedUser;
  merged_by: EmbeddedUser | null;
  merge_user: EmbeddedUser | null;
  closed_by: EmbeddedUser | null;
  assignees: EmbeddedUser[] | null;
  assignee: EmbeddedUser | null;
  reviewers: EmbeddedUser[] | null;
  squash_on_merge: boolean;
};
/** https://docs.gitlab.com/api/merge_requests/#get-single-mr */
export type SingleMergeRequest = MergeRequest & { diff_refs: DiffRefsSchema };

/** https://docs.gitlab.com/api/commits/#get-a-single-commit: `trailers` and `extended_trailers` (since 15.11 / 16.2). */
export type Commit = CommitSchema & { trailers: Record<string, string>; extended_trailers: Record<string, string[]> };

/**
 * https://docs.gitlab.com/api/merge_request_approvals/ ("Get configuration for a single merge request"):
 * the documented fields gitbeaker's type leaves out.
 */
export type Approvals = MappedOmit<MergeRequestLevelMergeRequestApprovalSchema, "approved_by"> & {
  approved: boolean;
  require_password_to_approve: boolean;
  approved_by: { user: EmbeddedUser }[];
  suggested_approvers: EmbeddedUser[];
  approvers: { user: EmbeddedUser }[];
  approver_groups: unknown[];
  user_has_approved: boolean;
  user_can_approve: boolean;
  approval_rules_left: { id: number; name: string; rule_type: string }[];
  has_approval_rules: boolean;
  merge_request_approvers_available: boolean;
  multiple_approval_rules_available: boolean;
  invalid_approvers_rules: unknown[];
};

type ApprovalStateRule = ApprovalStateSchema["rules"][number];
/** https://docs.gitlab.com/api/merge_request_approvals/#get-the-approval-state-of-merge-requests: each rule says who approved. */
export type ApprovalState = MappedOmit<ApprovalStateSchema, "rules"> & {
  rules: (MappedOmit<ApprovalStateRule, "eligible_approvers" | "users" | "groups" | "source_rule"> & {
    eligible_approvers: EmbeddedUser[];
    users: EmbeddedUser[];
    groups: { id: number; name: string; path: string; full_path: string; full_name: string; avatar_url: string | null; web_url: string }[];
    approved_by: EmbeddedUser[];
    source_rule: { approvals_required: number } | null;
  })[];
};

/** https://docs.gitlab.com/api/notes/#list-all-merge-request-notes */
export type Note = MappedOmit<MergeRequestNoteSchema, "author"> & {
  author: EmbeddedUser;
  type: "DiscussionNote" | "DiffNote" | null;
  confidential: boolean;
  internal: boolean;
  commands_changes: Record<string, unknown>;
};

/** https://docs.gitlab.com/api/merge_requests/#get-merge-request-diff-versions: `patch_id_sha` (since 16.7). */
export type DiffVersion = MergeRequestDiffVersionsSchema & { patch_id_sha: string };

/**
 * https://docs.gitlab.com/api/commits/#list-the-statuses-of-a-commit: a status may be any job state (gitbeaker
 * lists only the five a client may set), and `target_url`, `description`, `started_at`, `finished_at` are null
 * when unset.
 */
export type CommitStatus = MappedOmit<
  CommitStatusSchema,
  "status" | "author" | "target_url" | "description" | "started_at" | "finished_at"
> & {
  status: PipelineStatus;
  author: EmbeddedUser;
  target_url: string | null;
  description: string | null;
  started_at: string | null;
  finished_at: string | null;
  coverage: number | null;
  pipeline_id: number;
};

/**
 * https://docs.gitlab.com/api/commits/#get-signature-of-a-commit: the SSH signature shape (gitbeaker's
 * CommitSignatureSchema predates SSH signing and knows only GPG and X.509).
 */
export type SshSignature = {
  signature_type: "SSH";
  verification_status: "verified" | "verified_system" | "unverified" | "unverified_key" | "unknown_key" | "other_user" | "revoked_key";
  key: { id: number; title: string; usage_type: "auth" | "signing" | "auth_and_signing" };
  commit_source: "gitaly" | "database";
};

/**
 * https://docs.gitlab.com/api/merge_request_approvals/#get-project-level-rules: `applies_to_all_protected_branches`
 * (since 15.3) and embedded users and groups as elsewhere; `overridden` belongs to merge-request-level rules
 * and is in none of the page's project-level examples.
 */
export type ProjectApprovalRule = MappedOmit<ProjectLevelApprovalRuleSchema, "overridden" | "users" | "eligible_approvers" | "groups"> & {
  eligible_approvers: EmbeddedUser[];
  users: EmbeddedUser[];
  groups: Group[];
  applies_to_all_protected_branches: boolean;
};

/** A required attribute missing (https://docs.gitlab.com/api/rest/troubleshooting/#status-codes: 400), in Grape's form. */
export type MissingAttribute = { error: string };

/** https://docs.gitlab.com/api/rest/troubleshooting/#status-codes: `{"message": …}`, a string or per-field messages. */
export type ErrorMessage = { message: string | Record<string, string[]> };
/** A token without the scope a route needs (https://docs.gitlab.com/api/rest/authentication/). */
export type ScopeError = { error: "insufficient_scope"; error_description: string; scope: string };

/**
 * https://docs.gitlab.com/api/events/#list-a-projects-visible-events: a push has no target (null target_*)
 * and carries push_data; `target_iid`, `imported` and `imported_from` are documented and absent from gitbeaker's type.
 */
export type Event = MappedOmit<EventSchema, "target_id" | "target_type" | "target_title" | "author"> & {
  author: EmbeddedUser;
  target_id: number | null;
  target_iid: number | null;
  target_type: "MergeRequest" | "Issue" | "Milestone" | "Note" | "Project" | "Snippet" | "User" | null;
  target_title: string | null;
  imported: boolean;
  imported_from: string;
  push_data?: {
    commit_count: number;
    action: "pushed" | "created" | "removed";
    ref_type: "branch" | "tag";
    commit_from: string | null;
    commit_to: string | null;
    ref: string;
    commit_title: string | null;
    ref_count: number | null;
  };
};

/**
 * https://docs.gitlab.com/api/jobs/#list-project-jobs: `user` is the user's public profile (gitbeaker's
 * ExpandedUserSchema has the fields only the user themself or an administrator sees),
 * `runner` and the time fields are null until set, `status` is a job state.
 */
type JobOverrides =
  | "user"
  | "runner"
  | "commit"
  | "pipeline"
  | "coverage"
  | "started_at"
  | "finished_at"
  | "erased_at"
  | "duration"
  | "artifacts_file"
  | "status";
export type Job = MappedOmit<JobSchema, JobOverrides> & {
  status: PipelineStatus;
  user: PublicUser;
  runner: null | Record<string, unknown>;
  commit: CondensedCommitSchema;
  pipeline: PipelineSchema;
  coverage: number | null;
  started_at: string | null;
  finished_at: string | null;
  erased_at: string | null;
  duration: number | null;
  failure_reason?: string;
};
