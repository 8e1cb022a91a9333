import { type CliContext, type Command, cliContext, exitWith, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { runPipeline } from "../pipeline";
import { addInputOptions, type ParseFlags, SUBCOMMAND_HELP } from "./flags";

export interface SessionsCommandOptions {
  ctx: CliContext;
  files: string[];
  flags: ParseFlags;
}

/** `auditd-parse sessions`: per-user login sessions with the commands and connections inside each. */
export function newSessionsCommand(program: Command, runF: RunFn<SessionsCommandOptions> = runSessionsCommand): Command {
  return addInputOptions(
    program
      .command("sessions")
      .description("per-user login sessions with the commands and connections inside each")
      // its own --format: the program's lists the event formats (csv, ecs), which sessions are not written in
      .option("--format <format>", "text (the default: a timeline per session) or html (one self-contained page); --json for JSON")
      .option(
        "--session-memory <MiB>",
        "memory for the commands and connections of open sessions (default 12; one session gets at most half)",
      )
      .addHelpText(
        "after",
        `${SUBCOMMAND_HELP}
Each session is written when its opener's USER_END (or its CRED_DISP) arrives, once the window has
passed it (a command without EOE logged before the USER_END is written after it, and joins it; not
with -F); open ones come last.
Commands carry the uid they ran as; su/sudo inside a session are nested sessions with their target
user; failed logins (no session id; one an attempt) and logins with no session id (no pam_loginuid)
are listed as sessions of their own; sshd records without ses= (the old "PAM: …" form) join the
session their process's LOGIN record opened.
Memory stays flat: the sessions still open keep at most 10000 commands and connections each and
40000 in all, and at most --session-memory MiB of them (12 by default, half of it for one session;
a 28 KB EXECVE of 500 arguments counts about 40 KB); the rest are counted in the session's "omitted" (text: "… N
more commands/connections not listed"), commands, connections and su/sudo alike; sessions whose own
fields (host, from, terminal) pass it are written early, still open. --format html writes one self-contained page (a timeline per
session, raw events one click away, user/host filters), bounded to 500 sessions, 200 items per
session and 5000 in all, with a note saying what was left out, and a banner when an input could not
be read (exit 65); nothing at all, in any format, when none could (exit 66). With -o FILE the page replaces FILE whole, atomically (not appended). -F FILE follows a growing log here too: each session is written
as it ends; with -F, --json writes one session a line (NDJSON, each line whole when written), without it one array.

Example:
  auditd-parse sessions --user alice --since 1d /var/log/audit/audit.log*`,
      ),
  ).action(async (files: string[], _flags: ParseFlags, command: Command) => {
    const ctx = cliContext(command);
    exitWith(command, await runF({ ctx, files, flags: command.optsWithGlobals<ParseFlags>() }, ctx.io));
  });
}

export async function runSessionsCommand({ ctx, files, flags }: SessionsCommandOptions, io: IOStreams): Promise<ExitCode> {
  await runPipeline("sessions", files, flags, ctx, io);
  return ExitCode.OK;
}
