import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, realpath, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { promisify } from "node:util";
import { DataError, NoInputError, UsageError } from "@opsguard/core";

const run = promisify(execFile);

export interface GitPerson {
  name: string;
  email: string;
}

export interface LocalCommit {
  sha: string;
  parents: string[];
  subject: string;
  message: string;
  author: GitPerson;
  committer: GitPerson;
  authoredAt: string;
  coAuthors: GitPerson[];
}

/** The local checkout, read with the git CLI (no library reimplements git's rev-list semantics as well). */
export class GitRepo {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async #git(args: string[], what: string): Promise<string> {
    return (await this.#gitBytes(args, what)).toString("utf8");
  }

  /**
   * git's stdout as bytes: a diff is handed on to git as it came (patch-id, apply). Read as UTF-8 text, every byte
   * that is not UTF-8 (a Latin-1 file) would become U+FFFD, and two different changes the same patch.
   */
  async #gitBytes(args: string[], what: string): Promise<Buffer> {
    try {
      const { stdout } = await run("git", args, {
        cwd: this.dir,
        encoding: "buffer",
        maxBuffer: 512 * 1024 * 1024,
        timeout: 120_000,
        env: { ...process.env, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C" },
      });
      return stdout;
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
      if (e.code === "ENOENT") throw new NoInputError("git is not installed or not on PATH", { hint: "install git" });
      const detail = (e.stderr?.toString("utf8") ?? e.message ?? "").trim().split("\n")[0];
      throw new DataError(`${what}: ${detail}`);
    }
  }

