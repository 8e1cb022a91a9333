/** The text after the options in --help; the README says the same. */
export const HELP_AFTER = `Policy (.sock-check.yml, read from the DEPLOYED commit so a change cannot relax its own rules;
none there is exit 78; --config FILE overrides):
  github.repository        owner/name (default: from the origin remote)
  github.apiUrl            https://api.github.com, or https://HOST/api/v3 for Enterprise Server (http:// only to localhost)
  github.token             secret reference (default env:GITHUB_TOKEN); never printed
  github.timeoutMs         per request attempt (default 15000)
  github.runTimeoutMs      all of a run's requests together; past it → exit 75 naming what it was reading (default 300000)
  github.maxRateLimitWaitMs  longest wait for rate limits, all waits together; longer → exit 75 (default 120000)
  provider                 github (default) or gitlab, with gitlab.project, gitlab.apiUrl,
                           gitlab.token (read_api scope; default env:GITLAB_TOKEN), gitlab.timeoutMs, gitlab.runTimeoutMs,
                           gitlab.maxRateLimitWaitMs
  deploy.tagPattern        last deploy tag, the default --from (default deploy-*)
  deploy.branch            PRs must be merged into it; a name, glob or list (default: the repository's default branch)
  commits                  first-parent (default) or all
  approvals.required       independent approvals per PR by people; a bot's never counts (default 1)
  approvals.requireOnHead  one approval must be on the final head commit (default true)
  approvals.ignoreCommitsBy  bots whose later signed pushes do not make an approval stale (a formatter bot);
                           the commit must be authored and committed by it, GitHub-verified (an e-mail alone is not)
  approvals.ignoreUpdateMerges  merging the base branch into the PR does not make approvals stale when the merge
                           is git's clean merge of its parents (default false)
  checks.required          names (a check run and a status of one name are both required, and every run of
                           one name on the head, the newest re-run per check suite, GitLab's latest pipeline
                           and its child pipelines; skipped/neutral pass on GitHub), or {name, app} to accept only that GitHub App's check run or its bot's
                           status (a user account named like the app does not count)
  checks.skippedOrNeutral  pass (default, as GitHub) or fail: a skipped/neutral required check; on GitLab a
                           skipped job never ran and always blocks
  ticket.pattern           regex looked for in PR title, body, branch and commits (default [A-Z][A-Z0-9]+-\\d+);
                           a JavaScript regex (no inline flags such as (?i): write [A-Za-z]); a ticket is a
                           non-empty match; one matching an empty string, only ever empty (\\b), or plain
                           titles with no ticket (".", "\\w+"), is refused
  ticket.required          a change without a ticket is a violation (default true)
  signedCommits            require verified signatures (default false)
  pathRules                [{paths: [glob], reviewers: [login], teams: [org/slug]}]; globs with .gitignore
                           placement ({tf,hcl}, [ab], **; no slash = any depth); unreadable ones refused;
                           each rule needs reviewers or teams, approving the head under requireOnHead;
                           files by their exact names (a name that is not UTF-8 matches every pattern)
  approvalRules            [{name, if: {changedPaths, authors, labels, targetBranches},
                           requires: {count, users, teams, organizations}}]; organizations: GitHub orgs whose
                           members count; a membership the token cannot see (not an org member: public
                           members only) makes the change unverified
  approvalPolicy           rule names combined with {and: [...]} / {or: [...]} (default: every rule)
  identities               {login: [e-mail]}: addresses the provider cannot link to the account
                           (an unlinked author/co-author of an approved PR or MR makes it unverified)
  exemptions.bots          PR authors exempt from review and ticket (checks still apply); a GitHub App bot
                           matches as dependabot or dependabot[bot]; only when every commit is the bot's, signed
  exemptions.emergency     {label, reviewWithin: 72h}: let a change through, review after the merge (not done
                           while a reviewer's latest review requests changes)
  slack.token              for --post-slack

Examples:
  sock-check                                      # deploy-* tag .. HEAD, digest on stdout
  sock-check --from-url https://shop.example/version --format markdown >> "$GITHUB_STEP_SUMMARY"
  sock-check --from v1.4.0 --to v1.5.0 --output evidence.json --format json
  sock-check retro --since 30d                    # emergency merges of the last 30 days (by merge time): review done, pending or overdue

CI: the GitHub Action opsguard/opsguard/packages/sock-check@<version> and the GitLab CI template
packages/sock-check/ci/sock-check.gitlab-ci.yml (job .sock-check) run it; see the README.`;

/**
 * After the exit code table (so a table parser reads only the codes sock-check itself returns): on SIGINT or
 * SIGTERM the process ends as the signal does, and a shell or CI runner reports 128 + the signal's number.
 */
export const HELP_SIGNALS = `  130 interrupted (SIGINT, Ctrl-C): sock-check stops at once, no report is written
  143 terminated (SIGTERM: a cancelled job, a timeout): the same; an --output file keeps what it held`;
