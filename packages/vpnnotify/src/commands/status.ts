import { join } from "node:path";
import { type CliContext, type Command, cliContext, ExitCode, exitWith, type IOStreams, loadConfig, type RunFn } from "@opsguard/core";
import { configSchema } from "../config";
import { formatDelay } from "../message";
import { checkAsHookUser } from "../run-as";
import { createNotifier } from "../runtime";
import { checkSpoolDir, withSpoolAccess } from "../spool-guard";
import { statusJson, unsentInDead } from "./run";

export interface StatusCommandOptions {
  ctx: CliContext;
}

/** `vpnnotify status`: what waits in the spool. It only looks; the next flush or hook run moves things. */
export function newStatusCommand(program: Command, runF: RunFn<StatusCommandOptions> = runStatusCommand): Command {
  return program
    .command("status")
    .description("show the undelivered alerts: how many, the oldest, the last error")
    .action(async (_flags: unknown, command: Command) => {
      const ctx = cliContext(command, { defaultLevel: "info" });
      exitWith(command, await runF({ ctx }, ctx.io));
    });
}

export async function runStatusCommand({ ctx }: StatusCommandOptions, io: IOStreams): Promise<ExitCode> {
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  // Built as flush builds it, so what it needs (slack.token and the other secrets, template files) is read here too:
  // the check the README sends the admin to after editing the config exits 78 with flush's line, not "pending: 0"
  // while every hook drops its login (T48 F3). Nothing connects: the network parts only do when used.
  const n = createNotifier(config, ctx.log, undefined, { worker: true });
  await n.store.close().catch(() => {});
  // As root, who reads every file, the hooks' user (the spool's owner) is who must read them (T64 N7).
  const asHooks = checkAsHookUser(config, n.spool.dir, undefined);
  for (const note of asHooks.notes) ctx.log.warn(note);
  if (asHooks.problem) throw asHooks.problem;
  // A GeoIP file a refresh left truncated, corrupt or of the wrong type only costs the hooks a warning (they fall back):
  // here it is a 78 naming it, so "pending: 0" never reads as all well while new-country checks run on less (T62 F3).
  // A usable file for one address family only is no error, but logins of the other are placed on less: said here too.
  for (const { message, fix } of n.geo.check()) ctx.log.warn(message, { fix });
  const spool = n.spool;
  await checkSpoolDir(spool.dir);
  // "Not me" marks that cannot be read send every login to the security channel until fixed (T66 P1, P2): a 78 naming
  // them, after the spool (without which nothing is sent at all).
  const marks = await n.store.check?.();
  if (marks) throw marks;
  const status = await withSpoolAccess(spool.dir, () => spool.status());
  if (ctx.opts.json) {
    io.stdout.write(`${JSON.stringify({ ...statusJson(status, spool.dir), spool: spool.dir })}\n`);
    return ExitCode.OK;
  }
  const lines = [`pending: ${status.pending}`];
  if (status.oldest !== undefined)
    lines.push(`oldest: ${new Date(status.oldest).toISOString()} (${formatDelay(Date.now() - status.oldest)} ago)`);
  if (status.lastError !== undefined) {
    // JSON quoting: an error text from a server reaches a terminal with its control characters escaped.
    lines.push(
      `last error: ${JSON.stringify(status.lastError)}${status.lastErrorAt ? ` at ${new Date(status.lastErrorAt).toISOString()}` : ""}`,
    );
  }
  lines.push(`given up: ${status.dead}${status.dead > 0 ? ` (kept in ${join(spool.dir, "dead")})` : ""}`);
  // status only looks; the next flush or hook run moves these to dead/. Never sent, like those given up on.
  if (status.unreadable) {
    lines.push(
      `unreadable: ${status.unreadable} (never sent; kept in ${join(spool.dir, "dead")} as *.corrupt, or moved there by the next flush)`,
    );
  }
  // Left in the spool, not moved: a permission problem, nothing wrong with their content (T71 N3).
  if (status.denied) lines.push(`cannot read: ${status.denied} (never sent while this user cannot read them; left in the spool)`);
  for (const kind of unsentInDead(status, spool.dir)) lines.push(`fix: ${kind.fix}`);
  lines.push(`spool: ${spool.dir}`);
  io.stdout.write(`${lines.join("\n")}\n`);
  return ExitCode.OK;
}
