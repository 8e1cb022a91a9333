import { type CliContext, loadConfig } from "@opsguard/core";
import { buildDeputize } from "../build";
import { configSchema, type DeputizeConfig } from "../config";

/** The config loaded and the sources and sinks built for one command; closed again however it ends. */
export async function withDeputize<T>(
  ctx: CliContext,
  fn: (dep: ReturnType<typeof buildDeputize>, config: DeputizeConfig) => Promise<T>,
): Promise<T> {
  const { config } = await loadConfig({ tool: "deputize", schema: configSchema, path: ctx.opts.config });
  const dep = buildDeputize(config, { log: ctx.log });
  try {
    return await fn(dep, config);
  } finally {
    await dep.close();
  }
}
