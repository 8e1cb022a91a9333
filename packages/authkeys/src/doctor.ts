import { spawnSync } from "node:child_process";
import { lookup as dnsLookup } from "node:dns/promises";
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import type { CliContext } from "@opsguard/core/cli";
import { loadConfig } from "@opsguard/core/config";
import { configSearchPaths } from "@opsguard/core/config-file";
import { describeError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import { CODE_CACHE_DIGEST_SUFFIX } from "@opsguard/core/launcher";
import { LdapClient, type LdapConnectionConfig, ldapOptionsFromConfig } from "@opsguard/core/ldap";
import { normalizeDn } from "@opsguard/core/ldap/dn";
import { Logger } from "@opsguard/core/log";
import { resolveSecret } from "@opsguard/core/secret";
import { type AgentSettings, askAgent } from "./agent-client";
import { type AuthkeysConfig, authkeysConfigSchema } from "./config";
import { fileSha256, verifyInstalledFiles } from "./installed-files";
import { storedValidationState } from "./login-config";
import { lookupKeys } from "./lookup";
import { principalOptionsProblem } from "./principal-options";
import { connectionKey, readMemory, SERVER_MEMORY_FILE, SUSPECT_PROBE_MS } from "./server-memory";
import { commandConfig } from "./sshd-command";
import { CONFIG_FILE } from "./stored-config";

export type Verdict = "ok" | "warn" | "fail";

export interface Check {
  step: string;
  verdict: Verdict;
  detail: string;
}

export interface DoctorOptions {
  user?: string | undefined;
  binary?: string | undefined;
  /** The sshd_config `sshd -T` reads (default: sshd's own). */
  sshdConfig?: string | undefined;
}

/** Every check in order, each with a verdict; later steps still run after a failure where they can. */
export async function runDoctor(ctx: CliContext, options: DoctorOptions): Promise<ExitCode> {
  const checks: Check[] = [];
  const add = (step: string, verdict: Verdict, detail: string) => {
    checks.push({ step, verdict, detail });
    if (!ctx.opts.json) printCheck(ctx, { step, verdict, detail });
  };

  let config: AuthkeysConfig | undefined;
  let configFile: string | undefined;
  try {
    const loaded = await loadConfig({ ...CONFIG_FILE, schema: authkeysConfigSchema, path: ctx.opts.config });
    config = loaded.config;
    configFile = loaded.filepath;
    add("config", "ok", `${loaded.filepath} is valid`);
    const stored = storedValidationState(ctx.opts.config);
    if (
      stored.kind === "stale" &&
      stored.installedPath !== undefined &&
      loaded.filepath !== undefined &&
      stored.installedPath !== resolve(loaded.filepath)
    ) {
      // Another file than the installed one (T72 N4): it did not change, it was never installed.
      add(
        "config",
        "warn",
        `not the config install validated (${stored.installedPath}), so a login with it validates it each time (about 15 ms)`,
      );
    } else if (stored.kind === "stale") {
      add("config", "warn", "changed since install, so every login validates it again (about 15 ms): re-run install");
    }
  } catch (error) {
    add("config", "fail", describeError(error));
  }

  const binary = options.binary ?? process.argv[1] ?? "";
  for (const check of checkCommandPath(binary)) add("install", check.verdict, check.detail);
  for (const check of checkInstalledFiles(binary)) add("install", check.verdict, check.detail);

  for (const check of checkSshd(options.sshdConfig, configFile)) add("sshd", check.verdict, check.detail);

  if (config) {
    // A password that cannot be read (T58 NEW-2: a FIFO, a directory, a file over the limit; or missing, unreadable) is
    // this check's failure, not the doctor's end: what needs no password (cache, DNS, TCP) is still worth knowing.
    const password = bindPasswordCheck(config);
    if (password) add("config", ...password);
    const usable = password?.[0] !== "fail";
    const principalProblem = principalOptionsProblem(config);
    if (principalProblem) add("config", "fail", principalProblem);
    add("cache", ...checkCacheDir(config));
    if (config.agent) for (const check of await checkAgent(config.agent, commandUid(config), options.user)) add("agent", ...check);
    const ldap = await discoverForDoctor(config, add);
    const marks = serverMarks(config);
    for (const url of ldap?.urls ?? []) {
      const mark = marks.get(url);
      if (mark) add(`ldap ${url}`, ...mark);
      if (ldap) for (const check of await checkServer(url, ldap, usable)) add(`ldap ${url}`, check.verdict, check.detail);
    }
    if (ldap) for (const check of await checkGroups(config, ldap, usable)) add("groups", ...check);
    if (options.user) add(`lookup ${options.user}`, ...(usable ? await sampleLookup(config, options.user) : NO_PASSWORD));
    else add("lookup", "warn", "no sample user: pass --user NAME to look one up");
  }

  if (ctx.opts.json) ctx.io.stdout.write(`${JSON.stringify({ checks }, null, 2)}\n`);
  return checks.some((c) => c.verdict === "fail") ? ExitCode.FAILED : ExitCode.OK;
}

function printCheck(ctx: CliContext, check: Check): void {
  const mark =
    check.verdict === "ok" ? ctx.style.green("ok  ") : check.verdict === "warn" ? ctx.style.yellow("warn") : ctx.style.red("FAIL");
  ctx.io.stdout.write(`${mark}  ${check.step}: ${check.detail}\n`);
}

/** What sshd checks before running the command: the file and every directory above it root-owned, not group/other-writable. */
export function checkCommandPath(path: string): Array<{ verdict: Verdict; detail: string }> {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return [{ verdict: "fail", detail: `${path} does not exist` }];
  }
  const problems: string[] = [];
  for (let p = real; ; p = dirname(p)) {
    const info = statSync(p);
    if (info.uid !== 0) problems.push(`${p} is owned by uid ${info.uid}, not root`);
    if ((info.mode & 0o022) !== 0) problems.push(`${p} is writable by group or others (mode ${(info.mode & 0o777).toString(8)})`);
    if (p === dirname(p)) break;
  }
  if (problems.length > 0) {
    return [{ verdict: "fail", detail: `sshd will refuse ${real}: ${problems.join("; ")} (install it as described in the README)` }];
  }
  const checks: Array<{ verdict: Verdict; detail: string }> = [
    { verdict: "ok", detail: `${real} and its directories are root-owned and not writable by others` },
  ];
  if (statSync(real).mode & 0o111) checks.push({ verdict: "ok", detail: `${real} is executable` });
  else checks.push({ verdict: "fail", detail: `${real} is not executable (chmod 755 ${real})` });
  return checks;
}

