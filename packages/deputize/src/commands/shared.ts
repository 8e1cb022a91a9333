import { type CliContext, loadConfig } from "@opsguard/core";
import { parseRedisUrl } from "@opsguard/core/redis";
import { buildDeputize } from "../build";
import { configSchema, type DeputizeConfig } from "../config";

/** The config loaded and the sources and sinks built for one command; closed again however it ends. */
export async function withDeputize<T>(
  ctx: CliContext,
  fn: (dep: ReturnType<typeof buildDeputize>, config: DeputizeConfig) => Promise<T>,
  options: { readOnly?: boolean } = {},
): Promise<T> {
  const { config } = await loadConfig({ tool: "deputize", schema: configSchema, path: ctx.opts.config });
  // Only a writing run connects to lease.redis; its URL is checked by every command, so a password that would
  // go in clear text is a config error in `status` and a dry run too, before the first real run sends it.
  const lease = config.lease?.redis;
  if (lease) parseRedisUrl(lease.url, "lease.redis", { password: lease.password !== undefined });
  const dep = buildDeputize(config, { log: ctx.log, readOnly: options.readOnly ?? false });
  try {
    return await fn(dep, config);
  } finally {
    await dep.close();
  }
}
