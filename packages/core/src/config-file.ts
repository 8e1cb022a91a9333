import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { YAMLError } from "yaml";
import { ConfigError } from "./errors";
import { decodeUtf8 } from "./text";

/**
 * Finding and reading a tool's config file, without validating it: zod-free, so a hot path can
 * check a file against a validated copy before it loads any schema.
 */

/** AUTHKEYS for authkeys, SOCK_CHECK for sock-check: the prefix of a tool's environment variables. */
export function envPrefix(tool: string): string {
  return tool.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

export interface ConfigFileOptions {
  tool: string;
  /** --config FILE; wins over every other place. */
  path?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** When false (the default) a missing config file is an error naming where it looked. */
  optional?: boolean;
}

export interface ConfigText {
  filepath: string;
  /** The file's text, without a byte-order mark. */
  text: string;
}

/** Where a tool's config is looked for, in order, after --config and $<TOOL>_CONFIG. */
export function configSearchPaths(tool: string, cwd: string = process.cwd()): string[] {
  const home = homedir();
  return [
    ...[`.${tool}rc`, `.${tool}rc.json`, `.${tool}rc.yaml`, `.${tool}rc.yml`].map((f) => join(cwd, f)),
    ...(home ? [`${tool}.json`, `${tool}.yaml`, `${tool}.yml`].map((f) => join(home, ".config/opsguard", f)) : []),
    ...[`${tool}.json`, `${tool}.yaml`, `${tool}.yml`].map((f) => join("/etc/opsguard", f)),
  ];
}

/** The config file's text: --config, then $<TOOL>_CONFIG, then the search paths; undefined when optional and none exists. */
export function readConfigText(options: ConfigFileOptions & { optional?: false }): ConfigText;
export function readConfigText(options: ConfigFileOptions): ConfigText | undefined;
export function readConfigText(options: ConfigFileOptions): ConfigText | undefined {
  const env = options.env ?? process.env;
  const envName = `${envPrefix(options.tool)}_CONFIG`;
  const explicit = options.path ?? (env[envName] || undefined);
  let filepath: string | undefined;
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new ConfigError(`config file ${explicit} does not exist`, {
        hint: options.path ? "check --config" : `check $${envName}`,
      });
    }
    filepath = explicit;
  } else {
    filepath = configSearchPaths(options.tool, options.cwd).find((p) => existsSync(p));
  }
  if (!filepath) {
    if (options.optional) return undefined;
    throw new ConfigError(`no config file found for ${options.tool}`, {
      hint: `pass --config FILE, set $${envName}, or create /etc/opsguard/${options.tool}.yaml`,
    });
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(filepath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`cannot read config file ${filepath} (${code})`, { hint: "check that this user may read it" });
  }
  return { filepath, text: decodeUtf8(bytes, `config file ${filepath}`).replace(/^\uFEFF/, "") };
}

/**
 * Parses a config file: JSON for *.json, YAML otherwise (rc files without an extension too).
 * The config loader is deliberately tiny: a loader that can also read JS/TS config drags a
 * TypeScript compiler into every bundled bin, and sshd starts authkeys on every login. The YAML
 * parser is loaded only for a YAML file, so a JSON config does not pay for evaluating it.
 */
export async function parseConfigText({ filepath, text }: ConfigText): Promise<unknown> {
  const yaml = filepath.endsWith(".json") ? undefined : await import("yaml");
  try {
    const raw: unknown = yaml ? yaml.parse(text) : JSON.parse(text);
    return raw ?? {};
  } catch (error) {
    throw new ConfigError(`cannot parse config file ${filepath}: ${parseProblem(error, text, yaml?.YAMLError)}`, {
      hint: "fix the JSON/YAML syntax",
    });
  }
}

/**
 * The parser's diagnosis and its place in the file, on one line. Never the offending text:
 * the broken line may hold a secret.
 */
function parseProblem(error: unknown, text: string, yamlError: typeof YAMLError | undefined): string {
  if (yamlError && error instanceof yamlError) {
    const at = error.linePos?.[0];
    const what =
      error.message
        .split("\n")[0]
        ?.replace(/ at line \d+, column \d+:?$/, "")
        .replace(/:$/, "") ?? "syntax error";
    return at ? `${what} at line ${at.line}, column ${at.col}` : what;
  }
  const message = (error instanceof Error ? error.message : String(error)).replace(/,? ".*" is not valid JSON$/s, "");
  const cleaned = (message.split("\n")[0] ?? "syntax error").replace(/^Unexpected token '.*?'/, "Unexpected character");
  const position = /at position (\d+)/.exec(cleaned);
  if (!position) return cleaned;
  const before = text.slice(0, Number(position[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return cleaned.replace(/at position \d+/, `at line ${line}, column ${column}`);
}
