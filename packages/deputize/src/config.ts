import { apiUrlSchema, LOOPBACK_ONLY, ldapConnectionSchema, secretRefSchema, sendsInClear } from "@opsguard/core";
import { z } from "zod";

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$/, { message: "use letters, digits and . _ : @ / -" });
const schedules = z.array(z.string().min(1)).min(1).optional();
const attribute = z.string().regex(/^[A-Za-z][A-Za-z0-9-]*$/, { message: "expected an LDAP attribute name such as mail" });

const scheduleRef = z.union([z.string().min(1), z.strictObject({ id: z.string().min(1) }), z.strictObject({ name: z.string().min(1) })]);

export const sourceSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("pagerduty"),
    name: name.optional(),
    token: secretRefSchema,
    /** "token" sends `Authorization: Token token=…` (REST API key); "bearer" an OAuth access token. */
    auth: z.enum(["token", "bearer"]).default("token"),
    baseUrl: apiUrlSchema.default("https://api.pagerduty.com"),
    schedules: z.array(scheduleRef).min(1),
    escalationLevels: z.array(z.number().int().positive()).min(1).optional(),
  }),
  z.strictObject({
    type: z.literal("opsgenie"),
    name: name.optional(),
    apiKey: secretRefSchema,
    baseUrl: apiUrlSchema.default("https://api.opsgenie.com"),
    schedules: z.array(z.string().min(1)).min(1),
    identifierType: z.enum(["id", "name"]).default("name"),
  }),
  z.strictObject({
    type: z.literal("rotation"),
    name: name.optional(),
    file: z.string().min(1),
    /** Which schedules of the file to use; all by default. */
    schedules,
  }),
]);

const ACCESS_LEVELS = { guest: 10, reporter: 20, developer: 30 } as const;

export const sinkSchema = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("ldap-group"),
    name: name.optional(),
    group: z.string().min(1),
    peopleBase: z.string().min(1).optional(),
    peopleFilter: z.string().min(1).default("(objectClass=inetOrgPerson)"),
    emailAttribute: attribute.default("mail"),
    uidAttribute: attribute.default("uid"),
    permanentMembers: z.array(z.string().min(1)).default([]),
    schedules,
  }),
  z.strictObject({
    type: z.literal("gitlab-group"),
    name: name.optional(),
    baseUrl: apiUrlSchema.default("https://gitlab.com"),
    token: secretRefSchema,
    /** PRIVATE-TOKEN for personal/group access tokens, bearer for OAuth tokens. */
    auth: z.enum(["private-token", "bearer"]).default("private-token"),
    group: z.union([z.string().min(1), z.number().int().positive()]).transform(String),
    /** Maintainer and owner are refused: deputize never manages those. */
    accessLevel: z
      .union([z.enum(["guest", "reporter", "developer"]), z.literal(10), z.literal(20), z.literal(30)])
      .default("developer")
      .transform((l) => (typeof l === "number" ? l : ACCESS_LEVELS[l])),
    /** E-mail domains whose local part is the GitLab username; other e-mails match only exactly. */
    usernameDomains: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "a domain such as example.com")).default([]),
    schedules,
  }),
  z.strictObject({
    type: z.literal("gitlab-approval-rule"),
    name: name.optional(),
    baseUrl: apiUrlSchema.default("https://gitlab.com"),
    token: secretRefSchema,
    auth: z.enum(["private-token", "bearer"]).default("private-token"),
    /** Numeric id or full path ("platform/api"). */
    project: z.union([z.string().min(1), z.number().int().positive()]).transform(String),
    /** The name of a regular project approval rule whose users deputize sets. */
    rule: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[^\p{Cc}]+$/u, { message: "no control characters or line breaks" }),
    usernameDomains: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, "a domain such as example.com")).default([]),
    schedules,
  }),
  z.strictObject({
    type: z.literal("slack"),
    name: name.optional(),
    token: secretRefSchema,
    baseUrl: apiUrlSchema.optional(),
    channel: z.string().regex(/^[CG][A-Z0-9]+$/, { message: "expected a channel id such as C0123ABCD" }),
    topic: z.boolean().default(true),
    announce: z.boolean().default(true),
    /** More channels (ids) that get the same hand-off message, each delivered and retried on its own. */
    announceChannels: z
      .array(z.string().regex(/^[CG][A-Z0-9]+$/, { message: "expected a channel id such as C0123ABCD" }))
      .max(20)
      .default([]),
    usergroup: z
      .string()
      .regex(/^S[A-Z0-9]+$/, { message: "expected a user group id such as S0123ABCD" })
      .optional(),
    schedules,
  }),
  z
    .strictObject({
      type: z.literal("webhook"),
      name: name.optional(),
      // not apiUrlSchema: a webhook's URL may carry its own token in the query or path, as many do
      url: z.url({ protocol: /^https?$/, message: "expected an http(s) URL" }),
      /** Extra headers whose values are secrets (an Authorization header, a signing key). */
      headers: z.record(z.string().regex(/^[A-Za-z0-9-]+$/), secretRefSchema).default({}),
      schedules,
    })
    .superRefine((sink, ctx) => {
      // A `user:password@` is sent as HTTP Basic (fetch refuses a URL with credentials, T43 N4), as sock-check's
      // --from-url does: so never over plain http but to this host, and never beside an Authorization header.
      const url = new URL(sink.url);
      // Header values are secrets (an Authorization token, a signing key): never over plain http but to this host.
      if (Object.keys(sink.headers).length > 0 && sendsInClear(url)) {
        ctx.addIssue({
          code: "custom",
          path: ["url"],
          message: `its headers are secrets and plain http would send them in clear text: use https (http only to ${LOOPBACK_ONLY})`,
        });
      }
      if (!url.username && !url.password) return;
      if (sendsInClear(url)) {
        ctx.addIssue({
          code: "custom",
          path: ["url"],
          message: `a user:password@ over http would be sent in clear text: use https (http only to ${LOOPBACK_ONLY})`,
        });
      }
      if (Object.keys(sink.headers).some((header) => header.toLowerCase() === "authorization")) {
        ctx.addIssue({
          code: "custom",
          path: ["url"],
          message: "a user:password@ is sent as an Authorization header, and headers has one too: keep one of them",
        });
      }
    }),
]);

