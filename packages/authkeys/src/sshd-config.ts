import { resolve } from "node:path";
import { UsageError } from "@opsguard/core/errors";

/** Where `authkeys install` puts the bundle, its launcher and its code cache. */
export const DEFAULT_PREFIX = "/usr/local/lib/opsguard/authkeys";

export interface SshdConfigOptions {
  /** Where the authkeys file is installed (root-owned path, no spaces: sshd splits the line on them). */
  path: string;
  /** AuthorizedKeysCommandUser: a dedicated account that owns the cache directory. */
  user: string;
  config?: string | undefined;
}

/**
 * The sshd_config snippet. `lookup` before %u keeps a user named like a subcommand from running it, and
 * `--` keeps a user named like an option (`--help`, `-c`) from being read as one.
 */
export function sshdConfigLines(options: SshdConfigOptions): string {
  // sshd runs the command from /, so a relative --config would name another file there.
  const config = options.config === undefined ? undefined : resolve(options.config);
  if (config !== undefined && /\s/.test(config)) {
    throw new UsageError(`the config path ${JSON.stringify(config)} contains white space, which sshd splits the command line on`, {
      hint: "move the config to a path without spaces, e.g. /etc/opsguard/authkeys.yaml",
    });
  }
  // A line break in either would add a directive of its own to sshd_config (AuthorizedKeysFile, Match …), and a
  // space splits the command or leaves a user name sshd cannot look up.
  if (/[\s\p{Cc}]/u.test(options.path) || options.path === "") {
    throw new UsageError(
      `--path ${JSON.stringify(options.path)} contains white space or control characters, which would change sshd_config`,
      {
        hint: "give the absolute path authkeys is installed at, e.g. /usr/local/lib/opsguard/authkeys/authkeys",
      },
    );
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(options.user)) {
    throw new UsageError(`--run-as ${JSON.stringify(options.user)} is not a user name`, {
      hint: "give the account sshd runs authkeys as (letters, digits, '_', '.', '-'), e.g. --run-as authkeys",
    });
  }
  const configArg = config ? ` --config ${config}` : "";
  return [
    "# /etc/ssh/sshd_config.d/10-authkeys.conf — then: sshd -t && systemctl reload ssh",
    `AuthorizedKeysCommand ${options.path}${configArg} lookup -- %u %f`,
    `AuthorizedKeysCommandUser ${options.user}`,
    "# Keys come only from LDAP; keep a file (e.g. .ssh/authorized_keys) here only for local break-glass accounts.",
    "AuthorizedKeysFile none",
    "# With an SSH user CA (TrustedUserCAKeys): the certificate principals that may log in as %u, from LDAP.",
    `AuthorizedPrincipalsCommand ${options.path}${configArg} principals -- %u %i %s %T`,
    `AuthorizedPrincipalsCommandUser ${options.user}`,
    "",
  ].join("\n");
}
