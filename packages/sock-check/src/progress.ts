import { type CliContext, type OutStream, progressEnabled, startProgress } from "@opsguard/core";
import type { CheckOptions } from "./check";

/**
 * sock-check's API phases on the terminal (issue #25): the phase runCheck is in and how many API requests it has
 * made so far, through core's progress line (nothing off a TTY, with --quiet or without colour).
 */
export function checkProgress(
  ctx: Pick<CliContext, "color" | "opts">,
  stream?: OutStream,
): {
  hooks: Pick<CheckOptions, "onPhase" | "onAttempt">;
  stop(): void;
} {
  const progress = startProgress("collecting changes", { enabled: progressEnabled(ctx), stream });
  let phase = "collecting changes";
  let requests = 0;
  const show = () => progress.update(requests > 0 ? `${phase} (${requests} API requests)` : phase);
  return {
    hooks: {
      onPhase: (text) => {
        phase = text;
        show();
      },
      onAttempt: () => {
        requests++;
        show();
      },
    },
    stop: () => progress.stop(),
  };
}
