import {
  type CliContext,
  type Command,
  cliContext,
  type ExitCode,
  exitWith,
  type IOStreams,
  type RunFn,
  writeJson,
  writeStdout,
} from "@opsguard/core";
import { formatStatus } from "../format";
import { type RunReport, runOnce } from "../run";
import { withDeputize } from "./shared";

export interface StatusOptions {
  ctx: CliContext;
}

/** `deputize status`: on-call people, sink members and what the next run would change (a dry run). */
export function newStatusCommand(program: Command, runF: RunFn<StatusOptions> = runStatus): Command {
  return program
    .command("status")
    .description("who is on call per schedule, who is in each sink, and what the next run would change")
    .action(async (_opts: unknown, command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "warn" });
      exitWith(command, await runF({ ctx }, ctx.io));
    });
}

export async function runStatus({ ctx }: StatusOptions, io: IOStreams): Promise<ExitCode> {
  const report = await withDeputize(ctx, (dep) => runOnce(dep, { dryRun: true, log: ctx.log }), { readOnly: true });
  if (ctx.opts.json) writeJson(statusJson(report), io.stdout);
  else writeStdout(formatStatus(report), io.stdout);
  return report.exitCode;
}

function statusJson(report: RunReport) {
  return {
    window: report.window,
    schedules: report.schedules,
    sourceErrors: report.sourceErrors,
    sinks: report.sinks.map((s) => ({
      sink: s.sink,
      kind: s.kind,
      members: s.plan?.current ?? [],
      onCall: s.onCall,
      nextRun: { status: s.status, add: s.plan?.add ?? [], remove: s.plan?.remove ?? [], updates: s.plan?.updates ?? [], reason: s.reason },
      unresolved: s.plan?.unresolved ?? [],
      ...(s.plan?.deliveries ? { deliveries: s.plan.deliveries } : {}),
      ...(s.plan?.pendingMessages ? { pendingMessages: s.plan.pendingMessages } : {}),
    })),
  };
}
