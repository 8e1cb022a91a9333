import { join } from "node:path";
import type { ToolConfigBuilder } from "../lab";
import { section, toolBin } from "./sections";

/** vpnnotify: LDAP maps a login to its slackId, alerts go to the Slack sim's #security, places live in redis when it runs. */
export const vpnnotifyConfig: ToolConfigBuilder = {
  tool: "vpnnotify",
  build(sections, dir) {
    const slack = section<Record<string, unknown>>(sections, "slack");
    const slackLab = section<{ securityChannel: string }>(sections, "slackLab");
    const ldap = section<Record<string, unknown>>(sections, "ldap");
    const redis = section<{ url: string }>(sections, "redis");
    if (!slack || !slackLab) return undefined;
    return {
      server: { name: "vpn-lab-1", environment: "lab" },
      slack,
      securityChannel: slackLab.securityChannel,
      ...(ldap ? { directory: { ldap, slackIdAttribute: "slackId" } } : { directory: { emailDomain: "opsguard.test" } }),
      state: { file: join(dir, "vpnnotify-state.json"), ...(redis ? { redis: { url: redis.url } } : {}) },
      deadlineMs: 5_000,
      log: { file: join(dir, "vpnnotify.log") },
    };
  },
  tryCommand: (configFile) => `node ${toolBin("vpnnotify")} --config ${configFile} notify --user alice --ip 81.2.69.142`,
};
