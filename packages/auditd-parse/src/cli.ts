import { type Command, createProgram } from "@opsguard/core/cli";
import { addCompletionCommand } from "@opsguard/core/completion";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import pkg from "../package.json" with { type: "json" };
import { newDetectCommand } from "./commands/detect";
import { newNetCommand } from "./commands/net";
import { newParseCommand } from "./commands/parse";
import { newPluginCommand } from "./commands/plugin";
import { newReportCommand } from "./commands/report";
import { newSessionsCommand } from "./commands/sessions";

const HELP_AFTER = `Input: files, or stdin when none or "-".
  Rotated audit.log.N, logrotate's audit.log-YYYYMMDD (or -YYYY-MM-DD, .YYYY-MM-DD …) and .gz are read
  oldest first; a file given twice, or also through a link or as stdin, is read once, with a warning.
Output: NDJSON, one event per line (schema: schema/event.schema.json in the package), in log-time order.
  uid/gid names come from the log's own ENRICHED fields when it has them, else from --passwd/--group
  (each event's "names" says which; one that cannot be read, or is no regular file of at most 16 MiB,
  such as a FIFO, a device but /dev/null, or one that reads on past 16 MiB: exit 78, a configuration
  error). text, table, csv, sessions and net escape control characters (ESC as \\033: a csv row is one line).
  An event is at most 1024 records or 1 MiB of JSON (8 MiB for all open events): past that it is written
  in parts under the same id (a log whose stamps never change, a huge argv), warned about on stderr.
  A line is cut at 4 MiB, and after 4096 key=value fields (no kernel record has as many), with a warning.
  An input that is missing, unreadable, corrupt/truncated gzip, or compressed by another tool (xz, bzip2,
  zstd, lz4 …: the line says how to decompress it) is named on stderr and the others are read
  (a truncated .gz up to its cut, as zcat; bytes after a .gz's last member that are not zero padding are
  counted once all before them is read): exit 65, incomplete (66 when no input could be read at all,
  as when stdin is a directory, closed or write-only; for detect, 65 outranks 1). Interrupted outside -F and the
  plugin: 130 (SIGINT) or 143 (SIGTERM); an -o file then holds only what was written so far.
  -o FILE is appended to (an html page replaces it whole, atomically); a run that could read no input
  (66) writes nothing to it. -o is given once, and a FILE that is one of the inputs (by name or a link,
  or stdin read from it), or a stdout redirected into an input, is refused: exit 64, as its output would
  be read back as input. A new FILE gets
  0666 minus the umask, a replaced page keeps FILE's mode (and owner, as root); a FILE (or, for a page, its
  directory) that cannot be written: one line, exit 74.

Config keys (--config, $AUDITD_PARSE_CONFIG, ./.auditd-parserc but not as root, /etc/opsguard/auditd-parse.json …):
  passwd     passwd file for uid → name (default /etc/passwd)
  group      group file for gid → name (default /etc/group)
  windowMs   grouping window in log time (default 2000, auditd's own)

Examples:
  auditd-parse /var/log/audit/audit.log* --key sshd-config
  auditd-parse -F --format text /var/log/audit/audit.log
  auditd-parse sessions --since 1d /var/log/audit/audit.log
  auditd-parse net --json /var/log/audit/audit.log
  auditd-parse --format ecs /var/log/audit/audit.log   (Elastic Common Schema documents, for Filebeat & co.)
  auditd-parse detect --fail-level high /var/log/audit/audit.log   (Sigma rules: auditd-parse detect --help)
  auditd plugin: /etc/audit/plugins.d/auditd-parse.conf with
    active = yes, direction = out, type = always, format = string,
    path = /usr/bin/auditd-parse, args = plugin -o /var/log/audit/events.json`;

const SIGNAL_EXIT_CODES = `  130 interrupted (SIGINT, Ctrl-C) outside -F
  143 terminated (SIGTERM) outside -F and the plugin`;

/** The auditd-parse program, writing through `io`; building it has no side effects (main.ts runs it). */
export function createAuditdParseProgram(io: IOStreams): Command {
  const program = createProgram(
    {
      name: "auditd-parse",
      version: pkg.version,
      description: "Group Linux audit records into events, decode every field, and print one JSON object per event.",
      exitCodes: [
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.USAGE,
        ExitCode.DATA_ERR,
        ExitCode.NO_INPUT,
        ExitCode.SOFTWARE,
        ExitCode.IO_ERR,
        ExitCode.CONFIG,
      ],
      helpAfter: HELP_AFTER,
    },
    io,
  );
  // core's table stops at sysexits codes: the two signal exits go right under it, as in the README's table
  program.addHelpText("after", SIGNAL_EXIT_CODES);
  newParseCommand(program);
  newSessionsCommand(program);
  newNetCommand(program);
  newReportCommand(program);
  newDetectCommand(program);
  newPluginCommand(program);
  addCompletionCommand(program);
  return program;
}
