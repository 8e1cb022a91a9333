import { join } from "node:path";
import type { ToolConfigBuilder } from "../lab";
import { type LdapDirectorySection, section, toolBin } from "./sections";

/** authkeys against slapd as the reader account; keys only for members of ops and sre, as the lab's sshd does. */
export const authkeysConfig: ToolConfigBuilder = {
  tool: "authkeys",
  build(sections, dir) {
    const ldap = section<Record<string, unknown>>(sections, "ldap");
    const directory = section<LdapDirectorySection>(sections, "ldapDirectory");
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
