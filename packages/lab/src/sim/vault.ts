import { randomUUID } from "node:crypto";
import { type SimRequest, type SimResponse, SimServer } from "./server";

/**
 * A HashiCorp Vault simulator: KV version 2 reads and AppRole login, as Vault's HTTP API docs
 * describe them (no machine-readable contract is published beside the others, so each answer cites
 * its page):
 * - every call under /v1/, the token in `X-Vault-Token` (https://developer.hashicorp.com/vault/api-docs#authentication);
 * - errors are `{"errors": [...]}` with the HTTP status saying what kind: 400 invalid request, 403
 *   forbidden (a missing or bad token, or a policy that does not allow the path), 404 not found
 *   (https://developer.hashicorp.com/vault/api-docs#error-response, #http-status-codes);
 * - `GET /v1/<mount>/data/<path>` answers `{request_id, lease_id: "", renewable: false,
 *   lease_duration: 0, data: {data, metadata}, wrap_info: null, warnings: null, auth: null}`
 *   (https://developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2#read-secret-version); a deleted
 *   latest version is a 404 whose data holds the metadata with its deletion_time and data null;
 * - `POST /v1/auth/approle/login` with `{role_id, secret_id}` answers the token in `auth.client_token`
 *   (https://developer.hashicorp.com/vault/api-docs/auth/approle#login-with-approle); a wrong pair is 400.
 */
export class VaultSim extends SimServer {
  /** The root token: reads everything. */
  readonly token: string;
  readonly roleId: string;
  readonly secretId: string;
  readonly #secrets = new Map<string, { data: Record<string, unknown> | null; version: number; created: string; deleted: string }>();
  /** token → the secret paths ("mount/path") it may read; undefined: all. */
  readonly #tokens = new Map<string, string[] | undefined>();

  constructor(options: { token?: string; roleId?: string; secretId?: string; approlePaths?: string[] } = {}) {
    super("Vault");
    this.token = options.token ?? "hvs.lab-root-token-0000000000";
    this.roleId = options.roleId ?? "00000000-lab0-4000-8000-0000r0le1d00";
    this.secretId = options.secretId ?? "00000000-lab0-4000-8000-5ecret1d0000";
    this.#tokens.set(this.token, undefined);
    this.#approlePaths = options.approlePaths;
    this.route("POST", "/v1/auth/approle/login", (req) => this.#login(req));
    this.route("GET", "/v1/:mount/data/*path", (req) => this.#read(req));
  }

  readonly #approlePaths: string[] | undefined;

  /** Writes a new version of the secret at "mount/path" (as `vault kv put mount/path k=v` would). */
  put(path: string, data: Record<string, unknown>): this {
    const previous = this.#secrets.get(path);
    this.#secrets.set(path, { data: { ...data }, version: (previous?.version ?? 0) + 1, created: new Date().toISOString(), deleted: "" });
    return this;
  }

  /** Soft-deletes the latest version (`vault kv delete`): reads answer 404 with the metadata. */
  delete(path: string): this {
    const secret = this.#secrets.get(path);
    if (secret) this.#secrets.set(path, { ...secret, data: null, deleted: new Date().toISOString() });
    return this;
  }

  /** A token that may read only these "mount/path" secrets. */
  addToken(token: string, paths: string[]): this {
    this.#tokens.set(token, paths);
    return this;
  }

  #login(req: SimRequest): SimResponse {
    const body = (req.body ?? {}) as { role_id?: unknown; secret_id?: unknown };
    if (body.role_id !== this.roleId) return errors(400, "invalid role ID");
    if (body.secret_id !== this.secretId) return errors(400, "invalid secret id");
    const token = `hvs.approle-${randomUUID()}`;
    this.#tokens.set(token, this.#approlePaths);
    return {
      body: {
        ...envelope(),
        data: null,
        auth: {
          client_token: token,
          accessor: randomUUID(),
          policies: ["default", "opsguard"],
          token_policies: ["default", "opsguard"],
          metadata: { role_name: "opsguard" },
          lease_duration: 3600,
          renewable: true,
          entity_id: randomUUID(),
          token_type: "service",
          orphan: true,
          mfa_requirement: null,
          num_uses: 0,
        },
      },
    };
  }

  #read(req: SimRequest): SimResponse {
    const given = req.headers["x-vault-token"];
    const token = typeof given === "string" ? given : "";
    if (!this.#tokens.has(token)) return errors(403, "permission denied");
    const path = `${req.params.mount}/${req.params.path}`;
    const allowed = this.#tokens.get(token);
    if (allowed && !allowed.includes(path)) return errors(403, "permission denied");
    const secret = this.#secrets.get(path);
    if (!secret) return errors(404);
    const metadata = {
      created_time: secret.created,
      custom_metadata: null,
      deletion_time: secret.deleted,
      destroyed: false,
      version: secret.version,
    };
    return { status: secret.data ? 200 : 404, body: { ...envelope(), data: { data: secret.data, metadata }, auth: null } };
  }
}

function envelope() {
  return { request_id: randomUUID(), lease_id: "", renewable: false, lease_duration: 0, wrap_info: null, warnings: null };
}

function errors(status: number, ...messages: string[]): SimResponse {
  return { status, body: { errors: messages } };
}
