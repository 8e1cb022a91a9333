import { type GitHistoryCommit, readGitHistory } from "./git-history";
import type { GitHubScenario } from "./github-scenario";
import { GITLAB_API_PREFIX, type GitLabSim, gitlabNotFound, gitlabPage } from "./gitlab";
import type { SimRequest, SimResponse } from "./server";

/**
 * GitLab REST v4 merge-request routes added onto GitLabSim for one project: MRs of a commit, the MR,
 * its commits, approvals and approval rules, notes (approval events are system notes, as GitLab
 * records them), diff versions (one per push) and commit statuses (CI jobs), with GitLab's paging and
 * errors. Shapes follow https://docs.gitlab.com/api/merge_requests/,
 * https://docs.gitlab.com/api/merge_request_approvals/, https://docs.gitlab.com/api/commits/ and
 * https://docs.gitlab.com/api/notes/; the contract test checks them against @gitbeaker/core's types.
 */

export interface GitLabMergeRequest {
  iid: number;
  /**
   * The project the source branch lives in when it is a fork (default: this project). Its pushes are events of the
   * fork: a project's events list what happened in that project (https://docs.gitlab.com/api/events/#list-a-projects-visible-events).
   */
  sourceProjectId?: number;
  /**
   * The project the MR was opened in and merges into (default: this project): another one for an MR from this
   * project's branch into an upstream it was forked from. GitLab lists a project's MRs as those whose target it is
   * (https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests: `project_id`, `target_project_id`), so
   * this project's list leaves it out; its commit → MR lookup, which lists the MRs "related to the specified commit"
   * (https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit), still names it.
   */
  targetProjectId?: number;
  /** Whom a review was asked of and where it stands now (GraphQL MergeRequest.reviewers; see gitlab-graphql.ts). */
  reviewers?: Array<{ username: string; reviewState: GitLabReviewState | null }>;
  title: string;
  description: string;
  author: string;
  sourceBranch: string;
  targetBranch: string;
  /** Commits oldest first; the last is the head. */
  commits: string[];
  state: "opened" | "closed" | "merged";
  createdAt: string;
  mergedAt: string | null;
  mergedBy: string | null;
  mergeCommitSha: string | null;
  squashCommitSha: string | null;
  labels: string[];
  /** One diff version per push: the head it had and when. */
  versions: Array<{ id: number; headSha: string; createdAt: string }>;
  notes: Array<{ id: number; body: string; author: string; system: boolean; createdAt: string }>;
}

/** GraphQL MergeRequestReviewState (docs.gitlab.com/api/graphql/reference/#mergerequestreviewstate). */
export type GitLabReviewState = "UNREVIEWED" | "REVIEWED" | "REQUESTED_CHANGES" | "APPROVED" | "UNAPPROVED" | "REVIEW_STARTED";

export interface GitLabCommitStatus {
  id: number;
  sha: string;
  name: string;
  status: "success" | "failed" | "canceled" | "skipped" | "running" | "pending" | "created" | "manual";
  createdAt: string;
  finishedAt: string | null;
  /** Posted through the commit status API by an outside service: a status, not a CI job (not in /jobs). */
  external?: boolean;
  /**
   * The pipeline of the job (default: one of its own). A retried job is a new job (a new ID) in the same pipeline
   * (https://docs.gitlab.com/api/jobs/#retry-a-job); a new pipeline on the same commit gets a new, larger ID.
   */
  pipelineId?: number;
  /**
   * The pipeline's source, when not the one its commit's push or MR gives it: `parent_pipeline` for a child pipeline,
   * which a parent's `trigger: include` job starts "under the same project, ref, and commit SHA as the parent pipeline"
   * with a pipeline ID of its own, created after the parent's (docs.gitlab.com/ci/pipelines/downstream_pipelines/;
   * the sources: docs.gitlab.com/ci/jobs/job_rules/#ci_pipeline_source-predefined-variable). The trigger job itself
   * is a bridge, which the jobs list leaves out (docs.gitlab.com/api/jobs/#list-pipeline-trigger-jobs).
   */
  pipelineSource?: "parent_pipeline";
}

/** An approval rule of one MR (https://docs.gitlab.com/api/merge_request_approvals/#merge-request-level-mr-approvals). */
export interface GitLabApprovalRule {
  id: number;
  name: string;
  /** "regular" for a rule set on the MR, "code_owner" for a CODEOWNERS section, "any_approver" for the catch-all. */
  ruleType: "regular" | "code_owner" | "any_approver";
  approvalsRequired: number;
  users: string[];
  /** Group full paths: their members are eligible. */
  groups: string[];
}

