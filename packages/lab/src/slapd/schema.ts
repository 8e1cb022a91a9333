/**
 * Schemas the lab's slapd loads besides Debian's core, cosine, nis and inetorgperson, in cn=config form.
 * openssh-lpk is the de-facto schema for SSH keys in LDAP (OpenSSH-LPK patch, SSSD, authkeys).
 */
export const OPENSSH_LPK_LDIF = `dn: cn=openssh-lpk,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: openssh-lpk
olcAttributeTypes: ( 1.3.6.1.4.1.24552.500.1.1.1.13 NAME 'sshPublicKey'
  DESC 'MANDATORY: OpenSSH Public key'
  EQUALITY octetStringMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 )
olcObjectClasses: ( 1.3.6.1.4.1.24552.500.1.1.2.0 NAME 'ldapPublicKey' SUP top AUXILIARY
  DESC 'MANDATORY: OpenSSH LPK objectclass'
  MAY ( sshPublicKey $ uid ) )
`;

/**
 * Chat identities for deputize and vpnnotify. The OID arc is a UUID-derived one (2.25.<uuid>, X.667),
 * unique without registration and never to be confused with a real vendor's schema.
 */
export const OPSGUARD_OID = "2.25.6064333511809345116269173843661282785";

export const OPSGUARD_CHAT_LDIF = `dn: cn=opsguard-chat,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: opsguard-chat
olcAttributeTypes: ( ${OPSGUARD_OID}.1.1 NAME 'slackName'
  DESC 'Slack handle, without the @'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( ${OPSGUARD_OID}.1.2 NAME 'slackId'
  DESC 'Slack member ID, such as U024BE7LH'
  EQUALITY caseExactMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcObjectClasses: ( ${OPSGUARD_OID}.2.1 NAME 'opsguardChatAccount' SUP top AUXILIARY
  DESC 'A person reachable in chat'
  MAY ( slackName $ slackId ) )
`;
