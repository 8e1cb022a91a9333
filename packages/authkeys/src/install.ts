import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describeError, PermissionError, UsageError } from "@opsguard/core/errors";
import { installWithLauncher } from "@opsguard/core/launcher";
import { agentFastPathExpression, configStamp } from "./agent-fast-path";
import type { AuthkeysConfig } from "./config";
import { checkCommandPath } from "./doctor";
import { VALIDATED_CONFIG_FILE, validatedConfigFile } from "./login-config";
import { sshdConfigLines } from "./sshd-config";

export interface InstallOptions {
  prefix: string;
  runAs: string;
  cacheDir: string;
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
export async function installAuthkeys(options: InstallOptions): Promise<InstallReport> {
  if (process.getuid?.() !== 0) throw new PermissionError("install must run as root", { hint: "sudo authkeys install" });
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
  const { launcher } = installWithLauncher({
    bundle,
    prefix: options.prefix,
    name: "authkeys",
    cacheEnv: "AUTHKEYS_CODE_CACHE",
    warmArgs: [...configArgs, "warm-up"],
    nodeFlag: "--use-openssl-ca",
    generatedFiles: validated ? { [VALIDATED_CONFIG_FILE]: validated } : {},
    ...agentFastPath(options.config, validated?.content),
  });
  for (const check of checkCommandPath(launcher)) if (check.verdict === "fail") warnings.push(check.detail);
  warnings.push(...prepareCacheDir(options.cacheDir, options.runAs));
  return { launcher, warnings, sshdConfig: sshdConfigLines({ path: launcher, user: options.runAs, config: options.config }) };
}

/**
 * With an agent in the validated config, the launcher asks it before loading the bundle, for logins
 * that name this config file (as the printed sshd_config line does) while the file is unchanged.
 */
function agentFastPath(configPath: string | undefined, validated: string | undefined): { fastPath?: string } {
  if (!configPath || !validated) return {};
  const { config } = JSON.parse(validated) as { config: AuthkeysConfig };
  if (!config.agent) return {};
  return {
    fastPath: agentFastPathExpression({
      configPath,
      configStamp: configStamp(configPath),
      socket: config.agent.socket,
      timeoutMs: config.agent.timeoutMs,
      facility: config.syslog ? config.syslog.facility : undefined,
    }),
  };
}

function prepareCacheDir(dir: string, user: string): string[] {
  const uid = idOf(user, "-u");
  const gid = idOf(user, "-g");
  if (uid === undefined || gid === undefined) {
    return [`user ${user} does not exist: useradd --system --no-create-home --shell /usr/sbin/nologin ${user}, then re-run install`];
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return statSync(dir).uid === uid ? [] : [`could not give ${dir} to ${user}`];
}

function idOf(user: string, flag: "-u" | "-g"): number | undefined {
  const r = spawnSync("id", [flag, "--", user], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}
