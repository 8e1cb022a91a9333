import { apiUrlSchema, ConfigError, formatIssues, secretRefSchema, slackConfigSchema } from "@opsguard/core";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { branchPatternProblem, pathPatternProblem } from "./globs";

/** The change-management policy, `.sock-check.yml`. Every key has a safe default except what must be chosen. */

/** An explicitly empty requires list (leave the key out for "any independent reviewer"). */
const EMPTY_LIST = "an empty list would let anyone approve; list at least one, or leave the key out for any reviewer";
const duration = z.string().regex(/^\d+\s*[mhd]$/, { message: 'expected a duration such as "72h", "3d" or "90m"' });

const requiredCheck = z.union([z.string().min(1), z.strictObject({ name: z.string().min(1), app: z.string().min(1).optional() })]);

/**
 * Titles with no ticket in them: a pattern that finds "a ticket" in all of them (`.`, `\w`, `\S+`, `[a-z]`) finds one in
 * every change, and the ticket rule passes everything while it seems to hold.
 */
const NO_TICKET = ["fix typo", "wip", "Update README.md"] as const;

/**
 * The ticket pattern: a JavaScript regular expression that finds ticket text. Refused at load: one that does not
 * compile (naming PCRE's inline flags, which other tools take and JavaScript has not: T63 A2, once an "internal error"),
 * one that matches the empty string, one that matches plain titles with no ticket (NO_TICKET), and one that can only
 * ever match empty, such as `\b` or a lookaround on its own: it matches inside any text without finding any ticket
 * there (T63 A1).
 */
const ticketPattern = z.string().superRefine((source, ctx) => {
  let pattern: RegExp;
  try {
    pattern = new RegExp(source);
  } catch (error) {
    // (?i), (?i:…), (?-i), (?im-s): PCRE, Python, Go and Java write flags so; (?: and (?<name> are JavaScript's own.
    const flags = /\(\?(?:[a-zA-Z]+(?:-[a-zA-Z]*)?|-[a-zA-Z]+)[:)]/.exec(source);
    ctx.addIssue({
      code: "custom",
      message: flags
        ? `${flags[0]} is an inline flag, which JavaScript regular expressions (the syntax of this key) do not have: write each letter's cases out, e.g. "[Ss][Hh][Oo][Pp]-\\d+" or "[A-Za-z]+-\\d+" for any case`
        : `not a valid JavaScript regular expression (${(error as Error).message.replace(/^Invalid regular expression: /, "")})`,
    });
    return;
  }
  if (pattern.test("")) ctx.addIssue({ code: "custom", message: "matches an empty string, so every change would pass" });
  else if (onlyEmptyMatches(source))
    ctx.addIssue({
      code: "custom",
      message: "can only match an empty string (it is made of assertions such as \\b, ^ or a lookaround), so it finds no ticket text",
    });
  else if (NO_TICKET.every((text) => pattern.test(text)))
    ctx.addIssue({
      code: "custom",
      message: `matches text with no ticket in it (${NO_TICKET.map((t) => JSON.stringify(t)).join(", ")}), so every change would pass: write the ticket's own shape, e.g. "SHOP-\\d+"`,
    });
});

/**
 * Whether every match of a (valid) regular expression is empty: each alternative is made only of assertions (`^`,
 * `$`, `\b`, `\B`, lookarounds), groups of those, and atoms repeated `{0}` times. Anything else counts as
 * consuming (a backreference may match empty too: such a pattern is not refused, and finds no ticket, since
 * ticketsIn takes only non-empty matches).
 */
