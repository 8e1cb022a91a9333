/** A decoded `saddr=` (struct sockaddr as hex). */
export type Sockaddr =
  | { family: "inet"; address: string; port: number }
  /** scope: sin6_scope_id, the interface of a link-local address (`fe80::1%2`), when not 0. */
  | { family: "inet6"; address: string; port: number; scope?: number }
  | { family: "unix"; path: string; abstract: boolean }
  | { family: "netlink"; pid: number; groups: number }
  | { family: "unspec" }
  | { family: "unknown"; familyNumber: number; bytes: string };

const AF_UNSPEC = 0;
const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;
const AF_NETLINK = 16;
const KNOWN = new Set([AF_UNSPEC, AF_UNIX, AF_INET, AF_INET6, AF_NETLINK]);

/** Decodes sockaddr hex; returns undefined when it is not hex at all. */
export function decodeSockaddr(hex: string): Sockaddr | undefined {
  const bytes = hexBytes(hex);
  if (bytes === undefined || bytes.length < 2) return undefined;
  // sa_family is host-endian: little on x86/arm64, big on s390x/ppc64 (00 02 … is a big-endian AF_INET).
  let family = bytes[0]! | (bytes[1]! << 8);
  const littleEndian = KNOWN.has(family) || bytes[0] !== 0;
  if (!littleEndian) family = bytes[1]!;
  switch (family) {
    case AF_UNSPEC:
      return { family: "unspec" };
    case AF_UNIX:
      return unixPath(bytes);
    case AF_INET:
      if (bytes.length < 8) break;
      return { family: "inet", port: (bytes[2]! << 8) | bytes[3]!, address: `${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}` };
    case AF_INET6: {
      if (bytes.length < 24) break;
      const port = (bytes[2]! << 8) | bytes[3]!;
      const address = ipv6(bytes.subarray(8, 24));
      const scope = bytes.length >= 28 ? readU32(bytes, 24, littleEndian) : 0;
      return scope === 0 ? { family: "inet6", port, address } : { family: "inet6", port, address, scope };
    }
    case AF_NETLINK:
      if (bytes.length < 12) break;
      return { family: "netlink", pid: readU32(bytes, 4, littleEndian), groups: readU32(bytes, 8, littleEndian) };
  }
  return { family: "unknown", familyNumber: family, bytes: hex.toLowerCase() };
}

function unixPath(bytes: Uint8Array): Sockaddr {
  const abstract = bytes.length > 2 && bytes[2] === 0;
  const start = abstract ? 3 : 2;
  let end = start;
  // A filesystem path ends at its NUL (what follows is stack garbage); an abstract name has no terminator
  // but auditd pads it with NULs.
  while (end < bytes.length && bytes[end] !== 0) end++;
  return { family: "unix", path: Buffer.from(bytes.subarray(start, end)).toString("utf8"), abstract };
}

function readU32(bytes: Uint8Array, at: number, littleEndian: boolean): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(at, littleEndian);
}

function ipv6(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // RFC 5952: compress the longest run (≥ 2) of zero groups
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestAt < 0) return groups.join(":");
  return `${groups.slice(0, bestAt).join(":")}::${groups.slice(bestAt + bestLen).join(":")}`;
}

/** Even-length hex → bytes, or undefined. */
export function hexBytes(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !isHex(hex)) return undefined;
  return Buffer.from(hex, "hex");
}

export function isHex(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
