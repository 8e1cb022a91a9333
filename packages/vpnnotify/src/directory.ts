import {
  compileFilterTemplate,
  describeError,
  ExitCode,
  type FilterTemplate,
  type LdapClientOptions,
  type LdapEntry,
  type Logger,
  type SlackClient,
  SlackNotFoundError,
  withLdap,
} from "@opsguard/core";
import type { VpnnotifyConfig } from "./config";
import { isTimeZone } from "./time-zone";

/**
 * Who to tell about a VPN user's login, or why nobody can be told. `retry`: the lookup itself
 * failed (LDAP or Slack down or hung), so the user may well exist and is still owed the DM.
 * `uid`: the directory entry's own name for the user (its canonical form).
 */
export type Recipient = { slackId: string; timeZone?: string; uid?: string } | { problem: string; retry?: boolean; uid?: string };

type DirectoryConfig = NonNullable<VpnnotifyConfig["directory"]>;

const TIME_ZONE_WAIT_MS = 400;

/** A "CN=" attribute at the start of a DN or after one of its separators (RFC 4514: "," between RDNs, "+" within one). */
const CERTIFICATE_SUBJECT = /(?:^|[,+])\s*(?:CN|2\.5\.4\.3)\s*=/gi;

/**
 * Maps a VPN user to a Slack user: an LDAP attribute holding the Slack id, or one holding an
 * email address that Slack's users.lookupByEmail resolves, or "<user>@<emailDomain>" without
 * LDAP. The user name goes into the LDAP filter escaped (RFC 4515).
 */
export class SlackDirectory {
  readonly #config: DirectoryConfig | undefined;
  readonly #ldap: LdapClientOptions | undefined;
  readonly #filter: FilterTemplate | undefined;
  readonly #slack: SlackClient;
  readonly #log: Logger;

  constructor(config: DirectoryConfig | undefined, ldap: LdapClientOptions | undefined, slack: SlackClient, log: Logger) {
    this.#config = config;
    this.#ldap = ldap;
    this.#filter = ldap && config ? compileFilterTemplate(config.filter, ["user"], "directory.filter") : undefined;
    this.#slack = slack;
    this.#log = log;
  }

  async find(user: string): Promise<Recipient> {
    // A certificate subject the hook could not take one CN from (parseHookEnv): several CNs, or one hidden in another
    // attribute's value as strongSwan prints it. Looking any of them up would guess whose login it is (T62 F9).
    const cns = user.match(CERTIFICATE_SUBJECT)?.length ?? 0;
    if (cns > 1) return { problem: "ambiguous user: a certificate subject with more than one CN, so none is taken as the user" };
    if (cns === 1) {
      return {
        problem:
          "ambiguous user: a certificate subject whose one CN is no user name (empty, holding a control character, or in a multi-valued RDN joined by '+'), so none is taken as the user",
      };
    }
    const config = this.#config;
    if (!config) return { problem: "no directory is configured" };
    if (this.#ldap && this.#filter) return this.#fromLdap(user, config, this.#ldap, this.#filter);
    if (config.emailDomain) return this.#byEmail(`${user}@${config.emailDomain}`, undefined);
    return { problem: "no directory is configured" };
  }

  async #fromLdap(user: string, config: DirectoryConfig, ldap: LdapClientOptions, filter: FilterTemplate): Promise<Recipient> {
    const attributes = [config.uidAttribute, config.slackIdAttribute, config.emailAttribute, config.timeZoneAttribute].filter(
      (a): a is string => !!a,
    );
    let list: LdapEntry[];
    try {
      list = await withLdap({ ...ldap, log: this.#log }, (client) =>
        client.search(config.ldap?.baseDn ?? "", { filter: filter.fill({ user }), attributes, sizeLimit: 2, pageSize: 0 }),
      );
    } catch (error) {
      return { problem: `directory lookup failed: ${describeError(error)}`, retry: true };
    }
    if (list.length === 0) return { problem: "unknown user: not in the directory" };
    if (list.length > 1) return { problem: "ambiguous user: several directory entries match" };
    const entry = list[0]!;
    const uid = entry.first(config.uidAttribute);
    const named = <R extends Recipient>(r: R): R => (uid ? { ...r, uid } : r);
    const timeZone = config.timeZoneAttribute ? entry.first(config.timeZoneAttribute) : undefined;
    const slackId = config.slackIdAttribute ? entry.first(config.slackIdAttribute) : undefined;
    if (slackId) {
      if (!/^[UW][A-Z0-9]+$/.test(slackId)) return named({ problem: `${config.slackIdAttribute} is not a Slack user id` });
      const zone = isTimeZone(timeZone) ? timeZone : await this.#slackTimeZone(slackId);
      return named({ slackId, ...(zone ? { timeZone: zone } : {}) });
    }
    const email = config.emailAttribute ? entry.first(config.emailAttribute) : undefined;
    if (email) return named(await this.#byEmail(email, isTimeZone(timeZone) ? timeZone : undefined));
    return named({ problem: "no Slack mapping in the directory entry" });
  }

  /**
   * The user's zone from their Slack profile. It only sets the message's clock, so it gets a short
   * wait of its own, and any failure just means "unknown": the message itself matters more.
   */
  async #slackTimeZone(slackId: string): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), TIME_ZONE_WAIT_MS);
    });
    const lookup = this.#slack.userInfo(slackId).then(
      (user) => (isTimeZone(user.tz) ? user.tz : undefined),
      () => undefined,
    );
    try {
      return await Promise.race([lookup, giveUp]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #byEmail(email: string, timeZone: string | undefined): Promise<Recipient> {
    try {
      const found = await this.#slack.lookupUserByEmail(email);
      if (found.deleted) return { problem: "the Slack account is deactivated" };
      const zone = timeZone ?? (isTimeZone(found.tz) ? found.tz : undefined);
      return { slackId: found.id, ...(zone ? { timeZone: zone } : {}) };
    } catch (error) {
      if (error instanceof SlackNotFoundError) return { problem: "no Slack user has the directory's email address" };
      // Only an outage is worth looking up again; a request Slack refuses (4xx) would be refused again.
      const code = (error as { exitCode?: number }).exitCode;
      const retry = code === ExitCode.UNAVAILABLE || code === ExitCode.TEMP_FAIL;
      return { problem: `Slack user lookup failed: ${describeError(error)}`, ...(retry ? { retry } : {}) };
    }
  }
}
