import { constants } from "node:fs";
import { open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  ConfigError,
  cliContext,
  createProgram,
  describeError,
  ExitCode,
  exitWith,
  type GlobalOptions,
  type IOStreams,
  installWithLauncher,
  ioOf,
  Logger,
  loadConfig,
  resolveSecret,
  runCli,
  type SecretRef,
  type SpoolStatus,
  systemIO,
  TempFailError,
  UnavailableError,
  UsageError,
  writeFileAtomic,
} from "@opsguard/core";
import { addCompletionCommand } from "@opsguard/core/completion";
import pkg from "../package.json" with { type: "json" };
import { startAnswerServer } from "./answers";
import { configSchema, type VpnnotifyConfig } from "./config";
import { answerDeferred } from "./deferred";
import { type HookSource, parseHookEnv, type VpnEvent } from "./event";
import { embeddedDatabaseFiles } from "./geoip";
import { DETACHED_ENV, launcherFastPath, QUEUED_ENV, SPOOL_ENV } from "./hook";
import { formatDelay } from "./message";
import { flushAlerts, handleConnect, handleDisconnect, type Notifier } from "./notify";
import { createNotifier, createSpool, hookLogger } from "./runtime";
import { defaultNodeHook, installShHook, shHookOptions, shHookScript } from "./sh-hook";
import { queuedLogin, workSpool } from "./worker";

type Command = ReturnType<typeof createProgram>;

const HELP = `Install once (as root), then give the VPN server the launcher it prints:
  vpnnotify install [--prefix /usr/local/lib/vpnnotify]
It also writes vpnnotify-connect there, a POSIX sh client-connect hook made from the config (a
shell start instead of a Node start per login; re-run install after editing the config);
"vpnnotify sh-hook" prints it.

Hooks (each queues the login in the spool and exits 0 at once; one worker per host notifies,
honouring Slack's rate limits; --wait works in the hook itself):
  OpenVPN      client-connect /usr/local/lib/vpnnotify/vpnnotify-connect   (client-disconnect: vpnnotify; deferred
               client-connect is used automatically: "1" at once when the hook queued the login
               itself (JSON config, spool exists) and onFailure is accept; else "2" at once and
               the worker writes "1" when it starts (accept) or "1"/"0" after Slack (reject))
  strongSwan   leftupdown=/usr/local/lib/vpnnotify/vpnnotify   (PLUTO_VERB up-client / down-client)
  libreswan    leftupdown=/usr/local/lib/vpnnotify/vpnnotify
  ocserv       connect-script = /usr/local/lib/vpnnotify/vpnnotify   (REASON=connect, USERNAME, IP_REAL)
  anything     vpnnotify notify --user alice --ip 81.2.69.142 [--port N] [--time ISO8601] [--json]

Undelivered alerts (Slack or LDAP down or hung) wait in the spool; the next hook's worker retries
them, and so does a timer running "vpnnotify flush" (exit 69 while some still fail). "vpnnotify
status [--json]" shows how many wait, the oldest and the last error.

With answers.signingSecret set, the DM asks "was this you?" with two buttons; "vpnnotify serve" is
the Slack app's interactivity Request URL (signed requests only; "No" goes to the security channel).

Config keys (YAML or JSON; the README explains each):
  server.name, server.environment     shown in messages; or server.environmentPattern, a regex on the host name
  slack.token, slack.baseUrl, slack.timeoutMs   token as "env:NAME" or "file:/path"
  securityChannel                     channel id for escalations and unmapped users
  directory.ldap, directory.filter    LDAP lookup of the user; {user} is escaped
  directory.slackIdAttribute | directory.emailAttribute | directory.emailDomain, directory.timeZoneAttribute
  directory.uidAttribute              the entry's canonical user name (default uid); other spellings are escalated
  geoip.city, geoip.asn, geoip.embedded   MaxMind DB files; DB-IP Lite country (CC BY 4.0) is built in
  state.file | state.redis.{url,username,password,caFile,servername,keyPrefix,connectTimeoutMs,commandTimeoutMs,
               importLegacy}   importLegacy: start from the original vpnnotify's vpn:<cn>:lastip keys
  spool.dir, spool.maxAttempts, spool.retryAfterSeconds   undelivered alerts, retried later
  spool.concurrency, spool.idleSeconds   the per-host worker: alerts at once, how long it waits for more
  spool.slackTimeoutSeconds (10)   the worker's timeout for each Slack call (not bound by deadlineMs)
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
vpnnotify checks no password: run as OpenVPN's auth-user-pass-verify it refuses (exit 78).

Country data: IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0.`;

