import { compileFilterTemplate, LdapClient, ldapOptionsFromConfig } from "@opsguard/core";
import type { SlapdComponent } from "../components";
import type { DemoSection } from "./types";

export const ldapKeysDemo: DemoSection = {
  title: "core LDAP client: a user's SSH keys from slapd (StartTLS, verified against the lab CA)",
  async run(lab, out) {
    const { slapd } = lab.get<SlapdComponent>("slapd");
    const config = lab.sections.ldap;
    if (!config) throw new Error("the LDAP demo needs the slapd component's ldap section");
    const filter = compileFilterTemplate("(&(objectClass=posixAccount)(uid={user}))", ["user"]);
    const client = new LdapClient(ldapOptionsFromConfig(config));
    try {
      const user = "alice";
      const entry = await client.searchOne(slapd.peopleDn, { filter: filter.fill({ user }), attributes: ["sshPublicKey", "memberOf"] });
      if (!entry) throw new Error(`${user} not found`);
      out(`$ lookup ${user}  →  ${entry.dn} via ${client.url} (bound as ${config.bindDn})`);
      for (const key of entry.get("sshPublicKey")) {
        const [type = "", blob = "", comment = ""] = key.split(" ");
        out(`  ${type.padEnd(20)} ${blob.slice(0, 16)}…${blob.slice(-8)} ${comment}`);
      }
      out(`  member of: ${entry.get("memberOf").join("; ") || "(none)"}`);
      const hostile = "*)(uid=*";
      const matches = await client.search(slapd.peopleDn, { filter: filter.fill({ user: hostile }), attributes: ["uid"] });
      out(`$ lookup "${hostile}"  →  ${matches.length} entries (filter ${filter.fill({ user: hostile })}: injection escaped)`);
    } finally {
      await client.close();
    }
  },
};
