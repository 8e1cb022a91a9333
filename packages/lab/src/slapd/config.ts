import { createHash, randomBytes } from "node:crypto";
import { OPENSSH_LPK_LDIF, OPSGUARD_CHAT_LDIF } from "./schema";

export interface SlapdLayout {
  dir: string;
  dataDir: string;
  baseDn: string;
  adminDn: string;
  adminPassword: string;
  serviceDn: string;
  /** The read-only account tools bind as; it may page through the whole directory (authkeys audit). */
  readerDn: string;
  /** SlapdOptions.readerSizeLimit; unset: the frontend's 1000, with paging unlimited. */
  readerSizeLimit?: number | undefined;
  oncallDn: string;
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** {SSHA} as slappasswd makes it, so no clear-text password sits in the config. */
export function sshaHash(password: string): string {
  const salt = randomBytes(8);
  const digest = createHash("sha1").update(password).update(salt).digest();
  return `{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`;
}

/**
 * The whole cn=config for slapadd -n0: modules, schemas, one mdb database with memberOf, TLS, and
 * ACLs where passwords are never readable and only the service account may write, and only the
 * member attribute of the on-call group.
 */
export function slapdConfigLdif(l: SlapdLayout): string {
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${l.dir}/slapd.pid
olcArgsFile: ${l.dir}/slapd.args
olcLogLevel: none
olcTLSCACertificateFile: ${l.caFile}
olcTLSCertificateFile: ${l.certFile}
olcTLSCertificateKeyFile: ${l.keyFile}
olcTLSProtocolMin: 3.3

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

${OPENSSH_LPK_LDIF}
${OPSGUARD_CHAT_LDIF}
dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 1000

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ${l.baseDn}
olcRootDN: ${l.adminDn}
olcRootPW: ${sshaHash(l.adminPassword)}
olcDbDirectory: ${l.dataDir}
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcDbIndex: memberUid eq
olcDbIndex: mail eq
olcLimits: {0}dn.exact="${l.readerDn}" ${l.readerSizeLimit === undefined ? "" : `size=${l.readerSizeLimit} `}size.prtotal=unlimited
olcAccess: {0}to attrs=userPassword by self =xw by anonymous auth by * none
olcAccess: {1}to dn.base="${l.oncallDn}" attrs=member by dn.exact="${l.serviceDn}" write by * read
olcAccess: {2}to * by * read

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
`;
}
