import { z } from "zod";
import { secretRefSchema } from "../config";
import { hasUserinfo } from "../url";

export const ldapUrl = z
  .string()
  // Checked first, so the format message below never invites a user:password@ form. Credentials in a URL
  // would be printed wherever the URL is (errors, per-lookup logs); the bind has its own keys.
  .refine((url) => !hasUserinfo(url), { message: "must not carry credentials: use ldap.bindDn and ldap.bindPassword", abort: true })
  .regex(/^ldaps?:\/\/[^/?#\s]+\/?$/i, { message: 'expected "ldap://host[:port]" or "ldaps://host[:port]"' });

/** The `ldap` section every tool's config uses, so all tools share the same keys. */
export const ldapConnectionSchema = z
  .strictObject({
    /** Servers tried in order; the first that answers wins. */
    urls: z.array(ldapUrl).min(1, { message: "list at least one server URL" }),
    /** Upgrade ldap:// connections with StartTLS (ldaps:// is TLS from the start). */
    startTls: z.boolean().default(false),
    /** PEM file with the CA certificate(s) to trust instead of the system store. */
    caFile: z.string().startsWith("/", { message: "expected an absolute path" }).optional(),
    /** Skip certificate verification. Only for a lab; every connection logs a warning. */
    tlsInsecure: z.boolean().default(false),
    /** Allow a bind password over an unencrypted connection to a non-loopback host. */
    allowPlaintext: z.boolean().default(false),
    bindDn: z.string().min(1).optional(),
    bindPassword: secretRefSchema.optional(),
    baseDn: z.string().min(1),
    /** Per server: TCP connect, TLS handshake, StartTLS and bind must finish within this. */
    connectTimeoutMs: z.number().int().positive().max(120_000).default(3000),
    /** Per operation (each page of a paged search). */
    timeoutMs: z.number().int().positive().max(600_000).default(5000),
    /** Bounds everything from the first connection attempt: the whole failover loop and every operation. */
    deadlineMs: z.number().int().positive().max(3_600_000).default(10_000),
    pageSize: z.number().int().positive().max(10_000).default(500),
  })
  .refine((c) => (c.bindDn === undefined) === (c.bindPassword === undefined), {
    message: "set both bindDn and bindPassword, or neither for an anonymous bind",
    path: ["bindPassword"],
  });

export type LdapConnectionConfig = z.output<typeof ldapConnectionSchema>;
