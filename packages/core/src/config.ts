import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { YAMLError } from "yaml";
import { z } from "zod";
import { ConfigError } from "./errors";

/** AUTHKEYS for authkeys, SOCK_CHECK for sock-check: the prefix of a tool's environment variables. */
export function envPrefix(tool: string): string {
  return tool.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** A secret reference in config; see resolveSecret. Literal secrets are refused. */
export const secretRefSchema = z.union([
  z.string().regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+|\/.+)$/, {
    message: 'expected "env:NAME", "file:/path" or an absolute path to a file holding the secret (literal secrets are not accepted)',
  }),
  z.strictObject({ file: z.string().startsWith("/", { message: "expected an absolute path" }) }),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "expected an environment variable name" }) }),
]);

export interface LoadConfigOptions<S extends z.ZodType> {
  tool: string;
  schema: S;
  /** --config FILE; wins over every other place. */
  path?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** When false (the default) a missing config file is an error naming where it looked. */
  optional?: boolean;
}

export interface LoadedConfig<T> {
  config: T;
  /** The file the config came from; undefined when optional and none was found. */
  filepath: string | undefined;
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

/**
 * Finds, parses and validates a tool's config. Only JSON and YAML are read: a config file in the
 * working directory must never be able to run code in a tool that may run as root.
 */
export async function loadConfig<S extends z.ZodType>(options: LoadConfigOptions<S>): Promise<LoadedConfig<z.output<S>>> {
  const env = options.env ?? process.env;
  const envName = `${envPrefix(options.tool)}_CONFIG`;
  const explicit = options.path ?? (env[envName] || undefined);
  let filepath: string | undefined;
  let raw: unknown;
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
  if (filepath) {
    raw = await readConfigFile(filepath);
  } else if (!options.optional) {
    throw new ConfigError(`no config file found for ${options.tool}`, {
      hint: `pass --config FILE, set $${envName}, or create /etc/opsguard/${options.tool}.yaml`,
    });
  } else {
    raw = {};
  }

  const parsed = options.schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid config${filepath ? ` in ${filepath}` : ""}: ${formatIssues(parsed.error)}`);
  }
  return { config: parsed.data, filepath };
}

/** "ldap.urls[1]: expected ..."; at most three issues, so the error stays one line. */
export function formatIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => `${keyPath(issue.path) || "(top level)"}: ${describeIssue(issue)}`);
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : "";
  return shown.join("; ") + more;
}

export function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    "",
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys")
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  // Zod keeps the input out of issues unless asked, so a missing key is told by its message.
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) return `required ${issue.expected} is missing`;
  // Zod 4 messages never echo the input value, so a mistyped secret cannot end up in the error.
  return issue.message.replace(/^Invalid input: /, "");
}

/**
 * Parses a config file: JSON for *.json, YAML otherwise (rc files without an extension too).
 * The config loader is deliberately tiny: a loader that can also read JS/TS config drags a
 * TypeScript compiler into every bundled bin, and sshd starts authkeys on every login. The YAML
 * parser is loaded only for a YAML file, so a JSON config does not pay for evaluating it.
 */
async function readConfigFile(filepath: string): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(filepath, "utf8").replace(/^\uFEFF/, "");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`cannot read config file ${filepath} (${code})`, { hint: "check that this user may read it" });
  }
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
