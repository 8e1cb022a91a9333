import { parseConfigText, readConfigText } from "@opsguard/core/config-file";
import type { z } from "zod";
import type { configSchema } from "./config-schema";

export type Config = z.output<typeof configSchema>;

/**
 * The config file, when there is one: zod (most of the bundle's start-up) is loaded only to validate a
 * file that exists, so the usual run with no config never evaluates it.
 */
export async function loadAuditdConfig(path: string | undefined): Promise<Config> {
  const found = readConfigText({ tool: "auditd-parse", path, optional: true });
  if (found === undefined) return {};
  const [{ configSchema }, { validateConfig }] = await Promise.all([import("./config-schema"), import("@opsguard/core/config")]);
  return validateConfig(await parseConfigText(found), configSchema, found.filepath);
}
