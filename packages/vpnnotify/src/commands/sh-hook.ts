import { type Command, ExitCode, exitWith, type GlobalOptions, type IOStreams, ioOf, type RunFn } from "@opsguard/core";
import { defaultNodeHook, shHookOptions, shHookScript } from "../sh-hook";

export interface ShHookCommandOptions {
  nodeHook: string;
  config?: string;
}

/** `vpnnotify sh-hook`: prints the POSIX sh client-connect hook that install writes as vpnnotify-connect. */
export function newShHookCommand(program: Command, runF: RunFn<ShHookCommandOptions> = runShHookCommand): Command {
  return program
    .command("sh-hook")
    .description("print the POSIX sh client-connect hook made from the config (install writes it as vpnnotify-connect)")
    .option("--node-hook <path>", "the Node hook it hands every other call to", defaultNodeHook())
    .action(async (flags: { nodeHook: string }, command: Command) => {
      const { config } = command.optsWithGlobals<GlobalOptions>();
      exitWith(command, await runF({ nodeHook: flags.nodeHook, ...(config === undefined ? {} : { config }) }, ioOf(command)));
    });
}

export async function runShHookCommand({ nodeHook, config }: ShHookCommandOptions, io: IOStreams): Promise<ExitCode> {
  io.stdout.write(shHookScript(await shHookOptions(config, [nodeHook])));
  return ExitCode.OK;
}
