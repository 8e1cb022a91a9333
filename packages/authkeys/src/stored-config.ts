import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ConfigText } from "@opsguard/core/config-file";
import type { AuthkeysConfig } from "./config";

/**
 * Validating the config costs a login more than its TLS handshake: evaluating zod, building the
 * schemas and the first parse take 9 ms or more. So `install` validates the config once and stores the
 * result next to the bundle, root-owned like it. A login whose config file has exactly those bytes,
 * run by exactly that build, takes the stored result and never loads zod. Other contents (edited
 * since install), another build's result, or a stored file others could write: validated as usual.
 * zod-free, so the login bundle (login.ts) can carry it.
 */
export const VALIDATED_CONFIG_FILE = "authkeys.validated-config.json";

declare const __OPSGUARD_BUILD_ID__: string | undefined;
/**
 * Set by scripts/build.mjs, the same in both bundles of one build (the login bundle reads what the full
 * one stored); undefined when running from source, which never stores a result.
 */
export const BUILD_ID = typeof __OPSGUARD_BUILD_ID__ === "string" ? __OPSGUARD_BUILD_ID__ : undefined;

export interface ValidatedConfig {
  build: string;
  sha256: string;
  config: AuthkeysConfig;
  /** sha256 of JSON.stringify(config): a stored result edited by hand is validated again, not trusted. */
  configSha256: string;
  /** The config file install validated (absent in files written before it was recorded): doctor names it. */
  path?: string;
}

export type StoredValidation =
  | { kind: "applies"; config: AuthkeysConfig }
  | { kind: "stale"; installedPath?: string | undefined }
  | { kind: "none" };

/** "stale": stored for other contents or by another build, or writable by others than root. */
export function storedValidation(found: ConfigText): StoredValidation {
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
    return stored.build === BUILD_ID &&
      stored.sha256 === sha256(found.text) &&
      stored.configSha256 === sha256(JSON.stringify(stored.config))
      ? { kind: "applies", config: stored.config }
      : { kind: "stale", installedPath: typeof stored.path === "string" ? stored.path : undefined };
  } catch {
    return { kind: "stale" };
  } finally {
    closeSync(fd);
  }
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * How authkeys finds its config: sshd runs it as the command user, so that user's home (~/.config) or
 * working directory must not supply one, and only a config root alone can change decides logins.
 */
export const CONFIG_FILE = { tool: "authkeys", places: "system", rootOwned: true } as const;
