import { unlink } from "node:fs/promises";
import { join } from "node:path";
import {
  type CliContext,
  type Command,
  ConfigError,
  cliContext,
  ExitCode,
  ensurePrivateDir,
  exitWith,
  type IOStreams,
  type Logger,
  loadConfig,
  type RunFn,
  resolveSecret,
  type SecretRef,
  writeFileAtomic,
} from "@opsguard/core";
import { startAnswerServer } from "../answers";
import { configSchema } from "../config";
import { createNotifier } from "../runtime";
import { withSpoolAccess } from "../spool-guard";

export interface ServeCommandOptions {
  ctx: CliContext;
  /**
   * Resolves, with what stopped it, when the server is to stop: SIGTERM or SIGINT for the bin; whatever a test decides
   * in-process.
   */
  stopped: () => Promise<string>;
}

/** Until SIGTERM or SIGINT (its name): what a service manager sends to stop the server. */
export function untilSignalled(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
}

/** `vpnnotify serve`: the Slack app's interactivity request URL, answering the DM's "was this you?" buttons. */
export function newServeCommand(
  program: Command,
  stopped: () => Promise<string> = untilSignalled,
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
  // Every "No" is spooled before Slack gets its answer: a spool this user cannot write would make each one fail (500)
  // while "Yes" works, for as long as it runs. Checked now, as flush and status check theirs (T62 F10).
  await withSpoolAccess(n.spool.dir, () => probeSpool(n.spool.dir, ctx.log));
  const at = config.answers.listen.lastIndexOf(":");
  const server = await startAnswerServer(n, {
    signingSecret: resolveSecret(config.answers.signingSecret as SecretRef, "answers.signingSecret"),
    host: config.answers.listen.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(config.answers.listen.slice(at + 1)),
    path: config.answers.path,
  });
  ctx.log.info("listening for Slack's button answers", { url: server.url });
  const by = await stopped();
  await server.close();
  await n.store.close().catch(() => {});
  // A stop asked for is a clean one (exit 0: systemd's stop is not a failure), but the log says it happened.
  ctx.log.info(`stopped by ${by}: no longer answering Slack's buttons`, { url: server.url });
  return ExitCode.OK;
}

/**
 * What spooling an answer does to the spool directory: made or checked as core's spool makes it (owned by this user
 * or root, not writable by others), then a file written in it and removed.
 */
async function probeSpool(dir: string, log: Logger): Promise<void> {
  await ensurePrivateDir(dir, { log });
  const probe = join(dir, `.serve-probe.${process.pid}.tmp`);
  await writeFileAtomic(probe, "", { fsync: false });
  await unlink(probe);
}
