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
import { configSchema, type VpnnotifyConfig } from "../config";
import type { Notifier } from "../notify";
import { createNotifier, recordingLogger } from "../runtime";
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

export async function runServeCommand({ ctx, stopped }: ServeCommandOptions, io: IOStreams): Promise<ExitCode> {
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  if (!config.answers) {
    throw new ConfigError("serve needs answers.signingSecret in the config", {
      hint: "set answers: { signingSecret: file:/etc/opsguard/slack-signing-secret } (the Slack app's Basic Information page)",
    });
  }
  // Its warnings (a "No" and its mark, the marks file full and its oldest marks dropped, a refused request) also go
  // where the worker logs, syslog and log.file, as marks --remove's removals do: not only to serve's stderr (T71 N7).
  const recording = recordingLogger(config, ctx.log, { format: ctx.opts.logFormat, stderr: io.stderr });
  const n = createNotifier(config, recording.log);
  try {
    // Every "No" is spooled before Slack gets its answer: a spool this user cannot write would make each one fail (500)
    // while "Yes" works, for as long as it runs. Checked now, as flush and status check theirs (T62 F10).
    await withSpoolAccess(n.spool.dir, () => probeSpool(n.spool.dir, ctx.log));
    return await serveUntilStopped(ctx, config.answers, n, stopped);
  } finally {
    await recording.close();
  }
}

async function serveUntilStopped(
  ctx: CliContext,
  answers: NonNullable<VpnnotifyConfig["answers"]>,
  n: Notifier,
  stopped: () => Promise<string>,
): Promise<ExitCode> {
  const at = answers.listen.lastIndexOf(":");
  const server = await startAnswerServer(n, {
    signingSecret: resolveSecret(answers.signingSecret as SecretRef, "answers.signingSecret"),
    host: answers.listen.slice(0, at).replace(/^\[|\]$/g, ""),
    port: Number(answers.listen.slice(at + 1)),
    path: answers.path,
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
