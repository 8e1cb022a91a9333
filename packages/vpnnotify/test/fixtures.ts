import { type ChildProcess, type ChildProcessByStdio, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { type RedisLab, SLACK_SIM_TOKEN, SlackSim, startRedis, writeCityMmdb, writeMmdb } from "@opsguard/lab";
import { runInProcess } from "../../core/test/run-in-process";
import { startZombie } from "../../core/test/zombie";
import { createVpnnotifyProgram } from "../src/cli";

/** Places the test GeoIP databases know; addresses are public ones, so they are looked up. */
export const PLACES = {
  london: {
    ip: "81.2.69.142",
    cidr: "81.2.69.0/24",
    city: "London",
    region: "England",
    code: "GB",
    country: "United Kingdom",
    lat: 51.5142,
    lon: -0.0931,
    tz: "Europe/London",
    asn: 20712,
    org: "Andrews & Arnold Ltd",
  },
  londonOther: {
    ip: "81.2.70.7",
    cidr: "81.2.70.0/24",
    city: "London",
    region: "England",
    code: "GB",
    country: "United Kingdom",
    lat: 51.52,
    lon: -0.1,
    tz: "Europe/London",
    asn: 20712,
    org: "Andrews & Arnold Ltd",
  },
  reading: {
    ip: "86.10.1.1",
    cidr: "86.10.0.0/16",
    city: "Reading",
    region: "England",
    code: "GB",
    country: "United Kingdom",
    lat: 51.4543,
    lon: -0.9781,
    tz: "Europe/London",
    asn: 5089,
    org: "Virgin Media",
  },
  paris: {
    ip: "90.100.1.2",
    cidr: "90.100.0.0/16",
    city: "Paris",
    region: "Île-de-France",
    code: "FR",
    country: "France",
    lat: 48.8566,
    lon: 2.3522,
    tz: "Europe/Paris",
    asn: 3215,
    org: "Orange",
  },
  sydney: {
    ip: "1.128.3.4",
    cidr: "1.128.0.0/11",
    city: "Sydney",
    region: "New South Wales",
    code: "AU",
    country: "Australia",
    lat: -33.8688,
    lon: 151.2093,
    tz: "Australia/Sydney",
    asn: 1221,
    org: "Telstra <Corp>",
  },
  berlin6: {
    ip: "2a02:8100::1",
    cidr: "2a02:8100::/32",
    city: "Berlin",
    region: "Land Berlin",
    code: "DE",
    country: "Germany",
    lat: 52.52,
    lon: 13.405,
    tz: "Europe/Berlin",
    asn: 31334,
    org: "Vodafone Kabel Deutschland",
  },
} as const;

export type PlaceName = keyof typeof PLACES;

/** A City and an ASN database in MaxMind's formats, answering for PLACES. */
export function writeGeoDatabases(dir: string): { city: string; asn: string } {
  const places = Object.values(PLACES);
  const city = join(dir, "city.mmdb");
  const asn = join(dir, "asn.mmdb");
  writeFileSync(city, writeCityMmdb(places));
  writeFileSync(
    asn,
    writeMmdb({
      databaseType: "GeoLite2-ASN",
      networks: places.map((p) => ({ cidr: p.cidr, data: { autonomous_system_number: p.asn, autonomous_system_organization: p.org } })),
    }),
  );
  return { city, asn };
}

export const CLI = join(import.meta.dirname, "../src/main.ts");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** The environment runCli gives the CLI: the test runner's without any VPN server's variables, plus `env`. */
function cliEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(script_type|PLUTO_|REASON$|USERNAME$|IP_REAL|VPNNOTIFY_)/.test(k)),
  );
  return { ...clean, NO_COLOR: "1", ...env };
}

/**
 * Runs the CLI in this process (its program on in-memory streams), with the environment and working directory
 * runCli would give it: for everything that is not about the process itself (a detached worker, the fast path,
 * OpenVPN's exit-code rules, signals), at no cost of a Node start. Its deadline counts from this call.
 */
export async function runInProc(args: readonly string[], env: Record<string, string | undefined>): Promise<CliResult> {
  const start = Date.now();
  const result = await runInProcess((io) => createVpnnotifyProgram(io, { startedAt: Date.now() }), args, {
    env: cliEnv(env),
    cwd: join(import.meta.dirname, "../../.."),
  });
  return { ...result, ms: Date.now() - start };
}

/** Runs the real CLI (through tsx) the way a VPN server runs a hook: environment in, exit code out. */
export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined>,
  timeoutMs = 20_000,
  /** Called with the process once started: for a test that signals it. */
  started?: (child: ChildProcess) => void,
): Promise<CliResult> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: join(import.meta.dirname, "../../.."),
    env: cliEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  started?.(child);
  return collect(child, args, timeoutMs);
}