export type MergeRequestInput = Pick<GitLabMergeRequest, "iid" | "title" | "author" | "sourceBranch" | "commits"> &
  Partial<Omit<GitLabMergeRequest, "iid" | "title" | "author" | "sourceBranch" | "commits" | "versions" | "notes">>;

/** GitLab's verification_status values for a commit signature. */
export type GitLabSignatureStatus = "verified" | "verified_system" | "unverified" | "unverified_key" | "unknown_key" | "other_user";

/** Creation time of the lab's projects: before any history a test builds. */
const EPOCH = new Date(Date.UTC(2020, 0, 1)).toISOString();
const DAY_MS = 86_400_000;

export class GitLabMergeRequests {
  readonly sim: GitLabSim;
  readonly project: { id: number; path: string };
  readonly commits = new Map<string, GitHistoryCommit>();
  readonly mergeRequests = new Map<number, GitLabMergeRequest>();
  readonly statuses: GitLabCommitStatus[] = [];
  /** sha → its SSH signature's verification status; a commit not here is unsigned. */
  readonly signatures = new Map<string, GitLabSignatureStatus>();
  /**
   * Events before this time are gone, as GitLab prunes events older than three years
   * (https://docs.gitlab.com/user/profile/contributions_calendar/#event-time-period-limit); null keeps all.
   */
  eventsKeptSince: string | null = null;
  /** iid → the MR's approval rules; an MR without any needs no approval (GitLab Free's default). */
  readonly approvalRules = new Map<number, GitLabApprovalRule[]>();
  /**
   * Extra commit → MR associations: `GET /projects/:id/repository/commits/:sha/merge_requests`
   * (https://docs.gitlab.com/api/commits/#list-merge-requests-associated-with-a-commit) is a lookup GitLab keeps
   * from the MR's recorded diffs, merge and squash commits, not a promise that the commit is one of the MR's
   * commits now. The independent tester (T31) saw it list a commit under a merged MR it is no part of; this
   * reproduces that answer, as the GitHub simulator's `associate` does for `associatedPullRequests`.
   */
  readonly extraAssociations = new Map<string, number[]>();
  /**
   * false: a GitLab that does not report `squash_commit_sha` (the field is missing from its merge requests, and its
   * commit → MR lookup does not find a squash commit either); `squash` still says an MR was squashed (T33).
   */
  reportsSquashCommitSha = true;
  #nextId = 1;

