import { statSync } from "node:fs";
import { resolve } from "node:path";
import { type ConfigText, parseConfigText, readConfigText } from "@opsguard/core/config-file";
import type { GeneratedFile } from "@opsguard/core/launcher";
import type { AuthkeysConfig } from "./config";
import { BUILD_ID, CONFIG_FILE, type StoredValidation, sha256, storedValidation, type ValidatedConfig } from "./stored-config";

export { VALIDATED_CONFIG_FILE } from "./stored-config";

/** The config for a lookup: the stored validation result when it applies, else found, parsed and validated. */
export async function loadLoginConfig(path: string | undefined): Promise<AuthkeysConfig> {
  return (await loadLoginConfigText(path)).config;
}

/** loadLoginConfig, with the file and the exact text it was made from (the agent notices edits by them). */
export async function loadLoginConfigText(path: string | undefined): Promise<ConfigText & { config: AuthkeysConfig }> {
  const found = readConfigText({ ...CONFIG_FILE, path });
  const stored = storedValidation(found);
  return { ...found, config: stored.kind === "applies" ? stored.config : await validate(found) };
}

/** For doctor: whether logins skip validating this config; "none" when nothing was stored (or running from source). */
export function storedValidationState(path: string | undefined): StoredValidation {
  return storedValidation(readConfigText({ ...CONFIG_FILE, path }));
}

/**
 * What `install` stores: undefined when running from source or without a config file; an invalid config
 * throws its error. Readable by whom the config is (its mode and group): no more readers than the original.
 */
export async function validatedConfigFile(path: string | undefined): Promise<GeneratedFile | undefined> {
  if (BUILD_ID === undefined) return undefined;
  const found = readConfigText({ ...CONFIG_FILE, path, optional: true });
  if (!found) return undefined;
  const config = await validate(found);
  const stored: ValidatedConfig = {
    build: BUILD_ID,
    sha256: sha256(found.text),
    config,
    configSha256: sha256(JSON.stringify(config)),
    path: resolve(found.filepath),
  };
  const { mode, gid } = statSync(found.filepath);
  return { content: `${JSON.stringify(stored)}\n`, mode: mode & 0o644, gid };
}

async function validate(found: ConfigText): Promise<AuthkeysConfig> {
  const [{ authkeysConfigSchema }, { validateConfig }] = await Promise.all([import("./config"), import("@opsguard/core/config")]);
  return validateConfig(await parseConfigText(found), authkeysConfigSchema, found.filepath);
}
