import { isIP, isIPv6 } from "node:net";

/**
 * The syntax of ldap.srv and ldap.dnsServer, shared by the config schema (which refuses a bad value
 * at config time, exit 78) and the SRV lookup (which uses the same parse). zod-free and socket-free,
 * so the schema does not load the DNS client.
 */

/** `example.org`, or OpenLDAP's `ldap:///dc=example,dc=org` (the dc components, RFC 2247). */
export function srvDomain(srv: string): string {
  const dn = /^ldap:\/\/\/(.*)$/i.exec(srv)?.[1];
  const domain =
    dn === undefined
      ? srv
      : dn
          .split(",")
          .map((rdn) => rdn.slice(3))
          .join(".");
  return domain.replace(/\.$/, "").toLowerCase();
}

/** Where the SRV query must fit: `_ldaps._tcp.` is put in front of the domain. */
const SRV_PREFIX = "_ldaps._tcp.";

/**
 * Why `domain` cannot be asked for in DNS, or undefined: RFC 1035 §2.3.4, a label of at most 63
 * octets and a name of at most 255 octets on the wire (253 written out), here with the SRV prefix.
 */
export function dnsNameProblem(domain: string): string | undefined {
  // RFC 1123 §2.1 host name labels: a hyphen only inside ("dc=-" or "x.-y" would be sent to DNS and
  // fail there, at a login, as "unavailable" instead of here as a config error).
  if (domain.split(".").some((label) => /^-|-$/.test(label))) return "a DNS label must start and end with a letter or digit";
  const long = domain.split(".").find((label) => label.length > 63);
  // Lengths only: the value itself is the config's, and a message is no place to repeat it unescaped.
  if (long !== undefined) return `a DNS label has at most 63 characters (one has ${long.length})`;
  const name = `${SRV_PREFIX}${domain}`;
  if (name.length > 253) return `a DNS name has at most 253 characters (${SRV_PREFIX}<domain> has ${name.length})`;
  return undefined;
}

/** "IP", "IP:port", "[IPv6]" or "[IPv6]:port"; port 53 when none is given. */
export function splitDnsServer(server: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (bracketed) return { host: bracketed[1] ?? "", port: Number(bracketed[2] ?? 53) };
  if (isIPv6(server)) return { host: server, port: 53 };
  const [host = "", port = "53"] = server.split(":");
  return { host, port: Number(port) };
}

/** Why `server` is not a DNS server address a UDP query can go to, or undefined. */
export function dnsServerProblem(server: string): string | undefined {
  const { host, port } = splitDnsServer(server);
  if (isIP(host) === 0) return "expected an IP address (a DNS server is not looked up by name)";
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return `port ${port} is out of range (1-65535)`;
  return undefined;
}
