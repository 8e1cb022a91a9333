import { NoInputError } from "@opsguard/core/errors";
import { LdapClient } from "@opsguard/core/ldap/client";
import { ldapOptionsFromConfig } from "@opsguard/core/ldap/options";
import type { Logger } from "@opsguard/core/log";
import type { AuthkeysConfig } from "./config";
import { splitOptions } from "./key-options";
import { checkKeyValue, fingerprintOf, type KeyPolicy } from "./keys";
import { missingBase } from "./search-base";
import { resolveLdapServers } from "./srv";

/**
 * `authkeys audit`: every user's stored keys judged by the same rules a login applies, across the whole
 * directory, plus what one login cannot see — the same key on two accounts, keys left on disabled accounts,
 * accounts with no key — and a second opinion from ssh2's key parser on every value.
 */
export type FindingKind =
  | "invalid-key"
  | "disallowed-type"
  | "weak-rsa"
  | "duplicate-key"
  | "disabled-user-key"
  | "parser-disagreement"
  | "no-key";

/** What fails policy (exit 1); the rest is reported for hygiene. */
export const FAILING_KINDS: ReadonlySet<FindingKind> = new Set([
  "invalid-key",
  "disallowed-type",
  "weak-rsa",
  "duplicate-key",
  "disabled-user-key",
  "parser-disagreement",
]);

export interface Finding {
  user: string;
  dn: string;
  kind: FindingKind;
  detail: string;
  /** SHA256 fingerprint of the key concerned; never the key itself. */
  fingerprint?: string;
}

export interface AuditReport {
  users: number;
  keys: number;
  findings: Finding[];
  counts: Record<FindingKind, number>;
  /** Findings of a failing kind. */
  failing: number;
}

/** A second parser's verdict on one key line (type, base64, comment): true when it reads the key. */
export type SecondOpinion = (line: string) => boolean;

export interface AuditOptions {
  /** LDAP filter selecting the accounts to audit. */
  filter: string;
  secondOpinion: SecondOpinion;
  /** Called after each page with the number of accounts read so far. */
  onProgress?: (users: number) => void;
  now?: Date;
  log: Logger;
}

interface Account {
  user: string;
  dn: string;
  values: string[];
  disabled: string | undefined;
}

const NOLOGIN_SHELLS = new Set(["/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"]);

export async function auditDirectory(config: AuthkeysConfig, options: AuditOptions): Promise<AuditReport> {
  // the same servers a login would use: the static list, or DNS SRV discovery (cached by TTL)
  const client = new LdapClient(ldapOptionsFromConfig(await resolveLdapServers(config, { log: options.log })));
  const accounts: Account[] = [];
  const now = options.now ?? new Date();
  try {
    const pages = client.searchPages(config.userBase ?? config.ldap.baseDn, {
      filter: options.filter,
      attributes: [config.keyAttribute, config.userNameAttribute, "shadowExpire", "loginShell", "pwdAccountLockedTime", "nsAccountLock"],
    });
    // A paged search that fails half-way throws here: an incomplete directory is never a clean audit.
    for await (const page of pages) {
      for (const entry of page) {
        accounts.push({
          user: entry.get(config.userNameAttribute)[0] ?? entry.dn,
          dn: entry.dn,
          values: entry.get(config.keyAttribute),
          disabled: disabledBecause(entry.get.bind(entry), now),
        });
      }
      options.onProgress?.(accounts.length);
    }
  } catch (error) {
    // a userBase that does not exist is 65 naming it, as for a lookup, not 66 (which says the filter matched nothing)
    missingBase("the user search base", "userBase")(error);
  } finally {
    await client.close();
  }
  // a filter that matches nothing (a typo in audit.filter, the wrong base) must not read as a clean directory
  if (accounts.length === 0) {
    throw new NoInputError(`the audit filter ${options.filter} matched no account under ${config.userBase ?? config.ldap.baseDn}`, {
      hint: "check audit.filter (or --filter) and userBase",
    });
  }
  return judge(accounts, { types: config.keyTypes, minRsaBits: config.minRsaBits }, options.secondOpinion);
}

