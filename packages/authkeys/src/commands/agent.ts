import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";

export interface AgentCommandOptions {
  ctx: CliContext;
}

/** `authkeys agent`: one LDAP connection kept open, answering logins over agent.socket until SIGTERM. */
export function newAgentCommand(program: Command, runF: RunFn<AgentCommandOptions> = runAgentCommand): Command {
  return program
    .command("agent")
    .description("keep one LDAP connection open and answer logins over agent.socket (runs until SIGTERM)")
    .action(async (_opts: unknown, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx }, ctx.io));
    });
}

/** Returns once the agent listens; the process then lives on its socket until a signal stops it. */
export async function runAgentCommand({ ctx }: AgentCommandOptions): Promise<ExitCode> {
  const { runAgent } = await import("../agent");
  await runAgent(ctx.opts.config, ctx.log);
  return ExitCode.OK;
}
