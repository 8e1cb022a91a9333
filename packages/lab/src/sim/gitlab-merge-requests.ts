import { type GitHistoryCommit, readGitHistory } from "./git-history";
import type { GitHubScenario } from "./github-scenario";
import { GITLAB_API_PREFIX, type GitLabSim, gitlabNotFound, gitlabPage } from "./gitlab";
import type { SimRequest, SimResponse } from "./server";

/**
 * GitLab REST v4 merge-request routes added onto GitLabSim for one project: MRs of a commit, the MR,
 * its commits, approvals, notes (approval events are system notes, as GitLab records them),
 * diff versions (one per push) and commit statuses (CI jobs), with GitLab's paging and errors.
 */

export interface GitLabMergeRequest {
  iid: number;
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

export interface GitLabCommitStatus {
  id: number;
  sha: string;
  name: string;
  status: "success" | "failed" | "canceled" | "skipped" | "running" | "pending" | "created" | "manual";
  createdAt: string;
  finishedAt: string | null;
}

export type MergeRequestInput = Pick<GitLabMergeRequest, "iid" | "title" | "author" | "sourceBranch" | "commits"> &
  Partial<Omit<GitLabMergeRequest, "iid" | "title" | "author" | "sourceBranch" | "commits" | "versions" | "notes">>;

/** GitLab's verification_status values for a commit signature. */
export type GitLabSignatureStatus = "verified" | "verified_system" | "unverified" | "unverified_key" | "unknown_key" | "other_user";

export class GitLabMergeRequests {
  readonly sim: GitLabSim;
  readonly project: { id: number; path: string };
  readonly commits = new Map<string, GitHistoryCommit>();
  readonly mergeRequests = new Map<number, GitLabMergeRequest>();
  readonly statuses: GitLabCommitStatus[] = [];
  /** sha → its SSH signature's verification status; a commit not here is unsigned. */
  readonly signatures = new Map<string, GitLabSignatureStatus>();
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
      scoped((req) => this.#withMr(req, (mr) => ({ body: this.#mrJson(mr) }))),
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

  addStatus(status: Omit<GitLabCommitStatus, "id">): this {
    this.statuses.push({ id: this.#nextId++, ...status });
    return this;
  }

  #user(username: string | null): Record<string, unknown> | null {
    if (!username) return null;
    const user = this.sim.state.users.find((u) => u.username === username);
    return { id: user?.id ?? 0, username, name: user?.name ?? username, state: "active", web_url: `https://gitlab.example/${username}` };
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
      web_url: `https://gitlab.example/${this.project.path}/-/commit/${sha}`,
    };
  }

  #projectJson(): Record<string, unknown> {
    const name = this.project.path.split("/").at(-1);
    return {
      id: this.project.id,
      name,
      path: name,
      path_with_namespace: this.project.path,
      default_branch: "main",
      web_url: `https://gitlab.example/${this.project.path}`,
    };
  }

  #mrJson(mr: GitLabMergeRequest): Record<string, unknown> {
    return {
      id: 1000 + mr.iid,
      iid: mr.iid,
      project_id: this.project.id,
      title: mr.title,
      description: mr.description,
      state: mr.state,
      created_at: mr.createdAt,
      merged_at: mr.mergedAt,
      merge_user: this.#user(mr.mergedBy),
      merged_by: this.#user(mr.mergedBy),
      author: this.#user(mr.author),
      source_branch: mr.sourceBranch,
      target_branch: mr.targetBranch,
      labels: mr.labels,
      sha: mr.commits.at(-1) ?? null,
      merge_commit_sha: mr.mergeCommitSha,
      squash_commit_sha: mr.squashCommitSha,
      web_url: `https://gitlab.example/${this.project.path}/-/merge_requests/${mr.iid}`,
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
      (mr) => mr.commits.includes(sha) || mr.mergeCommitSha === sha || mr.squashCommitSha === sha,
    );
    return gitlabPage(
      mrs.map((mr) => this.#mrJson(mr)),
      req,
      this.sim.url,
    );
  }

  #mrCommits(mr: GitLabMergeRequest, req: SimRequest): SimResponse {
    // GitLab lists an MR's commits newest first.
    return gitlabPage(
      [...mr.commits].reverse().map((sha) => this.#commitJson(sha)),
      req,
      this.sim.url,
    );
  }

  /** Who approves now: the latest approve/unapprove note per user decides. */
  #approvals(mr: GitLabMergeRequest): Record<string, unknown> {
    const current = new Map<string, boolean>();
    for (const note of mr.notes.filter((n) => n.system)) {
      if (note.body === "approved this merge request") current.set(note.author, true);
      if (note.body === "unapproved this merge request") current.set(note.author, false);
    }
    const approvedBy = [...current].filter(([, approved]) => approved).map(([username]) => ({ user: this.#user(username) }));
    return { id: 1000 + mr.iid, iid: mr.iid, approved: approvedBy.length > 0, approved_by: approvedBy };
  }

  #notes(mr: GitLabMergeRequest, req: SimRequest): SimResponse {
    const asc = req.query.get("sort") === "asc";
    const notes = [...mr.notes].sort((a, b) => (asc ? 1 : -1) * a.createdAt.localeCompare(b.createdAt));
    return gitlabPage(
      notes.map((n) => ({
        id: n.id,
        body: n.body,
        author: this.#user(n.author),
        system: n.system,
        created_at: n.createdAt,
        noteable_type: "MergeRequest",
        noteable_iid: mr.iid,
      })),
      req,
      this.sim.url,
    );
  }

  #versions(mr: GitLabMergeRequest): SimResponse {
    return {
      body: [...mr.versions].reverse().map((v) => ({
        id: v.id,
        head_commit_sha: v.headSha,
        created_at: v.createdAt,
        merge_request_id: 1000 + mr.iid,
        state: "collected",
      })),
    };
  }

  #statuses(req: SimRequest): SimResponse {
    const sha = req.params.sha ?? "";
    if (!this.commits.has(sha)) return gitlabNotFound("Commit");
    const statuses = this.statuses
      .filter((s) => s.sha === sha)
      .map((s) => ({
        id: s.id,
        sha: s.sha,
        name: s.name,
        status: s.status,
        created_at: s.createdAt,
        finished_at: s.finishedAt,
        allow_failure: false,
      }));
    return gitlabPage(statuses, req, this.sim.url);
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
