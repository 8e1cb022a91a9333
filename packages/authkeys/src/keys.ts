import { createHash } from "node:crypto";
import { formatOptions, parseOptions, pastOptions, repeatedClause } from "./key-options";
import { readPublicKeyBlob } from "./public-key";

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

// sshd skips any run of spaces and tabs between the fields (sshkey_read).
const KEY_LINE = /^(\S+)[ \t]+([A-Za-z0-9+/]+={0,2})(?:[ \t]+(.*))?$/;

/**
 * Checks one directory value: optional options, key type, base64 blob, comment. The blob must be
 * exactly a public key of the type on the line (no trailing garbage, no certificate), and pass the
 * type and size policy.
 */
export function checkKeyValue(value: string, policy: KeyPolicy): KeyVerdict {
  // A newline would let one value smuggle a second authorized_keys line past every check.
  if (/[\r\n\0]/.test(value)) return reject("contains a line break or NUL");
  const text = value.trim();
  const split = parseOptions(text);
  // The key's fingerprint still names which key was dropped, when the key part after the options is a key.
  if (typeof split === "string") return reject(split, keyPartFingerprint(pastOptions(text)));
  const match = KEY_LINE.exec(split.rest);
  if (!match) return reject("not an OpenSSH public key line");
  const [, type = "", base64 = "", comment = ""] = match;
  const blob = Buffer.from(base64, "base64");
  const fingerprint = fingerprintOf(blob);
  // Checked once the key is found, so the warning names which key its owner can no longer log in with.
  const refused = repeatedClause(split.options);
  if (refused) return reject(refused, fingerprint);
  const parsed = readPublicKeyBlob(type, blob);
  if (parsed === "unsupported") return reject(`unparsable ${type} key`, fingerprint);
  if (parsed === "malformed") return reject(`malformed ${type} key`, fingerprint);
  if (!policy.types.includes(type)) return reject(`key type ${type} is not allowed`, fingerprint);
  const { bits } = parsed;
  if (bits !== undefined && bits < policy.minRsaBits) return reject(`RSA key of ${bits} bits (minimum ${policy.minRsaBits})`, fingerprint);
  return { ok: true, key: { options: formatOptions(split.options), type, blob: base64, comment: printable(comment), fingerprint, bits } };
}

/** The fingerprint of a key line's key ("type blob comment") when it is a readable public key, else undefined. */
function keyPartFingerprint(rest: string | undefined): string | undefined {
  const match = rest === undefined ? null : KEY_LINE.exec(rest);
  if (!match) return undefined;
  const [, type = "", base64 = ""] = match;
  const blob = Buffer.from(base64, "base64");
  const parsed = readPublicKeyBlob(type, blob);
  return parsed === "unsupported" || parsed === "malformed" ? undefined : fingerprintOf(blob);
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The authorized_keys line; extra options (a group's restrictions) come first so they cannot be dropped. */
export function formatKeyLine(key: AuthorizedKey, extraOptions = ""): string {
  const options = [extraOptions, key.options].filter(Boolean).join(",");
  return [options, key.type, key.blob, key.comment].filter(Boolean).join(" ");
}

function reject(reason: string, fingerprint?: string): KeyVerdict {
  return { ok: false, reason, fingerprint };
}

function printable(comment: string): string {
  return comment.replace(/[\x00-\x1f\x7f-\x9f]/g, "").trim();
}
