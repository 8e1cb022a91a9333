import { readFileSync } from "node:fs";
import { inspect } from "node:util";
import { ConfigError } from "./errors";

const REDACTED = "[redacted]";
const knownSecrets = new Set<string>();

/**
 * A secret value that cannot leak by accident: string conversion, JSON and util.inspect all
 * print "[redacted]", and every resolved value is registered so the logger and the error printer
 * scrub it from any text that embeds it anyway.
 */
export class Secret {
  readonly #value: string;
  /** Where it came from ("file /etc/x", "env LDAP_PW"), safe to show. */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
    if (value.length >= 4) knownSecrets.add(value);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${this.source})`;
  }
}

/**
 * A secret reference as written in config:
 * - "env:NAME" reads environment variable NAME;
 * - "file:/path" or { file: "/path" } reads a file (trailing newline dropped);
 * - { env: "NAME" } likewise for the environment.
 * Literal secrets in config are refused: config files get copied, pasted and logged.
 */
export type SecretRef = string | { file: string } | { env: string };

export function resolveSecret(ref: SecretRef, keyPath: string, env: NodeJS.ProcessEnv = process.env): Secret {
  const spec = typeof ref === "string" ? parseRefString(ref, keyPath) : ref;
  if ("env" in spec) {
    const value = env[spec.env];
    if (value === undefined || value === "") {
      throw new ConfigError(`${keyPath}: environment variable ${spec.env} is not set`, {
        hint: `export ${spec.env} or point ${keyPath} at a file`,
      });
    }
    return new Secret(value, `env ${spec.env}`);
  }
  let text: string;
  try {
    text = readFileSync(spec.file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`${keyPath}: cannot read secret file ${spec.file} (${code})`, {
      hint: "check the path and that this user may read it",
    });
  }
  const value = text.replace(/\r?\n$/, "");
  if (value === "") throw new ConfigError(`${keyPath}: secret file ${spec.file} is empty`);
  return new Secret(value, `file ${spec.file}`);
}

function parseRefString(ref: string, keyPath: string): { file: string } | { env: string } {
  if (ref.startsWith("env:")) return { env: ref.slice(4) };
  if (ref.startsWith("file:")) return { file: ref.slice(5) };
  if (ref.startsWith("/")) return { file: ref };
  throw new ConfigError(`${keyPath}: expected "env:NAME", "file:/path" or an absolute path to a secret file`, {
    hint: "literal secrets are not accepted in config files",
  });
}

/**
 * A copy of plain data (objects, arrays, strings) with every registered secret redacted in every string: for a
 * report built from provider answers before any renderer escapes it (an escaped token no longer matches).
 */
export function redactSecretsDeep<T>(value: T): T {
  if (typeof value === "string") return redactSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactSecretsDeep(v)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecretsDeep(v)])) as T;
  }
  return value;
}

/** Replaces every registered secret value in text. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}