const EXIT_CODES = [
  ExitCode.OK,
  ExitCode.USAGE,
  ExitCode.DATA_ERR,
  ExitCode.UNAVAILABLE,
  ExitCode.SOFTWARE,
  ExitCode.TEMP_FAIL,
  ExitCode.CONFIG,
] as const;

/** The vpnnotify program, writing through `io`; building it has no side effects (main() runs it). */
export function createVpnnotifyProgram(io: IOStreams): Command {
  const program = createProgram(
    {
      name: "vpnnotify",
      version: pkg.version,
      description: pkg.description,
      exitCodes: [...EXIT_CODES],
      helpAfter: HELP,
    },
    io,
  );
  const hook = (name: "hook" | HookSource, description: string, isDefault = false) =>
    program
      .command(name, isDefault ? { isDefault: true } : {})
      .description(description)
      .argument("[file]", "OpenVPN's dynamic client config file (accepted, never touched)")
      .option("--wait", "do the work before exiting, bounded by deadlineMs, instead of detaching")
      .action(async (_file: string | undefined, _opts: unknown, command: Command) => runHook(name, command));
  hook("hook", "detect the VPN hook from the environment (the default)", true);
  hook("openvpn", "OpenVPN client-connect / client-disconnect");
  hook("updown", "strongSwan / libreswan updown (up-client, down-client)");
  hook("ocserv", "ocserv connect-script / disconnect-script");
  program
    .command("notify")
    .description("handle a login reported by anything else")
    .requiredOption("--user <name>", "the VPN user")
    .requiredOption("--ip <address>", "the client's public address")
    .option("--port <port>", "the client's source port")
    .option("--time <iso8601>", "when the session started (default: now)")
    .action(async (opts: { user: string; ip: string; port?: string; time?: string }, command: Command) => runNotify(opts, command));
  program
    .command("flush")
    .description("retry the alerts that could not be delivered yet (run it from a timer)")
    .option("--force", "retry every pending alert now, ignoring its backoff")
    .action(async (opts: { force?: boolean }, command: Command) => runFlush(opts, command));
  program
    .command("status")
    .description("show the undelivered alerts: how many, the oldest, the last error")
    .action(async (_opts: unknown, command: Command) => runStatus(command));
  program
    .command("serve")
    .description('answer the DM\'s "was this you?" buttons (Slack interactivity request URL; needs answers.signingSecret)')
    .action(async (_opts: unknown, command: Command) => runServe(command));
  program
    .command("install")
    .description("install this bundle with a code-cached launcher, the command to give the VPN server")
    .option("--prefix <dir>", "where to put it", "/usr/local/lib/vpnnotify")
    .action((opts: { prefix: string }, command: Command) =>
      runInstall(opts.prefix, command.optsWithGlobals<GlobalOptions>().config, ioOf(command)),
    );
  program
    .command("sh-hook")
    .description("print the POSIX sh client-connect hook made from the config (install writes it as vpnnotify-connect)")
    .option("--node-hook <path>", "the Node hook it hands every other call to", defaultNodeHook())
    .action(async (opts: { nodeHook: string }, command: Command) => {
      ioOf(command).stdout.write(shHookScript(await shHookOptions(command.optsWithGlobals<GlobalOptions>().config, [opts.nodeHook])));
    });
  addCompletionCommand(program);
  return program;
}

