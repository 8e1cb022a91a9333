import { escapeLine } from "@opsguard/core";
import type { Person, PullFact } from "./model";

/** GitHub commits merges and web edits as this account; it is nobody's review conflict. */
export const PLATFORM_LOGINS = new Set(["web-flow"]);
export const PLATFORM_EMAILS = new Set(["noreply@github.com"]);

/** GitHub's private commit address names its account: `[id+]login@users.noreply.github.com`. */
export function loginOfGitHubNoreply(email: string): string | undefined {
  return /^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$/i.exec(email)?.[1];
}

/**
 * Why a change is unverified when a commit's author, co-author or committer is no account the provider or the
 * policy's `identities` can name and the change has an approval from anyone but its author: that approver may be
 * the person behind the address (a `Co-authored-by:` trailer takes any address), so the approval is neither
 * counted nor refused but reported. Undefined when everyone is named or nobody else approved.
 */
export function unlinkedApprovalReason(
  pull: PullFact,
  identities: Record<string, string[]>,
  provider: { change: string; account: string; hint: string; namesAccount?: (email: string) => boolean },
): string | undefined {
  const unknown = unlinkedPeople(pull, identities, provider.namesAccount ?? (() => false));
  const author = pull.author?.toLowerCase();
  const approvers = uniq(
    pull.reviews.flatMap((r) => (r.state === "APPROVED" && r.reviewer !== null && r.reviewer.toLowerCase() !== author ? [r.reviewer] : [])),
  );
  if (unknown.length === 0 || approvers.length === 0) return undefined;
  // names and addresses come from commit trailers anyone can write: control and bidi characters are shown, not
  // sent to the terminal (escapeLine, as every other line of the report)
  const who = unknown.map((p) => escapeLine(`${p.name ?? "?"} <${p.email}>`)).join(", ");
  return `${provider.change}: ${who} (commit author, co-author or committer) is not linked to a ${provider.account} account ${provider.hint}, so approval by ${approvers.join(", ")} cannot be shown to be independent; add the address under identities in the policy`;
}

/** GitHub's own addresses: its platform account's and the private ones that name an account. */
export function namesGitHubAccount(email: string): boolean {
  return PLATFORM_EMAILS.has(email) || loginOfGitHubNoreply(email) !== undefined;
}

/** People of the change's commits with an address but no account, nor one `identities` or the provider names. */
function unlinkedPeople(pull: PullFact, identities: Record<string, string[]>, namesAccount: (email: string) => boolean): Person[] {
  const known = new Set(
    Object.values(identities)
      .flat()
      .map((a) => a.toLowerCase()),
  );
  const out = new Map<string, Person>();
  for (const c of pull.commits) {
    for (const p of [...c.authors, c.committer]) {
      const email = p.email?.toLowerCase();
      if (p.login || email === undefined || known.has(email) || namesAccount(email)) continue;
      out.set(email, p);
    }
  }
  return [...out.values()];
}

function uniq<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
