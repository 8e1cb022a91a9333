import { type BigIntStats, fstatSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, sep } from "node:path";
import { UsageError } from "@opsguard/core/errors";
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
 * Refuses an -o FILE that would write into the Sigma rules detect runs (T57 F10): one of the --rules files (alerts
 * appended to a rule broke it, exit 0), or a .yml/.yaml file under a --rules directory (the next run read the alerts
 * as a rule and failed on it). Checked before anything is written, exit 64, as an -o that is an audit input is.
 */
export function refuseOutputInRules(output: string | undefined, rulePaths: readonly string[] | undefined): void {
  if (output === undefined || rulePaths === undefined) return;
  const target = fileIdentity(output);
  const where = placeOf(output);
  for (const rules of rulePaths) {
    const dir = statSync(rules, { throwIfNoEntry: false })?.isDirectory() === true;
    if (!dir && target !== undefined && fileIdentity(rules) === target)
      throw new UsageError(`-o ${escapeLine(output)} is a rule file (--rules ${escapeLine(rules)})`, {
        hint: "give -o another path: the alerts appended to it would break the rule",
      });
    const inside = dir ? placeOf(rules) : undefined;
    if (inside !== undefined && where?.startsWith(`${inside}${sep}`) && /\.ya?ml$/i.test(where))
      throw new UsageError(`-o ${escapeLine(output)} is a .yml file in the rules directory ${escapeLine(rules)}`, {
        hint: "give -o a path outside it: the next run would read the alerts as a rule",
      });
  }
}

/** `path` with its directory's symbolic links resolved (the file itself may not exist yet); undefined when it cannot be. */
function placeOf(path: string): string | undefined {
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return undefined;
  }
}
