import { statSync } from "node:fs";
import type { CliContext } from "@opsguard/core/cli";
import { type ByteProgress, progressEnabled, startByteProgress } from "@opsguard/core/progress";
import type { AuditParser } from "./parser";

/**
 * Reading progress on a terminal (issue #25): bytes read, events/s, and an ETA for a plain file (its size is
 * known; a .gz or a pipe shows bytes and rate only). Core's progress line: nothing off a TTY, with --quiet,
 * NO_COLOR or TERM=dumb; nothing for runs under a second. Nor when the output itself goes to the terminal:
 * the events scrolling by are the progress, and a spinner redrawn between them would garble both.
 */
export function readProgress(ctx: Pick<CliContext, "color" | "opts" | "io">, parser: AuditParser): ByteProgress {
  const enabled = progressEnabled(ctx) && !ctx.io.stdout.isTTY;
  const progress = startByteProgress("reading", "events", () => parser.stats.events, { enabled, stream: ctx.io.stderr });
  return {
    add: (bytes) => progress.add(bytes),
    input(file) {
      progress.input(file === "-" ? "stdin" : file, file === "-" || file.endsWith(".gz") ? undefined : sizeOf(file));
    },
    stop: () => progress.stop(),
  };
}

function sizeOf(file: string): number | undefined {
  try {
    const info = statSync(file);
    return info.isFile() ? info.size : undefined;
  } catch {
    // readInput reports the file that cannot be read
    return undefined;
  }
}