/** lease.redis.ttlSeconds must be at least this many times timeoutMs (see the check below). */
export const LEASE_TTL_PER_TIMEOUT = 3;

export const configSchema = z
  .strictObject({
    sources: z.array(sourceSchema).min(1, { message: "configure at least one source" }),
    sinks: z.array(sinkSchema).min(1, { message: "configure at least one sink" }),
    ldap: ldapConnectionSchema.optional(),
    /** Grant access this many minutes before a shift starts. */
    lookAheadMinutes: z.number().int().min(0).max(10_080).default(0),
    /**
     * `deputize next` looks this many hours ahead; with `dm`, every run also sends a Slack DM to whoever
     * goes on call within them, once per shift (with `slackToken`, else the first slack sink's token).
     */
    lookAhead: z
      .strictObject({
        hours: z.number().int().min(1).max(168).default(12),
        dm: z.boolean().default(false),
        slackToken: secretRefSchema.optional(),
        slackBaseUrl: apiUrlSchema.optional(),
      })
      .optional(),
    /** Two hosts: a run writes only while holding this lease in Redis (without it, the stateDir lock keeps one host's copies apart). */
    lease: z
      .strictObject({
        redis: z.strictObject({
          url: z.string().regex(/^rediss?:\/\//, { message: "expected redis://host:6379/0 or rediss://…" }),
          username: z.string().min(1).optional(),
          password: secretRefSchema.optional(),
          caFile: z.string().startsWith("/", { message: "expected an absolute path" }).optional(),
          key: z.string().min(1).max(200).default("opsguard:deputize:lease"),
          /** The lease ends by itself this long after its holder stopped renewing it (a crash). */
          ttlSeconds: z.number().int().min(5).max(3600).default(60),
          /** How long a run waits for the other host's run to finish before giving up (exit 75). */
          waitSeconds: z.number().int().min(0).max(600).default(60),
        }),
      })
      .optional(),
    /** Keep access this many minutes after a shift ends. */
    graceMinutes: z.number().int().min(0).max(10_080).default(0),
    /** Let a sink become empty when nobody is on call (otherwise it is left as it is). */
    allowEmpty: z.boolean().default(false),
    /** Refuse a change that removes more members than this from one sink, unless --force. */
    maxRemovals: z.number().int().min(0).default(5),
    stateDir: z.string().startsWith("/", { message: "expected an absolute path" }).default("/var/lib/opsguard/deputize"),
    timeoutMs: z.number().int().positive().max(120_000).default(10_000),
    retries: z.number().int().min(0).max(10).default(3),
  })
  .superRefine((c, ctx) => {
    if (c.lookAhead?.dm && !c.lookAhead.slackToken && !c.sinks.some((s) => s.type === "slack")) {
      ctx.addIssue({
        code: "custom",
        path: ["lookAhead", "slackToken"],
        message: "lookAhead.dm needs a Slack bot token: set slackToken or add a slack sink",
      });
    }
    // The fence extends the lease to the full TTL right before a write: the write (one HTTP attempt,
    // timeoutMs), the fence itself and the history read before it must fit well inside it, or the lease
    // could lapse while a write is in flight and the other host could write too.
    const ttl = c.lease?.redis.ttlSeconds;
    if (ttl !== undefined && ttl * 1000 < LEASE_TTL_PER_TIMEOUT * c.timeoutMs) {
      ctx.addIssue({
        code: "custom",
        path: ["lease", "redis", "ttlSeconds"],
        message: `${ttl} s is too short for timeoutMs ${c.timeoutMs}: set ttlSeconds to at least ${Math.ceil((LEASE_TTL_PER_TIMEOUT * c.timeoutMs) / 1000)} (${LEASE_TTL_PER_TIMEOUT} × timeoutMs), or lower timeoutMs`,
      });
    }
    c.sinks.forEach((sink, i) => {
      if (sink.type === "ldap-group" && !c.ldap) {
        ctx.addIssue({ code: "custom", path: ["ldap"], message: `sinks[${i}] is an ldap-group: add an ldap section` });
      }
    });
  });

export type DeputizeConfig = z.output<typeof configSchema>;
export type SourceConfig = z.output<typeof sourceSchema>;
export type SinkConfig = z.output<typeof sinkSchema>;
