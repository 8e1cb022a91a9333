import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CheckConclusion, GitHubSim, type ReviewState } from "./github";

/**
 * A repository and its GitHub history written the way GitHub writes it: feature branches merged
 * by pull request (merge or squash commits committed by GitHub), direct pushes, co-authors,
 * deploy tags, reviews, check runs and statuses. Commits are written with `git fast-import`, so a
 * thousand-commit release range takes well under a second to build.
 */

/** Conclusions a scenario's CI leaves (GitHub's check run conclusions; action_required is left out: no CI ends so). */
export type ScenarioConclusion = Exclude<CheckConclusion, "action_required">;

export interface ScenarioUser {
  name: string;
  email: string;
  bot?: boolean;
}

export interface ScenarioCommit {
  message: string;
  /** Login of the author; the committer too unless a PR merge commits it. */
  author: string;
  coAuthors?: string[];
  files?: Record<string, string>;
  /**
   * The author date, when it differs from when the commit was made (a rebase keeps it; so does a back-dated
   * commit). GitHub lists a PR's commits by it, so a head authored before its parent is not listed last.
   */
  authorDate?: Date;
  /**
   * In a PR: this commit merges the base branch (main as it is now) into the PR branch, an "update branch" merge,
   * written as the clean merge git makes; `files` add content of its own (an "evil merge").
   */
  mergeBase?: boolean;
  /**
   * Whether GitHub verified the commit's signature; by default a bot's commits are (a GitHub App's commits made
   * through the API are signed with GitHub's key — docs.github.com/authentication/managing-commit-signature-verification/about-commit-signature-verification#signature-verification-for-bots),
   * others are not. `false` with a bot author is someone pushing under the bot's e-mail.
   */
  signed?: boolean;
  /** Check runs on this commit (name → conclusion, "app/name" for another app), as a CI run on a push would leave. */
  checks?: Record<string, ScenarioConclusion>;
}

export interface ScenarioReview {
  by: string;
  state?: ReviewState;
  /** Index of the PR commit the review was given on; the head by default. */
  onCommit?: number;
  /** Submitted this long after the merge (a retroactive review); before the merge otherwise. */
  afterMergeMs?: number;
}

export interface ScenarioPull {
  title: string;
  body?: string;
  author: string;
  branch?: string;
  commits?: ScenarioCommit[];
  reviews?: ScenarioReview[];
  /** Check runs on the head commit: name → conclusion; the app is "github-actions" unless given as "app/name". */
  checks?: Record<string, ScenarioConclusion>;
  /** Commit statuses on the head commit: context → state. */
  statuses?: Record<string, "success" | "failure" | "error" | "pending">;
  /** The account that posts the statuses ("ci-bot" by default); any account with write access can post one. */
  statusCreator?: string;
  labels?: string[];
  /** The branch the PR was merged into; its merge commit still lands on main (as when that branch is then pushed to main). */
  base?: string;
  mergedBy?: string;
  squash?: boolean;
  /**
   * "Rebase and merge": each PR commit is replayed onto main as a new commit (same change, author and message;
   * committed by GitHub), no merge commit — docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/configuring-pull-request-merges/about-merge-methods-on-github#rebasing-and-merging-your-commits
   * The PR's merge commit is the last copy ("the commit that the base branch was updated to").
   */
  rebase?: boolean;
  /**
   * The PR's head pushed to main as it is (a fast-forward; GitLab's fast-forward merge method), no commit of its own:
   * GitHub marks a PR merged when its head reaches the base branch by a push, and its merge commit is then "the commit
   * that the base branch was updated to" (REST pulls `merge_commit_sha`,
   * docs.github.com/rest/pulls/pulls#get-a-pull-request), the head itself.
   */
  fastForward?: boolean;
  /** When the PR is merged; the scenario clock (a minute per event) otherwise. */
  mergedAt?: Date;
  /**
   * Files the merge commit adds of its own: a merge made by hand (committed by the merger, not GitHub) with changes
   * no review saw, pushed to main — GitHub marks a PR merged when its head reaches the base branch by a push, and
   * names the pushed merge its merge commit. With `squash`, a squash commit with an extra change; with `rebase`, a
   * last rebased copy with one (both as a provider's API, or a tester's simulator, may name them: T31).
   */
  mergeFiles?: Record<string, string>;
  /**
   * Commits made on top of the PR's head after its review, merged by hand with the head (`git merge --no-ff` of that
   * branch) and pushed to main: the merge's second parent is the last of them, not the head. GitHub marks a PR merged
   * when its head reaches the base branch by a push and names that push's merge its merge commit (as `mergeFiles`);
   * the merge itself is git's clean merge, so only its parents tell (T32).
   */
  mergeExtra?: ScenarioCommit[];
}

