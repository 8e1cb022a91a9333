import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import keyParser from "ssh2/lib/protocol/keyParser.js";
import { afterAll, describe, expect, it } from "vitest";
import { checkKeyValue } from "../src/index";

// authkeys used to check keys with ssh2's parser; its own reader must accept exactly what that accepted,
// except where it is stricter on purpose (an ECDSA point that is not an uncompressed point of the curve).
const dir = mkdtempSync(join(tmpdir(), "authkeys-public-key-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const policy = {
  types: ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa", "ssh-dss"],
  // The size policy is checked elsewhere; here only what the parsers accept counts.
  minRsaBits: 0,
};

function keygen(name: string, args: string[]): { type: string; blob: Buffer; bits: number; file: string } {
  const file = join(dir, name);
  execFileSync("ssh-keygen", ["-q", ...args, "-N", "", "-C", name, "-f", file]);
  const [type = "", base64 = ""] = readFileSync(`${file}.pub`, "utf8").split(" ");
  const bits = Number(execFileSync("ssh-keygen", ["-l", "-f", `${file}.pub`], { encoding: "utf8" }).split(" ")[0]);
  return { type, blob: Buffer.from(base64, "base64"), bits, file };
}

const keys = [
  keygen("ed25519", ["-t", "ed25519"]),
  keygen("ecdsa256", ["-t", "ecdsa", "-b", "256"]),
  keygen("ecdsa384", ["-t", "ecdsa", "-b", "384"]),
  keygen("ecdsa521", ["-t", "ecdsa", "-b", "521"]),
  keygen("rsa1024", ["-t", "rsa", "-b", "1024"]),
  keygen("rsa3072", ["-t", "rsa", "-b", "3072"]),
  keygen("dsa", ["-t", "dsa"]),
];

/** ssh2 throws on some malformed blobs (an empty ECDSA point): that was no accepted key either. */
function ssh2Accepts(type: string, blob: Buffer): boolean {
  let parsed: ReturnType<typeof keyParser.parseKey>;
  try {
    parsed = keyParser.parseKey(`${type} ${blob.toString("base64")}`);
  } catch {
    return false;
  }
  if (parsed instanceof Error || Array.isArray(parsed)) return false;
  return !parsed.isPrivateKey() && parsed.type === type && parsed.getPublicSSH().equals(blob);
}

function accepts(type: string, blob: Buffer): boolean {
  return checkKeyValue(`${type} ${blob.toString("base64")} comment`, policy).ok;
}

function sshString(value: Buffer | string): Buffer {
  const bytes = Buffer.from(value);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** Every truncation, trailing bytes, and bit flips in the first 48 bytes (length prefixes, type and curve names). */
function mutations(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let length = 1; length < blob.length; length++) out.push(blob.subarray(0, length));
  for (const extra of [[0], [0, 0, 0, 0], [0, 0, 0, 1, 65]]) out.push(Buffer.concat([blob, Buffer.from(extra)]));
  for (let i = 0; i < Math.min(48, blob.length); i++) {
    for (const bit of [0x01, 0x20, 0x80]) {
      const changed = Buffer.from(blob);
      changed[i] = (changed[i] ?? 0) ^ bit;
      out.push(changed);
    }
  }
  return out;
}

describe("the public-key reader", () => {
  it("accepts every key ssh-keygen makes, as ssh2 did, with the size ssh-keygen reports for RSA", () => {
    for (const key of keys) {
      expect(ssh2Accepts(key.type, key.blob)).toBe(true);
      const verdict = checkKeyValue(`${key.type} ${key.blob.toString("base64")}`, policy);
      expect(verdict.ok).toBe(true);
      if (key.type === "ssh-rsa") expect(verdict.ok && verdict.key.bits).toBe(key.bits);
    }
  });

  it("agrees with ssh2 on truncated, padded and corrupted blobs, and a key under another type's name", () => {
    let compared = 0;
    for (const key of keys) {
      for (const blob of mutations(key.blob)) {
        const ours = accepts(key.type, blob);
        // Never more lenient than ssh2.
        if (ours) expect(ssh2Accepts(key.type, blob)).toBe(true);
        if (!key.type.startsWith("ecdsa-")) expect(ours).toBe(ssh2Accepts(key.type, blob));
        compared++;
      }
      for (const other of keys) {
        if (other.type !== key.type) expect(accepts(other.type, key.blob)).toBe(false);
      }
    }
    expect(compared).toBeGreaterThan(2000);
  });

  it("refuses an ECDSA point that is not uncompressed or not of the curve's size, which ssh2 let through", () => {
    const point = (bytes: number[]) =>
      Buffer.concat([sshString("ecdsa-sha2-nistp256"), sshString("nistp256"), sshString(Buffer.from(bytes))]);
    const compressed = [2, ...new Array(32).fill(7)];
    const short = [4, ...new Array(63).fill(7)];
    for (const bytes of [compressed, short]) {
      expect(ssh2Accepts("ecdsa-sha2-nistp256", point(bytes))).toBe(true);
      expect(accepts("ecdsa-sha2-nistp256", point(bytes))).toBe(false);
    }
    // ssh2 threw here, which failed the whole lookup.
    expect(checkKeyValue(`ecdsa-sha2-nistp256 ${point([]).toString("base64")}`, policy)).toMatchObject({
      ok: false,
      reason: "malformed ecdsa-sha2-nistp256 key",
    });
  });

  it("drops certificates and FIDO keys as unparsable", () => {
    const ca = keygen("ca", ["-t", "ed25519"]);
    execFileSync("ssh-keygen", ["-q", "-s", ca.file, "-I", "alice", "-n", "alice", `${keys[0]?.file}.pub`]);
    const [certType = "", certBlob = ""] = readFileSync(`${keys[0]?.file}-cert.pub`, "utf8").split(" ");
    expect(checkKeyValue(`${certType} ${certBlob}`, policy)).toMatchObject({ ok: false, reason: `unparsable ${certType} key` });
    const sk = Buffer.concat([sshString("sk-ssh-ed25519@openssh.com"), sshString(Buffer.alloc(32, 9)), sshString("ssh:")]);
    expect(checkKeyValue(`sk-ssh-ed25519@openssh.com ${sk.toString("base64")}`, policy)).toMatchObject({
      ok: false,
      reason: "unparsable sk-ssh-ed25519@openssh.com key",
    });
  });
});