/** The installed bundles against install's record of them, and the login code cache against its digest. */
function checkInstalledFiles(binary: string): Array<{ verdict: Verdict; detail: string }> {
  let dir: string;
  try {
    dir = dirname(realpathSync(binary));
  } catch {
    return [];
  }
  const problems = verifyInstalledFiles(dir);
  // Run from dist/ (not installed): nothing was recorded.
  if (problems === undefined)
    return binary.endsWith(".cjs") ? [] : [{ verdict: "warn", detail: `no record of the installed bundles in ${dir}: re-run install` }];
  if (problems.length > 0) return [{ verdict: "fail", detail: `${problems.join("; ")}: re-run install` }];
  const checks = [{ verdict: "ok" as Verdict, detail: `the bundles in ${dir} are the files install copied` }];
  // The login bundle's cache and the full bundle's (every other command, and a call the login bundle hands back).
  for (const name of readdirSync(dir).filter((file) => file.endsWith(".cjs.cache"))) {
    const cache = join(dir, name);
    let recorded = "";
    try {
      recorded = readFileSync(`${cache.slice(0, -".cache".length)}${CODE_CACHE_DIGEST_SUFFIX}`, "latin1").trim();
    } catch {}
    if (recorded !== fileSha256(cache))
      checks.push({
        verdict: "warn",
        detail: `${cache} ${recorded === "" ? "has no digest beside it" : "does not match its digest"}, so logins compile without it: re-run install`,
      });
  }
  return checks;
}

/**
 * Run as the command user (as sshd runs logins), it proves the cache works: a file written, read back
 * and removed. Run as root it can only check owner, mode and the way there.
 */
