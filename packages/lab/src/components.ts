import type { LabComponent, StartedComponent, ToolConfigBuilder } from "./lab";
import { redisComponent } from "./redis";
import { type SlapdLab, startSlapd } from "./slapd";
import { sshdComponent } from "./sshd";

export interface SlapdComponent extends StartedComponent {
  slapd: SlapdLab;
}

export const slapdComponent: LabComponent<SlapdComponent> = {
  name: "slapd",
  async start() {
    const slapd = await startSlapd();
    return {
      slapd,
      describe: () => [
        `OpenLDAP slapd  ${slapd.url} (StartTLS)  ${slapd.ldapsUrl}`,
        `  base DN       ${slapd.baseDn}`,
        `  CA            ${slapd.caFile}`,
        `  admin         ${slapd.adminDn}  password file ${slapd.adminPasswordFile}`,
        `  reader        ${slapd.readerDn}  password file ${slapd.readerPasswordFile}`,
        `  deputize      ${slapd.serviceDn}  password file ${slapd.servicePasswordFile} (may write only ${slapd.groups.oncall})`,
        `  users         ${Object.values(slapd.users)
          .map((u) => `${u.uid}${u.disabled ? " (disabled)" : ""}`)
          .join(", ")}; private keys in ${slapd.dir}`,
        `  try           LDAPTLS_CACERT=${slapd.caFile} ldapsearch -H ${slapd.url} -ZZ -x -LLL -b ${slapd.peopleDn} "(uid=alice)" sshPublicKey`,
      ],
      sections: () => ({
        ldap: slapd.connection(),
        ldapService: slapd.connection({ bindDn: slapd.serviceDn, bindPassword: `file:${slapd.servicePasswordFile}` }),
        ldapDirectory: { peopleDn: slapd.peopleDn, groupsDn: slapd.groupsDn, oncallGroupDn: slapd.groups.oncall },
      }),
      stop: () => slapd.stop(),
    };
  },
};

/**
 * Everything `pnpm lab` and `pnpm lab:demo` start, in order. A later issue adds its part (sshd,
 * redis-server, a SaaS simulator) with one line here.
 */
export const LAB_COMPONENTS: LabComponent[] = [slapdComponent, sshdComponent, redisComponent];

/** Ready-to-use tool configs written into the lab dir; each tool adds its builder with one line here. */
export const LAB_TOOL_CONFIGS: ToolConfigBuilder[] = [];