/** Why an account cannot log in (so keys on it are left-overs), or undefined. */
function disabledBecause(get: (attribute: string) => string[], now: Date): string | undefined {
  // shadowExpire: days since 1970-01-01 on which the account expires (shadow(5)); -1 or absent: never
  const expire = Number(get("shadowExpire")[0] ?? "-1");
  if (Number.isInteger(expire) && expire >= 0 && expire * 86_400_000 <= now.getTime()) return "shadowExpire has passed";
  const shell = get("loginShell")[0];
  if (shell !== undefined && NOLOGIN_SHELLS.has(shell)) return `login shell ${shell}`;
  if (get("pwdAccountLockedTime").length > 0) return "locked by password policy (pwdAccountLockedTime)";
  if ((get("nsAccountLock")[0] ?? "").toLowerCase() === "true") return "nsAccountLock";
  return undefined;
}

export function judge(accounts: readonly Account[], policy: KeyPolicy, secondOpinion: SecondOpinion): AuditReport {
  const findings: Finding[] = [];
  const owners = new Map<string, Set<string>>();
  let keys = 0;
  for (const account of accounts) {
    const add = (kind: FindingKind, detail: string, fingerprint?: string) =>
      findings.push({ user: account.user, dn: account.dn, kind, detail, ...(fingerprint ? { fingerprint } : {}) });
    if (account.values.length === 0) add("no-key", "no key stored");
    let usable = 0;
    for (const value of account.values) {
      keys++;
      const verdict = checkKeyValue(value, policy);
      const line = keyLine(value);
      const fingerprint = verdict.ok ? verdict.key.fingerprint : (verdict.fingerprint ?? (line ? blobFingerprint(line) : undefined));
      if (fingerprint) owners.set(fingerprint, (owners.get(fingerprint) ?? new Set()).add(account.user));
      if (verdict.ok) usable++;
      else add(kindOf(verdict.reason), verdict.reason, fingerprint);
      // authkeys "reads" a key it parsed: accepted, or refused only by the type or size policy
      const readable = verdict.ok || kindOf(verdict.reason) !== "invalid-key";
      const ssh2Reads = line !== undefined && secondOpinion(line);
      if (readable !== ssh2Reads) {
        add(
          "parser-disagreement",
          readable ? "authkeys reads this key, ssh2's parser does not" : "ssh2's parser reads this key, authkeys does not",
          fingerprint,
        );
      }
    }
    if (account.disabled && account.values.length > 0) {
      add(
        "disabled-user-key",
        `${account.values.length} key(s) on a disabled account (${account.disabled})${usable ? "" : ", none usable"}`,
      );
    }
  }
  for (const [fingerprint, users] of owners) {
    if (users.size < 2) continue;
    for (const account of accounts.filter((a) => users.has(a.user))) {
      const others = [...users].filter((u) => u !== account.user).sort();
      findings.push({ user: account.user, dn: account.dn, kind: "duplicate-key", detail: `same key as ${others.join(", ")}`, fingerprint });
    }
  }
  const counts = Object.fromEntries(
    ["invalid-key", "disallowed-type", "weak-rsa", "duplicate-key", "disabled-user-key", "parser-disagreement", "no-key"].map((k) => [
      k,
      0,
    ]),
  ) as Record<FindingKind, number>;
  for (const f of findings) counts[f.kind]++;
  findings.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  return { users: accounts.length, keys, findings, counts, failing: findings.filter((f) => FAILING_KINDS.has(f.kind)).length };
}

function kindOf(reason: string): FindingKind {
  if (reason.startsWith("key type ")) return "disallowed-type";
  if (reason.startsWith("RSA key of ")) return "weak-rsa";
  return "invalid-key";
}

/** The value without its authorized_keys options: what a key parser reads. */
function keyLine(value: string): string | undefined {
  if (/[\r\n\0]/.test(value)) return undefined;
  const split = splitOptions(value.trim());
  return typeof split === "string" ? undefined : split.rest;
}

function blobFingerprint(line: string): string | undefined {
  const base64 = line.split(/[ \t]+/)[1];
  return base64 && /^[A-Za-z0-9+/]+={0,2}$/.test(base64) ? fingerprintOf(Buffer.from(base64, "base64")) : undefined;
}
