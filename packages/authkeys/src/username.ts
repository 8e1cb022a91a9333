/**
 * Login names we are willing to look up: POSIX portable characters (plus "$" last, for machine
 * accounts), no leading "-" or ".", at most 64 bytes. Anything else cannot be a real account, so it
 * never reaches LDAP — escaping still applies to what does.
 */
const USERNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}\$?$/;

export function isValidUsername(name: string): boolean {
  return USERNAME.test(name);
}

/** Code points of a user name shown as they are; anything else is escaped. */
const SHOWN_MAX = 64;

/**
 * User names come from the network; keep a log line one line, and two different names two different
 * texts: a backslash is doubled, other characters outside printable ASCII are written \xHH or \u{H}
 * ("alice " is alice\x20, "alice\xff" alice\u{fffd}, since Node reads a byte that is not UTF-8 in
 * argv as U+FFFD). A longer name is cut after 64 characters and marked with a trailing "\...", which
 * no escape above produces.
 */
export function printableUser(user: string): string {
  const chars = [...user];
  const shown = chars.slice(0, SHOWN_MAX).map((c) => {
    if (c === "\\") return "\\\\";
    if (/^[\x21-\x7e]$/.test(c)) return c;
    const code = c.codePointAt(0) ?? 0;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
  return shown.join("") + (chars.length > SHOWN_MAX ? "\\..." : "");
}
