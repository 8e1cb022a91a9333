import type { components } from "@octokit/openapi-types";
import type { GitHubData, GitHubPullRequest } from "./github-data";
import { linkPage, type SimRequest, type SimResponse } from "./server";

/**
 * GitHub REST v3 views of the simulator's data, shaped as GitHub's OpenAPI description (npm
 * `@octokit/openapi`, api.github.com) declares them: every body is typed with that description's schemas as
 * `@octokit/openapi-types` generates them (so a property GitHub does not describe, or a wrong-typed one, fails
 * tsc), and test/github-sim.test.ts validates every route's answers against the description at run time.
 */

export const DOCS = "https://docs.github.com/rest";
const WEB = "https://github.com";
const API = "https://api.github.com";

type Schemas = components["schemas"];
/** What a value must be to serve as both A and B (their shared properties, each fitting both). */
type Both<A, B> = Pick<A, keyof A & keyof B> & Pick<B, keyof A & keyof B>;

export function notFound(): SimResponse {
  return { status: 404, body: { message: "Not Found", documentation_url: DOCS, status: "404" } };
}

function noCommit(ref: string | undefined): SimResponse {
  return { status: 422, body: { message: `No commit found for SHA: ${ref}`, documentation_url: DOCS, status: "422" } };
}

export class GitHubRest {
  readonly #data: GitHubData;
  readonly #baseUrl: () => string;

  constructor(data: GitHubData, baseUrl: () => string) {
    this.#data = data;
    this.#baseUrl = baseUrl;
  }