/**
 * Collects a started CLI's stdout and stderr until it exits; past `timeoutMs` it is killed and the promise rejects
 * with what it wrote to stderr. The one loop runCli, runBare and the tests' own spawns (another uid) share.
 */
export function collect(
  child: ChildProcessByStdio<null, Readable, Readable>,
  args: readonly string[],
  timeoutMs: number,
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`vpnnotify ${args.join(" ")} did not exit within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - start });
    });
  });
}

/** OpenVPN's client-connect environment, as documented in openvpn(8). */
export function openvpnConnectEnv(user: string, ip: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    script_type: "client-connect",
    common_name: user,
    trusted_ip: ip,
    trusted_port: "51413",
    untrusted_ip: ip,
    untrusted_port: "51413",
    ifconfig_pool_remote_ip: "10.8.0.6",
    time_unix: String(Math.floor(Date.now() / 1000)),
    time_ascii: new Date().toString(),
    dev: "tun0",
    ...extra,
  };
}

export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A syslog receiver on a loopback UDP port. Core sends syslog lines through logger(1), which
 * writes to /dev/log; `path` puts a logger first on PATH that runs the real one against this port.
 */
export async function syslogServer(): Promise<{ lines: string[]; path: string; close: () => Promise<void> }> {
  const socket = createSocket("udp4");
  const lines: string[] = [];
  socket.on("message", (message) => lines.push(message.toString()));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const bin = mkdtempSync(join(tmpdir(), "vpnnotify-syslog-"));
  const shim = join(bin, "logger");
  writeFileSync(shim, `#!/bin/sh\nexec /usr/bin/logger --udp --server 127.0.0.1 --port ${socket.address().port} "$@"\n`);
  chmodSync(shim, 0o755);
  const close = async () => {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    rmSync(bin, { recursive: true, force: true });
  };
  return { lines, path: `${bin}:/usr/bin:/bin`, close };
}

/**
 * Runs the CLI as `env -i` would: the process gets exactly `vars` (what the VPN server sets) and
 * nothing of the test runner's environment, so the config must come from the hook line's --config.
 */
export function runBare(args: readonly string[], vars: Record<string, string>, timeoutMs = 20_000): Promise<CliResult> {
  const pairs = Object.entries(vars).map(([k, v]) => `${k}=${v}`);
  const child = spawn("/usr/bin/env", ["-i", ...pairs, ...BARE_NODE, ...args], {
    cwd: join(import.meta.dirname, "../../.."),
    stdio: ["ignore", "pipe", "pipe"],
  });
  return collect(child, args, timeoutMs);
}

/**
 * Node running the CLI's sources with nothing from the runner's environment. --conditions on the command line:
 * env -i (or setpriv with its own env) drops the runner's NODE_OPTIONS, and without it @opsguard/core would resolve
 * to its last build instead of the sources under test.
 */
export const BARE_NODE = [process.execPath, "--conditions=@opsguard/source", "--import", "tsx", CLI] as const;

/** What OpenVPN 2.6 sets for auth-user-pass-verify via-env (openvpn(8), "Environmental Variables"). */
export function openvpnUserPassEnv(user: string, password: string, ip: string): Record<string, string> {
  return {
    script_type: "user-pass-verify",
    username: user,
    password,
    untrusted_ip: ip,
    untrusted_port: "51413",
    common_name: user,
    daemon: "0",
    daemon_log_redirect: "0",
    dev: "tun0",
    dev_type: "tun",
    script_context: "init",
    verb: "3",
  };
}

/** A drain lock naming a zombie (core's test helper), as a worker killed and never reaped leaves it. `end` ends it. */
export async function zombieDrainLock(spool: string): Promise<{ end: () => void }> {
  const zombie = await startZombie();
  writeFileSync(
    join(spool, "drain.lock"),
    JSON.stringify({ pid: zombie.pid, start: zombie.start, host: hostname(), token: "t", time: Date.now() }),
  );
  return zombie;
}

/**
 * A config whose Slack refuses at once (nothing listens on port 9): every login stays in the spool. Written at
 * `config` (default `<root>/vpnnotify.json`), its state, spool and log under `root`; `extra` keys added on top.
 */
export function refusingSlackConfig(
  root: string,
  config = join(root, "vpnnotify.json"),
  extra: Record<string, unknown> = {},
): { config: string; spool: string } {
  const spool = join(root, "spool");
  mkdirSync(dirname(config), { recursive: true });
  writeFileSync(
    config,
    JSON.stringify({
      server: { name: "x" },
      slack: { token: "env:T_TOKEN", baseUrl: "http://127.0.0.1:9/api/" },
      securityChannel: "C0SEC",
      directory: { emailDomain: "example.org" },
      state: { file: join(root, "state", "state.json") },
      spool: { dir: spool, idleSeconds: 0, retryAfterSeconds: 3600 },
      log: { file: join(root, "vpnnotify.log") },
      ...extra,
    }),
  );
  return { config, spool };
}

