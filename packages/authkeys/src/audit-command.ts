import type { CliContext } from "@opsguard/core/cli";
import { loadConfig } from "@opsguard/core/config";
import { UsageError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { createStyle, startSpinner } from "@opsguard/core/tty";
import keyParser from "ssh2/lib/protocol/keyParser.js";
import { auditDirectory } from "./audit";
import { renderAuditCsv, renderAuditJson, renderAuditTable } from "./audit-report";
import { authkeysConfigSchema } from "./config";
import { CONFIG_FILE } from "./stored-config";

const FORMATS = ["table", "json", "csv"] as const;

/** `authkeys audit`: 0 when no finding fails policy, 1 when one does; an unreachable or refusing directory is an error, never a pass. */
export async function runAuditCommand(ctx: CliContext, opts: { filter?: string; format?: string }, io: IOStreams): Promise<ExitCode> {
  // --json beside another --format is refused where the flags are read (formatOrJson)
  const format = ctx.opts.json ? "json" : (opts.format ?? "table");
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--format ${format} is not supported`, { hint: `use ${FORMATS.join(", ")}` });
  }
  const { config } = await loadConfig({ ...CONFIG_FILE, schema: authkeysConfigSchema, path: ctx.opts.config });
  const spinner = await startSpinner("reading the directory", ctx.color && !ctx.opts.quiet, io.stderr);
  let report: Awaited<ReturnType<typeof auditDirectory>>;
  try {
    report = await auditDirectory(config, {
      filter: opts.filter ?? config.audit.filter,
      // ssh2 reads what OpenSSH reads; a value it judges differently from authkeys is worth a look
      secondOpinion: (line) => !(keyParser.parseKey(line) instanceof Error),
      onProgress: (users) => spinner.update(`reading the directory: ${users} accounts`),
      log: ctx.log,
    });
    spinner.stop();
  } catch (error) {
    spinner.fail();
    throw error;
  }
  const style = createStyle(io.colorEnabled(io.stdout, ctx.opts.color));
  io.stdout.write(
    format === "json" ? renderAuditJson(report) : format === "csv" ? renderAuditCsv(report) : renderAuditTable(report, style),
  );
  ctx.log.info("audit done", { users: report.users, keys: report.keys, failing: report.failing });
  return report.failing > 0 ? ExitCode.FAILED : ExitCode.OK;
}
