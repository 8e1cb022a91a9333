import { collect, type HttpClient, HttpError, type Logger, paginateLink } from "@opsguard/core";
import { emptyFacts, failClosed } from "./facts";
import type { LocalCommit } from "./git";
import { coAuthorsOf } from "./git";
import type { CheckFact, Person, ProviderFacts, PullCommitFact, PullFact, ReviewFact } from "./model";

/**
 * Collects merge requests, approvals, commits and CI statuses from GitLab's REST API. GitLab keeps
 * approvals as system notes and every push as a diff version, so an approval is tied to the head
 * the MR had when it was given — which is what makes stale approvals visible.
 */

interface GlUser {
  username: string;
}
interface GlMergeRequest {
  iid: number;
  title: string;
  description: string | null;
  state: string;
  merged_at: string | null;
  merge_user?: GlUser | null;
  merged_by?: GlUser | null;
  author: GlUser | null;
  source_branch: string;
  target_branch: string;
  labels: string[];
  sha: string;
  merge_commit_sha: string | null;
  squash_commit_sha: string | null;
  web_url: string;
}
interface GlCommit {
  id: string;
  message: string;
  author_name: string;
  author_email: string;
  committer_name: string;
  committer_email: string;
}
interface GlNote {
  body: string;
  author: GlUser | null;
  system: boolean;
  created_at: string;
}
interface GlVersion {
  head_commit_sha: string;
  created_at: string;
}
interface GlSignature {
  verification_status: string;
}
interface GlStatus {
  name: string;
  status: string;
  created_at: string;
  finished_at: string | null;
}

const PAGE = { per_page: 100 };

