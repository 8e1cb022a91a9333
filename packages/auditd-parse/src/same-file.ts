import { type BigIntStats, fstatSync, statSync } from "node:fs";

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
