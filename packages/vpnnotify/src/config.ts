import {
  type LdapConnectionConfig,
  LOOPBACK_ONLY,
  ldapConnectionSchema,
  secretRefSchema,
  sendsInClear,
  slackConfigSchema,
} from "@opsguard/core";
import { z } from "zod";
import { isTimeZone } from "./time-zone";

const absolutePath = z.string().startsWith("/", { message: "expected an absolute path" });
const timeZone = z.string().refine(isTimeZone, { message: 'expected an IANA time zone such as "Europe/Berlin"' });

export const DEFAULT_STATE_FILE = "/var/lib/opsguard/vpnnotify/state.json";

// Optional lines start inside their section, so a section that is off leaves no blank line.
export const DEFAULT_USER_TEMPLATE = [
  "Hi {{user}}, {{^loginRefused}}a VPN session just started{{/loginRefused}}{{#loginRefused}}someone just tried to start a VPN session (it was refused: this alert could not be sent in time){{/loginRefused}} under your name on *{{server}}*{{#environment}} ({{environment}}){{/environment}}.",
  "• From: {{ip}}{{#port}} port {{port}}{{/port}}: {{location}}{{#asn}} ({{asn}}{{#org}} {{org}}{{/org}}){{/asn}}",
  "• When: {{time}}{{#delayed}} (this message is {{delayed}} late: Slack or the directory could not be reached){{/delayed}}{{#newPlace}}",
  "• This is a place we have not seen you connect from before.{{/newPlace}}{{#newCountry}}",
  "• This is a country you have not connected from before.{{/newCountry}}",
  "If this was not you, tell the security team right away.",
].join("\n");

export const DEFAULT_SECURITY_TEMPLATE = [
  ":rotating_light: VPN login to look at: *{{user}}*{{#slackUser}} (<@{{slackUser}}>){{/slackUser}} on {{server}}{{#environment}} ({{environment}}){{/environment}}",
  "• Why: {{flags}}",
  "• From: {{ip}}: {{location}}{{#asn}} ({{asn}}{{#org}} {{org}}{{/org}}){{/asn}}",
  "• When: {{time}}{{#delayed}} (alert {{delayed}} late){{/delayed}}{{#previousLocation}}",
  "• Previous login: {{previousLocation}}, {{previousTime}}{{/previousLocation}}",
].join("\n");

