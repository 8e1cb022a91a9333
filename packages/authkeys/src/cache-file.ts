import { unlinkSync } from "node:fs";
import type { Logger } from "@opsguard/core/log";
import { readRegularFileSync } from "@opsguard/core/regular-file";

/** Far beyond what authkeys writes to its server memory or SRV cache (a few hundred bytes). */
const MAX_SMALL_STATE_BYTES = 1024 * 1024;

/**
 * A small state file of the cache directory (`.servers.json`, the SRV cache) as text, or undefined when it
 * is missing or not one authkeys wrote. The directory belongs to the command user, so a FIFO or device may
 * stand there: a plain read would block the login past every deadline. It is opened without blocking and
 * checked first (core's regular-file); anything but a regular file is removed (the next write puts a real
 * one there) and logged, like a corrupt cache entry.
 */
export function readSmallStateFile(file: string, log: Logger): string | undefined {
  const read = readRegularFileSync(file, MAX_SMALL_STATE_BYTES);
  if ("bytes" in read) return read.bytes.toString("utf8");
  const { refused } = read;
  if (refused.kind === "unreadable") return undefined;
  const what = refused.kind === "too-large" ? `${refused.size} bytes` : refused.what;
  log.warn(`cache file is ${what}, not one authkeys writes; removed it and going on without it`, { file });
  try {
    unlinkSync(file);
  } catch {
    // Not ours to remove (then it is ignored again next time, without blocking).
  }
  return undefined;
}