function checkCacheDir(config: AuthkeysConfig): [Verdict, string] {
  if (!config.cache.enabled) return ["warn", "the offline cache is disabled: an LDAP outage locks everyone out"];
  const dir = config.cache.dir;
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return [
      "fail",
      `${dir}: ${code === "ENOENT" ? "does not exist" : `cannot reach it (${code})`}; logins run without a cache: re-run install`,
    ];
  }
  if ((info.mode & 0o077) !== 0) return ["fail", `${dir} has mode ${(info.mode & 0o777).toString(8)}; chmod 700 ${dir}`];
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return probeCache(dir, uid);
  if (info.uid === 0) return ["warn", `${dir} is owned by root; chown it to the AuthorizedKeysCommandUser`];
  for (let p = dirname(dir); ; p = dirname(p)) {
    if (!searchable(statSync(p), info.uid, info.gid))
      return ["fail", `${p} is closed to uid ${info.uid}, the owner of ${dir}: chmod o+x ${p}`];
    if (p === dirname(p)) break;
  }
  return ["ok", `${dir} is private (mode 700, owner uid ${info.uid}); run doctor as that user to prove it writable`];
}

function probeCache(dir: string, uid: number): [Verdict, string] {
  const probe = join(dir, `.doctor-${process.pid}`);
  const text = `authkeys doctor ${Date.now()}\n`;
  let written = false;
  try {
    writeFileSync(probe, text, { mode: 0o600, flag: "wx" });
    written = true;
    if (readFileSync(probe, "utf8") !== text) return ["fail", `${dir}: a file written there read back differently`];
    unlinkSync(probe);
    written = false;
    return ["ok", `${dir} is private (mode 700) and uid ${uid} wrote, read and removed a file there`];
  } catch (error) {
    return [
      "fail",
      `uid ${uid} cannot write and read keys in ${dir} (${(error as NodeJS.ErrnoException).code}): chown it to this user, chmod 700`,
    ];
  } finally {
    if (written) rmSync(probe, { force: true });
  }
}

/** What a check that needs the bind password says when it cannot be read: the config's FAIL line tells why. */
const NO_PASSWORD: [Verdict, string] = ["warn", "not tried: ldap.bindPassword cannot be used (see the config FAIL)"];

/**
 * The bind password as every login reads it (core's resolveSecret, as ldapOptionsFromConfig calls it): one it refuses
 * fails, naming the key and the reason as the login's error does, never the path or the value. One that is read,
 * so a regular file, from a file others may read is a password others know: warn, naming the fix.
 */
function bindPasswordCheck(config: AuthkeysConfig): [Verdict, string] | undefined {
  const ref = config.ldap.bindPassword;
  if (ref === undefined) return undefined;
  try {
    resolveSecret(ref, "ldap.bindPassword");
  } catch (error) {
    return ["fail", describeError(error)];
  }
  const file = typeof ref === "string" ? (ref.startsWith("file:") ? ref.slice(5) : undefined) : "file" in ref ? ref.file : undefined;
  if (!file) return undefined;
  const info = statSync(file, { throwIfNoEntry: false });
  if (!info || (info.mode & 0o077) === 0) return undefined;
  return [
    "warn",
    `the bind password file ${file} is open to group or others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 ${file} (owner: the AuthorizedKeysCommandUser), and rotate the password if others could read it`,
  ];
}

const SSHD = "/usr/sbin/sshd";

/**
 * sshd's effective settings (`sshd -T`, root only): OpenSSH before 9.4 drops an AuthorizedPrincipalsCommand
 * written after the AuthorizedKeysCommand (bug 3574), and with TrustedUserCAKeys but no principals command
 * or file sshd admits any certificate naming the login name: LDAP is never asked.
 */
function checkSshd(sshdConfig: string | undefined, checked: string | undefined): Array<{ verdict: Verdict; detail: string }> {
  if (process.getuid?.() !== 0 || !existsSync(SSHD)) return [];
  const run = spawnSync(SSHD, ["-T", ...(sshdConfig ? ["-f", sshdConfig] : [])], { encoding: "utf8", timeout: 5000 });
  if (run.status !== 0) {
    const why = (run.stderr ?? "").trim().split("\n")[0] || run.error?.message || `exit ${run.status}`;
    return [{ verdict: "warn", detail: `sshd -T failed (${why}): its settings were not checked` }];
  }
  const setting = (name: string) => new RegExp(`^${name} (.*)$`, "m").exec(run.stdout)?.[1]?.trim() ?? "none";
  const keys = setting("authorizedkeyscommand");
  const principals = setting("authorizedprincipalscommand");
  const checks: Array<{ verdict: Verdict; detail: string }> = [];
  checks.push(
    keys === "none"
      ? { verdict: "warn", detail: "sshd runs no AuthorizedKeysCommand: add the lines `authkeys sshd-config` prints" }
      : commandCheck("AuthorizedKeysCommand", keys),
  );
  if (keys !== "none") checks.push(...sameConfig("AuthorizedKeysCommand", keys, checked));
  const ca = setting("trustedusercakeys");
  if (ca !== "none" && principals === "none" && setting("authorizedprincipalsfile") === "none") {
    checks.push({
      verdict: "fail",
      detail: `TrustedUserCAKeys ${ca} without an AuthorizedPrincipalsCommand in effect: any certificate naming the login name logs in, LDAP unasked (OpenSSH < 9.4 ignores the command after AuthorizedKeysCommand: put the AuthorizedPrincipals* lines first, as sshd-config prints them)`,
    });
  } else if (principals !== "none") {
    checks.push(commandCheck("AuthorizedPrincipalsCommand", principals));
    checks.push(...sameConfig("AuthorizedPrincipalsCommand", principals, checked));
  }
  return checks;
}

