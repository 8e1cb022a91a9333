import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSshKey, type LabKey, type LabKeyType } from "../sshkeys";
import { sshaHash } from "./config";

export type SeedUserName = "alice" | "bob" | "carol" | "dave" | "eve" | "frank";

export interface LabUser {
  uid: SeedUserName;
  dn: string;
  cn: string;
  mail: string;
  uidNumber: number;
  slackName: string;
  slackId: string;
  /** Valid keys, with their private halves for ssh logins in tests. */
  keys: LabKey[];
  /** Every sshPublicKey value as stored, including the weak and malformed ones. */
  sshPublicKeys: string[];
  /** Locked: shadowExpire in 1970 and a nologin shell. */
  disabled: boolean;
  password: string;
  passwordFile: string;
}

interface UserSpec {
  uid: SeedUserName;
  cn: string;
  keys: LabKeyType[];
  /** Values stored besides the generated keys: weak or broken ones for key validation. */
  extra?: (keys: Record<string, LabKey>) => string[];
  disabled?: boolean;
}

/** Key lines that must be rejected by a key validator; dave carries them next to a valid key. */
export const MALFORMED_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI-this-is-not-base64!! dave@broken";

const USERS: readonly UserSpec[] = [
  { uid: "alice", cn: "Alice Andersen", keys: ["ed25519", "ecdsa", "rsa"] },
  { uid: "bob", cn: "Bob Brown", keys: ["ed25519"] },
  { uid: "carol", cn: "Carol Núñez", keys: ["ecdsa"] },
  { uid: "dave", cn: "Dave Legacy", keys: ["ed25519", "rsa-1024", "dsa"], extra: () => [MALFORMED_KEY] },
  { uid: "eve", cn: "Eve Locked", keys: ["ed25519"], disabled: true },
  { uid: "frank", cn: "Frank Keyless", keys: [] },
];

export interface SeedEntry {
  dn: string;
  attributes: Record<string, string | string[]>;
}

export interface Seed {
  entries: SeedEntry[];
  users: Record<SeedUserName, LabUser>;
  groups: { ops: string; sre: string; oncall: string };
  servicePassword: string;
  readerPassword: string;
}

export interface SeedLayout {
  dir: string;
  baseDn: string;
  peopleDn: string;
  groupsDn: string;
  servicesDn: string;
  bulkDn: string;
  serviceDn: string;
  readerDn: string;
  bulkUsers: number;
}

/** Generates the keys and builds every entry, parents first. */
export async function buildSeed(l: SeedLayout): Promise<Seed> {
  const built = await Promise.all(
    USERS.map(async (spec, index): Promise<LabUser> => {
      const pairs = await Promise.all(
        spec.keys.map((type) => generateSshKey(l.dir, `${spec.uid}_${type}`, type, `${spec.uid}@opsguard.test`)),
      );
      const byType = Object.fromEntries(pairs.map((k) => [k.type, k]));
      const password = `${spec.uid}-${randomWord()}`;
      const passwordFile = join(l.dir, `${spec.uid}.password`);
      writeFileSync(passwordFile, password, { mode: 0o600 });
      return {
        uid: spec.uid,
        dn: `uid=${spec.uid},${l.peopleDn}`,
        cn: spec.cn,
        mail: `${spec.uid}@opsguard.test`,
        uidNumber: 10001 + index,
        slackName: spec.uid,
        slackId: `U0${spec.uid.toUpperCase().padEnd(7, "X")}`,
        keys: pairs.filter((k) => k.type !== "rsa-1024" && k.type !== "dsa"),
        sshPublicKeys: [...pairs.map((k) => k.publicKey), ...(spec.extra?.(byType) ?? [])],
        disabled: spec.disabled === true,
        password,
        passwordFile,
      };
    }),
  );
  const users = Object.fromEntries(built.map((u) => [u.uid, u])) as Record<SeedUserName, LabUser>;

  const servicePassword = `deputize-${randomWord()}`;
  const readerPassword = `reader-${randomWord()}`;
  const groups = { ops: `cn=ops,${l.groupsDn}`, sre: `cn=sre,${l.groupsDn}`, oncall: `cn=oncall,${l.groupsDn}` };
  const entries: SeedEntry[] = [
    { dn: l.baseDn, attributes: { objectClass: ["dcObject", "organization"], dc: "opsguard", o: "opsguard lab" } },
    ...[l.peopleDn, l.groupsDn, l.servicesDn, ...(l.bulkUsers > 0 ? [l.bulkDn] : [])].map((dn) => ({
      dn,
      attributes: { objectClass: "organizationalUnit", ou: dn.split(",")[0]?.slice(3) ?? "" },
    })),
    service(l.serviceDn, "deputize", servicePassword, "writes the on-call group"),
    service(l.readerDn, "reader", readerPassword, "read-only lookups"),
    ...Object.values(users).map(userEntry),
    {
      dn: groups.ops,
      attributes: { objectClass: "posixGroup", cn: "ops", gidNumber: "5000", memberUid: ["alice", "bob"] },
    },
    {
      dn: groups.sre,
      attributes: { objectClass: "groupOfNames", cn: "sre", member: [users.alice.dn, users.carol.dn] },
    },
    {
      dn: groups.oncall,
      attributes: {
        objectClass: "groupOfNames",
        cn: "oncall",
        description: "who is on call now (deputize writes this)",
        member: [users.bob.dn],
      },
    },
    ...Array.from({ length: l.bulkUsers }, (_, i) => {
      const uid = `bulk${String(i + 1).padStart(4, "0")}`;
      return { dn: `uid=${uid},${l.bulkDn}`, attributes: { objectClass: "inetOrgPerson", uid, cn: uid, sn: "Bulk" } };
    }),
  ];
  return { entries, users, groups, servicePassword, readerPassword };
}

function userEntry(u: LabUser): SeedEntry {
  const [given = u.cn, sn = u.cn] = u.cn.split(" ");
  return {
    dn: u.dn,
    attributes: {
      objectClass: ["inetOrgPerson", "posixAccount", "shadowAccount", "ldapPublicKey", "opsguardChatAccount"],
      uid: u.uid,
      cn: u.cn,
      givenName: given,
      sn,
      mail: u.mail,
      uidNumber: String(u.uidNumber),
      gidNumber: "5000",
      homeDirectory: `/home/${u.uid}`,
      loginShell: u.disabled ? "/usr/sbin/nologin" : "/bin/bash",
      userPassword: sshaHash(u.password),
      slackName: u.slackName,
      slackId: u.slackId,
      ...(u.disabled ? { shadowExpire: "1" } : {}),
      ...(u.sshPublicKeys.length > 0 ? { sshPublicKey: u.sshPublicKeys } : {}),
    },
  };
}

function service(dn: string, cn: string, password: string, description: string): SeedEntry {
  return {
    dn,
    attributes: { objectClass: ["applicationProcess", "simpleSecurityObject"], cn, description, userPassword: sshaHash(password) },
  };
}

function randomWord(): string {
  return randomBytes(6).toString("hex");
}
