/**
 * Login names we are willing to look up: POSIX portable characters (plus "$" last, for machine
 * accounts), no leading "-" or ".", at most 64 bytes. Anything else cannot be a real account, so it
 * never reaches LDAP — escaping still applies to what does.
 */
const USERNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}\$?$/;

export function isValidUsername(name: string): boolean {
  return USERNAME.test(name);
}

/** User names come from the network; keep a log line one line. */
export function printableUser(user: string): string {
  return user.replace(/[^\x21-\x7e]/g, "?").slice(0, 64);
}