export function onlyEmptyMatches(source: string): boolean {
  let i = 0;
  const rest = () => source.slice(i);
  const alternatives = (): boolean => {
    let empty = true;
    while (i < source.length && source[i] !== ")") {
      if (source[i] === "|") {
        i++;
        continue;
      }
      const zeroWidth = atom();
      const repeat = /^(?:[*+?]|\{(\d+)(,\d*)?\})\??/.exec(rest());
      if (repeat) i += repeat[0].length;
      const never = repeat?.[1] !== undefined && Number(repeat[1]) === 0 && (repeat[2] === undefined || repeat[2] === ",0");
      if (!zeroWidth && !never) empty = false;
    }
    return empty;
  };
  const atom = (): boolean => {
    const ch = source[i];
    if (ch === "^" || ch === "$") {
      i++;
      return true;
    }
    if (ch === "\\") {
      const escaped = source[i + 1];
      i += 2;
      return escaped === "b" || escaped === "B";
    }
    if (ch === "[") {
      // JavaScript's classes: `[]` is empty and `[^]` any character, so a "]" right after "[" or "[^" closes it.
      i++;
      if (source[i] === "^") i++;
      while (i < source.length && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      i++;
      return false;
    }
    if (ch === "(") {
      const lookaround = /^\(\?(?:=|!|<=|<!)/.exec(rest());
      const open = lookaround ?? /^\((?:\?:|\?<[^>]+>)?/.exec(rest())!;
      i += open[0].length;
      const inner = alternatives();
      i++;
      return lookaround !== null || inner;
    }
    i++;
    return false;
  };
  return alternatives();
}

/** A glob the matcher can read; the policy is refused at load otherwise, never a rule that silently matches nothing. */
const pathPattern = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    const problem = pathPatternProblem(pattern);
    if (problem) ctx.addIssue({ code: "custom", message: `cannot use path pattern "${pattern}": ${problem}` });
  });
const branchPattern = z
  .string()
  .min(1)
  .superRefine((pattern, ctx) => {
    const problem = branchPatternProblem(pattern);
    if (problem) ctx.addIssue({ code: "custom", message: `cannot use branch pattern "${pattern}": ${problem}` });
  });

/** A rule name, or {and: [...]} / {or: [...]} of them. */
export type ApprovalExpression = string | { and: ApprovalExpression[] } | { or: ApprovalExpression[] };
const approvalExpression: z.ZodType<ApprovalExpression> = z.lazy(() =>
  z.union([
    z.string().min(1),
    z.strictObject({ and: z.array(approvalExpression).min(1) }),
    z.strictObject({ or: z.array(approvalExpression).min(1) }),
  ]),
);

export const policySchema = z.strictObject({
  provider: z.enum(["github", "gitlab"]).default("github"),
  github: z
    .strictObject({
      /** owner/name; read from the origin remote when absent. */
      repository: z
        .string()
        .regex(/^[\w.-]+\/[\w.-]+$/, { message: 'expected "owner/name"' })
        .optional(),
      apiUrl: apiUrlSchema.default("https://api.github.com"),
      graphqlUrl: apiUrlSchema.optional(),
      token: secretRefSchema.default("env:GITHUB_TOKEN"),
      timeoutMs: z.number().int().positive().max(120_000).default(15_000),
      /** All of a run's requests together: past it, the run stops (75) naming what it was reading. */
      runTimeoutMs: z.number().int().positive().max(3_600_000).default(300_000),
      /** Longest wait for a rate-limit window to reset before giving up. */
      maxRateLimitWaitMs: z.number().int().min(0).max(3_600_000).default(120_000),
    })
    .prefault({}),
  gitlab: z
    .strictObject({
      /** "group/subgroup/name" or the numeric id; read from the origin remote when absent. */
      project: z
        .union([z.string().regex(/^[\w.-]+(\/[\w.-]+)+$/, { message: 'expected "group/name"' }), z.number().int().positive()])
        .optional(),
      apiUrl: apiUrlSchema.default("https://gitlab.com/api/v4"),
      token: secretRefSchema.default("env:GITLAB_TOKEN"),
      timeoutMs: z.number().int().positive().max(120_000).default(15_000),
      runTimeoutMs: z.number().int().positive().max(3_600_000).default(300_000),
      maxRateLimitWaitMs: z.number().int().min(0).max(3_600_000).default(120_000),
    })
    .prefault({}),
  deploy: z
    .strictObject({
      tagPattern: z.string().min(1).default("deploy-*"),
      /** Branches (names or globs) whose PRs count for commits on the deploy line. Default: the repository's default branch. */
      branch: z.union([branchPattern, z.array(branchPattern).min(1)]).optional(),
    })
    .prefault({}),
  /** first-parent: the changes that landed on the deploy branch (merges, squashes, direct pushes); all: every commit. */
  commits: z.enum(["first-parent", "all"]).default("first-parent"),
  approvals: z
    .strictObject({
      required: z.number().int().min(0).max(10).default(1),
      requireOnHead: z.boolean().default(true),
      /** Pushes by these logins (a formatter bot) after an approval do not make it stale (GitHub: needs commit parents). */
      ignoreCommitsBy: z.array(z.string().min(1)).default([]),
      /** A merge of the base branch into the PR after an approval does not make it stale. */
      ignoreUpdateMerges: z.boolean().default(false),
    })
    .prefault({}),
  checks: z
    .strictObject({
      required: z.array(requiredCheck).default([]),
      /** A required check that ended skipped or neutral: "pass" as GitHub's branch protection does, or "fail". */
      skippedOrNeutral: z.enum(["pass", "fail"]).default("pass"),
    })
    .prefault({}),
  ticket: z
    .strictObject({
      pattern: ticketPattern.default("[A-Z][A-Z0-9]+-\\d+"),
      required: z.boolean().default(true),
    })
    .prefault({}),
  signedCommits: z.boolean().default(false),
  pathRules: z
    .array(
      z
        .strictObject({
          /** .gitignore-style globs (picomatch): braces, classes, extglobs, `**`; see globs.ts. */
          paths: z.array(pathPattern).min(1),
          reviewers: z.array(z.string().min(1)).default([]),
          /** GitHub "org/team-slug"; GitLab a group's full path. */
          teams: z
            .array(z.string().regex(/^[\w.-]+(\/[\w.-]+)*$/, { message: 'expected "org/team-slug" (GitHub) or a group path (GitLab)' }))
            .default([]),
        })
        // A rule naming nobody could never be met, and its message would name no one.
        .refine((rule) => rule.reviewers.length + rule.teams.length > 0, {
          message: "needs reviewers or teams (who must approve these paths)",
        }),
    )
    .default([]),
  /**
   * policy-bot-style approval rules: each applies `if` all its conditions hold (no conditions: always) and then
   * `requires` that many independent approvals from its users/teams (anyone, when none are listed).
   * `approvalPolicy` combines them with and/or; by default every rule must hold.
   */
  approvalRules: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        if: z
          .strictObject({
            changedPaths: z.array(pathPattern).min(1).optional(),
            authors: z.array(z.string().min(1)).min(1).optional(),
            labels: z.array(z.string().min(1)).min(1).optional(),
            targetBranches: z.array(branchPattern).min(1).optional(),
          })
          .default({}),
        requires: z
          .strictObject({
            count: z.number().int().min(1).max(10).default(1),
            // An empty list given is refused, not read as "anyone" (which is what leaving it out means): a list
            // emptied by mistake (a template variable, a deleted team) must not open the rule to every reviewer.
            users: z.array(z.string().min(1)).min(1, { message: EMPTY_LIST }).default([]),
            teams: z
              .array(z.string().regex(/^[\w.-]+(\/[\w.-]+)*$/, { message: 'expected "org/team-slug" (GitHub) or a group path (GitLab)' }))
              .min(1, { message: EMPTY_LIST })
              .default([]),
            /** GitHub organisation logins: an approver who is a member of one counts (policy-bot's `organizations`). */
            organizations: z
              .array(z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/, { message: "expected a GitHub organisation login" }))
              .min(1, { message: EMPTY_LIST })
              .default([]),
          })
          .prefault({}),
      }),
    )
    .default([]),
  approvalPolicy: approvalExpression.optional(),
  /** Extra e-mail addresses per login, for commits whose e-mail is not linked to the account. */
  identities: z.record(z.string(), z.array(z.string().email())).default({}),
  exemptions: z
    .strictObject({
      bots: z.array(z.string().min(1)).default([]),
      emergency: z
        .strictObject({
          label: z.string().min(1).default("emergency"),
          reviewWithin: duration.default("72h"),
        })
        .optional(),
    })
    .prefault({}),
  slack: slackConfigSchema.optional(),
});

