import { createWriteStream } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import {
  ConfigError,
  createSlackClient,
  type LdapClientOptions,
  type LogFormat,
  Logger,
  type LogLevel,
  ldapOptionsFromConfig,
  readRegularFileSync,
  resolveHeaderSecret,
  resolveSecret,
  type SecretRef,
  Spool,
} from "@opsguard/core";
import { networkOf, normalizeIp } from "./address";
import { type AlertSpool, spoolJobSchema } from "./alert";
import { DEFAULT_SECURITY_TEMPLATE, DEFAULT_USER_TEMPLATE, TEMPLATE_NAMES, type VpnnotifyConfig } from "./config";
import { SlackDirectory } from "./directory";
import { FilePlaceStore } from "./file-store";
import { type GeoInfo, GeoIp, placeName } from "./geoip";
import type { Notifier } from "./notify";
import { decide, markTold, type PlacePolicy, recordLogin, type UserHistory } from "./places";
import { type LegacyLogin, RedisPlaceStore } from "./redis-store";
import { hookUser } from "./run-as";
import { SlackHealth } from "./slack-health";
import { PacedSlackClient } from "./slack-pace";
import type { PlaceStore } from "./store";
import { compileTemplate, type Template } from "./template";
import { Verdicts } from "./verdicts";

const DAY_MS = 86_400_000;

export function placePolicy(config: VpnnotifyConfig): PlacePolicy {
  return {
    knownBy: config.policy.knownBy,
    renotifyAfterMs: config.policy.renotifyAfterDays * DAY_MS,
    forgetAfterMs: config.policy.forgetAfterDays * DAY_MS,
    impossibleTravelKmh: config.policy.impossibleTravelKmh,
    minTravelKm: config.policy.minTravelKm,
    maxPlaces: config.policy.maxPlacesPerUser,
    quietWhileBeingTold: config.onFailure === "accept",
  };
}

/**
 * The state file's lock is waited on for half the hook's deadline; a process nobody waits on (the worker, a login
 * handled alone) waits longer: giving up there decides "state unavailable", and a new country goes unescalated.
 * Thirty processes handling logins alone on a full spool's disk each took the lock in turn, past 1 s (r18).
 */
const UNHURRIED_LOCK_WAIT_MS = 15_000;

/**
 * Redis likewise: the hook's 500 ms default fits a login someone waits on, but the worker under a storm, started at a
 * lower priority on a busy VPN server, missed it while Redis was fine: every alert of a storm "state unavailable", so
 * none recorded and a new country unescalated (the burst test in CI; seen here with the CPU taken by other work). The
 * worker waits at least this long to connect and for each answer.
 */
const UNHURRIED_REDIS_WAIT_MS = 5_000;

/**
 * `lockWaitMs`: how long the state file's locks are waited for, whatever deadlineMs says (marks --remove: a person
 * at a terminal, told the wait in the README and --help).
 */
export function createStore(
  config: VpnnotifyConfig,
  log: Logger,
  geo?: GeoIp,
  options: { unhurried?: boolean; lockWaitMs?: number } = {},
): PlaceStore {
  const redis = config.state.redis;
  if (redis) {
    const wait = (configured: number) =>
      options.unhurried ? Math.max(configured, UNHURRIED_REDIS_WAIT_MS) : Math.min(configured, config.deadlineMs);
    return new RedisPlaceStore({
      url: redis.url,
      username: redis.username,
      password: redis.password === undefined ? undefined : resolveSecret(redis.password as SecretRef, "state.redis.password"),
      caFile: redis.caFile,
      servername: redis.servername,
      keyPrefix: redis.keyPrefix,
      log,
      connectTimeoutMs: wait(redis.connectTimeoutMs),
      commandTimeoutMs: wait(redis.commandTimeoutMs),
      ttlMs: config.policy.forgetAfterDays * DAY_MS,
      importLegacy: redis.importLegacy && geo ? (legacy) => historyFromLegacy(legacy, geo, placePolicy(config)) : undefined,
    });
  }
  const lockTimeoutMs = Math.floor(config.deadlineMs / 2);
  return new FilePlaceStore(config.state.file, {
    log,
    lockTimeoutMs: options.lockWaitMs ?? (options.unhurried ? Math.max(lockTimeoutMs, UNHURRIED_LOCK_WAIT_MS) : lockTimeoutMs),
  });
}

export function spoolDir(config: VpnnotifyConfig): string {
  return config.spool.dir ?? join(dirname(config.state.file), "spool");
}

export function createSpool(config: VpnnotifyConfig, log: Logger): AlertSpool {
  return new Spool({
    dir: spoolDir(config),
    payload: spoolJobSchema,
    maxAttempts: config.spool.maxAttempts,
    backoffMs: config.spool.retryAfterSeconds * 1000,
    log,
    // An entry this user may not open is said with its owner's name (asked only then: `id` is a process).
    userName: (uid) => hookUser(uid).name,
  });
}

