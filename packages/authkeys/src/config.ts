import "./zod-jitless";
import { ldapConnectionSchema } from "@opsguard/core/ldap";
import { ldapUrl } from "@opsguard/core/ldap/config";
import { z } from "zod";
import { dnsNameProblem, dnsServerProblem, srvDomain } from "./dns-names";
import { checkOptions, DEFAULT_KEY_TYPES } from "./key-options";

/**
 * sshd waits for us on every login attempt, once per offered key: the LDAP defaults keep a login
 * under about 2.5 s per run (sshd runs it twice per login) even when every server is dead or blackholed.
 */
export const LOGIN_LDAP_DEFAULTS = { connectTimeoutMs: 1000, timeoutMs: 1500, deadlineMs: 2500 };

const keyOptions = z.string().superRefine((value, ctx) => {
  const problem = checkOptions(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const allowedGroup = z.union([
  z.string().min(1),
  z.strictObject({
    dn: z.string().min(1),
    /** authorized_keys options put in front of every key of a member, e.g. `from="10.0.0.0/8",no-agent-forwarding`. */
    keyOptions: keyOptions.optional(),
  }),
]);

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: "expected an attribute name" });

/** Printed to sshd one per line, where white space, a leading "#" or an option list would change the line's meaning. */
const principalName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,127}$/, { message: "expected a principal: letters, digits and _ . @ + -" });

/**
 * core's `ldap` section plus DNS SRV discovery: `srv` (a domain, or OpenLDAP's `ldap:///dc=example,dc=org`)
 * instead of `urls`, and the DNS server(s) asked.
 */
const authkeysLdapSchema = z
  .strictObject({
    ...ldapConnectionSchema.shape,
    urls: z.array(ldapUrl).min(1, { message: "list at least one server URL" }).optional(),
    srv: z
      .string()
      .regex(/^(ldap:\/\/\/(dc=[A-Za-z0-9-]+,)*dc=[A-Za-z0-9-]+|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?)$/i, {
        message: 'expected a DNS domain (example.org) or "ldap:///dc=example,dc=org"',
      })
      .superRefine((value, ctx) => {
        const problem = dnsNameProblem(srvDomain(value));
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .optional(),
    /** "host" or "host:port" (IPv6 in brackets); default: the system's resolvers (/etc/resolv.conf). */
    dnsServer: z
      .union([z.string(), z.array(z.string()).min(1)])
      .transform((v) => (typeof v === "string" ? [v] : v))
      .pipe(
        z.array(
          z
            .string()
            .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+)(:\d{1,5})?$/, { message: 'expected "IP" or "IP:port"', abort: true })
            .superRefine((value, ctx) => {
              const problem = dnsServerProblem(value);
              if (problem) ctx.addIssue({ code: "custom", message: problem });
            }),
        ),
      )
      .optional(),
  })
  // core's own rule, which a rebuilt object does not inherit
  .refine((c) => (c.bindDn === undefined) === (c.bindPassword === undefined), {
    message: "set both bindDn and bindPassword, or neither for an anonymous bind",
    path: ["bindPassword"],
  })
  .refine((c) => (c.urls === undefined) !== (c.srv === undefined), {
    message: "set ldap.urls (a static list) or ldap.srv (DNS SRV discovery), exactly one of them",
    path: ["urls"],
  })
  .refine((c) => c.dnsServer === undefined || c.srv !== undefined, { message: "ldap.dnsServer needs ldap.srv", path: ["dnsServer"] });

const SYSLOG_FACILITIES = [
  "auth",
  "authpriv",
  "daemon",
  "user",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
] as const;