/** The security channel of the marks tests' Slack. */
export const SECURITY = "C0SECURITY";

export interface MarksLabOptions {
  /** mkdtemp prefix of the lab's directory. */
  prefix: string;
  /** Slack users (U0<NAME>, <name>@example.org) besides the security channel. */
  users: readonly string[];
  /** Start a Redis server too. */
  redis?: boolean;
  /** Its requirepass (written to redis.passwordFile); none when left out. */
  redisPassword?: string;
  /** chmod of the lab's directory (for a test whose CLI runs as another uid). */
  mode?: number;
}

export interface MarksLab {
  dir: string;
  slack: SlackSim;
  redis: RedisLab | undefined;
  geo: { city: string; asn: string };
  stop(): Promise<void>;
}

/**
 * The lab the "not me" marks tests share: TEST_SLACK_TOKEN set for the Slack simulator, a temporary directory with
 * the GeoIP databases, a Slack simulator with the users and the security channel, and Redis if asked for.
 */
export async function startMarksLab(options: MarksLabOptions & { redis: true }): Promise<MarksLab & { redis: RedisLab }>;
export async function startMarksLab(options: MarksLabOptions): Promise<MarksLab>;
export async function startMarksLab(options: MarksLabOptions): Promise<MarksLab> {
  process.env.TEST_SLACK_TOKEN = SLACK_SIM_TOKEN;
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  if (options.mode !== undefined) chmodSync(dir, options.mode);
  const geo = writeGeoDatabases(dir);
  const redis = options.redis
    ? await startRedis(options.redisPassword === undefined ? {} : { password: options.redisPassword })
    : undefined;
  const slack = new SlackSim();
  for (const name of options.users) slack.addUser({ id: `U0${name.toUpperCase()}`, name, email: `${name}@example.org` });
  slack.addChannel({ id: SECURITY, name: "security-alerts" });
  await slack.start();
  const stop = async () => {
    await slack.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, slack, redis, geo, stop };
}

export interface RedisStoreSection {
  url: string;
  password?: string;
  keyPrefix: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

/**
 * The config's `state` for store `id` in the lab: a state file under the lab's directory, or keys prefixed `t<id>:`
 * on the lab's Redis (with its password file when it has one).
 */
export function storeSection(lab: MarksLab, id: string, store: "file"): { file: string };
export function storeSection(lab: MarksLab, id: string, store: "redis"): { redis: RedisStoreSection };
export function storeSection(
  lab: MarksLab,
  id: string,
  store: "file" | "redis",
): { file: string; redis?: undefined } | { redis: RedisStoreSection; file?: undefined };
export function storeSection(lab: MarksLab, id: string, store: "file" | "redis") {
  if (store === "file") return { file: join(lab.dir, id, "state.json") };
  if (!lab.redis) throw new Error("storeSection: this lab has no Redis (startMarksLab({ redis: true }))");
  const password = lab.redis.passwordFile === undefined ? {} : { password: `file:${lab.redis.passwordFile}` };
  return {
    redis: { url: lab.redis.url, ...password, keyPrefix: `t${id}:`, connectTimeoutMs: 5_000, commandTimeoutMs: 5_000 },
  };
}

/** A config for store `id` in the lab: its Slack, security channel, GeoIP, `state`, a spool under the lab; `extra` on top. */
export function marksConfig<S, E extends object = Record<never, never>>(lab: MarksLab, id: string, state: S, extra?: E) {
  return {
    server: { name: "vpn-eu-1" },
    slack: { token: "env:TEST_SLACK_TOKEN", baseUrl: lab.slack.apiUrl },
    securityChannel: SECURITY,
    directory: { emailDomain: "example.org" },
    geoip: { city: lab.geo.city, asn: lab.geo.asn },
    state,
    spool: { dir: join(lab.dir, id, "spool") },
    ...(extra as E),
  };
}

/**
 * The host's own vpnnotify config in /etc/opsguard, if it has one. A test of what happens with no config found can
 * only run where there is none: every lookup searches /etc/opsguard last, by design, and nothing short of a mount
 * namespace (root only) hides it. Such a test is skipped there, rather than reading (and queueing logins in the spool
 * of) the host's real config.
 */
export function hostConfig(tool = "vpnnotify"): string | undefined {
  return ["json", "yaml", "yml"].map((ext) => `/etc/opsguard/${tool}.${ext}`).find((path) => existsSync(path));
}
