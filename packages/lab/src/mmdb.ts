import { isIP } from "node:net";

/**
 * Writes small MaxMind DB (.mmdb, format 2.0) files, so tests and the demo can give GeoIP answers
 * of their choosing (a city, coordinates, an ASN) without downloading a database. IPv6 tree with
 * 24-bit records; IPv4 networks live under ::/96 as the format specifies.
 */

export type MmdbValue = string | number | boolean | readonly MmdbValue[] | { readonly [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** "81.2.69.0/24" or "2a02:8100::/32". */
  cidr: string;
  data: { readonly [key: string]: MmdbValue };
}

export interface MmdbOptions {
  databaseType: string;
  networks: readonly MmdbNetwork[];
  description?: string;
  /**
   * 6 (the default): an IPv6 tree, IPv4 networks under ::/96. 4: an IPv4-only file, its tree 32 bits deep (MaxMind DB
   * spec, "ip_version"; "IPv4 addresses in an IPv6 tree"), as ip-location-db publishes one file per address family.
   */
  ipVersion?: 4 | 6;
}

const EMPTY = -1;
type Record = number | { data: number };

export function writeMmdb(options: MmdbOptions): Buffer {
  const nodes: [Record, Record][] = [[EMPTY, EMPTY]];
  const data: Buffer[] = [];
  let dataSize = 0;
  for (const network of options.networks) {
    const encoded = encode(network.data);
    const offset = dataSize;
    data.push(encoded);
    dataSize += encoded.length;
    const bits = networkBits(network.cidr, options.ipVersion ?? 6);
    let node = 0;
    for (let i = 0; i < bits.length; i++) {
      const side = bits[i] as 0 | 1;
      const current = nodes[node]!;
      if (i === bits.length - 1) {
        current[side] = { data: offset };
        break;
      }
      const next = current[side];
      if (typeof next === "number" && next !== EMPTY) {
        node = next;
        continue;
      }
      if (typeof next === "object") throw new Error(`${network.cidr} lies inside another network of this database`);
      nodes.push([EMPTY, EMPTY]);
      current[side] = nodes.length - 1;
      node = nodes.length - 1;
    }
  }
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 6);
  const value = (r: Record): number => (typeof r === "object" ? nodeCount + 16 + r.data : r === EMPTY ? nodeCount : r);
  nodes.forEach(([left, right], i) => {
    tree.writeUIntBE(value(left), i * 6, 3);
    tree.writeUIntBE(value(right), i * 6 + 3, 3);
  });
  const metadata = encode({
    binary_format_major_version: 2,
    binary_format_minor_version: 0,
    build_epoch: Math.floor(Date.now() / 1000),
    database_type: options.databaseType,
    description: { en: options.description ?? "opsguard lab test database" },
    ip_version: options.ipVersion ?? 6,
    languages: ["en"],
    node_count: nodeCount,
    record_size: 24,
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from("\xab\xcd\xefMaxMind.com", "latin1"), metadata]);
}

/** The bits of a network in the tree of an `ipVersion` file, most significant first. */
function networkBits(cidr: string, ipVersion: 4 | 6): number[] {
  const [address = "", prefixText] = cidr.split("/");
  const family = isIP(address);
  if (family === 0) throw new Error(`not a network: ${cidr}`);
  if (family === 6 && ipVersion === 4) throw new Error(`${cidr} is an IPv6 network, and this is an IPv4 database`);
  const prefix = Number(prefixText ?? (family === 4 ? 32 : 128));
  const v4 = address.split(".").map(Number);
  const bytes = family === 4 ? (ipVersion === 4 ? v4 : [...new Array<number>(12).fill(0), ...v4]) : ipv6Bytes(address);
  const length = family === 4 && ipVersion === 6 ? 96 + prefix : prefix;
  const bits: number[] = [];
  for (let i = 0; i < length; i++) bits.push(((bytes[i >> 3] ?? 0) >> (7 - (i & 7))) & 1);
  return bits;
}

function ipv6Bytes(address: string): number[] {
  const [head = "", tail] = address.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function encode(value: MmdbValue): Buffer {
  if (typeof value === "string") {
    const bytes = Buffer.from(value, "utf8");
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === "boolean") return Buffer.concat([control(14, value ? 1 : 0)]);
  if (typeof value === "number") {
    if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) {
      const bytes = unsignedBytes(value);
      return Buffer.concat([control(6, bytes.length), bytes]);
    }
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value);
    return Buffer.concat([control(3, 8), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  const entries = Object.entries(value as { [key: string]: MmdbValue });
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]);
}

function unsignedBytes(value: number): Buffer {
  const bytes: number[] = [];
  for (let v = value; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from(bytes);
}

/** The control byte(s) of a field: type in the top three bits (types above 7 are "extended"), then the size. */
function control(type: number, size: number): Buffer {
  const typeBits = type <= 7 ? type << 5 : 0;
  const extended = type > 7 ? [type - 7] : [];
  if (size < 29) return Buffer.from([typeBits | size, ...extended]);
  if (size < 285) return Buffer.from([typeBits | 29, ...extended, size - 29]);
  if (size < 65_821) return Buffer.from([typeBits | 30, ...extended, (size - 285) >> 8, (size - 285) & 0xff]);
  const rest = size - 65_821;
  return Buffer.from([typeBits | 31, ...extended, rest >> 16, (rest >> 8) & 0xff, rest & 0xff]);
}

/** A place as a GeoIP2 City database describes it, for the network that holds its addresses. */
export interface CityPlace {
  cidr: string;
  city: string;
  region: string;
  code: string;
  country: string;
  lat: number;
  lon: number;
  tz?: string;
}

/** A GeoIP2-City database answering for the given places. */
export function writeCityMmdb(places: readonly CityPlace[]): Buffer {
  return writeMmdb({
    databaseType: "GeoIP2-City",
    networks: places.map((p) => ({
      cidr: p.cidr,
      data: {
        city: { names: { en: p.city } },
        subdivisions: [{ names: { en: p.region } }],
        country: { iso_code: p.code, names: { en: p.country } },
        location: { latitude: p.lat, longitude: p.lon, accuracy_radius: 20, ...(p.tz ? { time_zone: p.tz } : {}) },
      },
    })),
  });
}