/** The full CLI (main.ts loads it when the hook fast path did not answer). */
export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const io = systemIO();
  await runCli(createVpnnotifyProgram(io), argv, { settle: (code) => letInOnUsageError(code, io) });
}

/**
 * A typo in the VPN server's hook line must not lock everyone out: runCli printed the problem, the client
 * goes in (exit 0), and the VPN server's log and syslog say that alerts are off.
 */
function letInOnUsageError(code: ExitCode, io: IOStreams): ExitCode {
  const call = code === ExitCode.USAGE && !process.env[DETACHED_ENV] ? parseHookEnv(process.env, Date.now()) : undefined;
  if (!call?.event) return code;
  const unwritable = answerDeferred(call.event.deferredFile, "1");
  // Like a broken config: every call says, in the VPN server's log and in syslog, that alerts are off.
  const log = new Logger({ tool: "vpnnotify", level: "error", syslog: { facility: "daemon" }, stream: io.stderr });
  if (unwritable) log.warn(unwritable);
  log.error("failed", {
    user: call.event.user,
    ip: call.event.ip,
    reason:
      "the hook line in the VPN server's config is wrong (see above), so NO login is notified until it is fixed (the client was let in)",
  });
  return ExitCode.OK;
}

async function runInstall(prefix: string, config: string | undefined, io: IOStreams): Promise<void> {
  const bundle = fileURLToPath(import.meta.url);
  if (!bundle.endsWith(".cjs"))
    throw new UsageError("install copies the built bundle", { hint: "run the built vpnnotify (dist/vpnnotify.cjs)" });
  const { launcher } = installWithLauncher({
    bundle,
    prefix,
    name: "vpnnotify",
    cacheEnv: "VPNNOTIFY_CODE_CACHE",
    files: embeddedDatabaseFiles(),
    fastPath: launcherFastPath(parseHookEnv),
  });
  const sh = await installShHook(prefix, launcher, config);
  if (sh.skipped) io.stderr.write(`vpnnotify: sh hook not written (client-connect stays on the launcher): ${sh.skipped}\n`);
  io.stdout.write(
    [
      `installed ${launcher}`,
      ...(sh.path ? [`installed ${sh.path} (re-run install after editing the config)`] : []),
      "OpenVPN server config:",
      "  script-security 2",
      `  client-connect ${sh.path ?? launcher}`,
      `  client-disconnect ${launcher}`,
      `strongSwan: leftupdown=${launcher}    ocserv: connect-script = ${launcher}`,
      "",
    ].join("\n"),
  );
}

