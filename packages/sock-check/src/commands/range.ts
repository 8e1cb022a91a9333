import type { CliContext, Command } from "@opsguard/core";
import pkg from "../../package.json" with { type: "json" };
import type { CheckOptions } from "../check";

/** The flags `check` and `retro` share: which checkout and which range of commits. */
export interface RangeFlags {
  repoDir: string;
  from?: string;
  fromFile?: string;
  fromUrl?: string;
  to: string;
  repo?: string;
}

export function withRange(command: Command, fromDefault = "the last deploy tag"): Command {
  return command
    .option("-C, --repo-dir <dir>", "the git checkout", ".")
    .option("--from <ref>", `deployed commit or tag (default: ${fromDefault})`)
    .option("--from-file <path>", "file holding the deployed SHA")
    .option("--from-url <url>", "URL answering with exactly the deployed SHA (text, or JSON with sha, commit, revision…)")
    .option("--to <ref>", "candidate commit", "HEAD")
    .option(
      "--repo <owner/name>",
      "GitHub owner/name (refused when it differs from the policy's github.repository) or GitLab group/name (default: policy, then the origin remote)",
    );
}

export function checkOptions(flags: RangeFlags, ctx: CliContext): CheckOptions {
  return {
    dir: flags.repoDir,
    from: flags.from,
    fromFile: flags.fromFile,
    fromUrl: flags.fromUrl,
    to: flags.to,
    repository: flags.repo,
    policyPath: ctx.opts.config ?? (ctx.io.env.SOCK_CHECK_CONFIG || undefined),
    log: ctx.log,
    toolVersion: pkg.version,
  };
}
