import {
  type CliContext,
  type Command,
  ConfigError,
  cliContext,
  ExitCode,
  exitWith,
  type IOStreams,
  loadConfig,
  type RunFn,
  resolveSecret,
  type SecretRef,
} from "@opsguard/core";
import { startAnswerServer } from "../answers";
import { configSchema } from "../config";
import { createNotifier } from "../runtime";

export interface ServeCommandOptions {
  ctx: CliContext;
  /** Resolves when the server is to stop: SIGTERM or SIGINT for the bin; whatever a test decides in-process. */
  stopped: () => Promise<void>;
}

/** Until SIGTERM or SIGINT: what a service manager sends to stop the server. */
export function untilSignalled(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
}

/** `vpnnotify serve`: the Slack app's interactivity request URL, answering the DM's "was this you?" buttons. */
export function newServeCommand(
  program: Command,
  stopped: () => Promise<void> = untilSignalled,
  runF: RunFn<ServeCommandOptions> = runServeCommand,
): Command {
  return program
    .command("serve")
    .description('answer the DM\'s "was this you?" buttons (Slack interactivity request URL; needs answers.signingSecret)')
    .action(async (_flags: unknown, command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "info" });
      exitWith(command, await runF({ ctx, stopped }, ctx.io));
    });
}

export async function runServeCommand({ ctx, stopped }: ServeCommandOptions, _io: IOStreams): Promise<ExitCode> {
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  if (!config.answers) {
    throw new ConfigError("serve needs answers.signingSecret in the config", {
      hint: "set answers: { signingSecret: file:/etc/opsguard/slack-signing-secret } (the Slack app's Basic Information page)",
    });
  }
  const n = createNotifier(config, ctx.log);
  const at = config.answers.listen.lastIndexOf(":");
  const server = await startAnswerServer(n, {
    signingSecret: resolveSecret(config.answers.signingSecret as SecretRef, "answers.signingSecret"),
    host: config.answers.listen.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(config.answers.listen.slice(at + 1)),
    path: config.answers.path,
  });
  ctx.log.info("listening for Slack's button answers", { url: server.url });
  await stopped();
  await server.close();
  await n.store.close().catch(() => {});
  return ExitCode.OK;
}
