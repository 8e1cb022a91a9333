import { describeError, exitCodeOf, fetchVaultSecrets, redactSecrets, resolveSecret } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultSim } from "../src/index";

/** The Vault simulator as Vault's API docs describe it, and core's vault: references read through it. */

const vault = new VaultSim({ approlePaths: ["secret/opsguard/slack"] });

async function call(method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${vault.url}${path}`, {
    method,
    headers: { ...(token ? { "x-vault-token": token } : {}), ...(body ? { "content-type": "application/json" } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  vault
    .put("secret/opsguard/slack", { token: "xoxb-from-vault-1234", note: "rotated monthly", signing: "sign-from-vault-4321" })
    .put("secret/opsguard/pagerduty", { token: "pd-from-vault-5678" })
    .put("kv/old", { token: "gone-9999" })
    .delete("kv/old");
  await vault.start();
});
afterAll(() => vault.stop());

describe("Vault simulator", () => {
  it("reads a KV v2 secret with its metadata, in Vault's response envelope", async () => {
    const r = await call("GET", "/v1/secret/data/opsguard/slack", vault.token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      lease_id: "",
      renewable: false,
      lease_duration: 0,
      wrap_info: null,
      warnings: null,
      auth: null,
      data: { data: { token: "xoxb-from-vault-1234" }, metadata: { version: 1, deletion_time: "", destroyed: false } },
    });
    expect(r.body.request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers errors as {errors: [...]}: 403 without a token or outside the policy, 404 missing or deleted", async () => {
    expect(await call("GET", "/v1/secret/data/opsguard/slack")).toEqual({ status: 403, body: { errors: ["permission denied"] } });
    expect(await call("GET", "/v1/secret/data/nope", vault.token)).toEqual({ status: 404, body: { errors: [] } });
    const deleted = await call("GET", "/v1/kv/data/old", vault.token);
    expect(deleted.status).toBe(404);
    expect(deleted.body.data).toMatchObject({ data: null, metadata: { deletion_time: expect.any(String) } });
    const login = await call("POST", "/v1/auth/approle/login", undefined, { role_id: vault.roleId, secret_id: vault.secretId });
    const token = (login.body.auth as { client_token: string }).client_token;
    expect(login.body).toMatchObject({ data: null, auth: { token_type: "service", renewable: true, lease_duration: 3600 } });
    expect((await call("GET", "/v1/secret/data/opsguard/pagerduty", token)).status).toBe(403);
    expect(await call("POST", "/v1/auth/approle/login", undefined, { role_id: vault.roleId, secret_id: "wrong" })).toEqual({
      status: 400,
      body: { errors: ["invalid secret id"] },
    });
  });
});

describe("vault: secret references (core)", () => {
  const env = () => ({ VAULT_ADDR: vault.url, VAULT_TOKEN: vault.token });
  const config = (ref: string) => ({ slack: { token: ref } });
  const failure = (ref: string, e: NodeJS.ProcessEnv) =>
    fetchVaultSecrets(config(ref), { env: e, retries: 0 }).catch((error: unknown) => error);

  it("reads a reference with a token, once per path, and resolves it like any secret", async () => {
    const before = vault.requests.length;
    await fetchVaultSecrets({ a: "vault:secret/opsguard/slack#token", b: ["vault:secret/opsguard/slack#note"] }, { env: env() });
    expect(vault.requests.length - before).toBe(1);
    const secret = resolveSecret("vault:secret/opsguard/slack#token", "slack.token");
    expect(secret.reveal()).toBe("xoxb-from-vault-1234");
    expect(String(secret)).toBe("[redacted]");
    expect(secret.source).toBe("vault secret/opsguard/slack#token");
    expect(redactSecrets("token xoxb-from-vault-1234 leaked")).toBe("token [redacted] leaked");
  });

  it("logs in with an AppRole when there is no token", async () => {
    const e = { VAULT_ADDR: vault.url, VAULT_ROLE_ID: vault.roleId, VAULT_SECRET_ID: vault.secretId };
    await fetchVaultSecrets(config("vault:secret/opsguard/slack#signing"), { env: e });
    expect(resolveSecret("vault:secret/opsguard/slack#signing", "k").reveal()).toBe("sign-from-vault-4321");
    const login = vault.requests.filter((r) => r.path === "/v1/auth/approle/login").at(-1);
    expect(login?.body).toEqual({ role_id: vault.roleId, secret_id: vault.secretId });
    const token = (login?.response as { auth?: { client_token?: string } } | undefined)?.auth?.client_token;
    expect(token).toMatch(/^hvs\./);
    expect(vault.requests.at(-1)?.headers["x-vault-token"]).toBe(token);
  });

  it("says what is wrong in one line, with the fix, and never shows a secret", async () => {
    const missingKey = await failure("vault:secret/opsguard/slack#password", env());
    expect(describeError(missingKey)).toBe(
      'slack.token: Vault secret secret/opsguard/slack has no key "password" (its keys: token, note, signing)',
    );
    expect(exitCodeOf(missingKey)).toBe(78);
    expect(describeError(await failure("vault:secret/nope#token", env()))).toBe(
      "slack.token: no Vault secret at secret/nope (or its latest version is deleted) (check the path: vault kv get secret/nope)",
    );
    expect(describeError(await failure("vault:kv/old#token", env()))).toMatch(
      /no Vault secret at kv\/old \(or its latest version is deleted\)/,
    );
    const denied = await failure("vault:secret/opsguard/pagerduty#token", {
      VAULT_ADDR: vault.url,
      VAULT_ROLE_ID: vault.roleId,
      VAULT_SECRET_ID: vault.secretId,
    });
    expect(describeError(denied)).toBe(
      "Vault refused reading secret/opsguard/pagerduty for slack.token: permission denied (check the token's policy allows read on this path)",
    );
    expect(exitCodeOf(denied)).toBe(77);
    const badLogin = await failure("vault:secret/opsguard/pagerduty#token", {
      VAULT_ADDR: vault.url,
      VAULT_ROLE_ID: vault.roleId,
      VAULT_SECRET_ID: "s3cret-wrong-id",
    });
    expect(describeError(badLogin)).toBe(
      "Vault refused AppRole login (auth/approle): invalid secret id (check VAULT_ROLE_ID and VAULT_SECRET_ID)",
    );
    expect(redactSecrets("s3cret-wrong-id")).toBe("[redacted]");
    expect(describeError(await failure("vault:secret/opsguard/pagerduty#token", {}))).toBe(
      "slack.token: vault:secret/opsguard/pagerduty#token needs VAULT_ADDR (export VAULT_ADDR=https://vault.example:8200)",
    );
    expect(describeError(await failure("vault:secret/opsguard/pagerduty#token", { VAULT_ADDR: vault.url }))).toBe(
      "vault: references need a Vault token (export VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID for an AppRole login)",
    );
    vault.fault({ hang: true }, { times: 1 });
    const hung = await fetchVaultSecrets(config("vault:secret/opsguard/pagerduty#token"), { env: env(), timeoutMs: 200, retries: 0 }).catch(
      (e) => e,
    );
    expect(exitCodeOf(hung)).toBe(75);
  });
});
