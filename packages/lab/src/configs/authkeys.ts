import { join } from "node:path";
import type { authkeysConfigSchema } from "../../../authkeys/src/config";
import type { ToolConfigBuilder } from "../lab";
import { type ConfigInput, toolBin } from "./sections";

/** Annotated on build() so a key the tool's schema does not have is an excess-property error. */
type AuthkeysInput = ConfigInput<typeof authkeysConfigSchema>;

/** authkeys against slapd as the reader account; keys only for members of ops and sre, as the lab's sshd does. */
export const authkeysConfig: ToolConfigBuilder<AuthkeysInput> = {
  tool: "authkeys",
  build({ ldap, ldapDirectory: directory }, dir): AuthkeysInput | undefined {
    if (!ldap || !directory) return undefined;
    return {
      ldap,
      allowedGroups: [`cn=ops,${directory.groupsDn}`, `cn=sre,${directory.groupsDn}`],
      cache: { dir: join(dir, "authkeys-cache") },
      syslog: false,
    };
  },
  tryCommand: (configFile) => `node ${toolBin("authkeys")} --config ${configFile} alice`,
};
