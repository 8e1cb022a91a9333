import { z } from "zod";
import { type ConfigFileOptions, parseConfigText, readConfigText } from "./config-file";
import { ConfigError } from "./errors";
import { formatIssues } from "./issues";
import { hasUserinfo, LOOPBACK_ONLY, sendsInClear } from "./url";
import { fetchVaultSecrets } from "./vault";

/** A secret reference in config; see resolveSecret. Literal secrets are refused. */
export const secretRefSchema = z.union([
  z.string().regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\/.+|\/.+|credential:[A-Za-z0-9_.-]+|vault:[^/#\s]+\/[^#\s]+#[^#\s]+)$/, {
    message:
      'expected "env:NAME", "file:/path", "credential:NAME", "vault:mount/path#key" or an absolute path to a file holding the secret (literal secrets are not accepted)',
  }),
  z.strictObject({ file: z.string().startsWith("/", { message: "expected an absolute path" }) }),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: "expected an environment variable name" }) }),
]);

/**
 * An API's base URL in config: http(s); no user:password@ (an error quotes the URL: the token goes under its own
 * secret key); no query or fragment (the API's paths are added after it, and went into the query); plain http only
 * to this host, since the token would cross the network in clear.
 */
export const apiUrlSchema = z
  .url({ protocol: /^https?$/, message: "expected an http(s) URL" })
  .refine((url) => !hasUserinfo(url), { message: "must not hold a user name or password: give the token as a secret" })
  .refine((url) => !/[?#]/.test(url), { message: "must not hold a query (?…) or fragment (#…): the API's paths are added after it" })
  .refine((url) => !URL.canParse(url) || !sendsInClear(new URL(url)), {
    message: `plain http:// would send the token in clear: use https:// (http:// only to ${LOOPBACK_ONLY})`,
  });

export interface LoadConfigOptions<S extends z.ZodType> extends ConfigFileOptions {
  schema: S;
}

export interface LoadedConfig<T> {
  config: T;
  /** The file the config came from; undefined when optional and none was found. */
  filepath: string | undefined;
}

/**
 * Finds, parses and validates a tool's config. Only JSON and YAML are read: a config file in the
 * working directory must never be able to run code in a tool that may run as root.
 */
export async function loadConfig<S extends z.ZodType>(options: LoadConfigOptions<S>): Promise<LoadedConfig<z.output<S>>> {
  const found = readConfigText(options);
  const raw = found ? await parseConfigText(found) : {};
  const config = validateConfig(raw, options.schema, found?.filepath);
  // vault: references are read now, so that resolving secrets later stays synchronous.
  await fetchVaultSecrets(config, options.env ? { env: options.env } : {});
  return { config, filepath: found?.filepath };
}

/** The schema's output for a parsed config, or a ConfigError naming at most three problems. */
export function validateConfig<S extends z.ZodType>(raw: unknown, schema: S, filepath: string | undefined): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid config${filepath ? ` in ${filepath}` : ""}: ${formatIssues(parsed.error)}`);
  }
  return parsed.data;
}
