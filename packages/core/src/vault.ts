import { ConfigError, OpsguardError } from "./errors";
import { ExitCode } from "./exit";
import { HttpClient, HttpError } from "./http";
import { Secret } from "./secret";
import { LOOPBACK_ONLY, sendsInClear } from "./url";

/**
 * `vault:<mount>/<path>#<key>` secret references: read from HashiCorp Vault's KV version 2 engine
 * when the config is loaded (secrets are resolved synchronously later, so they are fetched first,
 * once per path), with the Vault CLI's environment: VAULT_ADDR, and VAULT_TOKEN or an AppRole
 * (VAULT_ROLE_ID + VAULT_SECRET_ID; VAULT_APPROLE_MOUNT, default "approle"); VAULT_NAMESPACE for
 * Vault Enterprise. TLS is verified (NODE_EXTRA_CA_CERTS adds a private CA).
 */

export const VAULT_REF = /^vault:([^/#\s]+)\/([^#\s]+)#([^#\s]+)$/;

const fetched = new Map<string, Secret>();

/** The secret a vault: reference named, once fetchVaultSecrets has read it. */
export function vaultSecret(ref: string, keyPath: string): Secret {
  const secret = fetched.get(ref);
  if (!secret) {
    throw new ConfigError(`${keyPath}: ${ref} was not read from Vault`, { hint: "vault: references are read when the config is loaded" });
  }
  return secret;
}

/** Every `vault:` reference in a config, with the key path that holds it. */
export function findVaultRefs(value: unknown, at = ""): Array<{ ref: string; keyPath: string }> {
  if (typeof value === "string") return value.startsWith("vault:") ? [{ ref: value, keyPath: at }] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => findVaultRefs(v, `${at}[${i}]`));
  if (value && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => findVaultRefs(v, at ? `${at}.${k}` : k));
  }
  return [];
}

export interface VaultOptions {
  env?: NodeJS.ProcessEnv;
  /** Per request; default 5 s. */
  timeoutMs?: number;
  retries?: number;
}

/**
 * Reads every `vault:` reference in `config` from Vault: one login (AppRole) at most and one read
 * per secret path. Does nothing when there is none.
 */
export async function fetchVaultSecrets(config: unknown, options: VaultOptions = {}): Promise<void> {
  const refs = findVaultRefs(config).filter((r) => !fetched.has(r.ref));
  if (refs.length === 0) return;
  const env = options.env ?? process.env;
  const parsed = refs.map(({ ref, keyPath }) => {
    const match = VAULT_REF.exec(ref);
    if (!match) {
      throw new ConfigError(`${keyPath}: "${ref}" is not a Vault reference`, {
        hint: 'write it as "vault:<mount>/<path>#<key>", e.g. vault:secret/opsguard/slack#token',
      });
    }
    const [, mount = "", path = "", key = ""] = match;
    return { ref, keyPath, mount, path, key };
  });
  const addr = env.VAULT_ADDR;
  if (!addr) {
    throw new ConfigError(`${parsed[0]?.keyPath}: ${parsed[0]?.ref} needs VAULT_ADDR`, {
      hint: ADDR_HINT,
    });
  }
  const http = new HttpClient({
    service: "Vault",
    baseUrl: `${vaultAddress(addr)}/v1/`,
    timeoutMs: options.timeoutMs ?? 5_000,
    retries: options.retries ?? 2,
    ...(env.VAULT_NAMESPACE ? { headers: { "x-vault-namespace": env.VAULT_NAMESPACE } } : {}),
  });
  const token = await vaultToken(http, env);
  const byPath = new Map<string, Promise<Record<string, unknown>>>();
  for (const r of parsed) {
    const full = `${r.mount}/${r.path}`;
    if (!byPath.has(full)) byPath.set(full, readKv2(http, token, r.mount, r.path, r.keyPath));
    const data = await byPath.get(full);
    const value = data?.[r.key];
    if (typeof value !== "string" || value === "") {
      throw new ConfigError(`${r.keyPath}: Vault secret ${full} has no ${typeof value === "undefined" ? "" : "text "}key "${r.key}"`, {
        hint: `its keys: ${Object.keys(data ?? {}).join(", ") || "none"}`,
      });
    }
    fetched.set(r.ref, new Secret(value, `vault ${full}#${r.key}`));
  }
}

const ADDR_HINT = "export VAULT_ADDR=https://vault.example:8200";

