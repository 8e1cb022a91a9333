import { join } from "node:path";
import type { configSchema } from "../../../vpnnotify/src/config";
import type { ToolConfigBuilder } from "../lab";
import { type ConfigInput, toolBin } from "./sections";

/** Annotated on build() so a key the tool's schema does not have is an excess-property error. */
type VpnnotifyInput = ConfigInput<typeof configSchema>;

/** vpnnotify: LDAP maps a login to its slackId, alerts go to the Slack sim's #security, places live in redis when it runs. */
export const vpnnotifyConfig: ToolConfigBuilder<VpnnotifyInput> = {
  tool: "vpnnotify",
  build({ slack, slackLab, ldap, redis }, dir): VpnnotifyInput | undefined {
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
