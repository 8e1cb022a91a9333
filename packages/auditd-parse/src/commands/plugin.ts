import { type CliContext, type Command, cliContext, endProcessAtExit, exitWith, type RunFn } from "@opsguard/core/cli";
import { ConfigError, UsageError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { DETECT_BOUNDS } from "../assemble";
import { loadAuditdConfig } from "../config";
import { IdNames } from "../ids";
import { refuseStdin } from "../input";
import { Output } from "../output";
import { AuditParser } from "../parser";
import { summarize } from "../pipeline";
import { refuseOutputInRules } from "../same-file";
import { idSources, outputOption, type ParseFlags, parserOptions, repeatedPath } from "./flags";

/** Live input completes events on the wall clock: how often the plugin checks. */
const PLUGIN_TICK_MS = 500;

export interface PluginCommandOptions {
  ctx: CliContext;
  /** -o, --passwd, --group, --detect, --rules, --min-level (and the program's --format). */
  flags: ParseFlags;
}

/** `auditd-parse plugin`: auditd's plugin (audisp) mode, the string format on stdin until EOF or SIGTERM. */
export function newPluginCommand(program: Command, runF: RunFn<PluginCommandOptions> = runPluginCommand): Command {
  return program
    .command("plugin")
    .description(
      "auditd plugin mode: read the audisp string format (format = string) on stdin until EOF or SIGTERM; the binary format is refused at once (exit 78); SIGHUP reopens --output",
    )
    .option("-o, --output <file>", "append events to this file instead of stdout", outputOption)
    .option("--passwd <file>", "passwd file for uid names")
    .option("--group <file>", "group file for gid names")
    .option("--detect", "write Sigma alerts (as auditd-parse detect does) instead of events", false)
    .option(
      "--rules <path>",
      "with --detect: a Sigma rule file or directory, repeatable (default: the built-in SigmaHQ auditd rules)",
      repeatedPath,
    )
    .option("--min-level <level>", "with --detect: only alerts of this level or higher")
    .action(async (_flags: ParseFlags, command: Command) => {
      // a SIGHUP storm (logrotate, auditd's reconfigure) must not end it by the default action as its process ends
      endProcessAtExit(command);
      const ctx = cliContext(command);
      exitWith(command, await runF({ ctx, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
    });
}

const ignoreHup = () => {};

/**
 * Refuses auditd's binary plugin format (auditd.conf(5), auditd-plugins(5): `format = binary`) at once: read as
 * text it matched nothing, and said so only at EOF, which never comes while auditd runs the plugin (T57 F11).
 * Each binary message follows a struct audit_dispatcher_header (libaudit.h) whose first fields are ver
 * (AUDISP_PROTOCOL_VER 0 or AUDISP_PROTOCOL_VER2 1) and hlen (its own size, 16), 32-bit numbers in the host's
 * order; the string format starts with `type=` or `node=`.
 */
function refuseBinaryFormat(head: Buffer): void {
  const binary = [head.readUInt32LE(0) <= 1 && head.readUInt32LE(4) === 16, head.readUInt32BE(0) <= 1 && head.readUInt32BE(4) === 16];
  if (binary.includes(true))
    throw new ConfigError("stdin is auditd's binary plugin format, not its string format", {
      hint: "set format = string in this plugin's file under /etc/audit/plugins.d/ and reload auditd",
    });
}

export async function runPluginCommand({ ctx, flags }: PluginCommandOptions, io: IOStreams): Promise<ExitCode> {
  const config = await loadAuditdConfig(ctx.opts.config, ctx.log);
  // a --passwd/--group that cannot be read is refused at start (exit 78), as every command does, not at the first
  // event that names an id
  new IdNames(idSources(flags, config)).check();
  if (!flags.detect && (flags.rules !== undefined || flags.minLevel !== undefined))
    throw new UsageError("--rules and --min-level need --detect", { hint: "add --detect" });
  if (!["ndjson", "ecs"].includes(flags.format ?? "ndjson"))
    throw new UsageError(`plugin --format ${flags.format} is not supported`, { hint: "use ndjson or ecs" });
  // a directory or closed stdin is no audisp feed: exit 66 before the output is opened, as every command (T26 #4)
  refuseStdin(io.stdin);
  const ecs = flags.format === "ecs" ? await import("../ecs") : undefined;
  // the Sigma machinery is a lazily loaded chunk (lazy-detect.ts), as in the pipeline
  const detect = flags.detect ? await import("../lazy-detect") : undefined;
  const rules = detect?.detectRules(flags, ctx);
  if (rules) refuseOutputInRules(flags.output, flags.rules, rules.files ?? []);
  if (rules === null) return ExitCode.OK;
  // auditd restarts a plugin that exits only max_restarts times: one whose -o file cannot be written goes on (Output)
  const output = new Output(flags.output, io.stdout, (line) => ctx.log.error(line));
  let wait: Promise<void> | undefined;
  const detector =
    detect && rules && new detect.Detector(rules.rules, { ...detect.detectOptions(flags, ctx, ecs), format: ecs ? "ecs" : "ndjson" });
  const alert = (text: string) => {
    wait = output.line(text) ?? wait;
  };
  const parser = new AuditParser(
    detector !== undefined
      ? (event, json) => detector.event(event, json, alert)
      : ecs
        ? (event) => alert(JSON.stringify(ecs.toEcs(event)))
        : (_event, json) => {
            wait = output.event(json) ?? wait;
          },
    {
      ...parserOptions(flags, config),
      // a rule must see an event whole, as in detect
      ...(detector !== undefined ? { bounds: DETECT_BOUNDS } : {}),
      recordObjects: detector !== undefined || ecs !== undefined,
      summaries: detector !== undefined || ecs !== undefined,
    },
  );
  const watch = detect?.splitWatch(ctx);
  const windowMs = config.windowMs ?? 2000;
  // auditd feeds events live: complete them on the wall clock too, or a lone kernel record would wait forever
  // SIGTERM (auditd stopping us) ends input like EOF: what was read is completed and written, exit 0 (65 with
  // --detect after an event matched in parts or a line cut at 4 MiB: incompleteReasons); so does
  // an output that cannot be written (then close() below throws its IoError: exit 74, not a silent plugin)
  let stopping = false;
  const stop = () => {
    stopping = true;
    (io.stdin as NodeJS.ReadableStream & { destroy(): void }).destroy();
  };
  const timer = setInterval(() => {
    parser.tick(PLUGIN_TICK_MS, windowMs);
    output.flush().catch(stop);
  }, PLUGIN_TICK_MS);
  // a reopen that fails keeps the plugin writing to the file it had (moved by logrotate): auditd's events go on
  // being written, and the next SIGHUP tries again
  const onHup = () => void output.reopen((line) => ctx.log.error(line)).catch(stop);
  process.on("SIGHUP", onHup);
  process.once("SIGTERM", stop);
  let head: Buffer | undefined = Buffer.alloc(0);
  try {
    for await (const chunk of io.stdin) {
      if (head !== undefined) {
        head = Buffer.concat([head, chunk as Buffer]);
        if (head.length >= 8) {
          refuseBinaryFormat(head);
          head = undefined;
        }
      }
      parser.pushBytes(chunk as Buffer);
      watch?.(parser.stats);
      if (wait) {
        await wait;
        wait = undefined;
      }
    }
  } catch (error) {
    if (!stopping) throw error;
  } finally {
    clearInterval(timer);
    // a SIGHUP from here to the exit (logrotate's postrotate, auditd's reconfigure) must not kill the plugin by
    // its default action, exit 129 after the input was read whole (T57 F6): ignored, the output is being closed
    if (!process.listeners("SIGHUP").includes(ignoreHup)) process.on("SIGHUP", ignoreHup);
    process.off("SIGHUP", onHup);
    process.off("SIGTERM", stop);
  }
  parser.end();
  await output.close();
  summarize(ctx, parser, false, detector !== undefined);
  const [incomplete, ...others] = detector !== undefined ? (detect?.incompleteReasons(parser.stats) ?? []) : [];
  for (const e of others) ctx.log.error(e.message);
  if (incomplete !== undefined) throw incomplete;
  return ExitCode.OK;
}