async function runHook(name: "hook" | HookSource, command: Command): Promise<void> {
  const opts = command.optsWithGlobals<GlobalOptions>();
  const detached = process.env[DETACHED_ENV] === "1";
  const call = parseHookEnv(process.env, Date.now());
  if (!call) {
    throw new UsageError("no VPN hook environment found (script_type, PLUTO_VERB or REASON)", {
      hint: "run it as an OpenVPN/strongSwan/ocserv hook, or use `vpnnotify notify --user U --ip IP`",
    });
  }
  // A worker started by the sh hook for logins it queued drains the spool whatever its own environment holds.
  const queuedWorker = detached && process.env[QUEUED_ENV] === "1";
  // Refusing stays first: under auth-user-pass-verify an exit 0 would pass any password.
  const problem = call.refuse
    ? call.problem
    : queuedWorker
      ? undefined
      : name !== "hook" && call.source !== name
        ? `"vpnnotify ${name}" was called with an ${call.source} environment (use the command of your VPN server, or plain vpnnotify)`
        : call.problem && `${call.problem} (check the VPN server's script settings)`;
  if (problem) {
    // Called by a VPN server after all: a setup mistake must not cost the user the connection,
    // unless the exit code is the verdict on a password (then exit 0 would let anyone in).
    const { log, close } = hookLogger({ level: "error", format: opts.logFormat, detached, facility: "daemon" });
    log.error(call.refuse ? "refused" : "failed", { reason: problem });
    await close();
    if (call.refuse) exitWith(command, ExitCode.CONFIG);
    return;
  }
  const event = call.event;
  if (!event && !queuedWorker) return;

  let config: VpnnotifyConfig;
  try {
    config = (await loadConfig({ tool: "vpnnotify", schema: configSchema, path: opts.config })).config;
  } catch (error) {
    // Without a config onFailure is unknown: a broken config must not lock everyone out. It does
    // silence every alert, so the line says so, and the detached worker (no stderr) sends it to syslog.
    const unwritable = answerDeferred(event?.deferredFile, "1");
    const { log, close } = hookLogger({ level: "error", format: opts.logFormat, detached, facility: "daemon" });
    if (unwritable) log.warn(unwritable);
    // The launcher queued logins by the raw JSON: let in the ones OpenVPN waits on, and say how many wait.
    const queued = detached ? await releaseQueued(process.env[SPOOL_ENV], log) : undefined;
    log.error("failed", {
      user: event?.user,
      ip: event?.ip,
      reason: `unusable config, so NO login is notified until it is fixed (the client was let in): ${describeError(error)}`,
      queued,
    });
    await close();
    return;
  }
  const { log, close } = hookLogger({
    level: opts.quiet ? "error" : opts.verbose >= 2 ? "debug" : "info",
    format: opts.logFormat,
    detached,
    facility: config.log.syslogFacility,
    file: config.log.file,
  });
  const reject = config.onFailure === "reject";
  if (detached) {
    // The per-host worker. The launcher queued the login already (QUEUED_ENV); else it is queued
    // here. Only when it cannot even be spooled is it handled directly, below, as a one-off.
    const n = createNotifier(config, log, undefined, { worker: true });
    const queued = queuedWorker || (event !== undefined && (await queueOwnLogin(event, n, config, log)));
    if (queued) {
      // Another worker runs (its hook queued without knowing): it reports the spool, not this one.
      if (!(await workSpool(n, config)).busy) await logPending(n, log);
      await n.store.close().catch(() => {});
      await close();
      ioOf(command).flush();
      process.exit(ExitCode.OK);
    }
    await n.store.close().catch(() => {});
  }
  if (!event) return;
  const deferred = event.deferredFile;
  // With onFailure "accept" the answer is known already: let the client in now.
  const unwritable = deferred && !reject ? answerDeferred(deferred, "1") : undefined;
  if (unwritable) log.warn(unwritable);

  let failure: Error | undefined;
  const deadlineAt = processDeadline(config);
  let notifier: Notifier | undefined;
  try {
    const n = createNotifier(config, log, deadlineAt);
    notifier = n;
    const outcome = await runBounded(deadlineAt, config, () =>
      event.kind === "disconnect" ? handleDisconnect(event, n) : handleConnect(event, n),
    );
    if (outcome.verdict === "failed") failure = new UnavailableError(outcome.errors[0] ?? "nobody could be told about the login");
  } catch (error) {
    failure = error as Error;
    log.error("failed", { user: event.user, ip: event.ip, reason: describeError(error) });
  }
  const unanswered = deferred && reject ? answerDeferred(deferred, failure ? "0" : "1") : undefined;
  if (unanswered) log.warn(unanswered);
  if (notifier) {
    const n = notifier;
    // Cut off at the deadline while the alert was being spooled: let that local write finish.
    await n.spool.idle();
    await logPending(n, log);
    await n.store.close().catch(() => {});
  }
  await close();
  ioOf(command).flush();
  process.exit(failure && reject && !detached ? exitOf(failure) : ExitCode.OK);
}

/**
 * A worker that cannot read its config, started by a launcher that queued logins in `spool`: it
 * takes back the start claim (so the next hook starts a worker, and logs, again), answers "1" to
 * every OpenVPN deferred client-connect still waiting (a broken config lets clients in) and
 * returns how many logins wait there; they are notified once the config is fixed.
 */
