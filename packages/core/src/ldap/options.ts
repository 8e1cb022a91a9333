import { resolveSecret } from "../secret";
import type { LdapClientOptions } from "./client";
import type { LdapConnectionConfig } from "./config";

/** Client options from a validated `ldap` section; keyPath names the section in error messages. */
export function ldapOptionsFromConfig(
  config: LdapConnectionConfig,
  keyPath = "ldap",
  env: NodeJS.ProcessEnv = process.env,
): LdapClientOptions {
  return {
    urls: config.urls,
    startTls: config.startTls,
    caFile: config.caFile,
    tlsInsecure: config.tlsInsecure,
    allowPlaintext: config.allowPlaintext,
    bindDn: config.bindDn,
    bindPassword: config.bindPassword === undefined ? undefined : resolveSecret(config.bindPassword, `${keyPath}.bindPassword`, env),
    connectTimeoutMs: config.connectTimeoutMs,
    timeoutMs: config.timeoutMs,
    deadlineMs: config.deadlineMs,
    pageSize: config.pageSize,
  };
}
