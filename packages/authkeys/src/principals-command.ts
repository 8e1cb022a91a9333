import { ConfigError, describeError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import { elapsed, type LookupCommandOptions, loginLoggers, startClock, WATCHDOG_GRACE_MS, watchdog } from "./lookup-command";
import { principalOptionsProblem } from "./principal-options";
import { printableUser } from "./username";

/** sshd's %i, %s and %T: logged with the lookup, never trusted (the principals decide, not the certificate's claims). */
export interface CertificateTokens {
  keyId?: string | undefined;
  serial?: string | undefined;
  type?: string | undefined;
}

/** The same options as the key lookup (the principals go to stdout, where sshd reads them). */
export type PrincipalsCommandOptions = LookupCommandOptions;

/**
 * `authkeys principals <user> [keyid serial type]`: one principal per line, one audit line per lookup,
 * under the same watchdog as the key lookup, so sshd is never held past the deadline.
 */
export async function runPrincipalsCommand(user: string, cert: CertificateTokens, options: PrincipalsCommandOptions): Promise<ExitCode> {
  const { io } = options;
  startClock(options.startedAtMs);
  const config = await options.loadConfig(options.config);
  const problem = principalOptionsProblem(config);
  if (problem) throw new ConfigError(`invalid config for principals: ${problem}`);
  watchdog(config.ldap.deadlineMs + WATCHDOG_GRACE_MS, io);
  const syslog = config.syslog || undefined;
  const { log, audit } = loginLoggers(config, options);
  // The certificate's own fields come from whoever holds it: escaped like a user name before they reach a log.
  const certFields = {
    ...(cert.keyId === undefined ? {} : { keyId: printableUser(cert.keyId) }),
    ...(cert.serial === undefined ? {} : { serial: printableUser(cert.serial) }),
    ...(cert.type === undefined ? {} : { certType: printableUser(cert.type) }),
  };
  try {
    const { lookupPrincipals, principalLines } = await import("./principals");
    const outcome = await lookupPrincipals(config, user, { log });
    if (options.json) {
      const { result, source, principals, keyOptions } = outcome;
      io.stdout.write(`${JSON.stringify({ user, result, source, principals, keyOptions })}\n`);
    } else if (outcome.principals.length > 0) {
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
    return ExitCode.OK;
  } catch (error) {
    if (syslog) {
      audit.error("principals", { user: printableUser(user), ...certFields, result: "error", source: "none", error: describeError(error) });
    }
    throw error;
  }
}