async function releaseQueued(spool: string | undefined, log: Logger): Promise<number | undefined> {
  if (!spool) return undefined;
  await rm(join(spool, "worker.starting"), { force: true }).catch(() => {});
  const names = (await readdir(spool).catch(() => [] as string[])).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f));
  for (const name of names) {
    try {
      // Non-blocking, no symlinks, regular files only: a planted FIFO must not hang this worker; and,
      // as the spool trusts them, only this user's files that nobody else may write (answer.file is a path it writes to).
      const handle = await open(join(spool, name), constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      const text = await handle
        .stat()
        .then((stat) => (stat.isFile() && stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0 ? handle.readFile("utf8") : "null"))
        .finally(() => handle.close());
      const entry = JSON.parse(text);
      const answer = entry?.payload?.answer;
      if (typeof answer?.file !== "string") continue;
      const unwritable = answerDeferred(answer.file, "1");
      if (unwritable) log.warn(unwritable);
      delete entry.payload.answer;
      await writeFileAtomic(join(spool, name), `${JSON.stringify(entry)}\n`, { fsync: false });
    } catch {
      // Delivered or unreadable meanwhile: the next worker with a good config deals with it.
    }
  }
  return names.length;
}

/**
 * The worker's own login, when the launcher could not queue it (a YAML config, or a spool
 * directory not made yet): into the spool, answering OpenVPN as the hook would have. False when
 * the spool cannot be written (then the login is handled directly, as before the queue).
 */
async function queueOwnLogin(event: VpnEvent, n: Notifier, config: VpnnotifyConfig, log: Logger): Promise<boolean> {
  const reject = config.onFailure === "reject";
  const deferred = event.deferredFile;
  try {
    await n.spool.enqueue(queuedLogin(event, reject ? processDeadline(config) : undefined));
  } catch (error) {
    log.warn("cannot queue the login in the spool; handling it alone", { spool: n.spool.dir, error: describeError(error) });
    return false;
  }
  const unwritable = deferred && !reject ? answerDeferred(deferred, "1") : undefined;
  if (unwritable) log.warn(unwritable);
  return true;
}

async function runNotify(opts: { user: string; ip: string; port?: string; time?: string }, command: Command): Promise<void> {
  const ctx = cliContext(command, { defaultLevel: "info" });
  const time = opts.time === undefined ? Date.now() : Date.parse(opts.time);
  if (Number.isNaN(time)) throw new UsageError(`--time "${opts.time}" is not a date`, { hint: "use ISO 8601, e.g. 2026-11-23T10:00:00Z" });
  const port = opts.port === undefined ? undefined : Number(opts.port);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
    throw new UsageError(`--port "${opts.port}" is not a port number`);
  }
  const event: VpnEvent = { kind: "connect", source: "cli", user: opts.user, ip: opts.ip, time, ...(port ? { port } : {}) };
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  const deadlineAt = processDeadline(config);
  const n = createNotifier(config, ctx.log, deadlineAt);
  const outcome = await runBounded(deadlineAt, config, () => handleConnect(event, n)).catch(async (error: unknown) => {
    await n.spool.idle();
    // Past the deadline, calls still in flight would keep the process alive until their own
    // timeouts: exit as soon as runCli has reported the error.
    setImmediate(() => process.exit());
    throw error;
  });
  await logPending(n, ctx.log);
  await n.store.close().catch(() => {});
  if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify(outcome)}\n`);
  // Ends at once: calls still in flight (past the deadline) must not keep the process alive.
  ctx.io.flush();
  process.exit(outcome.verdict === "failed" ? ExitCode.UNAVAILABLE : ExitCode.OK);
}

async function runFlush(opts: { force?: boolean }, command: Command): Promise<void> {
  const ctx = cliContext(command, { defaultLevel: "info" });
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  // Nobody waits on a flush: it paces Slack like the worker, rather than failing alerts on a 429.
  const n = createNotifier(config, ctx.log, undefined, { worker: true });
  // Each alert is bounded by the Slack, LDAP and store timeouts, and the spool holds a bounded number.
  const result = await flushAlerts(n, { force: opts.force === true, concurrency: config.spool.concurrency });
  // Hooks that queued a login while this held the drain lock took it for a worker and started none:
  // what came due meanwhile is this run's to deliver too (failures back off, so this ends).
  while (!result.busy && (await n.spool.hasDue().catch(() => false))) {
    const more = await flushAlerts(n, { concurrency: config.spool.concurrency });
    // A worker took over: it delivers the rest.
    if (more.busy) break;
    result.delivered += more.delivered;
    result.failed += more.failed;
    result.gaveUp += more.gaveUp;
  }
  const status = await n.spool.status();
  await n.store.close().catch(() => {});
  if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify({ ...result, ...statusJson(status), spool: n.spool.dir })}\n`);
  if (result.busy) ctx.log.warn("another vpnnotify is flushing the spool; nothing done", { spool: n.spool.dir });
  else if (status.pending > 0) await logPending(n, ctx.log);
  ctx.io.flush();
  process.exit(result.busy ? ExitCode.TEMP_FAIL : result.failed > 0 ? ExitCode.UNAVAILABLE : ExitCode.OK);
}