export async function collectGitLabFacts(
  http: HttpClient,
  commits: readonly LocalCommit[],
  options: { project: string; teams: string[]; signed: boolean; log?: Logger | undefined },
): Promise<ProviderFacts> {
  const facts = emptyFacts();
  const project = `/projects/${encodeURIComponent(options.project)}`;
  const usernames = new Map<string, string | null>();

  const attempt = failClosed(facts, "GitLab API", options.log);

  const signatures = new Map<string, boolean>();
  /** GitLab answers 404 for an unsigned commit; only asked when the policy wants signed commits. */
  const verified = async (sha: string): Promise<boolean | null> => {
    if (!options.signed) return null;
    if (!signatures.has(sha)) {
      try {
        const { body } = await http.get<GlSignature>(`${project}/repository/commits/${sha}/signature`);
        signatures.set(sha, VERIFIED.has(body.verification_status));
      } catch (error) {
        if (!(error instanceof HttpError && error.status === 404)) throw error;
        signatures.set(sha, false);
      }
    }
    return signatures.get(sha) ?? false;
  };

  const projectInfo = await attempt(
    commits.map((c) => c.sha),
    async () => (await http.get<{ default_branch: string | null }>(project)).body,
  );
  facts.defaultBranch = projectInfo?.default_branch ?? null;

  const mergeRequests = new Map<number, GlMergeRequest>();
  for (const commit of commits) {
    const found = await attempt([commit.sha], async () => {
      try {
        const mrs = await collect(
          paginateLink<GlMergeRequest>(http, { url: `${project}/repository/commits/${commit.sha}/merge_requests`, query: PAGE }),
        );
        return { mrs, verified: await verified(commit.sha) };
      } catch (error) {
        if (error instanceof HttpError && error.status === 404) return null;
        throw error;
      }
    });
    if (found === undefined) continue;
    if (found === null) {
      facts.unverified.set(commit.sha, "GitLab does not know this commit (was it pushed?)");
      continue;
    }
    for (const mr of found.mrs) mergeRequests.set(mr.iid, mr);
    facts.commits.set(commit.sha, {
      sha: commit.sha,
      verified: found.verified,
      authorLogin: null,
      committerLogin: null,
      pulls: found.mrs.map((mr) => mr.iid),
    });
  }

  const usernameOf = async (email: string): Promise<string | null> => {
    const key = email.toLowerCase();
    if (!usernames.has(key)) {
      const users = await collect(paginateLink<GlUser & { email?: string }>(http, { url: "/users", query: { search: email, ...PAGE } }));
      usernames.set(key, users.length === 1 ? (users[0]?.username ?? null) : null);
    }
    return usernames.get(key) ?? null;
  };
  const person = async (name: string, email: string): Promise<Person> => {
    const login = await usernameOf(email);
    return { name, email, ...(login ? { login } : {}) };
  };

  for (const mr of mergeRequests.values()) {
    const shas = [...facts.commits.values()].filter((c) => c.pulls.includes(mr.iid)).map((c) => c.sha);
    const pull = await attempt(shas, async (): Promise<PullFact> => {
      const base = `${project}/merge_requests/${mr.iid}`;
      const mrCommits = (await collect(paginateLink<GlCommit>(http, { url: `${base}/commits`, query: PAGE }))).reverse();
      const notes = await collect(
        paginateLink<GlNote>(http, { url: `${base}/notes`, query: { sort: "asc", order_by: "created_at", ...PAGE } }),
      );
      const versions = (await http.get<GlVersion[]>(`${base}/versions`)).body;
      const statuses = await collect(
        paginateLink<GlStatus>(http, { url: `${project}/repository/commits/${mr.sha}/statuses`, query: PAGE }),
      );
      const pullCommits: PullCommitFact[] = [];
      for (const c of mrCommits) {
        const authors = [await person(c.author_name, c.author_email)];
        for (const co of coAuthorsOf(c.message)) authors.push(await person(co.name, co.email));
        pullCommits.push({
          sha: c.id,
          message: c.message,
          authors,
          committer: await person(c.committer_name, c.committer_email),
          verified: await verified(c.id),
        });
      }
      return {
        number: mr.iid,
        url: mr.web_url,
        title: mr.title,
        body: mr.description ?? "",
        author: mr.author?.username ?? null,
        headRef: mr.source_branch,
        headSha: mr.sha,
        baseRef: mr.target_branch,
        merged: mr.state === "merged",
        mergedAt: mr.merged_at,
        mergedBy: mr.merge_user?.username ?? mr.merged_by?.username ?? null,
        mergeCommit: mr.merge_commit_sha ?? mr.squash_commit_sha,
        labels: mr.labels,
        reviews: approvalsFrom(notes, versions),
        commits: pullCommits,
        checks: statuses.map(toCheck),
      };
    });
    if (pull) facts.pulls.set(mr.iid, pull);
  }

  for (const group of options.teams) {
    const members = await attempt([], () =>
      collect(paginateLink<GlUser>(http, { url: `/groups/${encodeURIComponent(group)}/members`, query: PAGE })),
    );
    if (members)
      facts.teams.set(
        group,
        members.map((m) => m.username),
      );
  }
  return facts;
}

/** Approve/unapprove system notes as reviews, each tied to the MR head at that moment. */
function approvalsFrom(notes: readonly GlNote[], versions: readonly GlVersion[]): ReviewFact[] {
  const pushes = [...versions].sort((a, b) => a.created_at.localeCompare(b.created_at));
  return notes
    .filter((n) => n.system && /^(un)?approved this merge request$/.test(n.body))
    .map((n) => ({
      reviewer: n.author?.username ?? null,
      state: n.body.startsWith("approved") ? "APPROVED" : "DISMISSED",
      submittedAt: n.created_at,
      commit: pushes.filter((v) => v.created_at <= n.created_at).at(-1)?.head_commit_sha ?? null,
    }));
}

/** Signature states GitLab shows as "Verified": a known key of the committer, GitLab's own web commits, a trusted CA. */
const VERIFIED = new Set(["verified", "verified_system", "verified_ca"]);

const STATES: Record<string, string> = {
  success: "success",
  failed: "failure",
  canceled: "cancelled",
  skipped: "skipped",
  manual: "pending",
  running: "pending",
  pending: "pending",
  created: "pending",
};

function toCheck(status: GlStatus): CheckFact {
  return {
    name: status.name,
    app: null,
    kind: "status",
    state: STATES[status.status] ?? status.status,
    at: status.finished_at ?? status.created_at,
  };
}
