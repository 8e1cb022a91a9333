/**
 * The OpenSSH public-key wire format (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4): a key blob is a
 * sequence of length-prefixed strings, the first naming the type. Only what authkeys needs is read,
 * and the whole blob must be exactly that: no missing field, no trailing byte, the type inside the
 * blob equal to the one on the line.
 */

/** Why a blob is refused; the caller words the warning. */
export type BlobProblem = "unsupported" | "malformed";

export interface PublicKeyInfo {
  /** RSA modulus size; undefined for other types. */
  bits: number | undefined;
}

/**
 * Reads a blob of the given type. Types besides ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa and
 * ssh-dss — FIDO (sk-*) keys and certificates among them — are unsupported, as they were with ssh2.
 */
export function readPublicKeyBlob(type: string, blob: Buffer): PublicKeyInfo | BlobProblem {
  const fields = new FieldReader(blob);
  const read = readers.get(type);
  if (!read) return "unsupported";
  if (fields.text() !== type) return "malformed";
  const info = read(fields);
  return info && fields.atEnd() ? info : "malformed";
}

type BodyReader = (fields: FieldReader) => PublicKeyInfo | undefined;

const readers = new Map<string, BodyReader>([
  ["ssh-ed25519", (fields) => (fields.next()?.length === 32 ? { bits: undefined } : undefined)],
  [
    "ssh-rsa",
    (fields) => {
      const e = fields.next();
      const n = fields.next();
      return e && n ? { bits: mpintBits(n) } : undefined;
    },
  ],
  ["ssh-dss", (fields) => (fields.next() && fields.next() && fields.next() && fields.next() ? { bits: undefined } : undefined)],
  ["ecdsa-sha2-nistp256", ecdsaReader("nistp256", 32)],
  ["ecdsa-sha2-nistp384", ecdsaReader("nistp384", 48)],
  ["ecdsa-sha2-nistp521", ecdsaReader("nistp521", 66)],
]);

/** The curve's name, then a point in the only form OpenSSH writes and reads: uncompressed, 0x04 X Y. */
function ecdsaReader(curve: string, coordinateBytes: number): BodyReader {
  return (fields) => {
    if (fields.text() !== curve) return undefined;
    const point = fields.next();
    return point?.length === 1 + 2 * coordinateBytes && point[0] === 4 ? { bits: undefined } : undefined;
  };
}

/** Bits of an mpint's magnitude, leading zero bytes aside. */
function mpintBits(n: Buffer): number {
  let start = 0;
  while (start < n.length && n[start] === 0) start++;
  if (start === n.length) return 0;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(n[start] ?? 0));
}

/** Successive uint32-length-prefixed strings of a blob; undefined once a field does not fit. */
class FieldReader {
  #pos = 0;
  readonly #blob: Buffer;

  constructor(blob: Buffer) {
    this.#blob = blob;
  }

  next(): Buffer | undefined {
    if (this.#pos + 4 > this.#blob.length) return undefined;
    const length = this.#blob.readUInt32BE(this.#pos);
    const start = this.#pos + 4;
    if (length > this.#blob.length - start) return undefined;
    this.#pos = start + length;
    return this.#blob.subarray(start, this.#pos);
  }

  text(): string | undefined {
    return this.next()?.toString("latin1");
  }

  atEnd(): boolean {
    return this.#pos === this.#blob.length;
  }
}
