import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { Logger } from "@opsguard/core";
import { authkeysConfigSchema } from "./config";
import { lookupKeys } from "./lookup";

/**
 * Runs a login's code once, offline, while `authkeys install` writes the V8 code cache: V8 caches
 * only the functions compiled so far, and a cache made from a mere --version run left the config
 * check, the LDAP client and the key parser to be compiled again at every login. The directory is a
 * closed loopback port, so the lookup ends in "unavailable" without touching the network; the keys
 * are made here, one of each kind the parser handles.
 */
export async function warmUp(): Promise<void> {
  const config = authkeysConfigSchema.parse({
    ldap: { urls: ["ldaps://127.0.0.1:1", "ldap://127.0.0.1:1"], baseDn: "dc=warm-up", connectTimeoutMs: 200, deadlineMs: 500 },
    allowedGroups: ["cn=warm-up,dc=warm-up"],
    cache: { enabled: false },
    syslog: false,
  });
  const log = new Logger({ tool: "authkeys", level: "silent" });
  await lookupKeys(config, { user: "warm-up" }, { log }).catch(() => undefined);
  const { checkKeyValue, formatKeyLine } = await import("./keys");
  for (const line of sampleKeyLines()) {
    const verdict = checkKeyValue(line, { types: config.keyTypes, minRsaBits: config.minRsaBits });
    if (verdict.ok) formatKeyLine(verdict.key, 'from="127.0.0.1"');
  }
}

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