/**
 * VAULT_ADDR checked before anything is sent to it: the Vault token (or the AppRole secret id) goes with every
 * request and the answers are secrets, so plain http only to this host, as for every API baseUrl. The Vault CLI reads
 * VAULT_ADDR as "Address of the Vault server. The default is https://127.0.0.1:8200" (`vault -address`); fetch speaks
 * only http(s), so any other scheme is a mistake, not an outage.
 * Errors name the origin only: a URL's user:password@ would be printed.
 */
function vaultAddress(addr: string): string {
  if (!URL.canParse(addr)) throw new ConfigError("VAULT_ADDR is not a URL", { hint: ADDR_HINT });
  const url = new URL(addr);
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`VAULT_ADDR: ${url.protocol}// is not a way to reach Vault (expected https://)`, { hint: ADDR_HINT });
  }
  if (sendsInClear(url)) {
    throw new ConfigError(
      `VAULT_ADDR ${url.origin} is plain http to another host: the Vault token and the secrets read would cross the network in clear`,
      {
        hint: `use https://, plain http:// only to ${LOOPBACK_ONLY}`,
      },
    );
  }
  return addr.replace(/\/+$/, "");
}

/** VAULT_TOKEN, or a token from an AppRole login. */
async function vaultToken(http: HttpClient, env: NodeJS.ProcessEnv): Promise<Secret> {
  if (env.VAULT_TOKEN) return new Secret(env.VAULT_TOKEN, "env VAULT_TOKEN");
  const roleId = env.VAULT_ROLE_ID;
  const secretId = env.VAULT_SECRET_ID;
  if (!roleId || !secretId) {
    throw new ConfigError("vault: references need a Vault token", {
      hint: "export VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID for an AppRole login",
    });
  }
  // Registered so that no error or log line can show it.
  new Secret(secretId, "env VAULT_SECRET_ID");
  const mount = env.VAULT_APPROLE_MOUNT || "approle";
  try {
    const { body } = await http.request<{ auth?: { client_token?: unknown } }>({
      method: "POST",
      url: `auth/${encodeURIComponent(mount)}/login`,
      body: { role_id: roleId, secret_id: secretId },
      retryUnsafe: true,
    });
    const token = body.auth?.client_token;
    if (typeof token !== "string" || token === "")
      throw new OpsguardError("Vault AppRole login answered without a token", ExitCode.UNAVAILABLE);
    return new Secret(token, "Vault AppRole login");
  } catch (error) {
    throw vaultError(error, `AppRole login (auth/${mount})`, "check VAULT_ROLE_ID and VAULT_SECRET_ID");
  }
}

async function readKv2(http: HttpClient, token: Secret, mount: string, path: string, keyPath: string): Promise<Record<string, unknown>> {
  const url = `${encodeURIComponent(mount)}/data/${path.split("/").map(encodeURIComponent).join("/")}`;
  try {
    const { body } = await http.request<{ data?: { data?: Record<string, unknown> | null } }>({
      url,
      headers: { "x-vault-token": token.reveal() },
    });
    const data = body.data?.data;
    if (!data || typeof data !== "object") throw new ConfigError(`${keyPath}: Vault answered no data for ${mount}/${path}`);
    return data;
  } catch (error) {
    if (error instanceof HttpError && error.status === 404) {
      throw new ConfigError(`${keyPath}: no Vault secret at ${mount}/${path} (or its latest version is deleted)`, {
        hint: `check the path: vault kv get ${mount}/${path}`,
      });
    }
    throw vaultError(error, `reading ${mount}/${path} for ${keyPath}`, "check the token's policy allows read on this path");
  }
}

/** Vault's `{"errors": [...]}` as one line; a refusal is a permission error. */
function vaultError(error: unknown, what: string, hint: string): unknown {
  if (!(error instanceof HttpError)) return error;
  // No answer at all (refused, DNS, TLS, timeout): Vault refused nothing, and its policies are not the place to look.
  if (error.status === undefined) {
    return new OpsguardError(`${error.message} while ${what}`, error.exitCode, {
      hint: "check VAULT_ADDR and the network",
      cause: error,
    });
  }
  const detail = (error.body as { errors?: unknown } | undefined)?.errors;
  const text = Array.isArray(detail) && detail.length > 0 ? detail.join("; ") : `HTTP ${error.status}`;
  const code = error.status === 400 || error.status === 403 ? ExitCode.NO_PERM : error.exitCode;
  return new OpsguardError(`Vault refused ${what}: ${text}`, code, { hint, cause: error });
}
