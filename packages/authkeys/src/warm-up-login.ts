import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { Logger } from "@opsguard/core/log";
import type { AuthkeysConfig } from "./config";
import { checkKeyValue, formatKeyLine } from "./keys";
import { lookupKeys } from "./lookup";

/**
 * Runs a login's code once while `authkeys install` writes a V8 code cache: V8 caches only the
 * functions compiled so far, and a cache made from a mere --version run left the config check, the
 * LDAP client and the key parser to be compiled again at every login. With a config (configured), a
 * made-up user is looked up in the real directory (read-only, key cache off), so the TLS and LDAP
 * reply path is compiled too; the offline lookup against a closed loopback port covers the failover
 * path without touching the network; the keys are made here, one of each kind the parser handles.
 * zod-free: the login bundle runs it with install's validated config.
 */
export async function warmUpLogin(config: AuthkeysConfig, configured: boolean): Promise<void> {
  const log = new Logger({ tool: "authkeys", level: "silent" });
  if (configured) {
    const real: AuthkeysConfig = { ...config, cache: { ...config.cache, enabled: false }, syslog: false };
    await lookupKeys(real, { user: WARM_UP_USER }, { log }).catch(() => undefined);
  }
  const offline = offlineConfig(config);
  await lookupKeys(offline, { user: WARM_UP_USER }, { log }).catch(() => undefined);
  for (const line of sampleKeyLines()) {
    const verdict = checkKeyValue(line, { types: offline.keyTypes, minRsaBits: offline.minRsaBits });
    if (verdict.ok) formatKeyLine(verdict.key, 'from="127.0.0.1"');
  }
}

/** The lookup pointed at closed loopback ports, behind a group check, without cache or syslog. */
function offlineConfig(config: AuthkeysConfig): AuthkeysConfig {
  const ldap = { urls: ["ldaps://127.0.0.1:1", "ldap://127.0.0.1:1"], connectTimeoutMs: 200, deadlineMs: 500 };
  return {
    ...config,
    allowedGroups: ["cn=warm-up,dc=warm-up"],
    syslog: false,
    ldap: { ...config.ldap, ...ldap },
    cache: { ...config.cache, enabled: false },
  };
}

/** Looked up at install time only; whatever the directory answers, nothing is printed or cached. */
const WARM_UP_USER = "opsguard-authkeys-warm-up";

function sampleKeyLines(): string[] {
  const ed25519 = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
  const ecdsa = jwkOf(generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey);
  const rsa = jwkOf(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
  const blobs: Array<[string, Buffer[]]> = [
    ["ssh-ed25519", [Buffer.from("ssh-ed25519"), ed25519.subarray(ed25519.length - 32)]],
    ["ecdsa-sha2-nistp256", [Buffer.from("ecdsa-sha2-nistp256"), Buffer.from("nistp256"), Buffer.concat([Buffer.of(4), ecdsa.x, ecdsa.y])]],
    ["ssh-rsa", [Buffer.from("ssh-rsa"), mpint(rsa.e), mpint(rsa.n)]],
  ];
  return blobs.map(([type, fields]) => `${type} ${Buffer.concat(fields.map(sshString)).toString("base64")} warm-up`);
}

function jwkOf(key: KeyObject): Record<"x" | "y" | "e" | "n", Buffer> {
  const jwk = key.export({ format: "jwk" });
  const field = (name: "x" | "y" | "e" | "n") => Buffer.from(jwk[name] ?? "", "base64url");
  return { x: field("x"), y: field("y"), e: field("e"), n: field("n") };
}

/** SSH's mpint: a leading zero byte keeps a high first bit from reading as negative. */
function mpint(value: Buffer): Buffer {
  return (value[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.of(0), value]) : value;
}

function sshString(value: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(value.length);
  return Buffer.concat([length, value]);
}
