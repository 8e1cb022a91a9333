import { type BigIntStats, fstatSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { UsageError } from "@opsguard/core/errors";
import { createdPath } from "@opsguard/core/output";
import { escapeLine } from "@opsguard/core/text";

/**
 * What a file is known by when two names may be one file: its device and inode, so a symbolic or hard link to a
 * file and the file itself are the same (T26: a hard link ran every rule twice). A path given as a number is an
 * open descriptor (the run's stdin). Undefined when it cannot be stat'ed (missing, a dangling link), and with
 * `regularOnly` when it is not a regular file.
 */
export function fileIdentity(file: string | number, regularOnly = false): string | undefined {
  let st: BigIntStats;
  try {
    st = typeof file === "number" ? fstatSync(file, { bigint: true }) : statSync(file, { bigint: true });
  } catch {
    return undefined;
  }
  return regularOnly && !st.isFile() ? undefined : `file ${st.dev}:${st.ino}`;
}

/**
 * Refuses an -o FILE that would write into the Sigma rules detect runs (T57 F10): one of the rule files read, by any
 * name (the same device and inode: a symbolic or hard link to it too, T60 N1; alerts appended to a rule broke it,
 * exit 0), or a .yml/.yaml file that would land under a --rules directory, its links resolved on both sides (the next
 * run read the alerts as a rule and failed on it). Checked before anything is written, exit 64, as an -o that is an
 * audit input is.
 */
export function refuseOutputInRules(
  output: string | undefined,
  rulePaths: readonly string[] | undefined,
  ruleFiles: readonly string[],
): void {
  if (output === undefined || rulePaths === undefined) return;
  const target = fileIdentity(output);
  const read = target === undefined ? undefined : ruleFiles.find((file) => fileIdentity(file) === target);
  if (read !== undefined)
    throw new UsageError(`-o ${escapeLine(output)} is the rule file ${escapeLine(read)} (--rules)`, {
      hint: "give -o another path: the alerts appended to it would break the rule",
    });
  const where = landsAt(output);
  for (const rules of rulePaths) {
    const dir = statSync(rules, { throwIfNoEntry: false })?.isDirectory() === true ? realPath(rules) : undefined;
    if (dir !== undefined && where?.startsWith(`${dir}${sep}`) && /\.ya?ml$/i.test(where))
      throw new UsageError(`-o ${escapeLine(output)} is a .yml file in the rules directory ${escapeLine(rules)}`, {
        hint: "give -o a path outside it: the next run would read the alerts as a rule",
      });
  }
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Where writing `path` creates or appends to a file (core's createdPath: its symbolic links followed to the last
 * one's target, which may not exist yet), that target's directory resolved; undefined when it cannot be told.
 */
function landsAt(path: string): string | undefined {
  let target: string;
  try {
    target = createdPath(path);
  } catch {
    return undefined;
  }
  const dir = realPath(dirname(target));
  return dir === undefined ? undefined : join(dir, basename(target));
}
