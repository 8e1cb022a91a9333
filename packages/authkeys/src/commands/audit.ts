import { type CliContext, type Command, cliContext, exitWith, formatOrJson, type RunFn } from "@opsguard/core/cli";
import type { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";

export interface AuditOptions {
  ctx: CliContext;
  filter?: string | undefined;
  format?: string | undefined;
}

/** `authkeys audit`: key hygiene across the directory; exit 1 when a finding fails policy. */
export function newAuditCommand(program: Command, runF: RunFn<AuditOptions> = runAudit): Command {
  return program
    .command("audit")
    .description("judge every account's stored keys across the directory: invalid, weak, shared, on disabled accounts, missing")
    .option("--filter <filter>", "LDAP filter selecting the accounts (default: audit.filter, else (objectClass=posixAccount))")
    .option("--format <format>", "table (for people), json or csv (one row per finding); --json is --format json")
    .action(async (opts: { filter?: string; format?: string }, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, ...opts, format: formatOrJson(command, opts.format ?? "table") }, ctx.io));
    });
}

export async function runAudit({ ctx, ...opts }: AuditOptions, io: IOStreams): Promise<ExitCode> {
  const { runAuditCommand } = await import("../audit-command");
  return runAuditCommand(ctx, opts, io);
}
