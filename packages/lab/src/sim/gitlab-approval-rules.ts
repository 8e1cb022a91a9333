import { GITLAB_API_PREFIX, type GitLabSim, gitlabNotFound, gitlabPage } from "./gitlab";
import type { SimRequest, SimResponse } from "./server";

/**
 * GitLab REST v4 project-level approval rules added onto GitLabSim for one project: list, get one and
 * update, as https://docs.gitlab.com/api/merge_request_approvals/#project-approval-rules documents them
 * (doc/api/merge_request_approvals.md in gitlab-org/gitlab). The contract test checks the answers against
 * @gitbeaker/core's ProjectLevelApprovalRuleSchema, completed from that page.
 */

export interface GitLabProjectApprovalRule {
  id: number;
  name: string;
  /** "any_approver is a pre-configured default rule with approvals_required at 0. Other rules are regular and report_approver." */
  ruleType: "regular" | "any_approver" | "report_approver" | "code_owner";
  approvalsRequired: number;
  /** Usernames of the rule's approvers. */
  users: string[];
  /** Full paths of groups whose members are eligible. */
  groups: string[];
  /** Private groups the caller cannot see: never listed, only `contains_hidden_groups: true`. */
  hiddenGroups: string[];
  appliesToAllProtectedBranches: boolean;
  /** Ids of the protected branches the rule is scoped to. */
  protectedBranchIds: number[];
  /**
   * Fields this rule's GET answer leaves out, as a GitLab from before they were added does
   * (`applies_to_all_protected_branches` came in GitLab 15.3 per the page's version history; the
   * page's own "Get project-level rules" example lists no `protected_branches` for rules not scoped
   * to branches). deputize must then not invent a value for them in its PUT.
   */
  absent?: Array<"groups" | "protected_branches" | "applies_to_all_protected_branches">;
}

export class GitLabProjectApprovalRules {
  readonly sim: GitLabSim;
  readonly project: { id: number; path: string };
  readonly rules: GitLabProjectApprovalRule[] = [];
  /** Protected branches of the project by id (https://docs.gitlab.com/api/protected_branches/). */
  readonly protectedBranches = new Map<number, string>([[1, "main"]]);
  #nextId = 1;

