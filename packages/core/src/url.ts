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