const redisSchema = z.strictObject({
  url: z.string().regex(/^rediss?:\/\//, { message: 'expected "redis://host:port/db" or "rediss://host:port/db"' }),
  username: z.string().min(1).optional(),
  password: secretRefSchema.optional(),
  caFile: absolutePath.optional(),
  servername: z.string().min(1).optional(),
  keyPrefix: z.string().default("vpnnotify:"),
  connectTimeoutMs: z.number().int().positive().max(30_000).default(500),
  commandTimeoutMs: z.number().int().positive().max(30_000).default(500),
  /** Seed a user's history from the original vpnnotify's vpn:<cn>:lastip / lasttime keys. */
  importLegacy: z.boolean().default(true),
});

export const configSchema = z.strictObject({
  /** Shown in messages. */
  server: z
    .strictObject({
      name: z.string().min(1),
      environment: z.string().min(1).optional(),
      /** A regular expression on the host name; its first group (else the match) is the environment. */
      environmentPattern: z
        .string()
        .min(1)
        .refine(isRegExp, { message: 'expected a regular expression such as "(dev|staging|prod)"' })
        .optional(),
    })
    .refine((s) => !(s.environment && s.environmentPattern), {
      message: "set environment or environmentPattern, not both",
      path: ["environmentPattern"],
    }),
  slack: slackConfigSchema,
  /** Channel id for unmapped users, failed lookups, new countries and impossible travel. */
  securityChannel: z.string().regex(/^[CGD][A-Z0-9]+$/, { message: 'expected a Slack channel id such as "C0123ABCD"' }),
  directory: z
    .strictObject({
      ldap: ldapConnectionSchema.optional(),
      /** RFC 4515 filter with {user}; the value is escaped. */
      filter: z.string().default("(&(objectClass=inetOrgPerson)(uid={user}))"),
      /** Attribute holding the user's canonical name: a login under any other spelling is escalated. */
      uidAttribute: z.string().min(1).default("uid"),
      /** Attribute holding the Slack user id (U…/W…). */
      slackIdAttribute: z.string().min(1).optional(),
      /** Attribute holding an email address to look up with users.lookupByEmail. */
      emailAttribute: z.string().min(1).optional(),
      timeZoneAttribute: z.string().min(1).optional(),
      /** Without LDAP: look up "<user>@<emailDomain>" in Slack. */
      emailDomain: z.string().min(1).optional(),
    })
    .refine((d) => d.ldap === undefined || d.slackIdAttribute !== undefined || d.emailAttribute !== undefined, {
      message: "with directory.ldap, set slackIdAttribute or emailAttribute",
      path: ["ldap"],
    })
    // core's LDAP client refuses to bind so, at every lookup: every login then reached the security channel as
    // "directory lookup failed" while status said all was well. A fact of the config, so a config error (T62 F2).
    .refine((d) => !d.ldap || d.ldap.urls.every((url) => !bindsInClear(url, d.ldap as LdapConnectionConfig)), {
      message: `ldap:// to a host other than ${LOOPBACK_ONLY} would carry the bind password in clear text: set ldap.startTls: true or use ldaps://`,
      path: ["ldap", "urls"],
    })
    .optional(),
  geoip: z
    .strictObject({
      city: absolutePath.optional(),
      asn: absolutePath.optional(),
      /** The bundled DB-IP Lite country database (CC BY 4.0), used when no city database is set. */
      embedded: z.boolean().default(true),
    })
    .prefault({}),
  state: z
    .strictObject({
      file: absolutePath.default(DEFAULT_STATE_FILE),
      redis: redisSchema.optional(),
    })
    .prefault({}),
  /** Alerts not delivered yet, retried by later hook runs and `vpnnotify flush`. */
  spool: z
    .strictObject({
      /** Default: "spool" beside state.file. */
      dir: absolutePath.optional(),
      maxAttempts: z.number().int().positive().max(1_000).default(12),
      /** After the first failure; doubled after each further one, up to an hour. */
      retryAfterSeconds: z.number().nonnegative().max(3_600).default(60),
      /** Alerts the per-host worker works on at once (Slack, LDAP and the store see at most this many requests). */
      concurrency: z.number().int().positive().max(64).default(8),
      /** The worker stays this long after the last alert, so a storm of logins is served by one process. */
      idleSeconds: z.number().nonnegative().max(600).default(5),
      /**
       * The worker's Slack timeout. Nobody waits on the worker, so it is not bound by deadlineMs: a
       * slow Slack that stores a post but answers late would otherwise get it again (a duplicate).
       */
      slackTimeoutSeconds: z.number().positive().max(120).default(10),
      /**
       * A login the spool cannot take (its disk full, or not writable) is handled by its hook's process alone; an
       * alert of it not delivered is kept in that process's memory and retried this long, then logged as LOST.
       */
      retryUnspooledSeconds: z.number().nonnegative().max(3_600).default(600),
    })
    .prefault({}),
  policy: z
    .strictObject({
      knownBy: z
        .array(z.enum(["ip", "network", "asn"]))
        .min(1)
        .default(["ip", "network"]),
      renotifyAfterDays: z.number().positive().default(30),
      forgetAfterDays: z.number().positive().default(365),
      impossibleTravelKmh: z.number().positive().default(1000),
      minTravelKm: z.number().nonnegative().default(50),
      maxPlacesPerUser: z.number().int().positive().max(10_000).default(200),
    })
    .prefault({}),
  templates: z
    .strictObject({
      /** Default DEFAULT_USER_TEMPLATE. */
      user: z.string().min(1).optional(),
      security: z.string().min(1).optional(),
      /** The same, read from a file (as the original's TemplatePath). */
      userFile: absolutePath.optional(),
      securityFile: absolutePath.optional(),
    })
    .refine((t) => !(t.user && t.userFile), { message: "set templates.user or templates.userFile, not both", path: ["userFile"] })
    .refine((t) => !(t.security && t.securityFile), {
      message: "set templates.security or templates.securityFile, not both",
      path: ["securityFile"],
    })
    .prefault({}),
  /**
   * "Was this you?" buttons in the DM, answered through `vpnnotify serve` (Slack interactivity):
   * the request URL Slack posts to, and the app's signing secret that proves a request is Slack's.
   */
  answers: z
    .strictObject({
      signingSecret: secretRefSchema,
      listen: z
        .string()
        .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, { message: 'expected "host:port", e.g. "127.0.0.1:8787"' })
        .refine((listen) => Number(listen.slice(listen.lastIndexOf(":") + 1)) <= 65_535, { message: "the port must be at most 65535" })
        .default("127.0.0.1:8787"),
      path: z.string().startsWith("/").default("/slack/actions"),
    })
    .optional(),
  /** Used for users whose own time zone is unknown. */
  timeZone: timeZone.default("UTC"),
  /** The whole hook, start to finish, including every network call. */
  deadlineMs: z.number().int().positive().max(60_000).default(2_000),
  /** reject: a failure refuses the login (deferred client-connect or --wait only). */
  onFailure: z.enum(["accept", "reject"]).default("accept"),
  log: z
    .strictObject({
      syslogFacility: z
        .enum(["auth", "authpriv", "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"])
        .default("daemon"),
      /** Also append log lines here (the detached worker has no stderr). */
      file: absolutePath.optional(),
    })
    .prefault({}),
});

/**
 * Whether binding to `url` would send the bind password unencrypted off this host: plain ldap:// without StartTLS,
 * with a password, unless allowPlaintext says so (core's LDAP client refuses exactly this when it connects).
 */
function bindsInClear(url: string, ldap: LdapConnectionConfig): boolean {
  if (ldap.bindPassword === undefined || ldap.startTls || ldap.allowPlaintext || !URL.canParse(url)) return false;
  const parsed = new URL(url);
  // sendsInClear knows TLS schemes by https:/rediss: only: ldaps:// is TLS from the start, so only ldap:// is asked.
  return parsed.protocol === "ldap:" && sendsInClear(parsed);
}

function isRegExp(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

export type VpnnotifyConfig = z.output<typeof configSchema>;

export const TEMPLATE_NAMES = [
  "user",
  "slackUser",
  "ip",
  "port",
  "vpnIp",
  "location",
  "city",
  "region",
  "country",
  "countryCode",
  "asn",
  "org",
  "server",
  "environment",
  "time",
  "timeZone",
  "newPlace",
  "newCountry",
  "impossibleTravel",
  "travelKm",
  "travelKmh",
  "previousLocation",
  "previousTime",
  "flags",
  "reason",
  "source",
  "delayed",
  "loginRefused",
] as const;
