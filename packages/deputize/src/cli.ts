import { type Command, createProgram, ExitCode, type IOStreams } from "@opsguard/core";
import { addCompletionCommand } from "@opsguard/core/completion";
import pkg from "../package.json" with { type: "json" };
import { newNextCommand } from "./commands/next";
import { newRunCommand } from "./commands/run";
import { newStatusCommand } from "./commands/status";

const HELP = `Config keys (YAML or JSON; see the README for every key):
  sources[]        type pagerduty | opsgenie | rotation, with schedules by name or id
                   (rotation: a local time the clocks skip for DST moves forward by the gap,
                   02:30 -> 03:30; a repeated one is the earlier; hand-offs and overrides alike)
  sinks[]          type ldap-group | gitlab-group | gitlab-approval-rule | slack | webhook
                   (gitlab-approval-rule: project, rule = the name of a regular approval rule whose
                   users deputize sets; its other fields are kept)
                   (webhook: url, headers; the url is a credential as a whole, errors name its
                   origin only; a user:password@ in it is sent as HTTP Basic: https, or http to
                   localhost)
  ldap             urls, startTls, caFile, bindDn, bindPassword (file:/… or env:…), baseDn
  lookAheadMinutes grant access this long before a shift starts (0)
  graceMinutes     keep access this long after a shift ends (0)
  lookAhead        hours (12, 1 to 168): how far "next" looks; dm (false): each run sends a Slack
                   DM "you are on call from … to …" to whoever goes on call within those hours,
                   once per shift (remembered in stateDir, or in Redis with lease.redis; a failed
                   DM is retried next run); slackToken (default: the first slack sink's token;
                   scopes chat:write, users:read.email)
  allowEmpty       let a sink become empty when nobody is on call (false)
  maxRemovals      refuse a change removing more members at once, unless --force (5)
  lease.redis      url, username, password (secret), caFile, key, ttlSeconds (60), waitSeconds (60):
                   two hosts take turns through a Redis lease; Redis down fails the run (69), a
                   lease still held after waitSeconds is exit 75. Every write is fenced: the lease
                   is confirmed and extended just before it; a lease lost mid-run stops the
                   writes (exit 75). ttlSeconds >= 3 x timeoutMs. Without it, a lock file in
                   stateDir keeps two copies on one host apart
  stateDir         where the last announcement, Slack ids, each Slack part's last delivery and a
                   pending hand-off message are kept (/var/lib/opsguard/deputize)
Secrets are only read from files, the environment, systemd credentials (credential:NAME) or Vault
(vault:secret/path#key with VAULT_ADDR and VAULT_TOKEN, or VAULT_ROLE_ID + VAULT_SECRET_ID), and
never printed (stdout, --json, stderr). Ready systemd units ship in the package's systemd/ folder.
The Slack sink's topic, user group and message (also to announceChannels) are applied one by one;
a message that failed is retried on the next runs (at most 5 attempts) and shown by status; the
last failed attempt fails like the ones before (Slack's error and exit code) and says "gave up
after 5 attempts", and status keeps the text that was never delivered. A Slack app not in the
channel (not_in_channel) or not allowed to manage user groups (permission_denied) is exit 77;
before posting, the channel's history (scope channels:history) is read, and a hand-off already
there from this bot (an answer lost after Slack stored it, the other host's post) is not posted
again ("already posted"). A history error other than a missing scope posts nothing this run (exit 2;
kept and retried next run). The GitLab group sink reports each member added or removed on its own: a
half-applied change is "PARTLY changed", with "(not applied)" on the lines that failed.
--watch takes 1 to 10080 minutes. A run stopped by SIGTERM/Ctrl-C prints one line saying what
was already applied (exit 143/130) and releases its Redis lease. Exit 74: stdout could not be written.
next exits 2 when some sources failed; when all did, with that failure's code: 66 a rotation file
missing, 78 an invalid rotation file or unknown schedule (a configuration error), 65 an unusable answer.

Examples:
  deputize run --dry-run          show what would change, change nothing
  deputize run                    make every sink match (quiet when nothing changed)
  deputize run --watch 5          stay running, every 5 minutes
  deputize status --json          on-call people, sink members and pending changes
  deputize next --hours 24        who goes on call in the next 24 hours, per schedule`;

/** The deputize program, writing through `io`; building it has no side effects (main.ts runs it). */
export function createDeputizeProgram(io: IOStreams): Command {
  const program = createProgram(
    {
      name: "deputize",
      version: pkg.version,
      description: pkg.description,
      exitCodes: [
        ExitCode.OK,
        ExitCode.FAILED,
        ExitCode.PARTIAL,
        ExitCode.USAGE,
        ExitCode.DATA_ERR,
        ExitCode.NO_INPUT,
        ExitCode.UNAVAILABLE,
        ExitCode.IO_ERR,
        ExitCode.TEMP_FAIL,
        ExitCode.NO_PERM,
        ExitCode.CONFIG,
      ],
      helpAfter: `${HELP}\n\nExit code 1 means a change was refused (nobody on call, too many removals); 2 that some sinks failed\nor someone on call could not be placed (no LDAP entry, Slack user or GitLab account).`,
    },
    io,
  );

  newRunCommand(program);
  newStatusCommand(program);
  newNextCommand(program);
  addCompletionCommand(program);
  return program;
}
