import { createHash } from "node:crypto";
import keyParser from "ssh2/lib/protocol/keyParser.js";

/** A public key that passed every check, ready to print as one authorized_keys line. */
export interface AuthorizedKey {
  /** authorized_keys options from the directory value ("no-pty,from=..."), or "". */
  options: string;
  type: string;
  /** The key blob, base64 as sshd prints it. */
  blob: string;
  comment: string;
  /** SHA256:<base64 without padding>, as sshd's %f and ssh-keygen -l. */
  fingerprint: string;
  bits: number | undefined;
}

export interface KeyPolicy {
  /** Key types accepted; anything else is dropped. */
  types: readonly string[];
  minRsaBits: number;
}

export type KeyVerdict = { ok: true; key: AuthorizedKey } | { ok: false; reason: string; fingerprint: string | undefined };

export const DEFAULT_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];

// sshd(8) AUTHORIZED_KEYS FILE FORMAT; a line with any other option is rejected by sshd as a whole.
const FLAG_OPTIONS = new Set([
  "agent-forwarding",
  "cert-authority",
  "no-agent-forwarding",
  "no-port-forwarding",
  "no-pty",
  "no-user-rc",
  "no-x11-forwarding",
  "port-forwarding",
  "pty",
  "no-touch-required",
  "verify-required",
  "restrict",
  "user-rc",
  "x11-forwarding",
]);
const VALUE_OPTIONS = new Set(["command", "environment", "expiry-time", "from", "permitopen", "permitlisten", "principals", "tunnel"]);
const KEY_LINE = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?:[ \t]+(.*))?$/;

/**
 * Checks one directory value: optional options, key type, base64 blob, comment. The blob must parse
 * with ssh2's key parser as a public key and re-encode to exactly the same bytes (no trailing
 * garbage, no private key, no certificate), and pass the type and size policy.
 */
export function checkKeyValue(value: string, policy: KeyPolicy): KeyVerdict {
  // A newline would let one value smuggle a second authorized_keys line past every check.
  if (/[\r\n\0]/.test(value)) return reject("contains a line break or NUL");
  const text = value.trim();
  const split = splitOptions(text);
  if (typeof split === "string") return reject(split);
  const match = KEY_LINE.exec(split.rest);
  if (!match) return reject("not an OpenSSH public key line");
  const [, type = "", base64 = "", comment = ""] = match;
  const blob = Buffer.from(base64, "base64");
  const fingerprint = fingerprintOf(blob);
  const parsed = keyParser.parseKey(`${type} ${base64}`);
  if (parsed instanceof Error || Array.isArray(parsed)) return reject(`unparsable ${type} key`, fingerprint);
  if (parsed.isPrivateKey()) return reject("a private key", fingerprint);
  if (parsed.type !== type || !parsed.getPublicSSH().equals(blob)) return reject(`malformed ${type} key`, fingerprint);
  if (!policy.types.includes(type)) return reject(`key type ${type} is not allowed`, fingerprint);
  const bits = type === "ssh-rsa" ? rsaBits(blob) : undefined;
  if (bits !== undefined && bits < policy.minRsaBits) return reject(`RSA key of ${bits} bits (minimum ${policy.minRsaBits})`, fingerprint);
  return { ok: true, key: { options: split.options, type, blob: base64, comment: printable(comment), fingerprint, bits } };
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The authorized_keys line; extra options (a group's restrictions) come first so they cannot be dropped. */
export function formatKeyLine(key: AuthorizedKey, extraOptions = ""): string {
  const options = [extraOptions, key.options].filter(Boolean).join(",");
  return [options, key.type, key.blob, key.comment].filter(Boolean).join(" ");
}

/** Checks an options string as written in config ("from=\"10.0.0.0/8\",no-pty"); returns a problem or undefined. */
export function checkOptions(options: string): string | undefined {
  const split = splitOptions(`${options} ssh-ed25519 AAAA`);
  if (typeof split === "string") return split;
  return split.options === options ? undefined : "options must not contain spaces outside quotes";
}

function reject(reason: string, fingerprint?: string): KeyVerdict {
  return { ok: false, reason, fingerprint };
}

/** Splits `opt1,opt2="x y" type blob comment` into options and the key part; a string is a problem. */
function splitOptions(text: string): { options: string; rest: string } | string {
  const first = /^\S+/.exec(text)?.[0] ?? "";
  if (/^(ssh-|ecdsa-|sk-)/.test(first) && !first.includes("=") && !first.includes(",")) return { options: "", rest: text };
  let i = 0;
  while (true) {
    const name = /^[A-Za-z0-9-]+/.exec(text.slice(i))?.[0];
    if (!name) return "malformed key options";
    const lower = name.toLowerCase();
    i += name.length;
    if (text[i] === "=") {
      if (!VALUE_OPTIONS.has(lower)) return `unknown key option "${name}"`;
      if (text[i + 1] !== '"') return `option ${name} needs a quoted value`;
      i += 2;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      if (i >= text.length) return `unterminated quote in option ${name}`;
      i++;
    } else if (!FLAG_OPTIONS.has(lower)) {
      return `unknown key option "${name}"`;
    }
    if (text[i] === ",") {
      i++;
      continue;
    }
    if (text[i] === " " || text[i] === "\t") return { options: text.slice(0, i), rest: text.slice(i).trimStart() };
    return "malformed key options";
  }
}

/** Modulus size of an ssh-rsa blob: string type, mpint e, mpint n. */
function rsaBits(blob: Buffer): number | undefined {
  let pos = 0;
  const next = (): Buffer | undefined => {
    if (pos + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(pos);
    pos += 4;
    if (pos + len > blob.length) return undefined;
    const part = blob.subarray(pos, pos + len);
    pos += len;
    return part;
  };
  next();
  next();
  const n = next();
  if (!n) return undefined;
  let start = 0;
  while (start < n.length && n[start] === 0) start++;
  if (start === n.length) return 0;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(n[start] ?? 0));
}

function printable(comment: string): string {
  return comment.replace(/[\x00-\x1f\x7f-\x9f]/g, "").trim();
}
