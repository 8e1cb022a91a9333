import {
  type CliContext,
  type Command,
  cliContext,
  type ExitCode,
  exitWith,
  type IOStreams,
  type RunFn,
  UsageError,
  writeJson,
  writeStdout,
} from "@opsguard/core";
import { field, formatUpcoming } from "../format";
import { MAX_LOOKAHEAD_HOURS, upcoming } from "../next";
import { withDeputize } from "./shared";

export interface NextOptions {
  ctx: CliContext;
  /** --hours as given (validated by the run). */
  hours?: string | undefined;
}

/** `deputize next`: who goes on call in the next hours, per schedule (only reads). */
export function newNextCommand(program: Command, runF: RunFn<NextOptions> = runNext): Command {
  return program
    .command("next")
    .description("who is on call in the next hours, per schedule (only reads)")
    .option("--hours <n>", `how far to look, 1 to ${MAX_LOOKAHEAD_HOURS} (lookAhead.hours, else 12)`)
    .action(async (opts: { hours?: string }, command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "warn" });
      exitWith(command, await runF({ ctx, hours: opts.hours }, ctx.io));
    });
}

export async function runNext({ ctx, hours }: NextOptions, io: IOStreams): Promise<ExitCode> {
  // Plain decimal digits only: Number() would also take "0x10", "0b11", "1e1" and " 12".
  const given = hours === undefined ? undefined : /^\d{1,3}$/.test(hours) ? Number(hours) : Number.NaN;
  if (given !== undefined && !(Number.isInteger(given) && given >= 1 && given <= MAX_LOOKAHEAD_HOURS)) {
    throw new UsageError(`--hours expects a whole number of hours from 1 to ${MAX_LOOKAHEAD_HOURS}, got "${hours}"`, {
      hint: "for example --hours 24",
    });
  }
  const report = await withDeputize(ctx, (dep) => upcoming(dep, new Date(), given ?? dep.lookAhead.hours));
  for (const e of report.sourceErrors) ctx.log.error(`source ${field(e.source)} failed: ${field(e.error)}`);
  if (ctx.opts.json) writeJson(report, io.stdout);
  else writeStdout(formatUpcoming(report), io.stdout);
  return report.exitCode;
}
