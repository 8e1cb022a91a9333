import { ConfigError, describeError } from "@opsguard/core/errors";
import type { ExitCode } from "@opsguard/core/exit";
import {
  elapsed,
  type GiveUpWords,
  type LookupCommandOptions,
  loginLoggers,
  startClock,
  underGiveUp,
  WATCHDOG_GRACE_MS,
} from "./lookup-command";
import { principalOptionsProblem } from "./principal-options";
import type { PrincipalsOutcome } from "./principals";
import { printableUser } from "./username";

/** sshd's %i, %s and %T: logged with the lookup, never trusted (the principals decide, not the certificate's claims). */
export interface CertificateTokens {
  keyId?: string | undefined;
  serial?: string | undefined;
  type?: string | undefined;
}

/** The same options as the key lookup (the principals go to stdout, where sshd reads them). */
export type PrincipalsCommandOptions = LookupCommandOptions;

const PRINCIPAL_WORDS: GiveUpWords = { cached: "group memberships", printed: "principals" };

/**
 * `authkeys principals <user> [keyid serial type]`: one principal per line, one audit line per lookup,
 * under the key lookup's hard give-up, so sshd is never held past the deadline: at the limit the fresh
 * cached memberships are served under the outage rules, or it exits 75.
 */
export async function runPrincipalsCommand(user: string, cert: CertificateTokens, options: PrincipalsCommandOptions): Promise<ExitCode> {
  const { io } = options;
  startClock(options.startedAtMs);
  const config = await options.loadConfig(options.config);
  const problem = principalOptionsProblem(config);
  if (problem) throw new ConfigError(`invalid config for principals: ${problem}`);
  const syslog = config.syslog || undefined;
  const { log, audit } = loginLoggers(config, options);
  // The certificate's own fields come from whoever holds it: escaped like a user name before they reach a log.
  const certFields = {
    ...(cert.keyId === undefined ? {} : { keyId: printableUser(cert.keyId) }),
    ...(cert.serial === undefined ? {} : { serial: printableUser(cert.serial) }),
    ...(cert.type === undefined ? {} : { certType: printableUser(cert.type) }),
  };
  const print = async (outcome: PrincipalsOutcome) => {
    if (options.json) {
      const { result, source, principals, keyOptions } = outcome;
      io.stdout.write(`${JSON.stringify({ user, result, source, principals, keyOptions })}\n`);
    } else if (outcome.principals.length > 0) {
      const { principalLines } = await import("./principals");
      io.stdout.write(`${principalLines(outcome).join("\n")}\n`);
    }
    audit.info("principals", {
      user: printableUser(user),
      ...certFields,
      result: outcome.result,
      principals: outcome.principals.length,
      source: outcome.source,
      ms: elapsed(),
    });
  };
  const failed = (error: unknown) => {
    if (syslog) {
      audit.error("principals", { user: printableUser(user), ...certFields, result: "error", source: "none", error: describeError(error) });
    }
  };
  return underGiveUp({
    limitMs: config.ldap.deadlineMs + WATCHDOG_GRACE_MS,
    ldapDeadlineMs: config.ldap.deadlineMs,
    words: PRINCIPAL_WORDS,
    io,
    lookup: async (budgetMs) => {
      const { lookupPrincipals } = await import("./principals");
      return lookupPrincipals(config, user, { log, budgetMs: budgetMs() });
    },
    fromCache: async (error) => {
      const { principalsFromCacheAfterDeadline } = await import("./principals");
      return principalsFromCacheAfterDeadline(config, user, { log }, error);
    },
    print,
    failed,
  });
}