/**
 * The original vpnnotify's last login as a history: that address, its network (and country, ASN)
 * known and told at that time, so the next login from there stays quiet and a new country is
 * still news. An address that does not parse imports nothing.
 */
export function historyFromLegacy(legacy: LegacyLogin, geo: GeoIp, policy: PlacePolicy, now = Date.now()): UserHistory | undefined {
  const ip = normalizeIp(legacy.ip);
  if (!ip) return undefined;
  let info: GeoInfo;
  try {
    info = geo.lookup(ip);
  } catch {
    info = { ip, network: networkOf(ip) };
  }
  const login = { time: legacy.time ?? now, geo: info, place: placeName(info) };
  const decision = decide(undefined, login, policy);
  return markTold(recordLogin(undefined, login, { ...decision, notify: false }, policy, 0), decision.keys, login.time);
}

/**
 * Builds every part from a validated config; the network parts connect only when used.
 * `deadlineAt` is when this process stops working on an alert (the hook's deadline); without it,
 * each alert gets deadlineMs from when it is started.
 */
/** The part of the deadline the directory lookup may use; Slack gets the rest. */
const LDAP_SHARE = 0.4;

/**
 * The worker's directory lookup, which nobody waits on, has at least this long (within directory.ldap.deadlineMs):
 * with the hook's 40 % of deadlineMs (800 ms by default) a worker starved of CPU in a storm gave up on a directory
 * that was fine, "in doubt (this process stalled …)", and the security channel heard "directory lookup failed"
 * for a user who could have been told (session 23, as the Redis wait above).
 */
const UNHURRIED_LDAP_MS = 5_000;

/** In the spool directory: the spool's own files are named otherwise (core's spool.ts ENTRY). */
export const SLACK_REFUSALS_FILE = "slack-refusals.json";

/** The longest the worker holds a post back for Slack's rate limit before the alert counts as failed. */
export const RATE_LIMIT_WAIT_MS = 30_000;

/**
 * `worker`: the per-host worker, which nobody waits on: it paces its posts to Slack's rate limits
 * (waiting out a 429 instead of failing the alert), and leases each alert for that long.
 */
export function createNotifier(config: VpnnotifyConfig, log: Logger, deadlineAt?: number, options: { worker?: boolean } = {}): Notifier {
  const slackOptions = { ...config.slack, timeoutMs: config.slack.timeoutMs ?? Math.floor(config.deadlineMs * 0.6) };
  // The worker's posts show whether Slack is accepting them: a post under way longer than a hook's own Slack timeout
  // is Slack not answering. The posts Slack refuses for good are kept beside the spool for the next worker (T51 N5b).
  const health = options.worker
    ? new SlackHealth(slackOptions.timeoutMs, { file: join(spoolDir(config), SLACK_REFUSALS_FILE), log })
    : undefined;
  const slack = options.worker
    ? new PacedSlackClient({
        health,
        token: resolveHeaderSecret(config.slack.token as SecretRef, "slack.token"),
        timeoutMs: config.spool.slackTimeoutSeconds * 1000,
        ...(config.slack.baseUrl ? { baseUrl: config.slack.baseUrl } : {}),
        log,
        maxWaitMs: RATE_LIMIT_WAIT_MS,
      })
    : createSlackClient(slackOptions, { log, retries: 1, maxRetryAfterMs: Math.floor(config.deadlineMs / 2) });
  const directoryDeadline = config.directory?.ldap?.deadlineMs ?? 0;
  // A hung directory must leave a hook time to tell the security channel within the deadline.
  const hookLookup = Math.floor(config.deadlineMs * LDAP_SHARE);
  const lookupMs = Math.min(directoryDeadline, options.worker ? Math.max(hookLookup, UNHURRIED_LDAP_MS) : hookLookup);
  // The worker's alert: a directory lookup and two posts, each up to its Slack timeout, plus a rate-limit wait.
  const lease = options.worker
    ? Math.max(config.deadlineMs, lookupMs) + RATE_LIMIT_WAIT_MS + 2 * config.spool.slackTimeoutSeconds * 1000
    : config.deadlineMs;
  const ldap: LdapClientOptions | undefined = config.directory?.ldap
    ? { ...ldapOptionsFromConfig(config.directory.ldap, "directory.ldap"), deadlineMs: lookupMs }
    : undefined;
  const geo = new GeoIp(
    { city: config.geoip.city, asn: config.geoip.asn, embedded: config.geoip.embedded },
    (message, fields) => log.warn(message, fields),
    log,
  );
  // The DM's buttons are answered by `serve` with this secret: one it cannot read (or an empty one) makes serve refuse
  // to start, so every "No, it wasn't me" would go nowhere. An unusable config like an unreadable slack.token, said by
  // status, notify and the worker alike, not a DM offering a button nobody can receive (T62 F5).
  if (config.answers) resolveSecret(config.answers.signingSecret as SecretRef, "answers.signingSecret");
  return {
    geo,
    store: createStore(config, log, geo, { unhurried: options.worker === true }),
    directory: new SlackDirectory(config.directory, ldap, slack, log),
    slack,
    answerButtons: config.answers !== undefined,
    spool: createSpool(config, log),
    verdicts: new Verdicts(log, health, config.securityChannel),
    leaseUntil: () => deadlineAt ?? Date.now() + lease,
    securityChannel: config.securityChannel,
    templates: {
      user: template(config.templates.user, config.templates.userFile, DEFAULT_USER_TEMPLATE, "templates.user"),
      security: template(config.templates.security, config.templates.securityFile, DEFAULT_SECURITY_TEMPLATE, "templates.security"),
    },
    policy: placePolicy(config),
    server: serverLabel(config.server, hostname()),
    timeZone: config.timeZone,
    log,
  };
}

