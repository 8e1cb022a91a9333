import { randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import { getServers } from "node:dns";
import { isIPv6 } from "node:net";
import { join } from "node:path";
import { ConfigError } from "@opsguard/core/errors";
import type { LdapConnectionConfig } from "@opsguard/core/ldap/config";
import { LdapUnavailableError } from "@opsguard/core/ldap/errors";
import type { Logger } from "@opsguard/core/log";
import { readSmallStateFile } from "./cache-file";
import type { AuthkeysConfig } from "./config";
import { splitDnsServer, srvDomain } from "./dns-names";
import { decodeSrvAnswer, encodeSrvQuery } from "./dns-wire";

export interface SrvRecord {
  scheme: "ldap" | "ldaps";
  target: string;
  port: number;
  priority: number;
  weight: number;
}

interface SrvCacheFile {
  version: 1;
  domain: string;
  records: SrvRecord[];
  /** Epoch ms after which DNS is asked again: now + the smallest TTL of the answer. */
  expiresAt: number;
}

/** A leading dot, like server memory's file: no user name starts with one, so no user's cached keys share it. */
export const SRV_CACHE_FILE = ".srv.json";

/** A DNS answer held longer than a day is not what its owner meant, whatever the TTL says. */
const MAX_TTL_SECONDS = 86_400;

/**
 * The `ldap` section with `urls` filled in: as configured, or — with `ldap.srv` — from the `_ldaps._tcp`
 * and `_ldap._tcp` SRV records of the domain, as SSSD does with `ldap_uri = _srv_` and
 * `dns_discovery_domain` (sssd-ldap(5) / sssd.conf(5) "SERVICE DISCOVERY"; RHEL Deployment Guide 13.2.18:
 * RFC 2782 records `_service._protocol.domain TTL priority weight port hostname`). Servers are ordered by
 * priority and weight (orderRecords) and the answer is kept for the records' TTL in the cache directory,
 * so a login does not ask DNS every time. DNS failing: an expired list is used if there is one (LDAP
 * still decides, under verified TLS); none at all is an outage (LdapUnavailableError), so the key cache
 * rules apply, exactly as for dead servers.
 */
export async function resolveLdapServers(
  config: AuthkeysConfig,
  deps: { log: Logger; now?: (() => number) | undefined },
): Promise<LdapConnectionConfig> {
  const { srv, dnsServer, urls, ...ldap } = config.ldap;
  if (urls) return { ...ldap, urls };
  const domain = srvDomain(srv ?? "");
  const now = deps.now?.() ?? Date.now();
  const file = config.cache.enabled ? join(config.cache.dir, SRV_CACHE_FILE) : undefined;
  const cached = file ? readSrvCache(file, domain, deps.log) : undefined;
  if (cached && now < cached.expiresAt) return { ...ldap, urls: orderRecords(cached.records) };
  const started = Date.now();
  // One deadline for the login: DNS gets at most a third of it, LDAP what DNS left.
  const rest = () => ({ ...ldap, deadlineMs: Math.max(1, ldap.deadlineMs - (Date.now() - started)) });
  try {
    const answer = await querySrv(domain, dnsServer ?? getServers(), Math.max(200, Math.floor(ldap.deadlineMs / 3)));
    if (answer.records.length === 0) throw new Error(`no _ldap._tcp or _ldaps._tcp SRV record for ${domain}`);
    if (file) await storeSrvCache(file, { version: 1, domain, records: answer.records, expiresAt: now + answer.ttl * 1000 }, deps.log);
    return { ...rest(), urls: orderRecords(answer.records) };
  } catch (error) {
    const reason = (error as Error).message;
    if (cached) {
      deps.log.warn(`DNS SRV lookup failed (${reason}); using the expired server list`, { domain });
      return { ...rest(), urls: orderRecords(cached.records) };
    }
    throw new LdapUnavailableError(`no LDAP server known for ${domain}: DNS SRV lookup failed (${reason})`, {
      hint: "check ldap.srv and ldap.dnsServer (authkeys doctor), or list ldap.urls",
    });
  }
}

/**
 * RFC 2782: lowest priority first; within a priority, a weighted random pick, repeated (weight 0
 * records are picked only among themselves last, with a small chance). ldaps before ldap at the same
 * priority and weight order: no StartTLS step to fail.
 */
export function orderRecords(records: readonly SrvRecord[], random: (max: number) => number = randomInt): string[] {
  const byPriority = new Map<number, SrvRecord[]>();
  for (const r of records) byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), r]);
  const urls: string[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    // Zero weights first, as RFC 2782 arranges them before the running sum.
    const left = [...(byPriority.get(priority) ?? [])].sort((a, b) => a.weight - b.weight || (a.scheme === "ldaps" ? -1 : 1));
    while (left.length > 0) {
      const total = left.reduce((sum, r) => sum + r.weight, 0);
      const pick = total === 0 ? 0 : random(total + 1);
      let running = 0;
      const index = left.findIndex((r) => {
        running += r.weight;
        return running >= pick;
      });
      const [chosen] = left.splice(Math.max(0, index), 1);
      if (chosen) urls.push(`${chosen.scheme}://${chosen.target.includes(":") ? `[${chosen.target}]` : chosen.target}:${chosen.port}`);
    }
  }
  return [...new Set(urls)];
}

