import { lstat } from "node:fs/promises";
import {
  type CliContext,
  createSlackClient,
  createStyle,
  ExitCode,
  escapeSlackText,
  HttpError,
  IoError,
  type Logger,
  OpsguardError,
  type OutStream,
  PermissionError,
  PolicyError,
  redactedJson,
  redactSecrets,
  writeOutputFile,
} from "@opsguard/core";
import { changeTerms } from "./association";
import type { CheckResult } from "./check";
import { renderCsv } from "./report/csv";
import { renderDigest } from "./report/digest";
import { groupRecords, plural } from "./report/groups";
import { renderHtml } from "./report/html";
import { renderMarkdown } from "./report/markdown";

export type OutputFormat = "digest" | "markdown" | "json" | "csv" | "html";

export interface DeliverOptions {
  format: OutputFormat;
  output?: string | undefined;
  allowUnverified: boolean;
  postSlack?: string | undefined;
  style: CliContext["style"];
  log: Logger;
  /** The run's stdout (redacting: an API error may echo the token). */
  stdout: OutStream;
}

/** Whether the deploy must stop: any noncompliant change, or any unverified one unless allowed. */
export function isBlocked(result: CheckResult, allowUnverified: boolean): boolean {
  const s = result.report.summary;
  return s.noncompliant > 0 || (s.unverified > 0 && (!allowUnverified || tokenRefused(result)));
}

/**
 * Whether the provider refused the token (401/403), or the repository is not there or not visible to it (77, see
 * repositoryNotVisible). --allow-unverified lets changes through when the provider cannot answer, not when
 * sock-check cannot ask: an expired or revoked CI token would otherwise turn the gate off, every run exit 0 with
 * nothing checked, from the day it expired (T31 #21).
 */
function tokenRefused(result: CheckResult): boolean {
  const failure = result.facts.failure;
  return failure instanceof OpsguardError && failure.exitCode === ExitCode.NO_PERM;
}

export function render(result: CheckResult, format: OutputFormat, style: CliContext["style"], blocked: boolean): string {
  switch (format) {
    case "json":
      // JSON leaves DEL, C1 and bidi characters raw, and a terminal acts on them: core writes them as \u escapes.
      return redactedJson(result.report);
    case "csv":
      return renderCsv(result.report);
    case "html":
      return renderHtml(result.report, { blocked });
    case "markdown":
      return renderMarkdown(result.report, { blocked });
    default:
      return renderDigest(result.report, style, { blocked });
  }
}

/**
 * The evidence file is often a path inside the checkout under review (a CI artifact must be), and that commit
 * decides what is there: a link `sock-check.json -> /dev/null` would throw the evidence away, one to another
 * file would put it where nobody looks. So --output never follows a link in its last component; it says so
 * before anything is written. (Without --output the report is on stdout; a FIFO or device passed by its own
 * path is still written to.)
 */
async function refuseSymlink(path: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isSymbolicLink()) {
    throw new IoError(`--output ${path} is a symbolic link, and sock-check does not write its evidence through one`, {
      hint: "give the path of a regular file (remove the link), or leave out --output for the report on stdout",
    });
  }
}

/**
 * Writes the report (to --output, atomically for a regular file, or stdout), the digest to stdout, and the Slack
 * post — all through core's output boundary, which redacts secrets (an API error may echo the token).
 */
export async function deliver(result: CheckResult, options: DeliverOptions): Promise<void> {
  // A configuration mistake is reported before any output, so the exit code is the configuration error's alone.
  if (options.postSlack && !result.policy.slack) {
    throw new OpsguardError("--post-slack needs slack.token in the policy", ExitCode.CONFIG, {
      hint: "add slack: {token: env:SLACK_TOKEN} to the policy, or drop --post-slack",
    });
  }
  const blocked = isBlocked(result, options.allowUnverified);
  if (options.output) {
    await refuseSymlink(options.output);
    options.stdout.write(renderDigest(result.report, options.style, { blocked }));
    await writeOutputFile(options.output, render(result, options.format, createStyle(false), blocked));
  } else {
    options.stdout.write(render(result, options.format, options.style, blocked));
  }
  const unverified = result.report.records.filter((r) => r.verdict === "unverified");
  if (unverified.length > 0 && options.allowUnverified && !blocked) {
    options.log.warn(
      `${plural(unverified.length, "commit")} could not be verified and ${unverified.length === 1 ? "is" : "are"} let through (--allow-unverified)`,
      {
        commits: unverified.map((r) => r.commit.sha.slice(0, 12)).join(","),
      },
    );
  }
  if (options.postSlack) await postToSlack(result, options.postSlack, blocked, options.log);
}

