import "./zod-jitless";
import { ldapConnectionSchema } from "@opsguard/core/ldap";
import { z } from "zod";
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

export const authkeysConfigSchema = z.strictObject({
  ldap: z.preprocess((raw) => (raw && typeof raw === "object" ? { ...LOGIN_LDAP_DEFAULTS, ...raw } : raw), ldapConnectionSchema),
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
    .union([
      z.literal(false),
      z.strictObject({
        facility: z.enum([
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
        ]),
        /** The local syslog datagram socket. */
        socket: z.string().startsWith("/", { message: "expected an absolute path" }).optional(),
      }),
    ])
    .default({ facility: "authpriv" }),
});

export type AuthkeysConfig = z.output<typeof authkeysConfigSchema>;
