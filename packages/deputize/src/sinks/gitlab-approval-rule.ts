import { ConfigError, collect, DataError, gitlabPages, type HttpClient } from "@opsguard/core";
import type { Person } from "../people";
import { type GitLabUser, GitLabUsers } from "./gitlab-users";
import type { Sink, SinkPlan } from "./sink";

export interface GitLabApprovalRuleSinkOptions {
  name: string;
  /** From core's createGitLabClient. */
  http: HttpClient;
  /** Numeric id or full path ("platform/api"). */
  project: string;
  /** The approval rule's name, matched exactly. */
  rule: string;
  usernameDomains?: readonly string[];
  /** Rules per page (GitLab allows up to 100). */
  pageSize?: number;
  schedules?: readonly string[] | undefined;
}

/**
 * The rule as https://docs.gitlab.com/api/merge_request_approvals/#get-project-level-rules lists it;
 * only what deputize reads and must send back unchanged.
 */
interface ApprovalRule {
  id: number;
  name: string;
  rule_type: string;
  approvals_required: number;
  users: GitLabUser[];
  groups?: Array<{ id: number }> | null;
  applies_to_all_protected_branches?: boolean | null;
  protected_branches?: Array<{ id: number }> | null;
}

/**
 * A GitLab project approval rule whose users are who is on call (the original deputize kept MR
 * approvers in sync). One PUT per change; the rule's name, required approvals, groups and protected
 * branches are sent back as read (a field GitLab did not list is left out, never sent empty), because GitLab removes any approver or group an update leaves out.
 * Hidden groups (private groups the token cannot see) are kept by GitLab as long as
 * `remove_hidden_groups` is not sent, and deputize never sends it.
 */
export class GitLabApprovalRuleSink implements Sink {
  readonly kind = "gitlab-approval-rule";
  readonly name: string;
  readonly schedules: readonly string[] | undefined;
  readonly #o: GitLabApprovalRuleSinkOptions;
  readonly #users: GitLabUsers;

  constructor(options: GitLabApprovalRuleSinkOptions) {
    this.#o = options;
    this.name = options.name;
    this.schedules = options.schedules;
    this.#users = new GitLabUsers(options.http, options.usernameDomains);
  }

  async plan(people: readonly Person[]): Promise<SinkPlan> {
    const rule = await this.#rule();
    // "Approvers and groups (except hidden groups) not in the users or groups parameters are removed"
    // (PUT docs): a rule listed without its groups cannot be updated without dropping them.
    const groups = rule.groups;
    if (!Array.isArray(groups)) {
      throw new DataError(`${this.name}: GitLab listed rule ${JSON.stringify(rule.name)} without its groups; left as it is`, {
        hint: "an update would remove the rule's groups; check the token can read the rule (api scope) and the GitLab version",
      });
    }
    const byName = new Map(rule.users.map((u) => [u.username.toLowerCase(), u]));
    const unresolved: string[] = [];
    const desired = new Map<number, GitLabUser>();
    const seen = new Set<string>();
    for (const p of people) {
      const id = this.#users.identity(p);
      if (seen.has(id)) continue;
      seen.add(id);
      // Only people not already in the rule are looked up: a no-change run reads the rules and nothing else.
      const user = await this.#users.find(p, byName);
      if (user) desired.set(user.id, user);
      else unresolved.push(this.#users.notFound(p));
    }
    const current = new Set(rule.users.map((u) => u.id));
    const add = [...desired.values()].filter((u) => !current.has(u.id));
    const remove = rule.users.filter((u) => !desired.has(u.id));
    const names = (users: Iterable<GitLabUser>) => [...users].map((u) => u.username).sort();
    return {
      current: names(rule.users),
      desired: names(desired.values()),
      add: names(add),
      remove: names(remove),
      updates: [],
      unresolved,
      placed: desired.size,
      apply: async () => {
        await this.#o.http.request({
          method: "PUT",
          url: `${this.#rulesPath()}/${rule.id}`,
          // Only what GitLab listed goes back: a branch scope it did not list (absent or null) is left
          // out, which keeps the rule's scope as it is, where an empty list would change it.
          body: {
            name: rule.name,
            approvals_required: rule.approvals_required,
            user_ids: [...desired.keys()],
            group_ids: groups.map((g) => g.id),
            ...(typeof rule.applies_to_all_protected_branches === "boolean"
              ? { applies_to_all_protected_branches: rule.applies_to_all_protected_branches }
              : {}),
            ...(Array.isArray(rule.protected_branches) ? { protected_branch_ids: rule.protected_branches.map((b) => b.id) } : {}),
          },
        });
      },
    };
  }

  #rulesPath(): string {
    return `/projects/${encodeURIComponent(this.#o.project)}/approval_rules`;
  }

  /** The one rule of that name; none, several, or one that is not a user list is a config error. */
  async #rule(): Promise<ApprovalRule> {
    const rules = await collect(gitlabPages<ApprovalRule>(this.#o.http, this.#rulesPath(), {}, this.#o.pageSize));
    const named = rules.filter((r) => r.name === this.#o.rule);
    const where = `project ${this.#o.project}`;
    if (named.length === 0) {
      const names = rules.map((r) => JSON.stringify(r.name)).slice(0, 5);
      throw new ConfigError(`${this.name}: ${where} has no approval rule named ${JSON.stringify(this.#o.rule)}`, {
        hint: names.length > 0 ? `its rules are ${names.join(", ")}` : "create the rule in the project's merge request settings first",
      });
    }
    if (named.length > 1)
      throw new ConfigError(`${this.name}: ${where} has ${named.length} approval rules named ${JSON.stringify(this.#o.rule)}`);
    const rule = named[0] as ApprovalRule;
    // any_approver has no users; code_owner and report_approver rules are GitLab's own.
    if (rule.rule_type !== "regular") {
      throw new ConfigError(
        `${this.name}: approval rule ${JSON.stringify(rule.name)} is of type ${JSON.stringify(rule.rule_type)}; only a regular rule has users to set`,
        {
          hint: "name a regular rule",
        },
      );
    }
    if (!Array.isArray(rule.users)) throw new DataError(`${this.name}: GitLab listed rule ${JSON.stringify(rule.name)} without its users`);
    return rule;
  }
}
