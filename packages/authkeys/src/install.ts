import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describeError, PermissionError, UsageError } from "@opsguard/core/errors";
import { CODE_CACHE_DIGEST_SUFFIX, installWithLauncher, readVerifiedCodeCache, writeVerifiedCodeCache } from "@opsguard/core/launcher";
import { FACILITY_CODE } from "@opsguard/core/log";
import { agentFastPathExpression, configStamp } from "./agent-fast-path";
import type { AuthkeysConfig } from "./config";
import { checkCommandPath, searchable } from "./doctor";
import { INSTALLED_FILES, installedFilesManifest } from "./installed-files";
import { VALIDATED_CONFIG_FILE, validatedConfigFile } from "./login-config";
import { LOGIN_BUNDLE, LOGIN_CACHE_WRITE, loginBundleExpression } from "./login-fast-path";
import { parseSshdArgv } from "./sshd-argv";
import { sshdConfigLines } from "./sshd-config";

export interface InstallOptions {
  prefix: string;
  runAs: string;
  /** --cache-dir: only where the config has no cache.dir of its own to say it. */
  cacheDir?: string | undefined;
  config?: string | undefined;
}

export interface InstallReport {
  launcher: string;
  warnings: string[];
  sshdConfig: string;
}

/**
 * Installs the running bundle where sshd accepts it (root-owned, not group/other writable) behind core's
 * code-cache launcher, and the cache directory for the command user.
 * --use-openssl-ca: trust comes from the system store, looked up by hash on demand, instead of parsing
 * Node's ~140 bundled roots on every start (tens of ms); an explicit ldap.caFile still replaces the
 * store, as without the flag.
 */
export async function installAuthkeys(given: InstallOptions): Promise<InstallReport> {
  if (process.getuid?.() !== 0) throw new PermissionError("install must run as root", { hint: "sudo authkeys install" });
  // The printed sshd line and the agent's fast path name the config as sshd will pass it: absolute.
  const options = { ...given, prefix: resolve(given.prefix), config: given.config === undefined ? undefined : resolve(given.config) };
  // A --run-as or --prefix sshd could not take is a usage error before anything is copied, not after.
  sshdConfigLines({ path: join(options.prefix, "authkeys"), user: options.runAs, config: options.config });
  const bundle = fileURLToPath(import.meta.url);
  if (!bundle.endsWith(".cjs"))
    throw new UsageError("install copies the built bundle", { hint: "run the built authkeys (dist/authkeys.cjs)" });
  // The warm-up run walks a login's code, so the cache holds it compiled (see warm-up.ts).
  const configArgs = options.config ? ["--config", options.config] : [];
  const warnings: string[] = [];
  const validated = await validatedConfigFile(options.config).catch((error: unknown) => {
    warnings.push(`the config was not validated, so every login validates it: ${describeError(error)}`);
    return undefined;
  });
  const loginBundle = join(dirname(bundle), LOGIN_BUNDLE);
  const withLoginBundle = validated !== undefined && existsSync(loginBundle);
  const manifest = installedFilesManifest(withLoginBundle ? [bundle, loginBundle] : [bundle]);
  const fastPaths = [
    agentFastPath(options.config, validated?.content),
    withLoginBundle
      ? loginBundleExpression(asciiOnly(loginBundle) ? "latin1" : "utf8", CACHE_ENV, manifest.sha256[LOGIN_BUNDLE] ?? "", parseSshdArgv, {
          read: readVerifiedCodeCache,
          write: writeVerifiedCodeCache,
        })
      : undefined,
  ].filter((expression) => expression !== undefined);
  // A cache left from an earlier install must not meet the new bundle: V8 checks little more than its length.
  rmSync(join(options.prefix, `${LOGIN_BUNDLE}.cache`), { force: true });
  rmSync(join(options.prefix, `${LOGIN_BUNDLE}${CODE_CACHE_DIGEST_SUFFIX}`), { force: true });
  const { launcher } = installWithLauncher({
    bundle,
    prefix: options.prefix,
    name: "authkeys",
    cacheEnv: CACHE_ENV,
    warmArgs: [...configArgs, "warm-up"],
    nodeFlag: "--use-openssl-ca",
    // A damaged full bundle: one line and exit 70, not a stack trace, and doctor says the same (T72 N2).
    checkBundle: true,
    files: withLoginBundle ? [loginBundle] : [],
    generatedFiles: {
      [INSTALLED_FILES]: { content: `${JSON.stringify(manifest)}\n`, mode: 0o644, gid: 0 },
      ...(validated ? { [VALIDATED_CONFIG_FILE]: validated } : {}),
    },
    ...(fastPaths.length > 0 ? { fastPath: `(${fastPaths.join(" || ")})` } : {}),
  });
  if (withLoginBundle) {
    // The full bundle's cache is warm (installWithLauncher); now the login bundle's, by the same walk.
    const warm = spawnSync(process.execPath, [launcher, ...configArgs, "warm-up"], {
      env: { PATH: "/usr/bin:/bin", [CACHE_ENV]: LOGIN_CACHE_WRITE },
      stdio: ["ignore", "ignore", "pipe"],
      encoding: "utf8",
    });
    if (warm.status !== 0) warnings.push(`the login bundle's code cache was not written: ${warm.stderr.trim().split("\n")[0]}`);
  }
  for (const check of checkCommandPath(launcher)) if (check.verdict === "fail") warnings.push(check.detail);
  const cache = cacheSettings(options.cacheDir, validated?.content);
  if (cache.enabled) warnings.push(...prepareCacheDir(cache.dir, options.runAs));
  return { launcher, warnings, sshdConfig: sshdConfigLines({ path: launcher, user: options.runAs, config: options.config }) };
}

