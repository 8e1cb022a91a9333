import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConfigText, parseConfigText, readConfigText } from "@opsguard/core/config-file";
import type { GeneratedFile } from "@opsguard/core/launcher";
import type { AuthkeysConfig } from "./config";

/**
 * Validating the config costs a login more than its TLS handshake: evaluating zod, building the
 * schemas and the first parse take 9 ms or more. So `install` validates the config once and stores the
 * result next to the bundle, root-owned like it. A login whose config file has exactly those bytes,
 * run by exactly that build, takes the stored result and never loads zod. Other contents (edited
 * since install), another build's result, or a stored file others could write: validated as usual.
 */
export const VALIDATED_CONFIG_FILE = "authkeys.validated-config.json";

declare const __OPSGUARD_BUILD_ID__: string | undefined;
/** Set by scripts/build.mjs in each bundle; undefined when running from source, which never stores a result. */
const BUILD_ID = typeof __OPSGUARD_BUILD_ID__ === "string" ? __OPSGUARD_BUILD_ID__ : undefined;

interface ValidatedConfig {
  build: string;
  sha256: string;
  config: AuthkeysConfig;
}

/** The config for a lookup: the stored validation result when it applies, else found, parsed and validated. */
export async function loadLoginConfig(path: string | undefined): Promise<AuthkeysConfig> {
  return (await loadLoginConfigText(path)).config;
}

/** loadLoginConfig, with the file and the exact text it was made from (the agent notices edits by them). */
export async function loadLoginConfigText(path: string | undefined): Promise<ConfigText & { config: AuthkeysConfig }> {
  const found = readConfigText({ tool: "authkeys", path });
  const stored = storedValidation(found);
  return { ...found, config: stored.kind === "applies" ? stored.config : await validate(found) };
}

/** For doctor: whether logins skip validating this config; "none" when nothing was stored (or running from source). */
export function storedValidationState(path: string | undefined): StoredValidation["kind"] {
  return storedValidation(readConfigText({ tool: "authkeys", path })).kind;
}

/**
 * What `install` stores: undefined when running from source or without a config file; an invalid config
 * throws its error. Readable by whom the config is (its mode and group): no more readers than the original.
 */
export async function validatedConfigFile(path: string | undefined): Promise<GeneratedFile | undefined> {
  if (BUILD_ID === undefined) return undefined;
  const found = readConfigText({ tool: "authkeys", path, optional: true });
  if (!found) return undefined;
  const stored: ValidatedConfig = { build: BUILD_ID, sha256: sha256(found.text), config: await validate(found) };
  const { mode, gid } = statSync(found.filepath);
  return { content: `${JSON.stringify(stored)}\n`, mode: mode & 0o644, gid };
}

async function validate(found: ConfigText): Promise<AuthkeysConfig> {
  const [{ authkeysConfigSchema }, { validateConfig }] = await Promise.all([import("./config"), import("@opsguard/core/config")]);
  return validateConfig(await parseConfigText(found), authkeysConfigSchema, found.filepath);
}

type StoredValidation = { kind: "applies"; config: AuthkeysConfig } | { kind: "stale" } | { kind: "none" };

/** "stale": stored for other contents or by another build, or writable by others than root. */
function storedValidation(found: ConfigText): StoredValidation {
  if (BUILD_ID === undefined) return { kind: "none" };
  let fd: number;
  try {
    fd = openSync(join(dirname(fileURLToPath(import.meta.url)), VALIDATED_CONFIG_FILE), "r");
  } catch {
    return { kind: "none" };
  }
  try {
    const info = fstatSync(fd);
    if (info.uid !== 0 || (info.mode & 0o022) !== 0) return { kind: "stale" };
    const stored = JSON.parse(readFileSync(fd, "utf8")) as ValidatedConfig;
    return stored.build === BUILD_ID && stored.sha256 === sha256(found.text)
      ? { kind: "applies", config: stored.config }
      : { kind: "stale" };
  } catch {
    return { kind: "stale" };
  } finally {
    closeSync(fd);
  }
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
