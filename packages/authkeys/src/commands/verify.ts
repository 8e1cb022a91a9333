import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import type { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import type { VerifyFlags } from "../verify-command";

export interface VerifyOptions extends VerifyFlags {
  ctx: CliContext;
}

/** `authkeys verify --hosts FILE --user NAME`: a login per host; exit 1 unless every host accepted the key. */
export function newVerifyCommand(program: Command, runF: RunFn<VerifyOptions> = runVerify): Command {
  return program
    .command("verify")
    .description("log in to each host of a list with a key (no session, no command): did the rollout work?")
    .requiredOption("--hosts <file>", "one host, host:port or [ipv6]:port per line (# comments)")
    .requiredOption("--user <name>", "the login name to try")
    .option("-i, --identity <file>", "private key to offer (unencrypted); default: the ssh-agent at SSH_AUTH_SOCK")
    .option("--known-hosts <file>", "known_hosts to check host keys against (default ~/.ssh/known_hosts)")
    .option("--concurrency <n>", "hosts checked at once", "8")
    .option("--timeout-ms <ms>", "per host: connect, handshake and authentication", "10000")
    .action(async (flags: VerifyFlags, command: Command) => {
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, ...flags }, ctx.io));
    });
}

export async function runVerify({ ctx, ...flags }: VerifyOptions, io: IOStreams): Promise<ExitCode> {
  const { runVerifyCommand } = await import("../verify-command");
  return runVerifyCommand(ctx, flags, io);
}
