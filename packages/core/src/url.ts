import { isIP } from "node:net";

/**
 * Whether a URL's authority has a user[:password]@ part. Its own module (no zod, no ldapts) because config
 * schemas and clients both check it: credentials in a URL would be printed wherever the URL is.
 */
export function hasUserinfo(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url);
}

/**
 * A URL's host that is this machine, whose traffic never leaves it: "localhost" or an address literal (127.x, ::1),
 * never a name that merely starts with "127." (127.example.org resolves anywhere).
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

/**
 * Whether a secret sent to this URL (a token, a password, a header) would cross the network in clear text: a scheme
 * without TLS (http:, redis:) to a host that is not this machine. The one rule for every secret a tool sends, as
 * LDAP's bind password and every API baseUrl already follow; loopback stays allowed (the lab and tests use it).
 */
export function sendsInClear(url: URL): boolean {
  return url.protocol !== "https:" && url.protocol !== "rediss:" && !isLoopbackHost(url.hostname);
}

/** How the rule reads in a hint, after "use https://" or "use rediss://". */
export const LOOPBACK_ONLY = "127.0.0.1, ::1 or localhost";