export const authkeysConfigSchema = z.strictObject({
  ldap: z.preprocess((raw) => (raw && typeof raw === "object" ? { ...LOGIN_LDAP_DEFAULTS, ...raw } : raw), authkeysLdapSchema),
  /** Where users are searched (subtree); ldap.baseDn when unset. */
  userBase: z.string().min(1).optional(),
  /** {user} is replaced by the escaped login name. Keep it an equality match on an indexed attribute. */
  userFilter: z.string().default("(&(objectClass=posixAccount)(uid={user}))"),
  keyAttribute: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: "expected an attribute name" })
    .default("sshPublicKey"),
  /** The attribute that must equal the login name exactly (sshd's names are case-sensitive, LDAP's uid is not). */
  userNameAttribute: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: "expected an attribute name" })
    .default("uid"),
  /** Only members of one of these groups get keys; the first listed group the user is in decides keyOptions. */
  allowedGroups: z.array(allowedGroup).optional(),
  /**
   * Groups inside allowed groups (groupOfNames / groupOfUniqueNames nested by DN). Absent: only direct
   * members are allowed, as before, so an upgrade never widens who may log in.
   */
  nestedGroups: z
    .strictObject({
      /** Group-in-group hops followed; 2 is SSSD's ldap_group_nesting_level default. */
      maxDepth: z.number().int().min(1).max(10).default(2),
      /** "in-chain": let Active Directory resolve the chain (matching rule 1.2.840.113556.1.4.1941). */
      match: z.enum(["recursive", "in-chain"]).default("recursive"),
      /** Where groups are searched, level by level; ldap.baseDn when unset. */
      groupBase: z.string().min(1).optional(),
    })
    .optional(),
  /** Who may log in on which host, so one config serves a fleet. */
  hostAccess: z
    .strictObject({
      /** This host's name for the rules below; os.hostname() when unset. */
      hostname: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, { message: "expected a host name" })
        .optional(),
      /** A user attribute listing the hosts the user may log in on, SSSD style: name, !name, * (e.g. "host"). */
      userAttribute: attributeName.optional(),
      /** On a host matching one rule's patterns, its allowedGroups replace the top-level ones. */
      rules: z
        .array(
          z.strictObject({
            hosts: z.array(z.string().regex(/^[A-Za-z0-9.*?-]+$/, { message: "expected a host name pattern (* and ? allowed)" })).min(1),
            allowedGroups: z.array(allowedGroup).min(1),
          }),
        )
        .optional(),
    })
    .optional(),
  /** `authkeys principals` (sshd's AuthorizedPrincipalsCommand): which certificate principals may log in as the user. */
  principals: z
    .strictObject({
      /** Print the login name itself (the principal ssh-keygen -n usually puts in a user's certificate). */
      loginName: z.boolean().default(true),
      /** Members of a group (directly, or nested with nestedGroups) get its principals. */
      groups: z.array(z.strictObject({ dn: z.string().min(1), principals: z.array(principalName).min(1) })).default([]),
    })
    .optional(),
  keyTypes: z.array(z.string().regex(/^[a-z0-9@.-]+$/)).default(DEFAULT_KEY_TYPES),
  minRsaBits: z.number().int().min(1024).max(16384).default(2048),
  cache: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Owned by AuthorizedKeysCommandUser, mode 0700. */
      dir: z.string().startsWith("/", { message: "expected an absolute path" }).default("/var/cache/opsguard/authkeys"),
      /** Cached keys older than this are not served when LDAP is down. */
      maxStaleSeconds: z
        .number()
        .int()
        .positive()
        .default(3 * 24 * 3600),
      /**
       * A server that failed is skipped by the next lookups (sshd runs two per login) for this long,
       * then probed again; remembered in the cache directory. 0: every lookup tries every server.
       */
      deadServerSeconds: z.number().int().min(0).max(3600).default(30),
    })
    .prefault({}),
  /**
   * The resident lookup helper (`authkeys agent`), which keeps one LDAP connection open. Absent: no
   * agent, every login looks up directly. Logins ask it first and look up directly on any problem.
   */
  agent: z
    .strictObject({
      /** In a directory owned by the agent's user and writable by no one else (systemd RuntimeDirectory). */
      socket: z.string().startsWith("/", { message: "expected an absolute path" }),
      /** How long a login waits for the agent (connect and reply) before looking up directly. */
      timeoutMs: z.number().int().positive().max(10_000).default(1000),
    })
    .optional(),
  /** `authkeys audit`: which entries are accounts (all of them are read, page by page). */
  audit: z
    .strictObject({
      filter: z.string().min(1).default("(objectClass=posixAccount)"),
    })
    .prefault({}),
  /** Where the one line per lookup goes besides stderr; false for stderr only. */
  syslog: z
    .union(
      [
        z.literal(false),
        z.strictObject({
          /** The README's default, also when only the socket is given. */
          facility: z.enum(SYSLOG_FACILITIES).default("authpriv"),
          /** The local syslog datagram socket. */
          socket: z.string().startsWith("/", { message: "expected an absolute path" }).optional(),
        }),
      ],
      // zod's own words for a union neither side matches are "Invalid input": say what is expected.
      { error: `expected false, or {facility, socket} with facility one of ${SYSLOG_FACILITIES.join(", ")}` },
    )
    .default({ facility: "authpriv" }),
});

export type AuthkeysConfig = z.output<typeof authkeysConfigSchema>;