/**
 * Every other check is of the config this doctor loaded; when sshd's command hands authkeys another one
 * (T52 F3: `--config A` checked, sshd running `--config B`), they say nothing about the logins, and an
 * all-ok answer would say they are fine: a failed check (exit 1) naming both files and the fix.
 */
function sameConfig(name: string, line: string, checked: string | undefined): Array<{ verdict: Verdict; detail: string }> {
  const named = commandConfig(line);
  if (named === undefined || checked === undefined) return [];
  // sshd gives the command no $AUTHKEYS_CONFIG, so without --config authkeys reads the first of these that exists
  const used = named ?? configSearchPaths(CONFIG_FILE.tool, "/", {}, CONFIG_FILE.places).find((path) => existsSync(path));
  if (used !== undefined && sameFile(used, checked)) return [];
  const what =
    named === null
      ? `names no --config, so authkeys reads ${used ?? "no config file (none in /etc/opsguard)"}`
      : `runs authkeys with --config ${named}`;
  return [
    {
      verdict: "fail",
      detail: `sshd's ${name} ${what}, not ${checked}, which these checks are of: they say nothing about its logins (check that one: authkeys --config ${used ?? "FILE"} doctor, or fix the sshd_config line)`,
    },
  ];
}

/** The same file, through symbolic links too; as written when either does not exist. */
function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

/** sshd takes a command whose file is missing (`sshd -t` passes), then refuses every login it would decide. */
function commandCheck(name: string, line: string): { verdict: Verdict; detail: string } {
  const path = line.split(/\s+/)[0] ?? "";
  if (existsSync(path)) return { verdict: "ok", detail: `${name} ${line}` };
  return {
    verdict: "fail",
    detail: `sshd's ${name} ${path} does not exist, so sshd refuses every login it would decide: print the lines with the installed launcher (<prefix>/authkeys sshd-config) or re-run install`,
  };
}

/** Whether this uid/gid (root aside) may pass through a directory. */
export function searchable(info: { uid: number; gid: number; mode: number }, uid: number, gid: number): boolean {
  if (uid === 0) return true;
  if (info.uid === uid) return (info.mode & 0o100) !== 0;
  if (info.gid === gid) return (info.mode & 0o010) !== 0;
  return (info.mode & 0o001) !== 0;
}

/** The agent runs as the command user, who owns the cache directory; the doctor itself usually runs as root. */
function commandUid(config: AuthkeysConfig): number | undefined {
  const uid = statSync(config.cache.dir, { throwIfNoEntry: false })?.uid;
  return uid === 0 ? undefined : uid;
}

/** What a login would find: a socket it trusts, an agent answering on it, and (with --user) the same keys through it. */
async function checkAgent(settings: AgentSettings, owner: number | undefined, user: string | undefined): Promise<Array<[Verdict, string]>> {
  const started = Date.now();
  const ping = await askAgent(settings, { kind: "ping" }, owner);
  if (!ping.ok) {
    const down = /does not exist|ECONNREFUSED|ENOENT/.test(ping.problem);
    return [
      [down ? "warn" : "fail", `${ping.problem}: logins look up directly${down ? " (start it: systemctl start authkeys-agent)" : ""}`],
    ];
  }
  const checks: Array<[Verdict, string]> = [["ok", `answers on ${settings.socket} in ${Date.now() - started} ms`]];
  if (!user) return checks;
  const lookup = await askAgent(settings, { kind: "lookup", user, fingerprint: undefined }, owner);
  if (!lookup.ok) checks.push(["fail", `lookup ${user}: ${lookup.problem}`]);
  else if (lookup.reply.kind === "error") checks.push(["fail", `lookup ${user}: ${lookup.reply.error}`]);
  else if (lookup.reply.kind === "lookup") {
    const { result, source, lines } = lookup.reply;
    checks.push([
      result === "keys" ? "ok" : "warn",
      `lookup ${user}: ${lines.length} key(s) (${result}, from ${source}) in ${Date.now() - started} ms`,
    ]);
  }
  return checks;
}