  constructor(sim: GitLabSim, project: { id: number; path: string }) {
    this.sim = sim;
    this.project = project;
    const base = `${GITLAB_API_PREFIX}/projects/:project/approval_rules`;
    const scoped = (handler: (req: SimRequest) => SimResponse) => (req: SimRequest) =>
      req.params.project === String(project.id) || req.params.project === project.path ? handler(req) : gitlabNotFound("Project");
    // "Get project-level rules": offset pagination with page/per_page (GitLab 15.7 and later).
    sim.route(
      "GET",
      base,
      scoped((req) =>
        gitlabPage(
          this.rules.map((r) => this.#ruleJson(r)),
          req,
          sim.url,
          sim.quirks,
        ),
      ),
    );
    // "Get a single project-level rule".
    sim.route(
      "GET",
      `${base}/:rule`,
      scoped((req) => this.#withRule(req, (rule) => ({ body: this.#ruleJson(rule) }))),
    );
    sim.route(
      "PUT",
      `${base}/:rule`,
      scoped((req) => this.#withRule(req, (rule) => this.#update(rule, req))),
    );
  }

  addRule(rule: Pick<GitLabProjectApprovalRule, "name"> & Partial<GitLabProjectApprovalRule>): GitLabProjectApprovalRule {
    const full: GitLabProjectApprovalRule = {
      ruleType: "regular",
      approvalsRequired: 1,
      users: [],
      groups: [],
      hiddenGroups: [],
      appliesToAllProtectedBranches: false,
      protectedBranchIds: [],
      ...rule,
      id: rule.id ?? this.#nextId++,
    };
    this.rules.push(full);
    return full;
  }

  rule(name: string): GitLabProjectApprovalRule | undefined {
    return this.rules.find((r) => r.name === name);
  }

  #withRule(req: SimRequest, handler: (rule: GitLabProjectApprovalRule) => SimResponse): SimResponse {
    const rule = this.rules.find((r) => String(r.id) === req.params.rule);
    return rule ? handler(rule) : gitlabNotFound("Not found");
  }

  /**
   * "Update project-level rule": `name` and `approvals_required` are required (400 when missing, as
   * https://docs.gitlab.com/api/rest/troubleshooting/#status-codes says for a missing attribute, in
   * Grape's `{"error": "<attr> is missing"}` form). "Approvers and groups (except hidden groups) not in
   * the users or groups parameters are removed": the rule's users become `user_ids` plus `usernames`,
   * its groups `group_ids`, and hidden groups stay unless `remove_hidden_groups` is true.
   */
  #update(rule: GitLabProjectApprovalRule, req: SimRequest): SimResponse {
    const body = { ...Object.fromEntries(req.query), ...((req.body ?? {}) as Record<string, unknown>) };
    for (const required of ["name", "approvals_required"]) {
      if (body[required] === undefined || body[required] === "") return { status: 400, body: { error: `${required} is missing` } };
    }
    const approvals = Number(body.approvals_required);
    if (!Number.isInteger(approvals) || approvals < 0) return { status: 400, body: { error: "approvals_required is invalid" } };
    const ids = (value: unknown) => (Array.isArray(value) ? value : value === undefined ? [] : [value]).map(Number);
    const byId = ids(body.user_ids).flatMap((id) => this.sim.state.users.filter((u) => u.id === id).map((u) => u.username));
    const byName = (Array.isArray(body.usernames) ? body.usernames : []).filter((n): n is string =>
      this.sim.state.users.some((u) => u.username === n),
    );
    rule.name = String(body.name);
    rule.approvalsRequired = approvals;
    rule.users = [...new Set([...byId, ...byName])];
    rule.groups = ids(body.group_ids).flatMap((id) => this.sim.state.groups.filter((g) => g.id === id).map((g) => g.fullPath));
    if (body.remove_hidden_groups === true || body.remove_hidden_groups === "true") rule.hiddenGroups = [];
    if (body.applies_to_all_protected_branches !== undefined)
      rule.appliesToAllProtectedBranches =
        body.applies_to_all_protected_branches === true || body.applies_to_all_protected_branches === "true";
    if (body.protected_branch_ids !== undefined)
      rule.protectedBranchIds = ids(body.protected_branch_ids).filter((id) => this.protectedBranches.has(id));
    return { body: this.#ruleJson(rule) };
  }

  /** The rule as the docs' example shows it; eligible approvers are its users plus its groups' members. */
  #ruleJson(rule: GitLabProjectApprovalRule) {
    const groupMembers = rule.groups.flatMap((path) => Object.keys(this.sim.membersOf(path)));
    const json: Record<string, unknown> = {
      id: rule.id,
      name: rule.name,
      rule_type: rule.ruleType,
      eligible_approvers: [...new Set([...rule.users, ...groupMembers])].map((u) => this.sim.userRef(u)),
      approvals_required: rule.approvalsRequired,
      users: rule.users.map((u) => this.sim.userRef(u)),
      groups: rule.groups.flatMap((path) => {
        const group = this.sim.findGroup(path);
        return group ? [this.sim.groupRef(group)] : [];
      }),
      applies_to_all_protected_branches: rule.appliesToAllProtectedBranches,
      protected_branches: rule.protectedBranchIds.map((id) => protectedBranchJson(id, this.protectedBranches.get(id) ?? "main")),
      contains_hidden_groups: rule.hiddenGroups.length > 0,
    };
    for (const field of rule.absent ?? []) delete json[field];
    return json;
  }
}

/**
 * A protected branch as a rule embeds it: the full form of the page's group-level example (access levels
 * with ids, allow_force_push, a boolean code_owner_approval_required), which is also gitbeaker's
 * ProtectedBranchSchema (https://docs.gitlab.com/api/protected_branches/#list-protected-branches).
 */
function protectedBranchJson(id: number, name: string) {
  const level = (n: number, access_level: number, access_level_description: string) => ({
    id: id * 10 + n,
    access_level,
    access_level_description,
    user_id: null,
    group_id: null,
  });
  return {
    id,
    name,
    push_access_levels: [level(1, 30, "Developers + Maintainers")],
    merge_access_levels: [level(2, 30, "Developers + Maintainers")],
    unprotect_access_levels: [level(3, 40, "Maintainers")],
    allow_force_push: false,
    code_owner_approval_required: false,
  };
}
