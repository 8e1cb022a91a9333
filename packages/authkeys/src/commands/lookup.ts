import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import type { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";

export interface LookupOptions {
  ctx: CliContext;
  user: string;
  fingerprint?: string | undefined;
}

/** `authkeys [lookup] <user> [fingerprint] [type] [key]`: what sshd runs (the default command). */
export function newLookupCommand(program: Command, runF: RunFn<LookupOptions> = runLookup): Command {
  return program
    .command("lookup", { isDefault: true })
    .description("print the authorized_keys lines of <user> (the default command; what sshd runs)")
    .argument("<user>", "login name (sshd's %u; write -- before it)")
    .argument("[fingerprint]", "print only the key with this SHA256 fingerprint (sshd's %f)")
    .argument("[type]", "key type offered (sshd's %t); informational")
    .argument("[key]", "base64 key offered (sshd's %k); informational")
    .action(async (user: string, fingerprint: string | undefined, _type: unknown, _key: unknown, _opts: unknown, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, user, fingerprint }, ctx.io));
    });
}

export async function runLookup({ ctx, user, fingerprint }: LookupOptions, io: IOStreams): Promise<ExitCode> {
  const [{ runLookupCommand }, { loadLoginConfig }] = await Promise.all([import("../lookup-command"), import("../login-config")]);
  return runLookupCommand(user, fingerprint, {
    config: ctx.opts.config,
    json: ctx.opts.json,
    quiet: ctx.opts.quiet,
    level: ctx.log.level,
    logFormat: ctx.opts.logFormat,
    loadConfig: loadLoginConfig,
    io,
    startedAtMs: ctx.startedAtMs,
  });
}
