import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import type { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import type { CertificateTokens } from "../principals-command";

export interface PrincipalsOptions {
  ctx: CliContext;
  user: string;
  cert: CertificateTokens;
}

/** `authkeys principals <user> [keyid] [serial] [type]`: what sshd's AuthorizedPrincipalsCommand runs. */
export function newPrincipalsCommand(program: Command, runF: RunFn<PrincipalsOptions> = runPrincipals): Command {
  return program
    .command("principals")
    .description("print the certificate principals that may log in as <user> (sshd's AuthorizedPrincipalsCommand)")
    .argument("<user>", "login name (sshd's %u; write -- before it)")
    .argument("[keyid]", "certificate key id (sshd's %i); logged")
    .argument("[serial]", "certificate serial (sshd's %s); logged")
    .argument("[type]", "certificate type (sshd's %T); logged")
    .action(
      async (
        user: string,
        keyId: string | undefined,
        serial: string | undefined,
        type: string | undefined,
        _o: unknown,
        command: Command,
      ) => {
        const ctx = cliContext(command);
        exitWith(command, await runF({ ctx, user, cert: { keyId, serial, type } }, ctx.io));
      },
    );
}

export async function runPrincipals({ ctx, user, cert }: PrincipalsOptions, io: IOStreams): Promise<ExitCode> {
  const [{ runPrincipalsCommand }, { loadLoginConfig }] = await Promise.all([import("../principals-command"), import("../login-config")]);
  const { json, quiet, logFormat, config } = ctx.opts;
  return runPrincipalsCommand(user, cert, {
    config,
    json,
    quiet,
    level: ctx.log.level,
    logFormat,
    loadConfig: loadLoginConfig,
    io,
    startedAtMs: ctx.startedAtMs,
  });
}