/**
 * With an agent in the validated config, the launcher asks it before loading the bundle, for logins
 * that name this config file (as the printed sshd_config line does) while the file is unchanged.
 */
function agentFastPath(configPath: string | undefined, validated: string | undefined): string | undefined {
  if (!configPath || !validated) return undefined;
  const { config } = JSON.parse(validated) as { config: AuthkeysConfig };
  if (!config.agent) return undefined;
  return agentFastPathExpression({
    configPath,
    configStamp: configStamp(configPath),
    socket: config.agent.socket,
    timeoutMs: config.agent.timeoutMs,
    syslog: config.syslog ? { priority: FACILITY_CODE[config.syslog.facility] * 8 + 6, socket: config.syslog.socket } : undefined,
  });
}

const CACHE_ENV = "AUTHKEYS_CODE_CACHE";

function asciiOnly(file: string): boolean {
  return readFileSync(file).every((byte) => byte < 0x80);
}

/**
 * Where logins will cache keys: the validated config's cache.dir (its default included), since that is
 * what a login reads. --cache-dir only stands in when the config could not be validated; naming another
 * directory than the config would leave logins without the one install prepared, so it is refused.
 */
function cacheSettings(flag: string | undefined, validated: string | undefined): { enabled: boolean; dir: string } {
  if (!validated) return { enabled: true, dir: flag ?? DEFAULT_CACHE_DIR };
  const { cache } = (JSON.parse(validated) as { config: AuthkeysConfig }).config;
  if (flag !== undefined && flag !== cache.dir) {
    throw new UsageError(`--cache-dir ${flag} differs from cache.dir ${cache.dir} in the config, which logins use`, {
      hint: `set cache.dir: ${flag} in the config, or drop --cache-dir`,
    });
  }
  return cache;
}

const DEFAULT_CACHE_DIR = "/var/cache/opsguard/authkeys";

/**
 * The cache directory owned by the command user, mode 0700. Directories created above it are 0755: a
 * 0700 root-owned parent would keep the command user out, and every login would run without a cache.
 * Existing parents are left as they are, but one the command user cannot pass through is reported.
 */
function prepareCacheDir(dir: string, user: string): string[] {
  const uid = idOf(user, "-u");
  const gid = idOf(user, "-g");
  if (uid === undefined || gid === undefined) {
    return [`user ${user} does not exist: useradd --system --no-create-home --shell /usr/sbin/nologin ${user}, then re-run install`];
  }
  const existing = statSync(dir, { throwIfNoEntry: false });
  // A cache.dir naming a directory in use (/tmp, /var, a home) must not be handed to the command user.
  if (existing && existing.uid !== uid && (!existing.isDirectory() || readdirSync(dir).length > 0)) {
    return [
      `${dir} exists, is not empty and belongs to uid ${existing.uid}: not giving it to ${user}; set cache.dir to a directory of its own`,
    ];
  }
  mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  const warnings = statSync(dir).uid === uid ? [] : [`could not give ${dir} to ${user}`];
  for (let p = dirname(dir); ; p = dirname(p)) {
    if (!searchable(statSync(p), uid, gid)) {
      warnings.push(`${user} cannot reach ${dir}: ${p} is closed to it (chmod o+x ${p}), so logins run without a cache`);
    }
    if (p === dirname(p)) break;
  }
  return warnings;
}

function idOf(user: string, flag: "-u" | "-g"): number | undefined {
  const r = spawnSync("id", [flag, "--", user], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}