export interface BuiltPull {
  number: number;
  headSha: string;
  mergeSha: string;
  commitShas: string[];
  spec: ScenarioPull;
  branch: string;
  createdAt: string;
  mergedAt: string;
}

interface PendingCommit {
  mark: number;
  ref: string;
  parents: number[];
  message: string;
  author: ScenarioUser;
  committer: ScenarioUser;
  time: number;
  authorTime: number;
  files: Record<string, string>;
  checks: Record<string, ScenarioConclusion>;
  signed: boolean;
}

interface PendingPull {
  number: number;
  spec: ScenarioPull;
  branch: string;
  commitMarks: number[];
  mergeMark: number;
  /** The copies a rebase merge wrote on main, oldest first. */
  rebasedMarks: number[];
  createdAt: number;
  mergedAt: number;
}

const GITHUB_COMMITTER: ScenarioUser = { name: "GitHub", email: "noreply@github.com" };

export class GitHubScenario {
  readonly sim: GitHubSim;
  readonly users: Record<string, ScenarioUser>;
  readonly token: string;
  #dir: string | undefined;
  #commits: PendingCommit[] = [];
  #pulls: PendingPull[] = [];
  #tags: Array<{ name: string; mark: number }> = [];
  #mainHead: number | undefined;
  #clock: number;
  #shas = new Map<number, string>();
  #built: BuiltPull[] = [];

  constructor(options: { owner?: string; repo?: string; token?: string; users: Record<string, ScenarioUser>; start?: Date }) {
    this.users = options.users;
    this.token = options.token ?? "ghp_scenarioToken0123456789";
    this.sim = new GitHubSim({ owner: options.owner ?? "acme", repo: options.repo ?? "shop", tokens: { [this.token]: "ci-bot" } });
    for (const [login, user] of Object.entries(options.users)) this.sim.addUser(login, [user.email], { bot: user.bot === true });
    this.sim.addUser("web-flow", [GITHUB_COMMITTER.email]);
    this.#clock = (options.start ?? new Date(Date.now() - 30 * 86_400_000)).getTime();
  }

