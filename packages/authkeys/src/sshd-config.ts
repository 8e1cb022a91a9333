import { isAbsolute, resolve } from "node:path";
import { UsageError } from "@opsguard/core/errors";

/** Where `authkeys install` puts the bundle, its launcher and its code cache. */
export const DEFAULT_PREFIX = "/usr/local/lib/opsguard/authkeys";

export interface SshdConfigOptions {
  /** Where the authkeys file is installed (absolute, root-owned). */
  path: string;
  /** AuthorizedKeysCommandUser: a dedicated account that owns the cache directory. */
  user: string;
  config?: string | undefined;
}

/** Characters sshd's argv_split passes through unquoted. */
const PLAIN_WORD = /^[A-Za-z0-9_./%+,:=@~-]+$/;

/**
 * An argument of an AuthorizedKeysCommand as sshd reads it back. sshd splits the command with argv_split
 * (misc.c: white space separates, "…" and '…' quote, inside quotes only \\ \" \' are escapes), then
 * expands %-tokens and ${ENV} in every word after the first (auth2-pubkey.c, percent_dollar_expand):
 * a literal % is %%, and `${` cannot be written at all (checkPath refuses it).
 */
function sshdArgument(word: string): string {
  const text = word.replaceAll("%", "%%");
  return PLAIN_WORD.test(text) ? text : `"${text.replace(/[\\"']/g, (c) => `\\${c}`)}"`;
}

/**
 * A command line from sshd_config split into words as sshd does (misc.c argv_split: blanks separate outside
 * quotes, "…" and '…' quote, \\ \" \' are escapes and so is \<space> outside quotes, a backslash before
 * anything else stays), then %% made % as percent_expand does for every word after the first. Other %-tokens
 * (%u, %f…) are left as written. Undefined for a line sshd cannot split (an unclosed quote).
 */
export function sshdCommandWords(line: string): string[] | undefined {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === " " || line[i] === "\t") {
      i++;
      continue;
    }
    let word = "";
    let quote = "";
    for (; i < line.length; i++) {
      const c = line[i] as string;
      const next = line[i + 1];
      if (c === "\\" && (next === "'" || next === '"' || next === "\\" || (quote === "" && next === " "))) word += line[++i];
      else if (quote === "" && (c === " " || c === "\t")) break;
      else if (quote === "" && (c === '"' || c === "'")) quote = c;
      else if (quote !== "" && c === quote) quote = "";
      else word += c;
    }
    if (quote !== "") return undefined;
    words.push(words.length === 0 ? word : word.replaceAll("%%", "%"));
  }
  return words;
}

function checkPath(flag: string, path: string, example: string): void {
  // A line break would add a directive of its own to sshd_config (AuthorizedKeysFile, Match …).
  if (path === "" || /\p{Cc}/u.test(path)) {
    throw new UsageError(`${flag} ${JSON.stringify(path)} is empty or contains control characters, which would change sshd_config`, {
      hint: `give an absolute path, e.g. ${example}`,
    });
  }
  if (path.includes("${")) {
    throw new UsageError(`${flag} ${JSON.stringify(path)} contains "\${", which sshd expands as an environment variable`, {
      hint: `move it to a path without "\${", e.g. ${example}`,
    });
  }
}

/**
 * The sshd_config snippet. `lookup` before %u keeps a user named like a subcommand from running it, and
 * `--` keeps a user named like an option (`--help`, `-c`) from being read as one.
 */
export function sshdConfigLines(options: SshdConfigOptions): string {
  checkPath("--path", options.path, "/usr/local/lib/opsguard/authkeys/authkeys");
  // sshd takes the first word of the line as it is written (servconf.c wants it to start with "/", so it
  // cannot be quoted) and runs it from /: a relative path names another file there, or none.
  if (!PLAIN_WORD.test(options.path)) {
    throw new UsageError(
      `--path ${JSON.stringify(options.path)} contains white space or quotes, which sshd cannot take in the command's path`,
      {
        hint: "install to a path of letters, digits and / . _ - only, e.g. /usr/local/lib/opsguard/authkeys/authkeys",
      },
    );
  }
  if (!isAbsolute(options.path)) {
    throw new UsageError(`--path ${JSON.stringify(options.path)} is not absolute, and sshd runs the command only by its absolute path`, {
      hint: `give the absolute path authkeys is installed at, e.g. ${resolve(options.path)}`,
    });
  }
  // sshd runs the command from /, so a relative --config would name another file there: named absolutely.
  const config = options.config === undefined ? undefined : resolve(options.config);
  if (config !== undefined) checkPath("--config", config, "/etc/opsguard/authkeys.yaml");
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(options.user)) {
    throw new UsageError(`--run-as ${JSON.stringify(options.user)} is not a user name`, {
      hint: "give the account sshd runs authkeys as (letters, digits, '_', '.', '-'), e.g. --run-as authkeys",
    });
  }
  const command = [options.path, ...(config ? ["--config", sshdArgument(config)] : [])].join(" ");
  return [
    "# /etc/ssh/sshd_config.d/10-authkeys.conf — then: sshd -t && systemctl reload ssh",
    // The principals lines come first: OpenSSH before 9.4 (Debian 12's 9.2p1 included) ignores an
    // AuthorizedPrincipalsCommand that follows an AuthorizedKeysCommand (servconf.c tested the keys
    // command's slot; bug 3574, fixed upstream in 9.4), and sshd then takes any certificate naming the
    // login name as a principal: no LDAP group check at all.
    "# With an SSH user CA (TrustedUserCAKeys): the certificate principals that may log in as %u, from LDAP.",
    "# Keep these two lines BEFORE AuthorizedKeysCommand: OpenSSH < 9.4 ignores them after it.",
    `AuthorizedPrincipalsCommand ${command} principals -- %u %i %s %T`,
    `AuthorizedPrincipalsCommandUser ${options.user}`,
    `AuthorizedKeysCommand ${command} lookup -- %u %f`,
    `AuthorizedKeysCommandUser ${options.user}`,
    "# Keys come only from LDAP; keep a file (e.g. .ssh/authorized_keys) here only for local break-glass accounts.",
    "AuthorizedKeysFile none",
    "",
  ].join("\n");
}
