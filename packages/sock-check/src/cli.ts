import { cliContext, colorEnabled, createProgram, createStyle, ExitCode, runCli, UsageError, writeRedactedStdout } from "@opsguard/core";
import { addCompletionCommand } from "@opsguard/core/completion";
import pkg from "../package.json" with { type: "json" };
import { type CheckOptions, runCheck } from "./check";
import { HELP_AFTER } from "./help";
import { deliver, type OutputFormat, unverifiedError, verdictError } from "./output";
import { durationMs } from "./policy";
import { checkProgress } from "./progress";
import { summarize } from "./record";
import { renderHtml } from "./report/html";
import { renderRetro, retroError } from "./retro";

type Command = Parameters<typeof cliContext>[0];

interface RangeFlags {
  repoDir: string;
  from?: string;
  fromFile?: string;
  fromUrl?: string;
  to: string;
  repo?: string;
}

const program = createProgram({
  name: "sock-check",
  version: pkg.version,
  description: pkg.description,
  exitCodes: [
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.USAGE,
    ExitCode.DATA_ERR,
    ExitCode.NO_INPUT,
    ExitCode.UNAVAILABLE,
    ExitCode.IO_ERR,
    ExitCode.TEMP_FAIL,
    ExitCode.NO_PERM,
    ExitCode.CONFIG,
  ],
  helpAfter: HELP_AFTER,
});
// The policy is never searched for (an rc file in the checkout would let the change under review plant one).
const configOption = program.options.find((o) => o.long === "--config");
if (configOption) configOption.description = "policy file outside the repository; wins over .sock-check.yml (default: $SOCK_CHECK_CONFIG)";

function withRange(command: ReturnType<typeof program.command>, fromDefault = "the last deploy tag") {
  return command
    .option("-C, --repo-dir <dir>", "the git checkout", ".")
    .option("--from <ref>", `deployed commit or tag (default: ${fromDefault})`)
    .option("--from-file <path>", "file holding the deployed SHA")
    .option("--from-url <url>", "URL answering with the deployed SHA (text or JSON)")
    .option("--to <ref>", "candidate commit", "HEAD")
    .option("--repo <owner/name>", "GitHub owner/name or GitLab group/name (default: policy, then the origin remote)");
}

function checkOptions(flags: RangeFlags, ctx: ReturnType<typeof cliContext>): CheckOptions {
  return {
    dir: flags.repoDir,
    from: flags.from,
    fromFile: flags.fromFile,
    fromUrl: flags.fromUrl,
    to: flags.to,
    repository: flags.repo,
    policyPath: ctx.opts.config ?? (process.env.SOCK_CHECK_CONFIG || undefined),
    log: ctx.log,
    toolVersion: pkg.version,
  };
}

withRange(program.command("check", { isDefault: true }).description("check every change in the range against the policy (the default)"))
  .addOption(
    program
      .createOption("--format <format>", "report on stdout (or in --output)")
      .choices(["digest", "markdown", "json", "csv", "html"])
      .default("digest"),
  )
  .option("-o, --output <file>", "write the report (evidence) to FILE; the digest still goes to stdout")
  .option("--allow-unverified", "do not block on changes the provider could not verify (they are still reported)", false)
  .option("--post-slack <channel>", "post the digest to this Slack channel (needs slack.token)")
  .action(
    async (
      flags: RangeFlags & { format: OutputFormat; output?: string; allowUnverified: boolean; postSlack?: string },
      command: Command,
    ) => {
      const ctx = cliContext(command);
      const progress = checkProgress(ctx);
      let result: Awaited<ReturnType<typeof runCheck>>;
      try {
        result = await runCheck({ ...checkOptions(flags, ctx), ...progress.hooks });
      } finally {
        progress.stop();
      }
      const format: OutputFormat = ctx.opts.json ? "json" : flags.format;
      const stdoutStyle = createStyle(colorEnabled(process.stdout, ctx.opts.color));
      await deliver(result, {
        format,
        output: flags.output,
        allowUnverified: flags.allowUnverified,
        postSlack: flags.postSlack,
        style: stdoutStyle,
        log: ctx.log,
      });
      ctx.log.info("done", { requests: result.report.requests, commits: result.report.summary.commits });
      const error = verdictError(result, flags.allowUnverified);
      if (error) throw error;
    },
  );

withRange(
  program
    .command("retro")
    .description("report emergency changes merged recently (or in the range): retroactive review done, pending or overdue"),
  "see --since",
)
  .option("--since <duration>", "without --from*: look at what merged in this window (m, h or d), shipped or not", "30d")
  .addOption(program.createOption("--format <format>", "report on stdout").choices(["text", "html"]).default("text"))
  .action(async (flags: RangeFlags & { since: string; format: "text" | "html" }, command: Command) => {
    const ctx = cliContext(command);
    if (!/^\d+\s*[mhd]$/.test(flags.since)) throw new UsageError(`--since ${flags.since}: expected a duration such as 30d, 72h or 90m`);
    const ranged = flags.from !== undefined || flags.fromFile !== undefined || flags.fromUrl !== undefined;
    const since = ranged ? undefined : new Date(Date.now() - durationMs(flags.since));
    if (since && Number.isNaN(since.getTime()))
      throw new UsageError(`--since ${flags.since}: reaches before any date`, { hint: "give a window such as 30d, 72h or 90m" });
    const progress = checkProgress(ctx);
    const result = await runCheck({ ...checkOptions(flags, ctx), since, ...progress.hooks }).finally(() => progress.stop());
    // Fail closed like `check`: changes GitHub could not be asked about are not "no emergency changes".
    const incomplete = unverifiedError(result, "retro incomplete", false);
    if (incomplete) throw incomplete;
    if (ctx.opts.json) {
      writeRedactedStdout(
        `${JSON.stringify(
          result.report.records.filter((r) => r.emergency),
          null,
          2,
        )}\n`,
      );
    } else if (flags.format === "html") {
      const emergency = result.report.records.filter((r) => r.emergency);
      writeRedactedStdout(
        renderHtml({ ...result.report, records: emergency, summary: summarize(emergency) }, { blocked: false, kind: "retro" }),
      );
    } else {
      writeRedactedStdout(renderRetro(result.report, createStyle(colorEnabled(process.stdout, ctx.opts.color))));
    }
    const error = retroError(result.report);
    if (error) throw error;
  });

addCompletionCommand(program);
void runCli(program);
