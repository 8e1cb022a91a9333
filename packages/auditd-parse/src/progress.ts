import { closeSync, openSync, statSync } from "node:fs";
import { isatty } from "node:tty";
import type { CliContext } from "@opsguard/core/cli";
import { type ByteProgress, progressEnabled, startByteProgress } from "@opsguard/core/progress";
import { escapeControls } from "./escape";
import type { AuditParser } from "./parser";

/**
 * Reading progress on a terminal (issue #25): bytes read, events/s, and an ETA for a plain file (its size is
 * known; a .gz or a pipe shows bytes and rate only). Core's progress line: nothing off a TTY, with --quiet,
 * NO_COLOR or TERM=dumb; nothing for runs under a second. Nor when the output itself goes to the terminal
 * (stdout, or an -o path that is one): the events scrolling by are the progress, and a spinner redrawn
 * between them would garble both. `outputFile` is -o's path, undefined for stdout.
 */
export function readProgress(
  ctx: Pick<CliContext, "color" | "opts" | "io">,
  parser: AuditParser,
  outputFile: string | undefined,
): ByteProgress {
  const enabled = progressEnabled(ctx) && !(outputFile === undefined ? ctx.io.stdout.isTTY === true : isTerminal(outputFile));
  const progress = startByteProgress("reading", "events", () => parser.stats.events, { enabled, stream: ctx.io.stderr });
  return {
    add: (bytes) => progress.add(bytes),
    input(file) {
      // a file name is anyone's text: ESC/OSC in it must not reach the terminal
      progress.input(file === "-" ? "stdin" : escapeControls(file), file === "-" || file.endsWith(".gz") ? undefined : sizeOf(file));
    },
    stop: () => progress.stop(),
  };
}

/** Whether -o names a terminal (/dev/tty, /dev/stdout on one): only a character device can be, so nothing is opened for a file. */
function isTerminal(path: string): boolean {
  try {
    if (!statSync(path).isCharacterDevice()) return false;
    const fd = openSync(path, "r");
    try {
      return isatty(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not there yet (Output creates it) or not openable: not a terminal we could draw on
    return false;
  }
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