  get #repoApi(): string {
    return `${API}/repos/${this.#data.owner}/${this.#data.repo}`;
  }

  /** GitHub's "simple-user": a bot keeps its REST login "name[bot]" and type "Bot". */
  user(login: string): Schemas["simple-user"] {
    const id = this.#data.accountId(login);
    const url = `${API}/users/${encodeURIComponent(login)}`;
    const bot = this.#data.isBot(login);
    return {
      login,
      id,
      node_id: Buffer.from(`04:${bot ? "Bot" : "User"}${id}`).toString("base64"),
      avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
      gravatar_id: "",
      url,
      html_url: bot ? `${WEB}/apps/${login.replace(/\[bot\]$/, "")}` : `${WEB}/${login}`,
      followers_url: `${url}/followers`,
      following_url: `${url}/following{/other_user}`,
      gists_url: `${url}/gists{/gist_id}`,
      starred_url: `${url}/starred{/owner}{/repo}`,
      subscriptions_url: `${url}/subscriptions`,
      organizations_url: `${url}/orgs`,
      repos_url: `${url}/repos`,
      events_url: `${url}/events{/privacy}`,
      received_events_url: `${url}/received_events`,
      type: bot ? "Bot" : "User",
      site_admin: false,
    };
  }

  #nullableUser(login: string | null | undefined): Schemas["nullable-simple-user"] {
    return login ? this.user(login) : null;
  }

  commit(sha: string): Schemas["commit"] {
    const c = this.#data.commit(sha);
    const author = this.#data.accountOf(c.author.email);
    const committer = this.#data.accountOf(c.committer.email);
    return {
      url: `${this.#repoApi}/commits/${sha}`,
      sha,
      node_id: Buffer.from(`06:Commit${sha}`).toString("base64"),
      html_url: `${WEB}/${this.#data.owner}/${this.#data.repo}/commit/${sha}`,
      comments_url: `${this.#repoApi}/commits/${sha}/comments`,
      commit: {
        url: `${this.#repoApi}/git/commits/${sha}`,
        message: c.message,
        author: c.author,
        committer: c.committer,
        comment_count: 0,
        tree: {
          sha: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
          url: `${this.#repoApi}/git/trees/4b825dc642cb6eb9a060e54bf8d69288fbee4904`,
        },
        verification: {
          verified: c.verified,
          reason: c.verified ? "valid" : "unsigned",
          payload: null,
          signature: null,
          verified_at: c.verified ? c.committer.date : null,
        },
      },
      // An e-mail not linked to an account gives null author/committer.
      author: this.#nullableUser(author),
      committer: this.#nullableUser(committer),
      parents: c.parents.map((p) => ({ sha: p, url: `${this.#repoApi}/commits/${p}`, html_url: `${WEB}/commit/${p}` })),
    };
  }

  /** GitHub's "pull-request-simple", as lists of PRs carry it. */
  #pullSimple(pull: GitHubPullRequest): Schemas["pull-request-simple"] {
    return this.#pullBase(pull);
  }

  /** The fields every PR representation shares, fitting both schemas; "pull-request" (a single PR) adds counts. */
  #pullBase(pull: GitHubPullRequest): Both<Schemas["pull-request-simple"], Schemas["pull-request"]> {
    const url = `${this.#repoApi}/pulls/${pull.number}`;
    const html = `${WEB}/${this.#data.owner}/${this.#data.repo}/pull/${pull.number}`;
    const issue = `${this.#repoApi}/issues/${pull.number}`;
    const closedAt = pull.mergedAt;
    return {
      url,
      id: 1_000_000 + pull.number,
      node_id: Buffer.from(`011:PullRequest${pull.number}`).toString("base64"),
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: issue,
      commits_url: `${url}/commits`,
      review_comments_url: `${url}/comments`,
      review_comment_url: `${this.#repoApi}/pulls/comments{/number}`,
      comments_url: `${issue}/comments`,
      statuses_url: `${this.#repoApi}/statuses/${pull.headSha}`,
      number: pull.number,
      state: pull.merged || pull.mergedAt ? "closed" : "open",
      locked: false,
      title: pull.title,
      user: this.user(pull.user),
      body: pull.body,
      labels: pull.labels.map((name, i) => ({
        id: i + 1,
        node_id: Buffer.from(`05:Label${name}`).toString("base64"),
        url: `${this.#repoApi}/labels/${encodeURIComponent(name)}`,
        name,
        // The description's label schema has `description: {type: string}` (not nullable): "" for none.
        description: "",
        color: "ededed",
        default: false,
      })),
      milestone: null,
      created_at: pull.createdAt,
      updated_at: pull.mergedAt ?? pull.createdAt,
      closed_at: closedAt,
      merged_at: pull.mergedAt,
      merge_commit_sha: pull.mergeCommitSha,
      assignee: null,
      head: {
        label: `${this.#data.owner}:${pull.headRef}`,
        ref: pull.headRef,
        sha: pull.headSha,
        user: this.user(this.#data.owner),
        repo: this.#repository(),
      },
      base: {
        label: `${this.#data.owner}:${pull.baseRef}`,
        ref: pull.baseRef,
        sha: this.#data.commits.get(pull.commits[0] ?? "")?.parents[0] ?? pull.headSha,
        user: this.user(this.#data.owner),
        repo: this.#repository(),
      },
      _links: {
        self: { href: url },
        html: { href: html },
        issue: { href: issue },
        comments: { href: `${issue}/comments` },
        review_comments: { href: `${url}/comments` },
        review_comment: { href: `${this.#repoApi}/pulls/comments{/number}` },
        commits: { href: `${url}/commits` },
        statuses: { href: `${this.#repoApi}/statuses/${pull.headSha}` },
      },
      author_association: "MEMBER" as const,
      auto_merge: null,
    };
  }

  // --- routes ----------------------------------------------------------------------------------

  compare(req: SimRequest): SimResponse {
    const [baseRef, headRef] = req.params.basehead?.split("...") ?? [];
    const base = baseRef ? this.#data.resolve(baseRef) : undefined;
    const head = headRef ? this.#data.resolve(headRef) : undefined;
    if (!base || !head) return notFound();
    const all = this.#data.reachableRange(base, head);
    const html = `${WEB}/${this.#data.owner}/${this.#data.repo}/compare/${baseRef}...${headRef}`;
    const body: Omit<Schemas["commit-comparison"], "commits"> = {
      url: `${this.#repoApi}/compare/${baseRef}...${headRef}`,
      html_url: html,
      permalink_url: `${WEB}/${this.#data.owner}/${this.#data.repo}/compare/${base}...${head}`,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      status: all.length === 0 ? "identical" : this.#data.ancestors(head).has(base) ? "ahead" : "diverged",
      ahead_by: all.length,
      behind_by: 0,
      total_commits: all.length,
      base_commit: this.commit(base),
      merge_base_commit: this.commit(base),
    };
    // "When calling this endpoint without any paging parameters (per_page or page), the returned list is limited
    // to 250 commits, and the last commit in the list is the most recent of the entire comparison."
    // — docs.github.com/rest/commits/commits#compare-two-commits
    if (!req.query.has("page") && !req.query.has("per_page")) {
      return { body: { ...body, commits: all.slice(-250).map((sha) => this.commit(sha)) } satisfies Schemas["commit-comparison"] };
    }
    const { page, headers } = linkPage(all, req, this.#baseUrl(), 30, 100);
    return { headers, body: { ...body, commits: page.map((sha) => this.commit(sha)) } satisfies Schemas["commit-comparison"] };
  }

  pullsOfCommit(req: SimRequest): SimResponse {
    const sha = this.#data.resolve(req.params.sha ?? "");
    if (!sha) return noCommit(req.params.sha);
    const { page, headers } = linkPage(this.#data.pullsOfCommit(sha), req, this.#baseUrl());
    return { headers, body: page.map((p) => this.#pullSimple(p)) satisfies Schemas["pull-request-simple"][] };
  }

  pull(req: SimRequest): SimResponse {
    const pull = this.#data.pulls.get(Number(req.params.number));
    if (!pull) return notFound();
    return {
      body: {
        ...this.#pullBase(pull),
        // "pull-request" narrows `state: string` to its enum.
        state: pull.merged || pull.mergedAt ? "closed" : "open",
        merged: pull.merged,
        mergeable: null,
        mergeable_state: "unknown",
        merged_by: this.#nullableUser(pull.mergedBy),
        maintainer_can_modify: false,
        comments: 0,
        review_comments: 0,
        commits: pull.commits.length,
        additions: 0,
        deletions: 0,
        changed_files: 0,
      } satisfies Schemas["pull-request"],
    };
  }

  reviews(req: SimRequest): SimResponse {
    const pull = this.#data.pulls.get(Number(req.params.number));
    if (!pull) return notFound();
    const { page, headers } = linkPage(pull.reviews, req, this.#baseUrl(), 30, 100);
    const html = `${WEB}/${this.#data.owner}/${this.#data.repo}/pull/${pull.number}`;
    return {
      headers,
      body: page.map((r): Schemas["pull-request-review"] => ({
        id: r.id,
        node_id: Buffer.from(`017:PullRequestReview${r.id}`).toString("base64"),
        user: this.user(r.user),
        body: "",
        state: r.state,
        commit_id: r.commitId,
        submitted_at: r.submittedAt,
        html_url: `${html}#pullrequestreview-${r.id}`,
        pull_request_url: `${this.#repoApi}/pulls/${pull.number}`,
        _links: { html: { href: `${html}#pullrequestreview-${r.id}` }, pull_request: { href: `${this.#repoApi}/pulls/${pull.number}` } },
        author_association: "MEMBER",
      })),
    };
  }

  pullCommits(req: SimRequest): SimResponse {
    const pull = this.#data.pulls.get(Number(req.params.number));
    if (!pull) return notFound();
    // "Lists a maximum of 250 commits for a pull request" — docs.github.com/rest/pulls/pulls#list-commits-on-a-pull-request;
    // paging does not lift the cap (REST only: GraphQL's PullRequest.commits has no such cap).
    const { page, headers } = linkPage(this.#data.listedPullCommits(pull).slice(0, 250), req, this.#baseUrl(), 30, 100);
    return { headers, body: page.map((sha) => this.commit(sha)) };
  }

  combinedStatus(req: SimRequest): SimResponse {
    const sha = this.#data.resolve(req.params.ref ?? "");
    if (!sha) return noCommit(req.params.ref);
    const statuses = this.#data.latestStatuses(sha);
    // docs.github.com/rest/commits/statuses#get-the-combined-status-for-a-specific-reference: failure if any
    // context is error or failure, pending if none or any pending, success otherwise.
    const state = statuses.some((s) => s.state === "failure" || s.state === "error")
      ? "failure"
      : statuses.length > 0 && statuses.every((s) => s.state === "success")
        ? "success"
        : "pending";
    return {
      body: {
        state,
        sha,
        total_count: statuses.length,
        statuses: statuses.map((s): Schemas["simple-commit-status"] => ({
          id: s.id,
          node_id: Buffer.from(`013:StatusContext${s.id}`).toString("base64"),
          url: `${this.#repoApi}/statuses/${sha}`,
          avatar_url: null,
          context: s.context,
          state: s.state,
          description: null,
          target_url: null,
          created_at: s.createdAt,
          updated_at: s.createdAt,
        })),
        repository: this.#minimalRepository(),
        commit_url: `${this.#repoApi}/commits/${sha}`,
        url: `${this.#repoApi}/commits/${sha}/status`,
      } satisfies Schemas["combined-commit-status"],
    };
  }

  checkRuns(req: SimRequest): SimResponse {
    const sha = this.#data.resolve(req.params.ref ?? "");
    if (!sha) return noCommit(req.params.ref);
    const runs = this.#data.checkRunsOf(sha);
    const { page, headers } = linkPage(runs, req, this.#baseUrl(), 30, 100);
    return {
      headers,
      body: {
        total_count: runs.length,
        check_runs: page.map((r): Schemas["check-run"] => ({
          id: r.id,
          node_id: Buffer.from(`08:CheckRun${r.id}`).toString("base64"),
          head_sha: r.headSha,
          external_id: "",
          url: `${this.#repoApi}/check-runs/${r.id}`,
          html_url: `${WEB}/${this.#data.owner}/${this.#data.repo}/runs/${r.id}`,
          details_url: null,
          name: r.name,
          status: r.status,
          conclusion: r.conclusion,
          started_at: r.startedAt,
          completed_at: r.completedAt,
          output: {
            title: null,
            summary: null,
            text: null,
            annotations_count: 0,
            annotations_url: `${this.#repoApi}/check-runs/${r.id}/annotations`,
          },
          check_suite: { id: 10_000 + r.id },
          app: this.#app(r.app),
          pull_requests: [],
        })),
      } satisfies { total_count: number; check_runs: Schemas["check-run"][] },
    };
  }

  teamMembers(req: SimRequest): SimResponse {
    const members = this.#data.teams.get(`${req.params.org}/${req.params.slug}`);
    if (!members) return notFound();
    const { page, headers } = linkPage(members, req, this.#baseUrl(), 30, 100);
    return { headers, body: page.map((login) => this.user(login)) satisfies Schemas["simple-user"][] };
  }

  #app(slug: string): Schemas["integration"] {
    const id = this.#data.accountId(`app:${slug}`);
    return {
      id,
      slug,
      node_id: Buffer.from(`03:Integration${id}`).toString("base64"),
      owner: this.user(this.#data.owner),
      name: slug,
      description: null,
      external_url: `${WEB}/apps/${slug}`,
      html_url: `${WEB}/apps/${slug}`,
      created_at: "2020-01-01T00:00:00Z",
      updated_at: "2020-01-01T00:00:00Z",
      permissions: { checks: "write", metadata: "read" },
      events: ["check_run"],
    };
  }

  /** GitHub's full "repository" object, as a PR's head and base carry it. */
  #repository(): Schemas["repository"] {
    const { owner, repo } = this.#data;
    const created = "2020-01-01T00:00:00Z";
    return {
      ...this.#repositoryCore(),
      clone_url: `${WEB}/${owner}/${repo}.git`,
      git_url: `git://github.com/${owner}/${repo}.git`,
      ssh_url: `git@github.com:${owner}/${repo}.git`,
      svn_url: `${WEB}/${owner}/${repo}`,
      mirror_url: null,
      homepage: null,
      language: null,
      default_branch: "main",
      forks: 0,
      forks_count: 0,
      stargazers_count: 0,
      watchers: 0,
      watchers_count: 0,
      open_issues: 0,
      open_issues_count: 0,
      size: 0,
      has_downloads: true,
      has_issues: true,
      has_projects: true,
      has_wiki: false,
      has_pages: false,
      archived: false,
      disabled: false,
      license: null,
      pushed_at: created,
      created_at: created,
      updated_at: created,
    };
  }

  /** GitHub's "minimal-repository" for a private repository. */
  #minimalRepository(): Schemas["minimal-repository"] {
    return this.#repositoryCore();
  }

  /**
   * What "minimal-repository" and "repository" share: the fields a private repository always carries (not
   * `permissions`, typed differently in the two and only shown to a token's own repositories).
   */
  #repositoryCore(): Omit<Schemas["minimal-repository"], "permissions"> {
    const { owner, repo } = this.#data;
    const url = `${API}/repos/${owner}/${repo}`;
    const urls = Object.fromEntries(Object.entries(REPOSITORY_URLS).map(([key, path]) => [key, `${url}${path}`])) as Record<
      keyof typeof REPOSITORY_URLS,
      string
    >;
    return {
      id: this.#data.accountId(`repo:${owner}/${repo}`),
      node_id: Buffer.from(`010:Repository${owner}/${repo}`).toString("base64"),
      name: repo,
      full_name: `${owner}/${repo}`,
      owner: this.user(owner),
      private: true,
      html_url: `${WEB}/${owner}/${repo}`,
      description: null,
      fork: false,
      url,
      ...urls,
    };
  }
}

/** A repository's API links, relative to its API URL; `satisfies` keeps each a property GitHub's schema has. */
const REPOSITORY_URLS = {
  archive_url: "/{archive_format}{/ref}",
  assignees_url: "/assignees{/user}",
  blobs_url: "/git/blobs{/sha}",
  branches_url: "/branches{/branch}",
  collaborators_url: "/collaborators{/collaborator}",
  comments_url: "/comments{/number}",
  commits_url: "/commits{/sha}",
  compare_url: "/compare/{base}...{head}",
  contents_url: "/contents/{+path}",
  contributors_url: "/contributors",
  deployments_url: "/deployments",
  downloads_url: "/downloads",
  events_url: "/events",
  forks_url: "/forks",
  git_commits_url: "/git/commits{/sha}",
  git_refs_url: "/git/refs{/sha}",
  git_tags_url: "/git/tags{/sha}",
  hooks_url: "/hooks",
  issue_comment_url: "/issues/comments{/number}",
  issue_events_url: "/issues/events{/number}",
  issues_url: "/issues{/number}",
  keys_url: "/keys{/key_id}",
  labels_url: "/labels{/name}",
  languages_url: "/languages",
  merges_url: "/merges",
  milestones_url: "/milestones{/number}",
  notifications_url: "/notifications{?since,all,participating}",
  pulls_url: "/pulls{/number}",
  releases_url: "/releases{/id}",
  stargazers_url: "/stargazers",
  statuses_url: "/statuses/{sha}",
  subscribers_url: "/subscribers",
  subscription_url: "/subscription",
  tags_url: "/tags",
  teams_url: "/teams",
  trees_url: "/git/trees{/sha}",
} as const satisfies Partial<Record<keyof Schemas["minimal-repository"] & keyof Schemas["repository"], string>>;
