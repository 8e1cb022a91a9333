import "./zod-jitless";
import { z } from "zod";

/** A cached keys file; loaded only when the cache is read (LDAP down), so a normal login never evaluates zod. */
export const cacheFileSchema = z.strictObject({ version: z.literal(1), user: z.string(), lines: z.array(z.string()) });