async function runStatus(command: Command): Promise<void> {
  const ctx = cliContext(command, { defaultLevel: "info" });
  const { config } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: ctx.opts.config });
  const spool = createSpool(config, ctx.log);
  const status = await spool.status();
  if (ctx.opts.json) {
    ctx.io.stdout.write(`${JSON.stringify({ ...statusJson(status), spool: spool.dir })}\n`);
    return;
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
  // status only looks; the next flush or hook run moves these to dead/.
  if (status.unreadable) lines.push(`unreadable: ${status.unreadable} (the next flush moves them to dead/)`);
  lines.push(`spool: ${spool.dir}`);
  ctx.io.stdout.write(`${lines.join("\n")}\n`);
}

function statusJson(status: SpoolStatus): Record<string, unknown> {
  return {
    pending: status.pending,
    oldest: status.oldest === undefined ? null : new Date(status.oldest).toISOString(),
    lastError: status.lastError ?? null,
    lastAttemptAt: status.lastAttemptAt === undefined ? null : new Date(status.lastAttemptAt).toISOString(),
    lastErrorAt: status.lastErrorAt === undefined ? null : new Date(status.lastErrorAt).toISOString(),
    gaveUp: status.dead,
    unreadable: status.unreadable ?? 0,
  };
}

async function runServe(command: Command): Promise<void> {
  const ctx = cliContext(command, { defaultLevel: "info" });
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
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await server.close();
  await n.store.close().catch(() => {});
  ctx.io.flush();
  process.exit(ExitCode.OK);
}

/** One warning while alerts wait in the spool, so the VPN server's log or syslog shows it. */
async function logPending(n: Notifier, log: Logger): Promise<void> {
  try {
    const status = await n.spool.status();
    if (status.pending === 0 && status.dead === 0) return;
    log.warn("undelivered alerts", {
      pending: status.pending,
      oldest: status.oldest === undefined ? undefined : new Date(status.oldest).toISOString(),
      lastError: status.lastError,
      gaveUp: status.dead || undefined,
      spool: n.spool.dir,
    });
  } catch (error) {
    log.warn("cannot read the spool of undelivered alerts", { spool: n.spool.dir, error: describeError(error) });
  }
}

/** When this process must be done: deadlineMs counted from process start. */
function processDeadline(config: VpnnotifyConfig): number {
  return Date.now() + Math.max(0, config.deadlineMs - performance.now());
}

/** Work under the process's deadline, so the caller knows the longest it can take. */
async function runBounded<T>(deadlineAt: number, config: VpnnotifyConfig, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TempFailError(`gave up at the ${config.deadlineMs} ms deadline`, { hint: "check Slack, LDAP and the state store" })),
      Math.max(0, deadlineAt - Date.now()),
    );
  });
  try {
    return await Promise.race([work(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function exitOf(error: Error): number {
  const code = (error as { exitCode?: number }).exitCode;
  return typeof code === "number" && code !== 0 ? code : ExitCode.UNAVAILABLE;
}