async function checkServer(
  url: string,
  ldap: LdapConnectionConfig,
  password: boolean,
): Promise<Array<{ verdict: Verdict; detail: string }>> {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  const port = Number(parsed.port || (parsed.protocol === "ldaps:" ? 636 : 389));
  const out: Array<{ verdict: Verdict; detail: string }> = [];
  try {
    const { address } = await dnsLookup(host);
    out.push({ verdict: "ok", detail: `DNS: ${host} is ${address}` });
  } catch (error) {
    return [{ verdict: "fail", detail: `DNS: cannot resolve ${host} (${(error as NodeJS.ErrnoException).code ?? "error"})` }];
  }
  const tcp = await tcpCheck(host, port, ldap.connectTimeoutMs);
  out.push(tcp);
  if (tcp.verdict === "fail") return out;
  const tls = parsed.protocol === "ldaps:" ? "ldaps" : ldap.startTls ? "StartTLS" : "no TLS";
  if (!password) {
    out.push({ verdict: NO_PASSWORD[0], detail: `${tls} and bind ${NO_PASSWORD[1]}` });
    return out;
  }
  const client = new LdapClient({
    ...ldapOptionsFromConfig({ ...ldap, urls: [url] }),
    log: new Logger({ tool: "authkeys", level: "error" }),
  });
  try {
    await client.connect();
    const who = ldap.bindDn ? `bound as ${ldap.bindDn}` : "anonymous bind";
    out.push({
      verdict: tls === "no TLS" ? "warn" : "ok",
      detail: `${tls}, ${who}${tls === "no TLS" ? " (keys travel unprotected: use ldaps:// or startTls)" : ""}`,
    });
  } catch (error) {
    out.push({ verdict: "fail", detail: `${tls}: ${describeError(error)}` });
  } finally {
    await client.close();
  }
  return out;
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<{ verdict: Verdict; detail: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ host, port });
    const done = (verdict: Verdict, detail: string) => {
      socket.destroy();
      resolve({ verdict, detail });
    };
    socket.setTimeout(timeoutMs, () => done("fail", `TCP: no connection to ${host}:${port} within ${timeoutMs} ms`));
    socket.once("connect", () => done("ok", `TCP: connected to ${host}:${port} in ${Date.now() - started} ms`));
    socket.once("error", (error: NodeJS.ErrnoException) => done("fail", `TCP: ${host}:${port}: ${error.code ?? error.message}`));
  });
}

/**
 * What logins remember of each server (`.servers.json`, see server-memory.ts), as they read it: a
 * server marked failed is skipped by every login until the mark runs out (an uncached user is refused
 * when all are), one in doubt gets a 300 ms probe. Marks made under other connection settings, run out,
 * or dated beyond one hold are ignored by logins, so here too.
 */
function serverMarks(config: AuthkeysConfig): Map<string, [Verdict, string]> {
  const marks = new Map<string, [Verdict, string]>();
  if (!config.cache.enabled || config.cache.deadServerSeconds === 0) return marks;
  const file = join(config.cache.dir, SERVER_MEMORY_FILE);
  // Logins (the command user, who owns the cache directory) read only a file of their own.
  const owner = statSync(config.cache.dir, { throwIfNoEntry: false })?.uid;
  if (owner === undefined) return marks;
  const memory = readMemory(file, new Logger({ tool: "authkeys", level: "silent" }), owner);
  if (memory.settings !== connectionKey(config.ldap)) return marks;
  const now = Date.now();
  const holdMs = config.cache.deadServerSeconds * 1000;
  const until = (at: number) => `until ${new Date(at).toISOString().slice(11, 19)} UTC (${Math.ceil((at - now) / 1000)} s more)`;
  const current = (at: number) => at > now && at - now <= holdMs;
  for (const [url, at] of Object.entries(memory.suspect ?? {})) {
    if (current(at))
      marks.set(url, [
        "warn",
        `in doubt in ${file} ${until(at)}: logins give it a ${SUSPECT_PROBE_MS} ms connect budget, not ldap.connectTimeoutMs`,
      ]);
  }
  for (const [url, at] of Object.entries(memory.down)) {
    if (!current(at)) continue;
    const why = memory.reasons?.[url];
    marks.set(url, [
      "fail",
      `remembered as failed${why ? ` (${why})` : ""} in ${file} ${until(at)}: logins skip it until then (rm ${file} to try it at once)`,
    ]);
  }
  return marks;
}