  constructor(sim: GitLabSim, project: { id: number; path: string }) {
    this.sim = sim;
    this.project = project;
    const base = `${GITLAB_API_PREFIX}/projects/:project`;
    const scoped = (handler: (req: SimRequest) => SimResponse) => (req: SimRequest) =>
      req.params.project === String(project.id) || req.params.project === project.path ? handler(req) : gitlabNotFound("Project");
    sim.route(
      "GET",
      base,
      scoped(() => ({ body: this.#projectJson() })),
    );
    sim.route(
      "GET",
      `${base}/merge_requests`,
      scoped((req) => this.#listMergeRequests(req)),
    );
    sim.route(
      "GET",
      `${base}/events`,
      scoped((req) => this.#events(req)),
    );
    sim.route(
      "GET",
      `${base}/jobs`,
      scoped((req) => this.#jobs(req)),
    );
    sim.graphqlProjects.push({
      projectPath: project.path,
      projectId: project.id,
      mergeRequests: () => this.mergeRequests.values(),
      approvers: (mr) => this.#approvers(mr),
      userId: (username) => Number(sim.userRef(username).id),
      userName: (username) => String(sim.userRef(username).name),
      userBot: (username) => sim.isBot(username),
      commits: (mr) =>
        mr.commits.map((sha) => {
          const author = this.commits.get(sha)?.author;
          const email = author?.email.toLowerCase() ?? "";
          // GitLab links a commit to the account one of whose e-mails its author address is (private ones included).
          const user = sim.state.users.find((u) => u.email.toLowerCase() === email || u.publicEmail?.toLowerCase() === email);
          return { sha, authorEmail: author?.email ?? "", authorName: author?.name ?? "", author: user?.username ?? null };
        }),
    });
    sim.route(
      "GET",
      `${base}/repository/commits/:sha`,
      scoped((req) => this.#commit(req)),
    );
    sim.route(
      "GET",
      `${base}/repository/commits/:sha/merge_requests`,
      scoped((req) => this.#mergeRequestsOfCommit(req)),
    );
    sim.route(
      "GET",
      `${base}/repository/commits/:sha/signature`,
      scoped((req) => this.#signature(req)),
    );
    sim.route(
      "GET",
      `${base}/repository/commits/:sha/statuses`,
      scoped((req) => this.#statuses(req)),
    );
    sim.route(
      "GET",
      `${base}/merge_requests/:iid`,
      scoped((req) => this.#withMr(req, (mr) => ({ body: { ...this.#mrJson(mr), diff_refs: this.#diffRefs(mr) } }))),
    );
    sim.route(
      "GET",
      `${base}/merge_requests/:iid/commits`,
      scoped((req) => this.#withMr(req, (mr) => this.#mrCommits(mr, req))),
    );
    sim.route(
      "GET",
      `${base}/merge_requests/:iid/approvals`,
      scoped((req) => this.#withMr(req, (mr) => ({ body: this.#approvals(mr) }))),
    );
    sim.route(
      "GET",
      `${base}/merge_requests/:iid/approval_state`,
      scoped((req) => this.#withMr(req, (mr) => ({ body: this.#approvalState(mr) }))),
    );
    sim.route(
      "GET",
      `${base}/merge_requests/:iid/notes`,
      scoped((req) => this.#withMr(req, (mr) => this.#notes(mr, req))),
    );
    sim.route(
      "GET",
      `${base}/merge_requests/:iid/versions`,
      scoped((req) => this.#withMr(req, (mr) => this.#versions(mr))),
    );
  }

  pushGitRepository(dir: string): this {
    for (const commit of readGitHistory(dir).commits) this.commits.set(commit.sha, commit);
    return this;
  }

  /** An MR; one diff version is recorded per commit, as if each was pushed on its own. */
  addMergeRequest(input: MergeRequestInput): GitLabMergeRequest {
    const mr: GitLabMergeRequest = {
      description: "",
      targetBranch: "main",
      state: "merged",
      createdAt: new Date(0).toISOString(),
      mergedAt: null,
      mergedBy: null,
      mergeCommitSha: null,
      squashCommitSha: null,
      labels: [],
      ...input,
      versions: [],
      notes: [],
    };
    for (const sha of mr.commits) {
      mr.versions.push({ id: this.#nextId++, headSha: sha, createdAt: this.commits.get(sha)?.committer.date ?? mr.createdAt });
    }
    this.mergeRequests.set(mr.iid, mr);
    return mr;
  }

  /** GitLab's commit → MR lookup lists `sha` under MR `iid` although it is not one of the MR's commits (see extraAssociations). */
  associate(sha: string, iid: number): this {
    this.extraAssociations.set(sha, [...(this.extraAssociations.get(sha) ?? []), iid]);
    return this;
  }

  /** An approval (or its withdrawal), recorded as GitLab does: a system note on the MR. */
  approve(iid: number, username: string, at: string, approved = true): this {
    const mr = this.mergeRequests.get(iid);
    if (!mr) throw new Error(`GitLab simulator: no MR !${iid}`);
    mr.notes.push({
      id: this.#nextId++,
      body: approved ? "approved this merge request" : "unapproved this merge request",
      author: username,
      system: true,
      createdAt: at,
    });
    return this;
  }

  /** A rule on an MR: `approvalsRequired` approvals from `users` or members of `groups`. */
  addApprovalRule(iid: number, rule: Omit<GitLabApprovalRule, "id" | "ruleType" | "users" | "groups"> & Partial<GitLabApprovalRule>): this {
    const rules = this.approvalRules.get(iid) ?? [];
    rules.push({ ruleType: "regular", users: [], groups: [], ...rule, id: rule.id ?? this.#nextId++ });
    this.approvalRules.set(iid, rules);
    return this;
  }

  addStatus(status: Omit<GitLabCommitStatus, "id">): this {
    this.statuses.push({ id: this.#nextId++, ...status });
    return this;
  }

  #user(username: string | null): Record<string, unknown> | null {
    return username ? this.sim.userRef(username) : null;
  }

  #commitJson(sha: string): Record<string, unknown> {
    const c = this.commits.get(sha)!;
    return {
      id: sha,
      short_id: sha.slice(0, 8),
      title: c.message.split("\n")[0],
      message: c.message,
      parent_ids: c.parents,
      author_name: c.author.name,
      author_email: c.author.email,
      authored_date: c.author.date,
      committer_name: c.committer.name,
      committer_email: c.committer.email,
      committed_date: c.committer.date,
      created_at: c.committer.date,
      // GitLab parses trailers (Co-authored-by among them) but leaves their e-mails unresolved.
      trailers: {},
      extended_trailers: {},
      web_url: `https://gitlab.example/${this.project.path}/-/commit/${sha}`,
    };
  }

  /** https://docs.gitlab.com/api/projects/#get-a-single-project: the fields a project always has, not every setting. */
  #projectJson(): Record<string, unknown> {
    const name = this.project.path.split("/").at(-1) ?? this.project.path;
    const namespace = this.project.path.slice(0, this.project.path.lastIndexOf("/"));
    const web = `https://gitlab.example/${this.project.path}`;
    return {
      id: this.project.id,
      description: null,
      name,
      name_with_namespace: this.project.path.split("/").join(" / "),
      path: name,
      path_with_namespace: this.project.path,
      created_at: EPOCH,
      default_branch: "main",
      topics: [],
      ssh_url_to_repo: `git@gitlab.example:${this.project.path}.git`,
      http_url_to_repo: `${web}.git`,
      web_url: web,
      readme_url: null,
      forks_count: 0,
      avatar_url: null,
      star_count: 0,
      last_activity_at: EPOCH,
      namespace: {
        id: this.sim.findGroup(namespace)?.id ?? 1,
        name: namespace.split("/").at(-1),
        path: namespace.split("/").at(-1),
        kind: "group",
        full_path: namespace,
        parent_id: null,
        avatar_url: null,
        web_url: `https://gitlab.example/groups/${namespace}`,
      },
    };
  }

  /** https://docs.gitlab.com/api/merge_requests/#get-single-mr (the list has the same fields bar diff_refs). */
  #mrJson(mr: GitLabMergeRequest): Record<string, unknown> {
    const ref = `!${mr.iid}`;
    const updatedAt = [mr.createdAt, mr.mergedAt ?? "", ...mr.notes.map((n) => n.createdAt)].sort().at(-1) ?? mr.createdAt;
    return {
      id: 1000 + mr.iid,
      iid: mr.iid,
      project_id: mr.targetProjectId ?? this.project.id,
      title: mr.title,
      description: mr.description,
      state: mr.state,
      created_at: mr.createdAt,
      updated_at: updatedAt,
      merged_by: this.#user(mr.mergedBy),
      merge_user: this.#user(mr.mergedBy),
      merged_at: mr.mergedAt,
      closed_by: null,
      closed_at: null,
      target_branch: mr.targetBranch,
      source_branch: mr.sourceBranch,
      user_notes_count: mr.notes.filter((n) => !n.system).length,
      upvotes: 0,
      downvotes: 0,
      author: this.#user(mr.author),
      assignees: [],
      assignee: null,
      reviewers: [],
      source_project_id: mr.sourceProjectId ?? this.project.id,
      target_project_id: mr.targetProjectId ?? this.project.id,
      labels: mr.labels,
      draft: false,
      work_in_progress: false,
      milestone: null,
      merge_when_pipeline_succeeds: false,
      merge_status: mr.state === "opened" ? "can_be_merged" : "cannot_be_merged_recheck",
      detailed_merge_status: mr.state === "opened" ? "mergeable" : "not_open",
      // "sha: Diff head SHA of the merge request"; "merge_commit_sha: SHA of the merge request commit",
      // "squash_commit_sha: SHA of the squash commit", both empty until merged (docs.gitlab.com/api/merge_requests/#get-single-mr).
      sha: mr.commits.at(-1) ?? null,
      merge_commit_sha: mr.mergeCommitSha,
      ...(this.reportsSquashCommitSha ? { squash_commit_sha: mr.squashCommitSha } : {}),
      discussion_locked: null,
      should_remove_source_branch: null,
      force_remove_source_branch: true,
      prepared_at: mr.createdAt,
      reference: ref,
      references: { short: ref, relative: ref, full: `${this.project.path}${ref}` },
      web_url: `https://gitlab.example/${this.project.path}/-/merge_requests/${mr.iid}`,
      time_stats: { time_estimate: 0, total_time_spent: 0, human_time_estimate: null, human_total_time_spent: null },
      squash: mr.squashCommitSha !== null,
      squash_on_merge: mr.squashCommitSha !== null,
      task_completion_status: { count: 0, completed_count: 0 },
      has_conflicts: false,
      blocking_discussions_resolved: true,
      approvals_before_merge: null,
    };
  }

  #withMr(req: SimRequest, fn: (mr: GitLabMergeRequest) => SimResponse): SimResponse {
    const mr = this.mergeRequests.get(Number(req.params.iid));
    return mr ? fn(mr) : gitlabNotFound("Merge Request");
  }

  #commit(req: SimRequest): SimResponse {
    const sha = req.params.sha ?? "";
    return this.commits.has(sha) ? { body: this.#commitJson(sha) } : gitlabNotFound("Commit");
  }

  /** As GitLab answers for an SSH-signed commit; an unsigned one is a 404. */
  #signature(req: SimRequest): SimResponse {
    const sha = req.params.sha ?? "";
    if (!this.commits.has(sha)) return gitlabNotFound("Commit");
    const status = this.signatures.get(sha);
    if (!status) return gitlabNotFound("Signature");
    const committer = this.commits.get(sha)!.committer;
    return {
      body: {
        signature_type: "SSH",
        verification_status: status,
        key: { id: 1, title: `${committer.name}'s signing key`, usage_type: "auth_and_signing" },
        commit_source: "gitaly",
      },
    };
  }

  #mergeRequestsOfCommit(req: SimRequest): SimResponse {
    const sha = req.params.sha ?? "";
    if (!this.commits.has(sha)) return gitlabNotFound("Commit");
    const mrs = [...this.mergeRequests.values()].filter(
      (mr) =>
        mr.commits.includes(sha) ||
        mr.mergeCommitSha === sha ||
        (this.reportsSquashCommitSha && mr.squashCommitSha === sha) ||
        (this.extraAssociations.get(sha)?.includes(mr.iid) ?? false),
    );
    return gitlabPage(
      mrs.map((mr) => this.#mrJson(mr)),
      req,
      this.sim.url,
      this.sim.quirks,
    );
  }

  #mrCommits(mr: GitLabMergeRequest, req: SimRequest): SimResponse {
    // GitLab lists an MR's commits newest first.
    return gitlabPage(
      [...mr.commits].reverse().map((sha) => this.#commitJson(sha)),
      req,
      this.sim.url,
      this.sim.quirks,
    );
  }

  #diffRefs(mr: GitLabMergeRequest): Record<string, unknown> {
    const head = mr.commits.at(-1) ?? "";
    const base = this.commits.get(mr.commits[0] ?? "")?.parents[0] ?? head;
    return { base_sha: base, head_sha: head, start_sha: base };
  }

  /** Who approves now: the latest approve/unapprove note per user decides. */
  #approvers(mr: GitLabMergeRequest): string[] {
    const current = new Map<string, boolean>();
    for (const note of mr.notes.filter((n) => n.system)) {
      if (note.body === "approved this merge request") current.set(note.author, true);
      if (note.body === "unapproved this merge request") current.set(note.author, false);
    }
    return [...current].filter(([, approved]) => approved).map(([username]) => username);
  }

  /** The users a rule accepts: its users and the members of its groups (https://docs.gitlab.com/user/project/merge_requests/approvals/rules/). */
  #eligible(rule: GitLabApprovalRule): string[] {
    const names = new Set(rule.users);
    for (const path of rule.groups) for (const username of Object.keys(this.sim.membersOf(path))) names.add(username);
    return [...names];
  }

  #rules(mr: GitLabMergeRequest) {
    const approvers = this.#approvers(mr);
    return (this.approvalRules.get(mr.iid) ?? []).map((rule) => {
      const eligible = this.#eligible(rule);
      const approvedBy = rule.ruleType === "any_approver" ? approvers : approvers.filter((a) => eligible.includes(a));
      return { rule, eligible, approvedBy, approved: approvedBy.length >= rule.approvalsRequired };
    });
  }

  /**
   * GET /projects/:id/merge_requests/:iid/approvals
   * (https://docs.gitlab.com/api/merge_request_approvals/#retrieve-approval-state-for-a-merge-request-deprecated
   * and "Get configuration for a single merge request"): approvals required and left across the rules, and who approved.
   */
  #approvals(mr: GitLabMergeRequest): Record<string, unknown> {
    const rules = this.#rules(mr);
    const required = rules.reduce((n, r) => n + r.rule.approvalsRequired, 0);
    const left = rules.reduce((n, r) => n + Math.max(0, r.rule.approvalsRequired - r.approvedBy.length), 0);
    const json = this.#mrJson(mr);
    return {
      id: json.id,
      iid: mr.iid,
      project_id: mr.targetProjectId ?? this.project.id,
      title: mr.title,
      description: mr.description,
      state: mr.state,
      created_at: mr.createdAt,
      updated_at: json.updated_at,
      merge_status: json.merge_status,
      approved: rules.every((r) => r.approved),
      approvals_required: required,
      approvals_left: left,
      require_password_to_approve: false,
      approved_by: this.#approvers(mr).map((username) => ({ user: this.#user(username) })),
      suggested_approvers: [],
      approvers: [],
      approver_groups: [],
      user_has_approved: false,
      user_can_approve: false,
      approval_rules_left: rules.filter((r) => !r.approved).map((r) => ({ id: r.rule.id, name: r.rule.name, rule_type: r.rule.ruleType })),
      has_approval_rules: rules.length > 0,
      merge_request_approvers_available: true,
      multiple_approval_rules_available: true,
      invalid_approvers_rules: [],
    };
  }

  /** GET /projects/:id/merge_requests/:iid/approval_state (https://docs.gitlab.com/api/merge_request_approvals/#get-the-approval-state-of-merge-requests). */
  #approvalState(mr: GitLabMergeRequest): Record<string, unknown> {
    return {
      approval_rules_overwritten: false,
      rules: this.#rules(mr).map(({ rule, eligible, approvedBy, approved }) => ({
        id: rule.id,
        name: rule.name,
        rule_type: rule.ruleType,
        eligible_approvers: eligible.map((u) => this.#user(u)),
        approvals_required: rule.approvalsRequired,
        users: rule.users.map((u) => this.#user(u)),
        groups: rule.groups.flatMap((path) => {
          const group = this.sim.findGroup(path);
          return group
            ? [
                {
                  id: group.id,
                  name: group.name,
                  path: group.fullPath.split("/").at(-1),
                  full_path: group.fullPath,
                  full_name: group.fullPath.split("/").join(" / "),
                  avatar_url: null,
                  web_url: `https://gitlab.example/groups/${group.fullPath}`,
                },
              ]
            : [];
        }),
        contains_hidden_groups: false,
        approved_by: approvedBy.map((u) => this.#user(u)),
        source_rule: null,
        approved,
        overridden: false,
      })),
    };
  }

  #notes(mr: GitLabMergeRequest, req: SimRequest): SimResponse {
    const asc = req.query.get("sort") === "asc";
    const notes = [...mr.notes].sort((a, b) => (asc ? 1 : -1) * a.createdAt.localeCompare(b.createdAt));
    return gitlabPage(
      notes.map((n) => ({
        id: n.id,
        type: null,
        body: n.body,
        attachment: null,
        author: this.#user(n.author),
        created_at: n.createdAt,
        updated_at: n.createdAt,
        system: n.system,
        noteable_id: 1000 + mr.iid,
        noteable_type: "MergeRequest",
        project_id: this.project.id,
        resolvable: false,
        confidential: false,
        internal: false,
        noteable_iid: mr.iid,
        commands_changes: {},
      })),
      req,
      this.sim.url,
      this.sim.quirks,
    );
  }

  /** https://docs.gitlab.com/api/merge_requests/#get-merge-request-diff-versions: newest first. */
  #versions(mr: GitLabMergeRequest): SimResponse {
    const { base_sha: base } = this.#diffRefs(mr) as { base_sha: string };
    return {
      body: [...mr.versions].reverse().map((v) => ({
        id: v.id,
        head_commit_sha: v.headSha,
        base_commit_sha: base,
        start_commit_sha: base,
        created_at: v.createdAt,
        merge_request_id: 1000 + mr.iid,
        state: "collected",
        real_size: String(Math.max(1, mr.commits.indexOf(v.headSha) + 1)),
        patch_id_sha: v.headSha,
      })),
    };
  }

  /**
   * GET /projects/:id/merge_requests (https://docs.gitlab.com/api/merge_requests/#list-project-merge-requests):
   * state, iids[], target_branch, created/updated after/before, order_by created_at|updated_at (default
   * created_at), sort desc by default.
   */
  #listMergeRequests(req: SimRequest): SimResponse {
    const q = req.query;
    const state = q.get("state") ?? "all";
    const iids = q.getAll("iids[]").map(Number);
    const orderBy = q.get("order_by") === "updated_at" ? "updated_at" : "created_at";
    const asc = q.get("sort") === "asc";
    const within = (value: string, after: string | null, before: string | null) =>
      (after === null || Date.parse(value) >= Date.parse(after)) && (before === null || Date.parse(value) <= Date.parse(before));
    const rows = [...this.mergeRequests.values()]
      .map((mr) => this.#mrJson(mr))
      .filter(
        (mr) =>
          mr.target_project_id === this.project.id &&
          (state === "all" || mr.state === state) &&
          (iids.length === 0 || iids.includes(mr.iid as number)) &&
          (q.get("target_branch") === null || mr.target_branch === q.get("target_branch")) &&
          within(mr.created_at as string, q.get("created_after"), q.get("created_before")) &&
          within(mr.updated_at as string, q.get("updated_after"), q.get("updated_before")),
      )
      .sort((a, b) => (asc ? 1 : -1) * (String(a[orderBy]).localeCompare(String(b[orderBy])) || (a.iid as number) - (b.iid as number)));
    return gitlabPage(rows, req, this.sim.url, this.sim.quirks);
  }

  /**
   * GET /projects/:id/events (https://docs.gitlab.com/api/events/#list-a-projects-visible-events): pushes
   * (one per diff version, by the MR's author, with push_data) and approvals. GitLab records no event
   * when an approval is withdrawn (the `approved` action has no counterpart), so neither does the simulator.
   * `after`/`before` are dates and exclusive; newest first unless sort=asc.
   */
  #events(req: SimRequest): SimResponse {
    const q = req.query;
    const events: Array<Record<string, unknown>> = [];
    for (const mr of this.mergeRequests.values()) {
      // A fork's pushes are the fork's events, not this project's.
      const pushedHere = (mr.sourceProjectId ?? this.project.id) === this.project.id;
      (pushedHere ? mr.versions : []).forEach((v, i) => {
        const from = i === 0 ? "0000000000000000000000000000000000000000" : (mr.versions[i - 1]?.headSha ?? "");
        events.push({
          ...this.#eventBase(v.id, mr.author, v.createdAt),
          action_name: i === 0 ? "pushed new" : "pushed to",
          target_id: null,
          target_iid: null,
          target_type: null,
          target_title: null,
          push_data: {
            commit_count: i === 0 ? mr.commits.indexOf(v.headSha) + 1 : mr.commits.indexOf(v.headSha) - mr.commits.indexOf(from),
            action: i === 0 ? "created" : "pushed",
            ref_type: "branch",
            commit_from: i === 0 ? null : from,
            commit_to: v.headSha,
            ref: mr.sourceBranch,
            commit_title: this.commits.get(v.headSha)?.message.split("\n")[0] ?? "",
            ref_count: null,
          },
        });
      });
      for (const note of mr.notes) {
        if (!note.system || note.body !== "approved this merge request") continue;
        events.push({
          ...this.#eventBase(note.id, note.author, note.createdAt),
          action_name: "approved",
          target_id: 1000 + mr.iid,
          target_iid: mr.iid,
          target_type: "MergeRequest",
          target_title: mr.title,
        });
      }
    }
    const action = q.get("action");
    const targetType = q.get("target_type");
    const day = (d: string | null) => (d === null ? null : Date.parse(`${d}T00:00:00Z`));
    const after = day(q.get("after"));
    const before = day(q.get("before"));
    const rows = events
      .filter((e) => {
        const name = String(e.action_name);
        const matches = action === null || (action === "pushed" ? name.startsWith("pushed") : name === action);
        const at = Date.parse(String(e.created_at));
        return (
          matches &&
          (this.eventsKeptSince === null || at >= Date.parse(this.eventsKeptSince)) &&
          (targetType === null || String(e.target_type ?? "").toLowerCase() === targetType.replace("_", "")) &&
          (after === null || at >= after + DAY_MS) &&
          (before === null || at < before)
        );
      })
      .sort((a, b) => (q.get("sort") === "asc" ? 1 : -1) * String(a.created_at).localeCompare(String(b.created_at)));
    return gitlabPage(rows, req, this.sim.url, this.sim.quirks);
  }

  #eventBase(id: number, username: string, at: string): Record<string, unknown> {
    const author = this.sim.userRef(username);
    return {
      id,
      project_id: this.project.id,
      author_id: author.id,
      author,
      author_username: username,
      // an event's time is GitLab's record of it (a database time, in UTC unless the instance has a time zone:
      // GitLabQuirks.timeZone), not the git date of a commit it names
      created_at: new Date(Date.parse(at)).toISOString(),
      imported: false,
      imported_from: "none",
    };
  }

  /**
   * GET /projects/:id/jobs (https://docs.gitlab.com/api/jobs/#list-project-jobs): the CI jobs behind the
   * commit statuses, newest first, each with its commit and pipeline.
   */
  #jobs(req: SimRequest): SimResponse {
    const scopes = req.query.getAll("scope[]");
    const rows = [...this.statuses]
      .filter((s) => !s.external && (scopes.length === 0 || scopes.includes(s.status)))
      .sort((a, b) => b.id - a.id)
      .map((s) => {
        const c = this.commits.get(s.sha);
        const ref = this.#refOf(s.sha);
        const mr = [...this.mergeRequests.values()].find((m) => m.commits.includes(s.sha));
        return {
          id: s.id,
          status: s.status,
          stage: "test",
          name: s.name,
          ref,
          tag: false,
          coverage: null,
          allow_failure: false,
          created_at: s.createdAt,
          started_at: s.createdAt,
          finished_at: s.finishedAt,
          erased_at: null,
          duration: s.finishedAt ? Math.max(0, (Date.parse(s.finishedAt) - Date.parse(s.createdAt)) / 1000) : null,
          queued_duration: 0,
          user: this.sim.userProfile(mr?.author ?? this.sim.state.users[0]?.username ?? "root"),
          commit: {
            id: s.sha,
            short_id: s.sha.slice(0, 8),
            title: c?.message.split("\n")[0] ?? "",
            message: c?.message ?? "",
            author_name: c?.author.name ?? "",
            author_email: c?.author.email ?? "",
            created_at: c?.committer.date ?? s.createdAt,
          },
          pipeline: {
            id: s.pipelineId ?? s.id,
            iid: s.pipelineId ?? s.id,
            project_id: this.project.id,
            sha: s.sha,
            ref,
            status: s.status,
            source: s.pipelineSource ?? (mr ? "merge_request_event" : "push"),
            created_at: s.createdAt,
            updated_at: s.finishedAt ?? s.createdAt,
            web_url: `https://gitlab.example/${this.project.path}/-/pipelines/${s.pipelineId ?? s.id}`,
          },
          web_url: `https://gitlab.example/${this.project.path}/-/jobs/${s.id}`,
          artifacts: [],
          runner: null,
          failure_reason: s.status === "failed" ? "script_failure" : undefined,
        };
      });
    return gitlabPage(rows, req, this.sim.url, this.sim.quirks);
  }

  /** The branch a status ran on: the source branch of the MR whose commit it is. */
  #refOf(sha: string): string {
    return [...this.mergeRequests.values()].find((mr) => mr.commits.includes(sha))?.sourceBranch ?? "main";
  }

  #statuses(req: SimRequest): SimResponse {
    const sha = req.params.sha ?? "";
    if (!this.commits.has(sha)) return gitlabNotFound("Commit");
    const statuses = this.statuses
      .filter((s) => s.sha === sha)
      // https://docs.gitlab.com/api/commits/#list-the-statuses-of-a-commit
      .map((s) => ({
        id: s.id,
        sha: s.sha,
        ref: this.#refOf(s.sha),
        status: s.status,
        name: s.name,
        target_url: null,
        description: null,
        created_at: s.createdAt,
        started_at: s.createdAt,
        finished_at: s.finishedAt,
        allow_failure: false,
        coverage: null,
        pipeline_id: s.pipelineId ?? s.id,
        author: this.#user(this.sim.state.users[0]?.username ?? "root"),
      }));
    return gitlabPage(statuses, req, this.sim.url, this.sim.quirks);
  }
}

/**
 * The same history on GitLab: a built GitHubScenario's repository, users, PRs (as merged MRs),
 * approvals (as approval notes at the time of the reviewed push) and checks (as commit statuses).
 */
export function mirrorScenarioToGitLab(scenario: GitHubScenario, mrs: GitLabMergeRequests): void {
  for (const [username, user] of Object.entries(scenario.users)) {
    if (!mrs.sim.state.users.some((u) => u.username === username)) mrs.sim.addUser({ username, name: user.name, email: user.email });
  }
  mrs.pushGitRepository(scenario.dir);
  for (const pull of scenario.builtPulls()) {
    const { spec } = pull;
    mrs.addMergeRequest({
      iid: pull.number,
      title: spec.title,
      description: spec.body ?? "",
      author: spec.author,
      sourceBranch: pull.branch,
      targetBranch: spec.base ?? "main",
      commits: pull.commitShas,
      createdAt: pull.createdAt,
      mergedAt: pull.mergedAt,
      mergedBy: spec.mergedBy ?? spec.author,
      mergeCommitSha: spec.squash ? null : pull.mergeSha,
      squashCommitSha: spec.squash ? pull.mergeSha : null,
      labels: spec.labels ?? [],
    });
    const merged = Date.parse(pull.mergedAt);
    for (const review of spec.reviews ?? []) {
      if (review.state && review.state !== "APPROVED") continue;
      const onCommit = review.onCommit ?? pull.commitShas.length - 1;
      const pushedAt = Date.parse(mrs.commits.get(pull.commitShas[onCommit] ?? "")?.committer.date ?? pull.createdAt);
      const at = review.afterMergeMs !== undefined ? merged + review.afterMergeMs : Math.min(pushedAt + 30_000, merged - 1000);
      mrs.approve(pull.number, review.by, new Date(at).toISOString());
    }
    const status = {
      success: "success",
      failure: "failed",
      neutral: "success",
      skipped: "skipped",
      cancelled: "canceled",
      timed_out: "failed",
    } as const;
    for (const [key, conclusion] of Object.entries(spec.checks ?? {})) {
      const at = new Date(merged - 120_000).toISOString();
      mrs.addStatus({ sha: pull.headSha, name: key.split("/").pop() ?? key, status: status[conclusion], createdAt: at, finishedAt: at });
    }
  }
}