/** Both services' records and the smallest TTL among them; each server asked in turn within timeoutMs. */
async function querySrv(domain: string, servers: readonly string[], timeoutMs: number): Promise<{ records: SrvRecord[]; ttl: number }> {
  const deadline = Date.now() + timeoutMs;
  const records: SrvRecord[] = [];
  let ttl = MAX_TTL_SECONDS;
  for (const scheme of ["ldaps", "ldap"] as const) {
    const answers = await askServers(`_${scheme}._tcp.${domain}`, servers, deadline);
    for (const answer of answers) {
      // RFC 2782: a target of "." means the service is decidedly not available at this domain.
      if (answer.target === "." || answer.target === "") continue;
      if (!/^[A-Za-z0-9_.-]+$/.test(answer.target)) continue;
      records.push({
        scheme,
        target: answer.target.replace(/\.$/, ""),
        port: answer.port,
        priority: answer.priority,
        weight: answer.weight,
      });
      ttl = Math.min(ttl, answer.ttl);
    }
  }
  return { records, ttl: Math.max(0, ttl) };
}

interface SrvAnswer {
  target: string;
  port: number;
  priority: number;
  weight: number;
  ttl: number;
}

async function askServers(name: string, servers: readonly string[], deadline: number): Promise<SrvAnswer[]> {
  if (servers.length === 0) throw new Error("no DNS server configured");
  let lastError: Error | undefined;
  for (const server of servers) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      return await askOne(name, server, left);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw lastError ?? new Error("DNS timed out");
}

/**
 * One UDP query. NXDOMAIN and an empty answer are "no records"; any other error code, a truncated or
 * malformed reply, is a failure.
 */
async function askOne(name: string, server: string, timeoutMs: number): Promise<SrvAnswer[]> {
  const { host, port } = splitDnsServer(server);
  const id = randomInt(0, 65_536);
  const query = encodeSrvQuery(id, name);
  const socket = createSocket(isIPv6(host) ? "udp6" : "udp4");
  try {
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`DNS server ${server} did not answer within ${timeoutMs} ms`)), timeoutMs);
      socket.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on("message", (message, from) => {
        // Only the server asked, only our id: anything else on the socket is ignored, not trusted.
        if (from.address !== host || from.port !== port || message.length < 2 || message.readUInt16BE(0) !== id) return;
        clearTimeout(timer);
        resolve(message);
      });
      socket.send(query, port, host, (error) => {
        if (error) {
          clearTimeout(timer);
          reject(error);
        }
      });
    });
    const decoded = decodeSrvAnswer(reply, id);
    if (decoded.truncated) throw new Error(`DNS server ${server} sent a truncated answer`);
    if (decoded.rcode === RCODE_NXDOMAIN) return [];
    if (decoded.rcode !== 0) throw new Error(`DNS server ${server} answered with error code ${decoded.rcode}`);
    return decoded.records.filter((r) => r.name.toLowerCase() === name.toLowerCase());
  } finally {
    socket.close();
  }
}

const RCODE_NXDOMAIN = 3;

function readSrvCache(file: string, domain: string, log: Logger): SrvCacheFile | undefined {
  try {
    const text = readSmallStateFile(file, log);
    if (text === undefined) return undefined;
    const raw = JSON.parse(text) as Partial<SrvCacheFile>;
    const ok =
      raw.version === 1 &&
      raw.domain === domain &&
      typeof raw.expiresAt === "number" &&
      Array.isArray(raw.records) &&
      raw.records.every(
        (r) =>
          (r.scheme === "ldap" || r.scheme === "ldaps") &&
          typeof r.target === "string" &&
          /^[A-Za-z0-9_.-]+$/.test(r.target) &&
          [r.port, r.priority, r.weight].every((n) => Number.isInteger(n) && n >= 0 && n <= 65_535),
      );
    return ok ? (raw as SrvCacheFile) : undefined;
  } catch {
    // Missing or unreadable: ask DNS, as without a cache.
    return undefined;
  }
}

async function storeSrvCache(file: string, content: SrvCacheFile, log: Logger): Promise<void> {
  const expiresAt = Math.min(content.expiresAt, Date.now() + MAX_TTL_SECONDS * 1000);
  try {
    const { ensurePrivateDir, removeOrphanedTemps, writeFileAtomic } = await import("@opsguard/core/state");
    await ensurePrivateDir(join(file, ".."), { log });
    await removeOrphanedTemps(file);
    await writeFileAtomic(file, `${JSON.stringify({ ...content, expiresAt })}\n`, { mode: 0o600 });
  } catch (error) {
    // The servers are known for this login; the next one asks DNS again.
    log.warn(`could not cache the DNS SRV answer: ${(error as Error).message}`);
  }
}

/**
 * For the resident agent, which holds one connection for its lifetime: it takes a static list only.
 * With ldap.srv it refuses to start (logins then look up directly, discovering servers each TTL).
 */
export function staticLdap(config: AuthkeysConfig): LdapConnectionConfig {
  const { srv: _srv, dnsServer: _dns, urls, ...ldap } = config.ldap;
  if (!urls) {
    throw new ConfigError("authkeys agent needs a static ldap.urls list; it does not follow ldap.srv", {
      hint: "list ldap.urls for the agent's config, or run without the agent (logins discover servers themselves)",
    });
  }
  return { ...ldap, urls };
}
