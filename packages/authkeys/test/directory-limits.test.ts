import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { LdapTooManyError } from "@opsguard/core";
import { generateSshKey, type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authkeysConfigSchema, lookupKeys } from "../src/index";
import { bundleLookup, collectingLogger, requireBundle, writeConfig } from "./harness";

// T37 (a black-box try, session 33): answers a real directory gives when it is limited or configured wrong.
// The reader account may have one entry per search (OpenLDAP olcLimits size=1, an ordinary per-account limit).

let lab: SlapdLab;
let n = 0;

beforeAll(async () => {
  requireBundle();
  lab = await startSlapd({ readerSizeLimit: 1 });
  // a second entry answering uid=alice, added after hers, so slapd sends hers first and stops there (result code 4)
  const twin = await generateSshKey(lab.dir, "twin", "ed25519", "twin@lab");
  await lab.addEntry(`cn=alice-twin,${lab.peopleDn}`, {
    objectClass: ["inetOrgPerson", "posixAccount", "ldapPublicKey"],
    uid: "alice",
    cn: "alice-twin",
    sn: "Twin",
    uidNumber: "7001",
    gidNumber: "7001",
    homeDirectory: "/home/alice-twin",
    sshPublicKey: twin.publicKey,
  });
});
afterAll(() => lab?.stop());

function configFile(extra: Record<string, unknown> = {}): string {
  n++;
  const file = join(lab.dir, `limits-${n}.json`);
  writeConfig(file, { ldap: lab.connection(), cache: { dir: join(lab.dir, `limits-cache-${n}`) }, syslog: false, ...extra });
  return file;
}

describe("a search the server cut short is no answer", () => {
  it("two entries for one uid, of which the server's size limit let one through, refuse the login (65), not print that one's keys", async () => {
    const { log } = collectingLogger();
    const config = authkeysConfigSchema.parse({ ldap: lab.connection(), cache: { enabled: false }, syslog: false });
    const refused = await lookupKeys(config, { user: "alice" }, { log }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LdapTooManyError);
    expect((refused as Error).message).toMatch(/size limit was reached \(result code 4, sizeLimitExceeded\)/);

    const run = bundleLookup(configFile(), "alice");
    expect(run).toMatchObject({ status: 65, stdout: "" });
    expect(run.stderr).toMatch(/size limit was reached/);
    // a unique uid is one entry, within the limit: bob still logs in
    expect(bundleLookup(configFile(), "bob")).toMatchObject({ status: 0, stdout: expect.stringMatching(/^ssh-/) });
  });
});

describe("a configured DN the directory lacks", () => {
  it("a userBase that does not exist is the config's error (65, naming userBase), as the README's exit codes say", () => {
    const run = bundleLookup(configFile({ userBase: `ou=peeple,${lab.baseDn}` }), "bob");
    expect(run).toMatchObject({ status: 65, stdout: "" });
    expect(run.stderr).toMatch(/the user search base does not exist.*userBase/s);
  });

  it("a nestedGroups.groupBase that does not exist is 65 naming it, and audit's userBase is 65 like lookup's (T42 N1)", () => {
    const nested = configFile({ allowedGroups: [lab.groups.sre], nestedGroups: { maxDepth: 2, groupBase: `ou=groupz,${lab.baseDn}` } });
    // bob is in no allowed group directly: the nested search under the missing base decides
    const run = bundleLookup(nested, "bob");
    expect(run).toMatchObject({ status: 65, stdout: "" });
    expect(run.stderr).toMatch(/the nested-group search base does not exist \(check nestedGroups\.groupBase/);
    const audit = spawnSync(process.execPath, [requireBundle(), "--config", configFile({ userBase: `ou=peeple,${lab.baseDn}` }), "audit"], {
      encoding: "utf8",
    });
    expect(audit.status).toBe(65);
    expect(audit.stderr).toMatch(/the user search base does not exist \(check userBase/);
  });

  it("an allowed group that does not exist is logged at every login that passes it, and doctor fails naming it", async () => {
    const gone = `cn=contractorz,${lab.groupsDn}`;
    const allowedGroups = [{ dn: gone, keyOptions: "no-port-forwarding" }, lab.groups.sre];
    const { log, lines } = collectingLogger();
    const config = authkeysConfigSchema.parse({ ldap: lab.connection(), cache: { enabled: false }, syslog: false, allowedGroups });
    // carol is in sre: she logs in through it, and the log says the group listed before it was not there to ask
    expect(await lookupKeys(config, { user: "carol" }, { log })).toMatchObject({ result: "keys" });
    expect(lines.join("\n")).toMatch(/allowed group does not exist or the bind DN cannot read it.*contractorz/);

    const doctor = spawnSync(process.execPath, [requireBundle(), "--config", configFile({ allowedGroups }), "doctor"], {
      encoding: "utf8",
    });
    expect(doctor.status).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL +groups: allowedGroups cn=contractorz,ou=groups,\S+ does not exist or cn=reader/);
    const fine = spawnSync(process.execPath, [requireBundle(), "--config", configFile({ allowedGroups: [lab.groups.sre] }), "doctor"], {
      encoding: "utf8",
    });
    expect(fine.stdout).toMatch(/ok +groups: the 1 configured group\(s\) exist/);
  });
});
