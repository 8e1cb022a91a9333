import { parseConfigText, readConfigText } from "@opsguard/core/config-file";
import { ConfigError } from "@opsguard/core/errors";
import type { Logger } from "@opsguard/core/log";
import { escapeLine } from "@opsguard/core/text";

/** The config file's keys (README: Config keys). */
export interface Config {
  passwd?: string | undefined;
  group?: string | undefined;
  windowMs?: number | undefined;
}

const KEYS = new Set(["passwd", "group", "windowMs"]);

/**
 * The config file, when there is one, checked by hand rather than with zod as the other tools do: three keys
 * do not need a schema library, and zod's code alone, parsed at every start of the single-file bundle, was
 * 5 MB of peak RSS (the memory target is 64 MB). The messages read as core's validateConfig words zod's.
 */
export async function loadAuditdConfig(path: string | undefined, log: Logger): Promise<Config> {
  // run as root in any directory (an evidence tree, a user's home): a ./.auditd-parserc someone else could write
  // must not decide which names the output gives (T34 #5)
  const found = readConfigText({ tool: "auditd-parse", path, optional: true, searchedStrictAsRoot: true });
  if (found === undefined) return {};
  log.info(`config: ${escapeLine(found.filepath)}`);
  return validateAuditdConfig(await parseConfigText(found), found.filepath);
}

/** The config of a parsed file, or a ConfigError naming at most three problems (one line). */
export function validateAuditdConfig(raw: unknown, filepath: string): Config {
  const problems: string[] = [];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push(`(top level): expected object, received ${typeName(raw)}`);
  } else {
    const config = raw as Record<string, unknown>;
    for (const key of ["passwd", "group"] as const) {
      const value = config[key];
      if (value !== undefined && typeof value !== "string") problems.push(`${key}: expected string, received ${typeName(value)}`);
    }
    const windowMs = config.windowMs;
    if (windowMs !== undefined) {
      if (typeof windowMs !== "number") problems.push(`windowMs: expected number, received ${typeName(windowMs)}`);
      // YAML's .inf and .nan are numbers to JavaScript, not a window
      else if (!Number.isFinite(windowMs)) problems.push(`windowMs: expected a finite number, received ${windowMs}`);
      else if (!Number.isInteger(windowMs)) problems.push("windowMs: expected int, received number");
      else if (windowMs <= 0) problems.push("windowMs: Too small: expected number to be >0");
      else if (windowMs > 600_000) problems.push("windowMs: Too big: expected number to be <=600000");
    }
    const unknown = Object.keys(config).filter((key) => !KEYS.has(key));
    if (unknown.length > 0)
      problems.push(`(top level): unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => JSON.stringify(k)).join(", ")}`);
    // checked above: only the keys the file has, as zod's output has them
    if (problems.length === 0) return config as Config;
  }
  const more = problems.length > 3 ? `; and ${problems.length - 3} more` : "";
  throw new ConfigError(`invalid config in ${filepath}: ${problems.slice(0, 3).join("; ")}${more}`);
}

/** A value's type as the messages name it: null and array apart from object. */
function typeName(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}