/** The error that carries the exit code, or undefined when the deploy may go ahead. */
export function verdictError(result: CheckResult, allowUnverified: boolean): OpsguardError | undefined {
  const s = result.report.summary;
  if (s.noncompliant > 0) {
    return new PolicyError(
      `deploy blocked: ${plural(s.noncompliant, "noncompliant commit")} in ${result.report.range.from.slice(0, 7)}..${result.report.range.to.slice(0, 7)}`,
    );
  }
  if (allowUnverified && tokenRefused(result))
    return unverifiedError(
      result,
      `deploy blocked (--allow-unverified does not cover ${result.facts.failure instanceof PermissionError ? "a repository the token cannot see" : "a refused token"})`,
      false,
    );
  return allowUnverified ? undefined : unverifiedError(result, "deploy blocked", true);
}

/**
 * Fail closed: when some commits could not be verified (the provider unreachable, refusing, or answering in
 * part), the error naming them, with the failure's exit code (69 unavailable unless the failure says otherwise).
 */
export function unverifiedError(result: CheckResult, what: string, allowable: boolean): OpsguardError | undefined {
  const shas = result.report.records.filter((r) => r.verdict === "unverified").map((r) => r.commit.sha.slice(0, 7));
  if (shas.length === 0) return undefined;
  const failure = result.facts.failure;
  const code = failure instanceof OpsguardError ? failure.exitCode : ExitCode.UNAVAILABLE;
  const listed = shas.length > 10 ? `${shas.slice(0, 10).join(", ")} and ${shas.length - 10} more` : shas.join(", ");
  const reason = failure ? `: ${failure.message}` : "";
  const provider = result.policy.provider === "gitlab" ? "GitLab" : "GitHub";
  // A repository the token cannot see, or one GitHub refuses the token for (SAML SSO), says what to check.
  // A temporary failure (75: a rate limit, the run's deadline) says itself what to do ("retry later, or raise the
  // deadline …"): "fix access to GitHub and re-run" would send the user after a problem they do not have.
  const temporary = failure instanceof OpsguardError && failure.exitCode === ExitCode.TEMP_FAIL && failure.hint ? failure.hint : undefined;
  const fix =
    failure instanceof HttpError && (failure.status === 401 || failure.status === 403)
      ? refusedTokenFix(result.policy.provider, failure.status)
      : failure instanceof OpsguardError && failure.exitCode === ExitCode.NO_PERM && failure.hint
        ? failure.hint
        : `fix access to ${provider}`;
  const action = temporary ?? `${fix} and re-run`;
  // --allow-unverified does not cover a refused token or a repository it cannot see (tokenRefused): never offer it then.
  return new OpsguardError(`${what}: ${plural(shas.length, "commit")} could not be verified (${listed})${reason}`, code, {
    hint: allowable && !tokenRefused(result) ? `${action}, or pass --allow-unverified to let them through flagged` : action,
  });
}

/**
 * What makes the provider take the token: 401 is a token it does not accept at all (expired, revoked, mistyped), 403
 * one without the access the endpoints need. GitLab's read endpoints take the read_api scope, and on a private
 * project a Guest may not read code, merge requests or jobs (docs.gitlab.com/user/permissions/): Reporter reads them.
 */
function refusedTokenFix(provider: "github" | "gitlab", status: 401 | 403): string {
  if (provider === "gitlab") {
    return status === 401
      ? "GitLab does not accept the token (expired, revoked or mistyped?): set gitlab.token to a valid access token with the read_api scope and at least the Reporter role on the project"
      : "give the token the read_api scope and at least the Reporter role on the project (a Guest cannot read a private project's code, merge requests or jobs)";
  }
  return status === 401
    ? "GitHub does not accept the token (expired, revoked or mistyped?): set github.token to a valid one"
    : "give the token read access to the repository's contents, pull requests, checks and commit statuses";
}

async function postToSlack(result: CheckResult, channel: string, blocked: boolean, log: Logger): Promise<void> {
  const client = createSlackClient(result.policy.slack!, { log });
  const s = result.report.summary;
  const terms = changeTerms(result.report.provider);
  const lines = [
    `*sock-check ${escapeSlackText(result.report.repo)}* ${blocked ? ":x: deploy blocked" : s.unverified > 0 ? ":warning: not blocked, with unverified changes (--allow-unverified)" : ":white_check_mark: compliant"} — ` +
      `${plural(s.commits, "commit")} in ${plural(s.pulls, terms.kind)}: ${s.compliant} compliant, ${s.exempt} exempt, ${s.emergency} emergency, ${s.noncompliant} noncompliant, ${s.unverified} unverified`,
    ...groupRecords(result.report.records)
      .filter((g) => g.verdict !== "compliant")
      .slice(0, 20)
      .map((g) => {
        const what = g.first.pr
          ? `${terms.number(g.first.pr.number)} ${g.first.pr.title}`
          : `${g.first.commit.sha.slice(0, 7)} ${g.first.commit.subject}`;
        const why = g.violations.map((v) => v.message).join("; ") || g.verdict;
        return `• ${escapeSlackText(what)}: ${escapeSlackText(why)}`;
      }),
  ];
  try {
    await client.postMessage({ channel, text: redactSecrets(lines.join("\n")), unfurl_links: false });
  } catch (error) {
    // The verdict stands whether or not chat heard about it.
    log.error(`could not post the digest to Slack: ${error instanceof Error ? error.message : String(error)}`);
  }
}
