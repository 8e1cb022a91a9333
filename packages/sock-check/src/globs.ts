import picomatch from "picomatch";

/**
 * Path and branch globs, read by picomatch (a well-kept glob library: braces `{tf,hcl}`, classes `[ab]`,
 * extglobs `@(a|b)`, `**`) instead of a hand-written translation that silently never matched them.
 * Path rules follow .gitignore's placement rules, which is what people writing them expect:
 * - a pattern with no slash (or only a trailing one) matches at any depth: `*.sql`, `secrets/`;
 * - a pattern with a slash elsewhere is relative to the repository root: `infra/*.tf`, `/Dockerfile`;
 * - a pattern matching a directory matches everything under it: `docs`, `docs/`, `infra/**`.
 * Negation (`!pattern`) is not supported: every entry of a rule's list adds paths, none removes them.
 */

// `s`: a file name may hold a newline, and picomatch's `**` is built on `.`, which would not match across it (T63 C1).
const OPTIONS: picomatch.PicomatchOptions = { dot: true, strictBrackets: true, flags: "s" };

/**
 * U+FFFD in a changed path stands for bytes that are not UTF-8 (git.ts decodes names so): a glob written in the
 * policy's UTF-8 cannot say what they were, so such a path counts as matched by every pattern, never as matched by none.
 */
export const UNREADABLE_NAME = "\ufffd";

/** Why a path pattern cannot be used, or undefined when it can. */
export function pathPatternProblem(pattern: string): string | undefined {
  if (pattern.trim() === "") return "an empty pattern matches nothing";
  if (pattern.startsWith("!")) return "negation (!) is not supported; list only the paths the rule covers";
  if (/(^|\/)\.\.(\/|$)/.test(pattern)) return "paths are relative to the repository root; '..' never matches";
  if (pattern.endsWith("\\")) return "a trailing backslash escapes nothing";
  for (const glob of expand(pattern)) {
    try {
      picomatch.makeRe(glob, OPTIONS);
    } catch (error) {
      return (error as Error).message;
    }
  }
  return undefined;
}

/** Why a branch pattern cannot be used, or undefined when it can. */
export function branchPatternProblem(pattern: string): string | undefined {
  try {
    picomatch.makeRe(pattern, OPTIONS);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** One predicate for a list of path patterns (any matching is a match). Patterns must have passed pathPatternProblem. */
export function pathMatcher(patterns: readonly string[]): (path: string) => boolean {
  const matches = picomatch(patterns.flatMap(expand), OPTIONS);
  return (path) => path.includes(UNREADABLE_NAME) || matches(path);
}

/** Branch names against a glob (`release/*`, `main`): `*` stays within one path segment, as in GitHub's rulesets. */
export function branchMatcher(pattern: string): (branch: string) => boolean {
  return picomatch(pattern, OPTIONS);
}

/** The picomatch globs that together mean one .gitignore-style pattern. */
function expand(pattern: string): string[] {
  const directory = pattern.endsWith("/");
  let glob = pattern.replace(/\/+$/, "");
  const anchored = glob.includes("/");
  glob = glob.replace(/^\/+/, "");
  if (!anchored) glob = `**/${glob}`;
  return directory ? [`${glob}/**`] : [glob, `${glob}/**`];
}
