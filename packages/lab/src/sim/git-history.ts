import { execFileSync } from "node:child_process";

/** A local repository's commits and refs, as a push would make them known to a Git host simulator. */

export interface GitActor {
  name: string;
  email: string;
  date: string;
}

export interface GitHistoryCommit {
  sha: string;
  parents: string[];
  message: string;
  author: GitActor;
  committer: GitActor;
}

export function readGitHistory(dir: string): { commits: GitHistoryCommit[]; refs: Map<string, string> } {
  const out = execFileSync("git", ["log", "--all", "--format=%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x1e"], {
    cwd: dir,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const commits: GitHistoryCommit[] = [];
  for (const record of out.split("\x1e")) {
    const [sha, parents, an, ae, ad, cn, ce, cd, message] = record.replace(/^\n/, "").split("\x00");
    if (!sha) continue;
    commits.push({
      sha,
      parents: parents ? parents.split(" ") : [],
      message: (message ?? "").replace(/\n+$/, ""),
      author: { name: an ?? "", email: ae ?? "", date: ad ?? "" },
      committer: { name: cn ?? "", email: ce ?? "", date: cd ?? "" },
    });
  }
  const refs = new Map<string, string>();
  const listed = execFileSync("git", ["for-each-ref", "--format=%(objectname) %(*objectname) %(refname)", "refs/heads", "refs/tags"], {
    cwd: dir,
    encoding: "utf8",
  });
  for (const line of listed.split("\n")) {
    const [object, peeled, ref] = line.split(" ");
    if (object && ref) refs.set(ref.replace(/^refs\/(heads|tags)\//, ""), peeled || object);
  }
  return { commits, refs };
}

/** `Co-authored-by: Name <email>` trailers. */
export function coAuthorTrailers(message: string): Array<{ name: string; email: string }> {
  return [...message.matchAll(/^Co-authored-by:\s*(.+?)\s*<([^>]+)>\s*$/gim)].map((m) => ({ name: m[1] ?? "", email: m[2] ?? "" }));
}
