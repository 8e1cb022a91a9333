import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RedisLab, SlackSim, SlapdLab } from "@opsguard/lab";

/**
 * A reconnect storm's cast and sites, shared by the burst test (30 logins in CI) and the storm
 * benchmark (scripts/bench/vpnnotify-storm.mjs, 200): the same users in slapd and Slack, the same
 * per-site config, so the test checks what the benchmark measures.
 */

const pad = (i: number) => String(i).padStart(3, "0");
export const stormUser = (i: number) => `storm${pad(i)}`;
export const stormSlackId = (i: number) => `U0STORM${pad(i)}`;
export const STORM_SECURITY = "C0SECURITY";
/** The environment variable the sites' configs read the Slack token from. */
export const STORM_TOKEN_ENV = "STORM_SLACK_TOKEN";

/** `count` directory users, each mapped to a Slack user the simulator knows. */
export async function seedStormUsers(lab: { slapd: SlapdLab; slack: SlackSim; count: number }): Promise<void> {
  for (let i = 0; i < lab.count; i++) {
    const uid = stormUser(i);
    await lab.slapd.addEntry(`uid=${uid},ou=people,${lab.slapd.baseDn}`, {
      objectClass: ["inetOrgPerson", "opsguardChatAccount"],
      uid,
      cn: uid,
      sn: "Storm",
      mail: `${uid}@opsguard.test`,
      slackName: uid,
      slackId: stormSlackId(i),
    });
    lab.slack.addUser({ id: stormSlackId(i), name: uid, email: `${uid}@opsguard.test` });
  }
}

export interface StormSite {
  root: string;
  config: string;
  spool: string;
  log: string;
  /** The worker's log so far. */
  text: () => string;
}

/**
 * A fresh site under `root` (its own spool, log and Redis prefix), so every login of a storm is a
 * first login. `spoolExists`: as after the first login (a worker made it), so hooks queue without Node.
 */
export function stormSite(
  root: string,
  lab: { slapd: SlapdLab; redis: RedisLab; slack: SlackSim },
  options: {
    spoolExists: boolean;
    deadlineMs: number;
    spool?: Record<string, unknown>;
    /** Redis options, or false for the state file (one VPN server). */
    redis?: Record<string, unknown> | false;
    geoip?: { city: string; asn: string };
    /** `reject`: OpenVPN's deferred answer waits on the worker's verdict. */
    onFailure?: "accept" | "reject";
  },
): StormSite {
  const spool = join(root, "spool");
  mkdirSync(options.spoolExists ? spool : root, { recursive: true, mode: 0o700 });
  const log = join(root, "vpnnotify.log");
  const config = join(root, "vpnnotify.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: { name: "vpn-storm" },
      slack: { token: `env:${STORM_TOKEN_ENV}`, baseUrl: lab.slack.apiUrl },
      securityChannel: STORM_SECURITY,
      directory: { ldap: lab.slapd.connection(), slackIdAttribute: "slackId" },
      state: {
        file: join(root, "state.json"),
        ...(options.redis === false ? {} : { redis: { url: lab.redis.url, keyPrefix: `${root}:`, ...options.redis } }),
      },
      ...(options.geoip ? { geoip: options.geoip } : {}),
      spool: { dir: spool, ...options.spool },
      deadlineMs: options.deadlineMs,
      ...(options.onFailure ? { onFailure: options.onFailure } : {}),
      log: { file: log },
    }),
  );
  return { root, config, spool, log, text: () => (existsSync(log) ? readFileSync(log, "utf8") : "") };
}
