import { type CliContext, type OutStream, progressEnabled, startProgress } from "@opsguard/core";
import type { RunOptions } from "./run";

/**
 * deputize's sources and sinks on the terminal (issue #25), through core's progress line: nothing off a TTY,
 * with --quiet or without colour, nothing for a run under a second (cron never sees it).
 */
export function runProgress(
  ctx: Pick<CliContext, "color" | "opts">,
  stream?: OutStream,
): { onStep: NonNullable<RunOptions["onStep"]>; stop(): void } {
  const progress = startProgress("deputize", { enabled: progressEnabled(ctx), stream });
  return { onStep: (text) => progress.update(text), stop: () => progress.stop() };
}
