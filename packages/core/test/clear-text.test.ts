import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, OpsguardError } from "../src/errors";
import { ExitCode } from "../src/exit";
import { connectRedis, parseRedisUrl } from "../src/redis";
import { Secret } from "../src/secret";
import { fetchVaultSecrets } from "../src/vault";

// A secret never crosses the network in clear text (T56 F2, F3, F4): VAULT_ADDR and a Redis URL with a password
// follow the rule LDAP's bind password and every API baseUrl already follow. 192.0.2.1 is TEST-NET-1 (RFC 5737):
// not this host, and nothing answers there.

/** A port nothing listens on: bound, then closed. */
let closedPort = 0;
/** A TCP listener that records whether anyone connected: a refusal must come before any byte is sent. */
let listener: Server;
let connections = 0;
beforeAll(async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
});
afterAll(() => new Promise((resolve) => listener.close(resolve)));

async function vaultFailure(addr: string): Promise<OpsguardError> {
  const config = { sinks: [{ token: "vault:secret/opsguard/slack#token" }] };
  const env = { VAULT_ADDR: addr, VAULT_TOKEN: "hvs.VAULTTOKEN-SECRET-0001" };
  const error = await fetchVaultSecrets(config, { env, timeoutMs: 1_000, retries: 0 }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpsguardError);
  return error as OpsguardError;
}

describe("vault: secrets", () => {
  it("refuses a plain-http VAULT_ADDR to another host: the token would go in clear (78, naming VAULT_ADDR and https)", async () => {
    for (const addr of ["http://192.0.2.1:8200", "http://vault.example.com:8200/", "http://127.example.org:8200"]) {
      const error = await vaultFailure(addr);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^VAULT_ADDR http:\/\/[^ ]+ is plain http to another host: .* in clear$/);
      expect(error.hint).toBe("use https://, plain http:// only to 127.0.0.1, ::1 or localhost");
    }
  });

  it("a Vault that cannot be reached is exit 69 with the network's reason, not a refusal of 'HTTP undefined'", async () => {
    const error = await vaultFailure(`http://127.0.0.1:${closedPort}`);
    expect(error.exitCode).toBe(ExitCode.UNAVAILABLE);
    expect(error.message).toMatch(
      /^Vault is unreachable \(ECONNREFUSED, .*\) while reading secret\/opsguard\/slack for sinks\[0\]\.token$/,
    );
    expect(error.hint).toBe("check VAULT_ADDR and the network");
    expect(`${error.message} ${error.hint}`).not.toMatch(/undefined|refused reading|policy/);
  });

  it("a VAULT_ADDR that is not http(s) is a config error naming it, and nothing is sent", async () => {
    for (const addr of [`ftp://127.0.0.1:${(listener.address() as { port: number }).port}`, "vault.example.com:8200"]) {
      const error = await vaultFailure(addr);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/^VAULT_ADDR(:| is not a URL)/);
      expect(error.hint).toBe("export VAULT_ADDR=https://vault.example:8200");
    }
    expect(connections).toBe(0);
  });
});

describe("Redis: a password never goes over redis:// to another host", () => {
  const options = (url: string, password?: string) => ({
    url,
    password: password === undefined ? undefined : new Secret(password, "test"),
    connectTimeoutMs: 1_000,
    commandTimeoutMs: 1_000,
    key: "lease.redis",
  });

  it("refuses redis:// with a password to a non-loopback host before connecting (78, naming the key and rediss://)", async () => {
    const error = await connectRedis(options("redis://192.0.2.1:6379/0", "REDIS-PW-SECRET-88")).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe("lease.redis.url: redis:// to 192.0.2.1 would send lease.redis.password in clear text");
    expect((error as ConfigError).hint).toBe(
      "use rediss:// (verified TLS; lease.redis.caFile names a private CA), redis:// only to 127.0.0.1, ::1 or localhost",
    );
    expect(() => parseRedisUrl("redis://redis.internal:6379/0", "state.redis", { password: true })).toThrow(
      "state.redis.url: redis:// to redis.internal would send state.redis.password in clear text",
    );
  });

  it("allows rediss:// anywhere, redis:// to this host, and redis:// without a password", () => {
    for (const url of ["rediss://redis.internal:6380/0", "redis://127.0.0.1:6379/0", "redis://[::1]:6379/0", "redis://localhost/1"]) {
      expect(() => parseRedisUrl(url, "lease.redis", { password: true })).not.toThrow();
    }
    expect(() => parseRedisUrl("redis://redis.internal:6379/0", "lease.redis", { password: false })).not.toThrow();
  });
});
