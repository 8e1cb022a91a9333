import { BlockList, isIP } from "node:net";

/** Ranges that are not somewhere on the map: GeoIP is not asked about them, the message names them instead. */
const SPECIAL: ReadonlyArray<readonly [string, number, "ipv4" | "ipv6", string]> = [
  ["0.0.0.0", 8, "ipv4", "reserved range"],
  ["10.0.0.0", 8, "ipv4", "private network"],
  ["100.64.0.0", 10, "ipv4", "carrier-grade NAT range"],
  ["127.0.0.0", 8, "ipv4", "loopback"],
  ["169.254.0.0", 16, "ipv4", "link-local"],
  ["172.16.0.0", 12, "ipv4", "private network"],
  ["192.0.0.0", 24, "ipv4", "reserved range"],
  ["192.0.2.0", 24, "ipv4", "documentation range"],
  ["192.168.0.0", 16, "ipv4", "private network"],
  ["198.18.0.0", 15, "ipv4", "benchmarking range"],
  ["198.51.100.0", 24, "ipv4", "documentation range"],
  ["203.0.113.0", 24, "ipv4", "documentation range"],
  ["224.0.0.0", 4, "ipv4", "multicast range"],
  ["240.0.0.0", 4, "ipv4", "reserved range"],
  ["::", 128, "ipv6", "reserved range"],
  ["::1", 128, "ipv6", "loopback"],
  ["fc00::", 7, "ipv6", "private network"],
  ["fe80::", 10, "ipv6", "link-local"],
  ["2001:db8::", 32, "ipv6", "documentation range"],
  ["ff00::", 8, "ipv6", "multicast range"],
];

const lists = SPECIAL.map(([net, prefix, type, label]) => {
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return { list, type, label };
});

/** The canonical text of an address (IPv4-mapped IPv6 becomes IPv4); undefined when it is not an IP address. */
export function normalizeIp(text: string): string | undefined {
  const value = text.trim().replace(/^\[|\]$/g, "");
  const family = isIP(value);
  if (family === 4) return value;
  if (family !== 6) return undefined;
  const groups = expandIpv6(value);
  // IPv4-mapped (::ffff:a.b.c.d, also written in hex, ::ffff:0509:0103) is that IPv4 client.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return formatIpv6(groups);
}

/** A label such as "private network" for addresses that are not on the public internet. */
export function specialRange(ip: string): string | undefined {
  const type = isIP(ip) === 6 ? "ipv6" : "ipv4";
  return lists.find((l) => l.type === type && l.list.check(ip, type))?.label;
}

/**
 * The /24 (IPv4) or /56 (IPv6) an address is in: one home or office network, roughly. For IPv6,
 * /56 is what ISPs commonly delegate to one residential customer (RIPE-690 recommends /56 or /48;
 * BT, Deutsche Telekom and many others hand out /56), so the addresses a laptop cycles through
 * (privacy extensions within a /64, several /64s of one home) stay one place, while a /48 would
 * lump up to 256 such customers together, or several tenants of one cloud region, and hide a
 * stranger on the same ISP block. A business with a /48 is at most a few places, each told once.
 */
export function networkOf(ip: string): string {
  if (isIP(ip) === 4) return `${ip.split(".").slice(0, 3).join(".")}.0/24`;
  const [a = 0, b = 0, c = 0, d = 0] = expandIpv6(ip);
  return `${formatIpv6([a, b, c, d & 0xff00, 0, 0, 0, 0])}/56`;
}

function expandIpv6(ip: string): number[] {
  const [head = "", tail] = ip.toLowerCase().split("::");
  const parse = (part: string): number[] => {
    if (part === "") return [];
    return part.split(":").flatMap((g) => {
      if (g.includes(".")) {
        const [a = 0, b = 0, c = 0, d = 0] = g.split(".").map(Number);
        return [(a << 8) | b, (c << 8) | d];
      }
      return [Number.parseInt(g, 16)];
    });
  };
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const fill = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...fill, ...right];
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups shortened to "::". */
function formatIpv6(groups: readonly number[]): string {
  let best = { start: -1, length: 1 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}