export type Policy = z.output<typeof policySchema>;
export type RequiredCheck = { name: string; app?: string | undefined };

export const POLICY_FILE = ".sock-check.yml";

/** Parses and validates policy text; errors name the source and the key path. */
export function parsePolicy(text: string, source: string): Policy {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const line = (error instanceof Error ? error.message : String(error)).split("\n")[0];
    throw new ConfigError(`cannot parse ${source}: ${line}`, { hint: "fix the YAML syntax" });
  }
  // An empty file is a mistake (a truncated checkout, a bad merge), not a request for every default.
  if (raw === null || raw === undefined) {
    throw new ConfigError(`${source} is empty`, { hint: "write the policy (see the README); to take the defaults, write {}" });
  }
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`invalid policy in ${source}: ${formatIssues(parsed.error)}`);
  const names = parsed.data.approvalRules.map((r) => r.name);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new ConfigError(`invalid policy in ${source}: approvalRules: two rules are named "${duplicate}"`);
  const unknown = parsed.data.approvalPolicy ? ruleNamesIn(parsed.data.approvalPolicy).find((n) => !names.includes(n)) : undefined;
  if (unknown !== undefined) {
    throw new ConfigError(`invalid policy in ${source}: approvalPolicy names "${unknown}", which is not in approvalRules`);
  }
  return parsed.data;
}

export function requiredChecks(policy: Policy): RequiredCheck[] {
  return policy.checks.required.map((c) => (typeof c === "string" ? { name: c } : c));
}

export function durationMs(text: string): number {
  const match = /^(\d+)\s*([mhd])$/.exec(text);
  if (!match) throw new ConfigError(`invalid duration "${text}"`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

export function ruleNamesIn(expression: ApprovalExpression): string[] {
  if (typeof expression === "string") return [expression];
  return ("and" in expression ? expression.and : expression.or).flatMap(ruleNamesIn);
}

/** Every organisation approval rules name, for the provider to read members of. */
export function policyOrganizations(policy: Policy): string[] {
  return [...new Set(policy.approvalRules.flatMap((r) => r.requires.organizations))];
}

/** Every team a policy names (path rules and approval rules), for the provider to list members of. */
export function policyTeams(policy: Policy): string[] {
  return [...new Set([...policy.pathRules.flatMap((r) => r.teams), ...policy.approvalRules.flatMap((r) => r.requires.teams)])];
}