/** Far above any useful message (Slack keeps 4,000 characters), far below what could stall a worker. */
const MAX_TEMPLATE_BYTES = 64 * 1024;

/** A template from the config, or from the file it names (compiled, so a mistake is a config error), or the default. */
function template(inline: string | undefined, file: string | undefined, fallback: string, key: string): Template {
  if (!file) return compileTemplate(inline ?? fallback, TEMPLATE_NAMES, key);
  // Refused without blocking: a FIFO must not hang the worker before its deadline can even start.
  const read = readRegularFileSync(file, MAX_TEMPLATE_BYTES);
  if ("refused" in read) {
    const { refused } = read;
    if (refused.kind === "not-regular") {
      throw new ConfigError(`${key}File: ${file} is not a regular file (${refused.what})`, { hint: "point it at a template file" });
    }
    if (refused.kind === "too-large") {
      throw new ConfigError(`${key}File: ${file} is larger than ${MAX_TEMPLATE_BYTES} bytes`, {
        hint: "a Slack message is at most 4,000 characters",
      });
    }
    throw new ConfigError(`${key}File: cannot read ${file} (${refused.code})`, {
      hint: "check the path and that the VPN server's script user may read it",
    });
  }
  const source = read.bytes.toString("utf8");
  // A file's trailing newline is not part of the message.
  return compileTemplate(source.replace(/\r?\n$/, ""), TEMPLATE_NAMES, `${key}File (${file})`);
}

/**
 * The server's name and environment for messages. With environmentPattern the environment comes
 * from the host name, as the original guessed it ("dev" or "prod" in the FQDN): the pattern's first
 * group, else its whole match; no match, no environment.
 */
export function serverLabel(server: VpnnotifyConfig["server"], host: string): { name: string; environment?: string } {
  if (!server.environmentPattern) return { name: server.name, ...(server.environment ? { environment: server.environment } : {}) };
  const match = new RegExp(server.environmentPattern).exec(host);
  const environment = match ? (match[1] ?? match[0]) : undefined;
  return { name: server.name, ...(environment ? { environment } : {}) };
}

export interface HookLogOptions {
  level: LogLevel;
  format: LogFormat;
  /** The detached worker's stderr goes nowhere: it logs to syslog and, if set, a log file. */
  detached: boolean;
  facility: VpnnotifyConfig["log"]["syslogFacility"];
  file?: string | undefined;
  /** The run's stderr (IOStreams): where a hook that is not detached writes its lines. */
  stderr: { write(text: string): unknown };
}

/** A logger for the hook, and close() that waits until the log file has every line. */
export function hookLogger(options: HookLogOptions): { log: Logger; close: () => Promise<void> } {
  const stream = options.detached && options.file ? createWriteStream(options.file, { flags: "a", mode: 0o640 }) : undefined;
  stream?.on("error", () => {});
  const log = new Logger({
    tool: "vpnnotify",
    level: options.level,
    format: options.format,
    ...(options.detached ? { syslog: { facility: options.facility }, stderr: stream !== undefined } : {}),
    stream: stream ?? options.stderr,
  });
  const close = () => new Promise<void>((resolve) => (stream ? stream.end(resolve) : resolve()));
  return { log, close };
}

/**
 * `log` (a command's stderr, at its -q/-v level), teed to a record at warning level, whatever -q says, where the worker
 * logs: syslog (log.syslogFacility) and log.file when set. For what an operator must find where the README tells them
 * to look ("have your log shipping pick up the warning from syslog or log.file"): marks --remove's removals (T70 F1)
 * and serve's answers and marks (a "No", the marks file full and its oldest marks dropped: T71 N7), which reached only
 * serve's stderr. close() waits until the log file has every line.
 */
export function recordingLogger(
  config: VpnnotifyConfig,
  log: Logger,
  options: { format: LogFormat; stderr: HookLogOptions["stderr"] },
): { log: Logger; close: () => Promise<void> } {
  const record = hookLogger({
    level: "warn",
    format: options.format,
    detached: true,
    facility: config.log.syslogFacility,
    file: config.log.file,
    stderr: options.stderr,
  });
  return { log: log.tee(record.log), close: record.close };
}
