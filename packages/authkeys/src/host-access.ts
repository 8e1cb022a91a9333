import { hostname as systemHostname } from "node:os";
import { ConfigError } from "@opsguard/core/errors";

/** `hostAccess` of the config: who may log in on which host. */
export interface HostAccessConfig {
  /** This host's name as the rules see it; os.hostname() when unset. */
  hostname?: string | undefined;
  /** An attribute of the user listing the hosts the user may log in on (SSSD's ldap_user_authorized_host). */
  userAttribute?: string | undefined;
  /** Host name patterns → the groups allowed there instead of the top-level allowedGroups. */
  rules?: ReadonlyArray<{ hosts: readonly string[]; allowedGroups: readonly unknown[] }> | undefined;
}

/** The names this host answers to in the rules: as configured (or the kernel's), and its first label. */
export function hostNames(config: HostAccessConfig): string[] {
  const name = (config.hostname ?? systemHostname()).toLowerCase();
  const short = name.split(".")[0] ?? name;
  return [...new Set([name, short])].filter((n) => n !== "");
}

/**
 * SSSD's `host` attribute semantics, as sssd-ldap(5) describes ldap_user_authorized_host: "An explicit
 * deny (!host) is resolved first. Second, SSSD searches for explicit allow (host) and finally for
 * allow_all (*)." As in SSSD and pam_ldap's pam_check_host_attr (SSSD issue #1788), a user with no value
 * at all may not log in, only `*` is special (no other wildcards), and the host's names are tried both
 * fully qualified and short. Compared case-insensitively: host names are (RFC 4343).
 */
export function hostAttributeAllows(values: readonly string[], names: readonly string[]): boolean {
  const lowered = values.map((v) => v.trim().toLowerCase());
  if (lowered.some((v) => v.startsWith("!") && names.includes(v.slice(1)))) return false;
  return lowered.some((v) => names.includes(v) || v === "*");
}

/**
 * Which allowedGroups apply on this host. With host rules, exactly one rule must match one of the
 * host's names: none falls back to the top-level allowedGroups, or admits nobody when there are none
 * (a host no rule names is not open to every user); several are ambiguous, so an error (no keys)
 * rather than a guess between their groups.
 */
export function groupsForHost<T>(config: HostAccessConfig | undefined, topLevel: readonly T[] | undefined): readonly T[] | undefined {
  if (!config?.rules || config.rules.length === 0) return topLevel;
  const names = hostNames(config);
  const matching = config.rules.filter((rule) => rule.hosts.some((pattern) => names.some((name) => globMatches(pattern, name))));
  if (matching.length > 1) {
    throw new ConfigError(`host "${names[0]}" matches ${matching.length} hostAccess.rules; refusing to guess which groups apply`, {
      hint: "make the rules' hosts patterns disjoint, or set hostAccess.hostname",
    });
  }
  const rule = matching[0];
  if (rule) return rule.allowedGroups as readonly T[];
  return topLevel ?? [];
}

/**
 * sshd_config(5)'s PATTERNS: `*` any run of characters, `?` exactly one, case-insensitive. A dozen
 * lines, so no glob library (they also treat `/` and dots specially, which host names do not want).
 */
export function globMatches(pattern: string, name: string): boolean {
  const source = [...pattern.toLowerCase()]
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`).test(name);
}