  /** The real path of the checkout's work tree; undefined without one (a bare repository). */
  async workTree(): Promise<string | undefined> {
    try {
      return await realpath((await this.#git(["rev-parse", "--show-toplevel"], "git rev-parse")).trim());
    } catch {
      return undefined;
    }
  }

  async ensureRepository(): Promise<void> {
    const where = JSON.stringify(this.dir);
    try {
      if (!(await stat(this.dir)).isDirectory())
        throw new NoInputError(`${where} is not a directory`, { hint: "pass --repo-dir with the checkout" });
    } catch (error) {
      if (error instanceof NoInputError) throw error;
      throw new NoInputError(`${where} does not exist or cannot be read`, { hint: "pass --repo-dir with the checkout" });
    }
    try {
      await run("git", ["rev-parse", "--git-dir"], { cwd: this.dir, timeout: 10_000, env: { ...process.env, LC_ALL: "C" } });
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === "ENOENT") throw new NoInputError("git is not installed or not on PATH", { hint: "install git" });
      // git >= 2.35.2 refuses a repository owned by another user (CVE-2022-24765), common in CI containers.
      if (/dubious ownership/i.test(e.stderr ?? "")) {
        const top = /repository at '([^'\n]+)'/.exec(e.stderr ?? "")?.[1] ?? this.dir;
        throw new NoInputError(`git refuses ${JSON.stringify(top)}: it is owned by another user ("dubious ownership")`, {
          hint: `if you trust it: git config --global --add safe.directory '${top.replace(/'/g, "'\\''")}'`,
        });
      }
      throw new NoInputError(`${where} is not a git checkout`, { hint: "run in the repository or pass --repo-dir" });
    }
  }

  /** The full SHA of a ref; a usage error naming the flag when it does not exist. */
  async resolve(ref: string, flag: string): Promise<string> {
    if (ref.startsWith("-")) throw new UsageError(`${flag} ${ref}: not a git ref`, { hint: "a ref never starts with '-'" });
    try {
      const { stdout } = await run("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { cwd: this.dir, timeout: 10_000 });
      return stdout.trim();
    } catch {
      throw new UsageError(`${flag} ${ref}: no such commit in ${this.dir}`, {
        hint: "fetch it first (git fetch --tags; a shallow clone needs fetch-depth: 0)",
      });
    }
  }

  async isAncestor(ancestor: string, of: string): Promise<boolean> {
    try {
      await run("git", ["merge-base", "--is-ancestor", ancestor, of], { cwd: this.dir, timeout: 30_000 });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The commits of from..to whose parents this clone does not have: a shallow clone's boundary ("grafted").
   * git log shows such a range as complete and silently leaves out everything behind the boundary.
   */
  async shallowBoundary(from: string, to: string): Promise<string[]> {
    if ((await this.#git(["rev-parse", "--is-shallow-repository"], "git rev-parse")).trim() !== "true") return [];
    const shallowFile = (await this.#git(["rev-parse", "--git-path", "shallow"], "git rev-parse")).trim();
    let boundary: Set<string>;
    try {
      boundary = new Set((await readFile(resolvePath(this.dir, shallowFile), "utf8")).split("\n").filter((l) => l !== ""));
    } catch {
      return ["(unreadable .git/shallow)"];
    }
    const range = (await this.#git(["rev-list", `${from}..${to}`, "--"], "git rev-list")).split("\n");
    const cut = range.filter((sha) => boundary.has(sha));
    // The deployed commit itself behind the boundary: the range cannot be told at all.
    if (cut.length === 0 && !(await this.isAncestor(from, to)) && boundary.size > 0) return [...boundary];
    return cut;
  }

  /**
   * The newest tag matching the pattern on a strict ancestor of `ref` (the last deploy; a tag on `ref` itself is what
   * ships now). Each tag, newest first, is asked with `merge-base --is-ancestor`: `git tag --merged` stops walking
   * history once it meets a few commits dated before the tag's (git's clock-skew slop), so commits with older
   * committer dates after the tag (an imported history, a skewed clock) hid it (T37 F6).
   */
  async lastTag(pattern: string, ref: string): Promise<string | undefined> {
    const out = await this.#git(
      [
        "tag",
        "--list",
        pattern,
        "--sort=-creatordate",
        // The commit an annotated tag points to, or a lightweight tag's own, then the name (refs hold no spaces).
        "--format=%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end) %(refname:short)",
      ],
      "git tag",
    );
    for (const line of out.split("\n")) {
      const [commit, name] = line.split(" ", 2);
      if (commit && name && commit !== ref && (await this.isAncestor(commit, ref))) return name;
    }
    return undefined;
  }

  /**
   * The first-parent commits of `ref` that may have reached it since `since`: those committed since then (merge time
   * for a merge commit), and the `earlier` ones before them (newest first, at most `extra`). A fast-forward merge
   * keeps the PR's own commit dates, so a commit dated before `since` may still have been merged after it; only the
   * provider's merge time tells (see CheckResult.window). `from` is the commit before all of them (the root commit
   * when they reach it, so `reachesRoot`), `ref` itself when there are none.
   */
  async mergeWindow(ref: string, since: Date, extra: number): Promise<MergeWindow> {
    const dated = await this.#git(["rev-list", "--first-parent", `--since=${since.toISOString()}`, ref, "--"], "git rev-list");
    const inWindow = dated.split("\n").filter((line) => line !== "").length;
    const out = await this.#git(["rev-list", "--first-parent", `--max-count=${inWindow + extra + 1}`, ref, "--"], "git rev-list");
    const line = out.split("\n").filter((l) => l !== "");
    if (line.length === 0) return { from: ref, earlier: [], reachesRoot: true };
    const reachesRoot = line.length <= inWindow + extra;
    return {
      // The root cannot be excluded from a range: it is left out, as before (a repository's first commit is its import).
      from: reachesRoot ? line.at(-1)! : line[inWindow + extra]!,
      earlier: line.slice(inWindow, reachesRoot ? -1 : inWindow + extra),
      reachesRoot,
    };
  }

  /** Commits in from..to, oldest first. */
  async commits(from: string, to: string, firstParent: boolean): Promise<LocalCommit[]> {
    const args = ["log", "--reverse", "--format=%H%x00%P%x00%an%x00%ae%x00%cn%x00%ce%x00%aI%x00%B%x1e"];
    if (firstParent) args.push("--first-parent");
    args.push(`${from}..${to}`, "--");
    const out = await this.#git(args, "git log");
    return out
      .split("\x1e")
      .map((record) => record.replace(/^\n/, ""))
      .filter((record) => record !== "")
      .map(parseCommit);
  }

  /**
   * Paths a commit changed; for a merge, against its first parent (what it brought to the branch). NUL-separated
   * (`-z`): without it git C-quotes a name with a non-ASCII byte, a newline, tab, quote or backslash
   * (`"infra/\303\251.tf"` under the default core.quotepath), which then matches no path rule (T63 C1). A name is
   * bytes to git; one that is not UTF-8 comes out with U+FFFD in place of those bytes, which globs.ts takes as
   * matched by every pattern.
   */
  async changedPaths(sha: string, firstParent: string | undefined): Promise<string[]> {
    const args = firstParent
      ? ["diff", "--name-only", "-z", "--no-renames", firstParent, sha, "--"]
      : ["diff-tree", "--root", "--no-commit-id", "--name-only", "-z", "-r", "--no-renames", sha, "--"];
    return splitNul(await this.#gitBytes(args, "git diff")).map((name) => name.toString("utf8"));
  }

  /**
   * Whether a merge commit's tree is exactly what merging its parents gives (git merge-tree, git >= 2.38): an
   * "evil merge" carries changes of its own that neither parent has. False when a commit is missing locally
   * (a squash-merged PR's branch) or the merge conflicts: nothing proves it clean.
   */
  async isCleanMerge(sha: string, parents: readonly string[]): Promise<boolean> {
    if (parents.length !== 2) return false;
    try {
      const tree = await this.treeOf(sha);
      return tree !== undefined && (await this.#mergedTree(parents[0]!, parents[1]!)) === tree;
    } catch {
      return false;
    }
  }

  /**
   * Whether a single-parent commit that stands for a PR (its squash commit, the last copy a rebase merge wrote)
   * holds the PR's content and nothing else: its tree is either git's clean merge of the PR's head onto the
   * commit's parent (a squash: GitHub and GitLab squash the merge of base and head), or its parent with the head's
   * own change applied (the last rebased copy: a cherry-pick of the head). The parent itself is judged as its own
   * commit. "missing" when this checkout lacks the head (or its parent): a PR branch deleted after the merge is not
   * in a CI clone of the deploy branch. A git failure other than a conflict throws: nothing was compared.
   */
  async holdsPullContent(sha: string, parent: string, head: string): Promise<"same" | "differs" | "missing"> {
    const tree = await this.treeOf(sha);
    const headParents = await this.parents(head);
    if (tree === undefined || headParents === undefined || (await this.treeOf(parent)) === undefined) return "missing";
    if ((await this.#mergedTree(parent, head)) === tree) return "same";
    // A head that is a merge (an update merge of the base) has no single change of its own a rebase replays.
    if (headParents.length !== 1) return "differs";
    if ((await this.treeOf(headParents[0]!)) === undefined) return "missing";
    return (await this.#pickedTree(parent, headParents[0]!, head)) === tree ? "same" : "differs";
  }

  /** The tree a commit has; undefined when this checkout lacks the commit. */
  async treeOf(sha: string): Promise<string | undefined> {
    if (!/^[0-9a-f]{40,64}$/.test(sha)) return undefined;
    try {
      const { stdout } = await run("git", ["rev-parse", "--verify", "--quiet", `${sha}^{tree}`], { cwd: this.dir, timeout: 30_000 });
      return stdout.trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * What a merge commit brings in beside its first parent: the commits reachable from its other parents but not from
   * its first parent or from `from` (the deployed commit), newest first.
   */
  async mergedIn(parents: readonly string[], from: string): Promise<string[]> {
    const [first, ...rest] = parents;
    if (first === undefined || rest.length === 0) return [];
    const out = await this.#git(["rev-list", ...rest, `^${first}`, `^${from}`, "--"], "git rev-list");
    return out.split("\n").filter((sha) => sha !== "");
  }

  /** A commit's parents; undefined when this checkout lacks the commit. */
  async parents(sha: string): Promise<string[] | undefined> {
    if (!/^[0-9a-f]{40,64}$/.test(sha)) return undefined;
    try {
      const { stdout } = await run("git", ["rev-list", "--no-walk", "--parents", sha], { cwd: this.dir, timeout: 30_000 });
      return stdout.trim().split(" ").slice(1);
    } catch {
      return undefined;
    }
  }

  /** git's merge of two commits (their own merge base), as a tree; null when it conflicts (git merge-tree exits 1). */
  async #mergedTree(ours: string, theirs: string): Promise<string | null> {
    try {
      const { stdout } = await run("git", ["merge-tree", "--write-tree", "--no-messages", ours, theirs], {
        cwd: this.dir,
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, LC_ALL: "C" },
      });
      return stdout.split("\n")[0]?.trim() || null;
    } catch (error) {
      const e = error as { code?: unknown; stderr?: string; message?: string };
      if (e.code === 1) return null;
      throw new DataError(`git merge-tree: ${(e.stderr ?? e.message ?? "").trim().split("\n")[0]}`);
    }
  }

  /**
   * `onto` with the change from `base` to `head` applied, as a cherry-pick does (a three-way merge of each file
   * where the patch does not apply as it stands), as a tree; null when it conflicts. git merge-tree --merge-base
   * would do this in one step but needs git 2.40 (Debian bookworm has 2.39), so the patch is applied to a
   * throwaway index: the checkout's own index and work tree are never touched.
   */
  async #pickedTree(onto: string, base: string, head: string): Promise<string | null> {
    const diff = await this.#gitBytes(
      ["diff-tree", "-p", "--binary", "--full-index", "--no-color", "--no-renames", "--no-ext-diff", base, head, "--"],
      "git diff-tree",
    );
    const scratch = await mkdtemp(join(tmpdir(), "sock-check-index-"));
    const env = { GIT_INDEX_FILE: join(scratch, "index") };
    try {
      await pipeTo(["read-tree", onto], "", this.dir, env);
      if (diff.length > 0) {
        try {
          await pipeTo(["apply", "--cached", "--3way", "--whitespace=nowarn"], diff, this.dir, env);
        } catch {
          // A conflict (unmerged entries) or a patch git cannot place: the change does not apply cleanly.
          return null;
        }
      }
      return (await pipeTo(["write-tree"], "", this.dir, env)).trim() || null;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /**
   * git's patch ID of a single-parent (or root) commit's change, from a diff without context lines: a rebase
   * that replays the same change onto a moved base keeps it, as `git cherry` relies on. `--verbatim`, because
   * the default ID strips whitespace, and `rm -rf / tmp/build` is not `rm -rf /tmp/build` (nor is re-indented
   * Python the same program). Not `--stable`: git before 2.40 refuses it beside --verbatim, and both IDs
   * compared here come from the same git on diffs in the same (sorted) file order. "missing" when this
   * checkout does not have the commit (a deleted PR branch); null for a merge or an empty change.
   */
  async patchId(sha: string): Promise<string | null | "missing"> {
    const parents = await this.parents(sha);
    if (parents === undefined) return "missing";
    if (parents.length > 1) return null;
    const diff = await this.#gitBytes(
      ["diff-tree", "-p", "-U0", "--no-color", "--no-renames", "--no-ext-diff", "--root", sha, "--"],
      "git diff-tree",
    );
    const id = await pipeTo(["patch-id", "--verbatim"], diff, this.dir);
    return id.split(" ")[0] || null;
  }

  /** A file's content at a ref; undefined when the file does not exist there. */
  async show(ref: string, path: string): Promise<string | undefined> {
    try {
      const { stdout } = await run("git", ["show", `${ref}:${path}`], { cwd: this.dir, timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch {
      return undefined;
    }
  }

  async remoteUrl(name = "origin"): Promise<string | undefined> {
    try {
      const { stdout } = await run("git", ["remote", "get-url", name], { cwd: this.dir, timeout: 10_000 });
      return stdout.trim() || undefined;
    } catch {
      return undefined;
    }
  }
}

/** The NUL-terminated names of git's `-z` output, as bytes. */
function splitNul(out: Buffer): Buffer[] {
  const names: Buffer[] = [];
  for (let start = 0; start < out.length; ) {
    const end = out.indexOf(0, start);
    const stop = end === -1 ? out.length : end;
    if (stop > start) names.push(out.subarray(start, stop));
    start = stop + 1;
  }
  return names;
}

/** Runs git with `input` on stdin (execFile cannot feed stdin); its stdout. */
function pipeTo(args: string[], input: string | Buffer, cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", args, {
      cwd,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 30_000,
      env: { ...process.env, ...env, LC_ALL: "C" },
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      err += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(out) : reject(new DataError(`git ${args[0]}: ${err.trim().split("\n")[0] ?? code}`)),
    );
    // A git that exits early (EPIPE) is reported by its exit code above, not as an unhandled stream error.
    child.stdin.on("error", () => {});
    child.stdin.end(input);
  });
}

function parseCommit(record: string): LocalCommit {
  const [sha = "", parents = "", an = "", ae = "", cn = "", ce = "", ad = "", body = ""] = record.split("\x00");
  const message = body.replace(/\n+$/, "");
  return {
    sha,
    parents: parents ? parents.split(" ") : [],
    subject: message.split("\n")[0] ?? "",
    message,
    author: { name: an, email: ae },
    committer: { name: cn, email: ce },
    authoredAt: ad,
    coAuthors: coAuthorsOf(message),
  };
}

/** `Co-authored-by: Name <email>` trailers, as GitHub and GitLab read them. */
export function coAuthorsOf(message: string): GitPerson[] {
  return [...message.matchAll(/^Co-authored-by:\s*(.*?)\s*<([^>\s]+)>\s*$/gim)].map((m) => ({ name: m[1] ?? "", email: m[2] ?? "" }));
}

/** owner/name from an SSH or HTTPS remote URL. */
export function repositoryFromRemote(url: string): string | undefined {
  const match = /[:/]([\w.-]+)\/([\w.-]+?)(?:\.git)?\/?$/.exec(url);
  return match ? `${match[1]}/${match[2]}` : undefined;
}

/** group/subgroup/name from an SSH or HTTPS remote URL (GitLab allows nested groups). */
export function projectFromRemote(url: string): string | undefined {
  const path = /^[\w+.-]+:\/\/[^/]+\/(.+)$/.exec(url)?.[1] ?? /^[^@/]+@[^:]+:(.+)$/.exec(url)?.[1];
  const project = path?.replace(/\.git\/?$/, "").replace(/\/+$/, "");
  return project && /^[\w.-]+(\/[\w.-]+)+$/.test(project) ? project : undefined;
}

/** See GitRepo.mergeWindow. */
export interface MergeWindow {
  from: string;
  earlier: string[];
  reachesRoot: boolean;
}