/**
 * Every group DN the config names (allowedGroups, hostAccess rules', principals'), read as the bind DN: one the
 * directory lacks, or hides from that DN, counts nobody as its member at login, so a listed group's keyOptions
 * silently stop applying to members who are in a later group too.
 */
async function checkGroups(config: AuthkeysConfig, ldap: LdapConnectionConfig, password: boolean): Promise<Array<[Verdict, string]>> {
  const named = new Map<string, { dn: string; label: string }>();
  const add = (where: string, dn: string) => {
    if (!named.has(normalizeDn(dn))) named.set(normalizeDn(dn), { dn, label: `${where} ${dn}` });
  };
  for (const group of config.allowedGroups ?? []) add("allowedGroups", typeof group === "string" ? group : group.dn);
  for (const rule of config.hostAccess?.rules ?? [])
    for (const group of rule.allowedGroups) add("hostAccess.rules allowedGroups", typeof group === "string" ? group : group.dn);
  for (const group of config.principals?.groups ?? []) add("principals.groups", group.dn);
  if (named.size === 0) return [];
  if (!password) return [NO_PASSWORD];
  const client = new LdapClient({ ...ldapOptionsFromConfig(ldap), log: new Logger({ tool: "authkeys", level: "error" }) });
  const checks: Array<[Verdict, string]> = [];
  try {
    for (const { dn, label } of named.values()) {
      const entry = await client.read(dn, ["1.1"]);
      if (entry === undefined)
        checks.push([
          "fail",
          `${label} does not exist or ${ldap.bindDn ?? "the anonymous bind"} cannot read it: logins count nobody in it, so its keyOptions apply to no one (fix the DN or the ACL)`,
        ]);
    }
  } catch (error) {
    return [["fail", `cannot read the configured groups: ${describeError(error)}`]];
  } finally {
    await client.close();
  }
  if (checks.length === 0)
    checks.push(["ok", `the ${named.size} configured group(s) exist and ${ldap.bindDn ?? "the anonymous bind"} can read them`]);
  return checks;
}

/** A real lookup with the cache off: the doctor often runs as root and must not leave root-owned cache files. */
async function sampleLookup(config: AuthkeysConfig, user: string): Promise<[Verdict, string]> {
  const started = Date.now();
  try {
    const outcome = await lookupKeys(
      { ...config, cache: { ...config.cache, enabled: false } },
      { user },
      { log: new Logger({ tool: "authkeys", level: "warn" }) },
    );
    const ms = Date.now() - started;
    if (outcome.result === "keys")
      return ["ok", `${outcome.lines.length} key(s) in ${ms} ms${outcome.dropped ? `, ${outcome.dropped} dropped (see warnings)` : ""}`];
    return ["warn", `no keys (${outcome.result}) in ${ms} ms`];
  } catch (error) {
    return ["fail", describeError(error)];
  }
}

/**
 * The servers to check: the static list, or what DNS SRV gives now (asked afresh, the cache left to
 * the command user: doctor may run as root).
 */
async function discoverForDoctor(
  config: AuthkeysConfig,
  add: (step: string, verdict: Verdict, detail: string) => void,
): Promise<LdapConnectionConfig | undefined> {
  const [{ resolveLdapServers }, { srvDomain }] = await Promise.all([import("./srv"), import("./dns-names")]);
  if (!config.ldap.srv) return resolveLdapServers(config, { log: new Logger({ tool: "authkeys", level: "error" }) });
  const step = `dns srv ${srvDomain(config.ldap.srv)}`;
  try {
    const offline = { ...config, cache: { ...config.cache, enabled: false } };
    const ldap = await resolveLdapServers(offline, { log: new Logger({ tool: "authkeys", level: "error" }) });
    add(step, "ok", `servers in order: ${ldap.urls.join(" ")}`);
    return ldap;
  } catch (error) {
    add(step, "fail", describeError(error));
    return undefined;
  }
}
