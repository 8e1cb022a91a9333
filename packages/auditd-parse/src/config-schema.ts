import { z } from "zod";

export const configSchema = z.strictObject({
  passwd: z.string().optional(),
  group: z.string().optional(),
  windowMs: z.number().int().positive().max(600_000).optional(),
});
