import { writeFileSync } from "node:fs";
import { describeError } from "@opsguard/core";

/**
 * OpenVPN's deferred answer. A file that cannot be written (permissions, a directory) is one log
 * line, never a crash: the hook's own failures must not disconnect anyone. Returns that line.
 */
export function answerDeferred(path: string | undefined, value: "0" | "1"): string | undefined {
  if (!path) return undefined;
  try {
    writeFileSync(path, value);
    return undefined;
  } catch (error) {
    return `cannot write client_connect_deferred_file ${JSON.stringify(path)}: ${describeError(error)}`;
  }
}
