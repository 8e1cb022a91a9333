import { HttpError, type Logger, PermissionError, UnavailableError } from "@opsguard/core";
import type { ChangeTerms } from "./association";
import type { ProviderFacts } from "./model";
import { instant } from "./time";

export function emptyFacts(): ProviderFacts {
  return {
    commits: new Map(),
    pulls: new Map(),
    teams: new Map(),
    unreadTeams: new Map(),
    orgs: new Map(),
    unverified: new Map(),
    defaultBranch: null,
    failure: undefined,
  };
}

/**
 * The repository or project is not there, or the token cannot see it: GitHub (NOT_FOUND) and GitLab (404) answer
 * both alike, so as not to reveal a private one. Exit 77 on both providers, like a refused token, and for the same
 * reason --allow-unverified does not cover it: no run can verify anything until the policy or the token is fixed,
 * so letting such runs through would turn the gate off.
 */
export function repositoryNotVisible(message: string, hint: string): PermissionError {
  return new PermissionError(message, { hint });
}

export type Attempt = <T>(shas: readonly string[], fn: () => Promise<T>) => Promise<T | undefined>;

/**
 * Fail closed: runs one provider request; on failure marks `shas` unverified and opens the circuit, so every
 * later request is skipped and its commits are marked unverified too (never assumed compliant).
 */
export function failClosed(facts: ProviderFacts, service: string, log: Logger | undefined): Attempt {
  return async (shas, fn) => {
    if (facts.failure) {
      for (const sha of shas) facts.unverified.set(sha, `not checked after an earlier API failure: ${facts.failure.message}`);
      return undefined;
    }
    try {
      return await fn();
    } catch (error) {
      facts.failure = error instanceof Error ? apiRouteMissing(error) : new Error(String(error));
      for (const sha of shas) facts.unverified.set(sha, facts.failure.message);
      log?.warn(`${service} request failed; the changes it covers are unverified`, { error: facts.failure.message });
      return undefined;
    }
  };
}

/**
 * A 404 from an API route past the repository's own (a project's merge requests, events, GraphQL endpoint): the
 * provider or a proxy in front of it is not answering as its API does — a service failure like a 5xx (exit 69, as
 * the README's exit codes say), not bad input from the user (core's 65 for a 4xx). The repository's own 404 is
 * repositoryNotVisible's, thrown before it gets here.
 */
function apiRouteMissing(error: Error): Error {
  if (!(error instanceof HttpError && error.status === 404)) return error;
  return new UnavailableError(error.message, { hint: "check the API URL and that the provider serves this API version" });
}

/**
 * A PR the provider says is merged but not when (a null `mergedAt`, which GitHub's schema allows, or one no Date
 * reads as an ISO 8601 instant) cannot be judged: approvals count only before the merge, and an emergency change is due `reviewWithin`
 * after it — timed from now instead, it was never overdue (T31 #19), and an unreadable time ended the run as an
 * internal error (#20). Its commits are unverified.
 */
export function unverifyUndatedMerges(facts: ProviderFacts, terms: ChangeTerms): void {
  for (const pull of facts.pulls.values()) {
    if (!pull.merged || instant(pull.mergedAt) !== undefined) continue;
    const reason = `${terms.list([pull.number])}: ${terms.provider} says it was merged but not when (mergedAt ${pull.mergedAt === null ? "null" : "unreadable"})`;
    for (const commit of facts.commits.values()) {
      if (commit.pulls.includes(pull.number) && !facts.unverified.has(commit.sha)) facts.unverified.set(commit.sha, reason);
    }
  }
}