  get dir(): string {
    if (!this.#dir) throw new Error("scenario is not built");
    return this.#dir;
  }

  /** Moves the clock forward to `date` (never back). */
  advanceTo(date: Date): this {
    this.#clock = Math.max(this.#clock, date.getTime());
    return this;
  }

  /** A commit pushed straight to main, no PR. Returns its mark for sha(). */
  directPush(commit: ScenarioCommit): number {
    const mark = this.#add("refs/heads/main", this.#mainHead === undefined ? [] : [this.#mainHead], commit, this.#user(commit.author));
    this.#mainHead = mark;
    return mark;
  }

  /** A feature branch off main with its commits, merged by PR. Returns the PR number. */
  pullRequest(spec: ScenarioPull): number {
    const number = this.#pulls.length + 1;
    const branch = spec.branch ?? `feature/pr-${number}`;
    const base = this.#mainHead;
    const createdAt = this.#tick();
    const commits = spec.commits ?? [
      { message: spec.title, author: spec.author, files: { [`changes/pr-${number}.txt`]: `${spec.title}\n` } },
    ];
    if (commits.length === 0) throw new Error("scenario: a pull request needs at least one commit");
    const commitMarks: number[] = [];
    let parent = base;
    for (const commit of commits) {
      const parents = parent === undefined ? [] : [parent];
      if (commit.mergeBase && this.#mainHead !== undefined) parents.push(this.#mainHead);
      parent = this.#add(`refs/heads/${branch}`, parents, commit, this.#user(commit.author));
      commitMarks.push(parent);
    }
    if (spec.mergedAt) this.advanceTo(spec.mergedAt);
    const headMark = commitMarks.at(-1)!;
    if (spec.fastForward) {
      this.#mainHead = headMark;
      this.#pulls.push({ number, spec, branch, commitMarks, mergeMark: headMark, rebasedMarks: [], createdAt, mergedAt: this.#tick() });
      return number;
    }
    if (spec.rebase) {
      const rebasedMarks = commits.map((commit, i) => {
        const original = this.#commits[commitMarks[i]! - 1]!;
        const tampered = spec.mergeFiles !== undefined && i === commits.length - 1;
        const mark = this.#add(
          "refs/heads/main",
          this.#mainHead === undefined ? [] : [this.#mainHead],
          {
            ...commit,
            authorDate: new Date(original.authorTime),
            files: tampered ? { ...original.files, ...spec.mergeFiles } : original.files,
            mergeBase: false,
            checks: {},
          },
          tampered ? this.#user(spec.mergedBy ?? spec.author) : GITHUB_COMMITTER,
        );
        this.#mainHead = mark;
        return mark;
      });
      const mergeMark = rebasedMarks.at(-1)!;
      this.#pulls.push({ number, spec, branch, commitMarks, mergeMark, rebasedMarks, createdAt, mergedAt: this.#commits.at(-1)!.time });
      return number;
    }
    const mergeMessage = spec.squash
      ? `${spec.title} (#${number})\n\n${commits.map((c) => `* ${c.message.split("\n")[0]}`).join("\n")}`
      : `Merge pull request #${number} from acme/${branch}\n\n${spec.title}`;
    let merged = headMark;
    const extraMarks: number[] = [];
    for (const extra of spec.mergeExtra ?? []) {
      merged = this.#add(`refs/heads/${branch}-extra`, [merged], extra, this.#user(extra.author));
      extraMarks.push(merged);
    }
    const mergeParents = spec.squash ? (base === undefined ? [] : [base]) : [...(base === undefined ? [] : [base]), merged];
    // fast-import builds each tree from the first parent, so the merge lists what the branch changed.
    const mergeFiles = Object.assign({}, ...[...commitMarks, ...extraMarks].map((m) => this.#commits[m - 1]?.files ?? {}));
    const merger = spec.mergedBy ?? spec.author;
    const mergeMark = this.#add(
      "refs/heads/main",
      mergeParents,
      { message: mergeMessage, author: merger, files: { ...mergeFiles, ...spec.mergeFiles } },
      spec.mergeFiles || spec.mergeExtra ? this.#user(merger) : GITHUB_COMMITTER,
    );
    this.#mainHead = mergeMark;
    this.#pulls.push({ number, spec, branch, commitMarks, mergeMark, rebasedMarks: [], createdAt, mergedAt: this.#commits.at(-1)!.time });
    return number;
  }

  tag(name: string): this {
    if (this.#mainHead === undefined) throw new Error("tag before any commit");
    this.#tags.push({ name, mark: this.#mainHead });
    return this;
  }

  sha(mark: number): string {
    const sha = this.#shas.get(mark);
    if (!sha) throw new Error(`scenario: mark ${mark} is not built`);
    return sha;
  }

  /** Every PR as built, for mirroring the same history onto another Git host simulator. */
  builtPulls(): readonly BuiltPull[] {
    return this.#built;
  }

  pull(number: number): BuiltPull {
    const built = this.#built.find((p) => p.number === number);
    if (!built) throw new Error(`scenario: PR #${number} is not built`);
    return built;
  }

  /** Writes the repository (main checked out) and gives the simulator its commits and PRs. */
  build(dir: string = mkdtempSync(join(tmpdir(), "opsguard-gh-"))): string {
    this.#dir = dir;
    const env = gitEnv();
    execFileSync("git", ["init", "-q", "-b", "main", dir], { env });
    const marksFile = join(dir, ".git", "opsguard-marks");
    execFileSync("git", ["fast-import", "--quiet", `--export-marks=${marksFile}`], { cwd: dir, env, input: this.#stream() });
    for (const line of readFileSync(marksFile, "utf8").split("\n")) {
      const [mark, sha] = line.split(" ");
      if (mark && sha) this.#shas.set(Number(mark.slice(1)), sha);
    }
    rmSync(marksFile);
    execFileSync("git", ["checkout", "-q", "-f", "main"], { cwd: dir, env });
    this.sim.pushGitRepository(dir);
    for (const pull of this.#pulls) this.#seedPull(pull);
    for (const commit of this.#commits) {
      if (commit.signed) this.sim.setVerified(this.sha(commit.mark));
      for (const [key, conclusion] of Object.entries(commit.checks)) {
        const [app, name] = key.includes("/") ? (key.split("/", 2) as [string, string]) : ["github-actions", key];
        this.sim.addCheckRun({
          headSha: this.sha(commit.mark),
          name,
          app,
          conclusion,
          completedAt: new Date(commit.time + 30_000).toISOString(),
        });
      }
    }
    return dir;
  }

  cleanup(): void {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }

  #seedPull(pull: PendingPull): void {
    const { spec, number } = pull;
    const commitShas = pull.commitMarks.map((m) => this.sha(m));
    const headSha = commitShas.at(-1)!;
    const mergeSha = this.sha(pull.mergeMark);
    const mergedAt = new Date(pull.mergedAt).toISOString();
    this.sim.addPullRequest({
      number,
      title: spec.title,
      body: spec.body ?? "",
      user: spec.author,
      headRef: pull.branch,
      headSha,
      baseRef: spec.base ?? "main",
      commits: commitShas,
      createdAt: new Date(pull.createdAt).toISOString(),
      merged: true,
      mergedAt,
      mergedBy: spec.mergedBy ?? spec.author,
      mergeCommitSha: mergeSha,
      ...(pull.rebasedMarks.length > 0 ? { rebasedCommits: pull.rebasedMarks.map((m) => this.sha(m)) } : {}),
      labels: spec.labels ?? [],
    });
    const beforeMerge = pull.mergedAt - 60_000;
    for (const review of spec.reviews ?? []) {
      const onCommit = commitShas[review.onCommit ?? commitShas.length - 1] ?? headSha;
      const at = review.afterMergeMs === undefined ? beforeMerge : pull.mergedAt + review.afterMergeMs;
      this.sim.addReview(number, {
        user: review.by,
        state: review.state ?? "APPROVED",
        commitId: onCommit,
        submittedAt: new Date(at).toISOString(),
      });
    }
    for (const [key, conclusion] of Object.entries(spec.checks ?? {})) {
      const [app, name] = key.includes("/") ? (key.split("/", 2) as [string, string]) : ["github-actions", key];
      this.sim.addCheckRun({ headSha, name, app, conclusion, completedAt: new Date(beforeMerge - 60_000).toISOString() });
    }
    for (const [context, state] of Object.entries(spec.statuses ?? {})) {
      this.sim.addStatus({
        sha: headSha,
        context,
        state,
        creator: spec.statusCreator ?? "ci-bot",
        createdAt: new Date(beforeMerge - 60_000).toISOString(),
      });
    }
    this.#built.push({
      number,
      headSha,
      mergeSha,
      commitShas,
      spec,
      branch: pull.branch,
      createdAt: new Date(pull.createdAt).toISOString(),
      mergedAt,
    });
  }

  #user(login: string): ScenarioUser {
    const user = this.users[login];
    if (!user) throw new Error(`scenario: unknown user ${login}`);
    return user;
  }

  #tick(): number {
    this.#clock += 60_000;
    return this.#clock;
  }

  #add(ref: string, parents: number[], commit: ScenarioCommit, committer: ScenarioUser): number {
    const mark = this.#commits.length + 1;
    const trailers = (commit.coAuthors ?? []).map((login) => {
      const user = this.#user(login);
      return `Co-authored-by: ${user.name} <${user.email}>`;
    });
    const message = trailers.length > 0 ? `${commit.message}\n\n${trailers.join("\n")}` : commit.message;
    const time = this.#tick();
    this.#commits.push({
      mark,
      ref,
      parents,
      message,
      author: this.#user(commit.author),
      committer,
      time,
      authorTime: commit.authorDate?.getTime() ?? time,
      checks: commit.checks ?? {},
      signed: commit.signed ?? this.#user(commit.author).bot === true,
      files: commit.mergeBase
        ? { ...this.#treeOf(parents), ...commit.files }
        : (commit.files ?? { [`changes/commit-${mark}.txt`]: `${commit.message}\n` }),
    });
    return mark;
  }

  /**
   * Every file of these commits' trees (scenarios only add files): fast-import builds a merge's tree from its first
   * parent, so an update merge lists the base branch's files to be the clean merge `git merge` writes. Files given
   * for it on top make an "evil merge", one that adds content neither parent has.
   */
  #treeOf(heads: readonly number[]): Record<string, string> {
    const seen = new Set<number>();
    const stack = [...heads];
    while (stack.length > 0) {
      const mark = stack.pop()!;
      if (seen.has(mark)) continue;
      seen.add(mark);
      stack.push(...(this.#commits[mark - 1]?.parents ?? []));
    }
    return Object.assign({}, ...[...seen].sort((a, b) => a - b).map((m) => this.#commits[m - 1]?.files ?? {}));
  }

  #stream(): string {
    const out: string[] = [];
    const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`;
    for (const c of this.#commits) {
      const seconds = Math.floor(c.time / 1000);
      out.push(`commit ${c.ref}\nmark :${c.mark}\n`);
      out.push(`author ${c.author.name} <${c.author.email}> ${Math.floor(c.authorTime / 1000)} +0000\n`);
      out.push(`committer ${c.committer.name} <${c.committer.email}> ${seconds} +0000\n`);
      out.push(data(c.message));
      const [first, ...rest] = c.parents;
      if (first !== undefined) out.push(`from :${first}\n`);
      for (const p of rest) out.push(`merge :${p}\n`);
      for (const [path, content] of Object.entries(c.files)) out.push(`M 100644 inline ${fastImportPath(path)}\n${data(content)}`);
      out.push("\n");
    }
    // main as the scenario left it: a fast-forward moved it to a PR branch's head without a commit of its own.
    if (this.#mainHead !== undefined) out.push(`reset refs/heads/main\nfrom :${this.#mainHead}\n\n`);
    for (const t of this.#tags) out.push(`reset refs/tags/${t.name}\nfrom :${t.mark}\n\n`);
    return out.join("");
  }
}

/**
 * A path as git fast-import reads it: as it stands, unless it holds a line feed or starts with a double quote, when
 * C-style quoting is "mandatory", with "any LF, backslash, or double quote characters … escaped by preceding them
 * with a backslash" (git-fast-import(1), filemodify). Scenarios can so name files as a real repository can.
 */
function fastImportPath(path: string): string {
  if (!path.includes("\n") && !path.startsWith('"')) return path;
  return `"${path.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n")}"`;
}

/** git without the user's or the machine's config, so tests see the same behaviour everywhere. */
export function gitEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "opsguard lab",
    GIT_AUTHOR_EMAIL: "lab@example.test",
    GIT_COMMITTER_NAME: "opsguard lab",
    GIT_COMMITTER_EMAIL: "lab@example.test",
  };
}
