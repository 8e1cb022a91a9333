import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { authkeysConfig } from "./configs/authkeys";
import { deputizeConfig } from "./configs/deputize";
import { sockCheckConfig } from "./configs/sock-check";
import { vpnnotifyConfig } from "./configs/vpnnotify";
import type { LabComponent, StartedComponent, ToolConfigBuilder } from "./lab";
import { redisComponent } from "./redis";
import { GitHubScenario } from "./sim/github-scenario";
import { GitLabAccess, GitLabSim } from "./sim/gitlab";
import { OpsgenieSim } from "./sim/opsgenie";
import { PagerDutySim } from "./sim/pagerduty";
import { slackComponent } from "./sim/slack";
import { type LabUser, type SlapdLab, startSlapd } from "./slapd";
import { sshdComponent } from "./sshd";

export interface SlapdComponent extends StartedComponent {
  slapd: SlapdLab;
}

export const slapdComponent: LabComponent<SlapdComponent> = {
  name: "slapd",
  async start() {
    const slapd = await startSlapd();
    return {
      slapd,
      describe: () => [
        `OpenLDAP slapd  ${slapd.url} (StartTLS)  ${slapd.ldapsUrl}`,
        `  base DN       ${slapd.baseDn}`,
        `  CA            ${slapd.caFile}`,
        `  admin         ${slapd.adminDn}  password file ${slapd.adminPasswordFile}`,
        `  reader        ${slapd.readerDn}  password file ${slapd.readerPasswordFile}`,
        `  deputize      ${slapd.serviceDn}  password file ${slapd.servicePasswordFile} (may write only ${slapd.groups.oncall})`,
        `  users         ${Object.values(slapd.users)
          .map((u) => `${u.uid}${u.disabled ? " (disabled)" : ""}`)
          .join(", ")}; private keys in ${slapd.dir}`,
        `  try           LDAPTLS_CACERT=${slapd.caFile} ldapsearch -H ${slapd.url} -ZZ -x -LLL -b ${slapd.peopleDn} "(uid=alice)" sshPublicKey`,
      ],
      sections: () => ({
        ldap: slapd.connection(),
        ldapService: slapd.connection({ bindDn: slapd.serviceDn, bindPassword: `file:${slapd.servicePasswordFile}` }),
        ldapDirectory: { peopleDn: slapd.peopleDn, groupsDn: slapd.groupsDn, oncallGroupDn: slapd.groups.oncall },
      }),
      stop: () => slapd.stop(),
    };
  },
};

const DAY_MS = 86_400_000;

/** The people the simulators know: alice, bob and carol (not dave with his legacy keys, disabled eve or keyless frank). */
function labPeople(ctx: { started: ReadonlyMap<string, StartedComponent> }): LabUser[] {
  const slapd = (ctx.started.get("slapd") as SlapdComponent | undefined)?.slapd;
  if (!slapd) throw new Error("the SaaS simulators need the slapd component (they are seeded with its people)");
  const { alice, bob, carol } = slapd.users;
  return [alice, bob, carol];
}

/** Three weekly shifts handing over at midnight UTC, the first person on call since yesterday. */
function weeklyShifts(people: readonly LabUser[]): Array<{ user: LabUser; start: Date; end: Date }> {
  const today = Math.floor(Date.now() / DAY_MS) * DAY_MS;
  return people.map((user, i) => ({
    user,
    start: new Date(today - DAY_MS + i * 7 * DAY_MS),
    end: new Date(today + 6 * DAY_MS + i * 7 * DAY_MS),
  }));
}

function secretFile(dir: string, name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`, { mode: 0o600 });
  return path;
}

export const PAGERDUTY_LAB = { schedule: "SRE primary", scheduleId: "PSRE001" } as const;

export interface PagerDutyComponent extends StartedComponent {
  pagerduty: PagerDutySim;
}

/** PagerDuty with "SRE primary": alice this week, then bob, then carol. */
export const pagerdutyComponent: LabComponent<PagerDutyComponent> = {
  name: "pagerduty",
  needs: ["slapd"],
  async start(ctx) {
    const people = labPeople(ctx);
    const pagerduty = new PagerDutySim();
    for (const user of people) pagerduty.addUser({ id: `P${user.uid.toUpperCase()}`, name: user.cn, email: user.mail });
    pagerduty.addSchedule({
      id: PAGERDUTY_LAB.scheduleId,
      name: PAGERDUTY_LAB.schedule,
      shifts: weeklyShifts(people).map((s) => ({ userId: `P${s.user.uid.toUpperCase()}`, start: s.start, end: s.end })),
    });
    // As in a real account, the schedule is on call through an escalation policy (/oncalls lists only those).
    pagerduty.addEscalationPolicy({ id: "PEPSRE1", name: "SRE", rules: [{ schedules: [PAGERDUTY_LAB.scheduleId] }] });
    await pagerduty.start();
    const tokenFile = secretFile(ctx.dir, "pagerduty.token", pagerduty.token);
    return {
      pagerduty,
      describe: () => [
        `PagerDuty sim   ${pagerduty.url}  token file ${tokenFile}`,
        `  schedule      "${PAGERDUTY_LAB.schedule}" (${PAGERDUTY_LAB.scheduleId}): alice this week, then bob, then carol`,
        `  try           curl -s -H "Authorization: Token token=$(cat ${tokenFile})" "${pagerduty.url}/oncalls?schedule_ids[]=${PAGERDUTY_LAB.scheduleId}"`,
      ],
      sections: () => ({ pagerduty: { token: `file:${tokenFile}`, baseUrl: pagerduty.url, schedules: [PAGERDUTY_LAB.schedule] } }),
      stop: () => pagerduty.stop(),
    };
  },
};

export const OPSGENIE_LAB = { schedule: "Platform_Schedule" } as const;

export interface OpsgenieComponent extends StartedComponent {
  opsgenie: OpsgenieSim;
}

/** Opsgenie with "Platform_Schedule": bob this week, then carol, then alice. */
export const opsgenieComponent: LabComponent<OpsgenieComponent> = {
  name: "opsgenie",
  needs: ["slapd"],
  async start(ctx) {
    const [alice, bob, carol] = labPeople(ctx) as [LabUser, LabUser, LabUser];
    const opsgenie = new OpsgenieSim();
    opsgenie.addSchedule({
      id: "d2b7a2c4-lab0-4000-8000-platform0001",
      name: OPSGENIE_LAB.schedule,
      shifts: weeklyShifts([bob, carol, alice]).map((s) => ({ email: s.user.mail, start: s.start, end: s.end })),
    });
    await opsgenie.start();
    const keyFile = secretFile(ctx.dir, "opsgenie.key", opsgenie.apiKey);
    return {
      opsgenie,
      describe: () => [
        `Opsgenie sim    ${opsgenie.url}  API key file ${keyFile}`,
        `  schedule      "${OPSGENIE_LAB.schedule}": bob this week, then carol, then alice`,
        `  try           curl -s -H "Authorization: GenieKey $(cat ${keyFile})" "${opsgenie.url}/v2/schedules/${OPSGENIE_LAB.schedule}/on-calls?scheduleIdentifierType=name&flat=true"`,
      ],
      sections: () => ({ opsgenie: { apiKey: `file:${keyFile}`, baseUrl: opsgenie.url, schedules: [OPSGENIE_LAB.schedule] } }),
      stop: () => opsgenie.stop(),
    };
  },
};

export const GITLAB_LAB = { oncallGroup: "platform/oncall", approversGroup: "platform/approvers" } as const;

export interface GitLabComponent extends StartedComponent {
  gitlab: GitLabSim;
}

/** GitLab with the directory's people as users; platform/oncall holds bob (a developer) and carol (a maintainer, never touched). */
export const gitlabComponent: LabComponent<GitLabComponent> = {
  name: "gitlab",
  needs: ["slapd"],
  async start(ctx) {
    const gitlab = new GitLabSim();
    for (const user of labPeople(ctx)) gitlab.addUser({ username: user.uid, name: user.cn, email: user.mail });
    gitlab.addGroup("platform");
    gitlab.addGroup(GITLAB_LAB.oncallGroup, { bob: GitLabAccess.DEVELOPER, carol: GitLabAccess.MAINTAINER });
    gitlab.addGroup(GITLAB_LAB.approversGroup, { alice: GitLabAccess.MAINTAINER, carol: GitLabAccess.DEVELOPER });
    await gitlab.start();
    const tokenFile = secretFile(ctx.dir, "gitlab.token", gitlab.token);
    return {
      gitlab,
      describe: () => [
        `GitLab sim      ${gitlab.url}/api/v4  token file ${tokenFile}`,
        `  groups        ${GITLAB_LAB.oncallGroup} (bob developer, carol maintainer), ${GITLAB_LAB.approversGroup}`,
        `  try           curl -s -H "PRIVATE-TOKEN: $(cat ${tokenFile})" "${gitlab.url}/api/v4/groups/${encodeURIComponent(GITLAB_LAB.oncallGroup)}/members"`,
      ],
      sections: () => ({ gitlab: { token: `file:${tokenFile}`, baseUrl: gitlab.url, oncallGroup: GITLAB_LAB.oncallGroup } }),
      stop: () => gitlab.stop(),
    };
  },
};

export interface GitHubComponent extends StartedComponent {
  scenario: GitHubScenario;
  repoDir: string;
}

/**
 * GitHub with acme/shop and its checkout: deploy-1 is live; since then a reviewed PR, a PR that
 * failed its build and a direct push, so sock-check has something to block.
 */
export const githubComponent: LabComponent<GitHubComponent> = {
  name: "github",
  needs: ["slapd"],
  async start(ctx) {
    const people = labPeople(ctx);
    const scenario = new GitHubScenario({
      users: Object.fromEntries(people.map((u) => [u.uid, { name: u.cn, email: u.mail }])),
    });
    scenario.directPush({ message: "Initial import", author: "alice", files: { "README.md": "# shop\n" } });
    scenario.tag("deploy-1");
    scenario.pullRequest({ title: "SHOP-101 Add gift cards", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
    scenario.pullRequest({ title: "SHOP-102 Rework checkout", author: "bob", reviews: [{ by: "carol" }], checks: { build: "failure" } });
    scenario.directPush({ message: "Quick fix on prod", author: "carol" });
    const repoDir = join(ctx.dir, "shop");
    await scenario.sim.start();
    try {
      scenario.build(repoDir);
    } catch (error) {
      await scenario.sim.stop();
      throw error;
    }
    const tokenFile = secretFile(ctx.dir, "github.token", scenario.token);
    return {
      scenario,
      repoDir,
      describe: () => [
        `GitHub sim      ${scenario.sim.url}  token file ${tokenFile}`,
        `  repository    acme/shop, checkout ${repoDir}: deploy-1, then 2 PRs (one failed its build) and a direct push`,
        `  try           curl -s -H "Authorization: Bearer $(cat ${tokenFile})" "${scenario.sim.url}/repos/acme/shop/pulls/1"`,
      ],
      sections: () => ({
        github: { token: `file:${tokenFile}`, apiUrl: scenario.sim.url, repository: "acme/shop", repoDir, deployTag: "deploy-1" },
      }),
      stop: () => scenario.sim.stop(),
    };
  },
};

/**
 * Everything `pnpm lab` and `pnpm lab:demo` start; each starts once the ones it needs are up, the
 * rest in parallel. A later issue adds its part with one line here.
 */
export const LAB_COMPONENTS: LabComponent[] = [
  slapdComponent,
  { ...sshdComponent, needs: ["slapd"] },
  redisComponent,
  { ...slackComponent, needs: ["slapd"] },
  pagerdutyComponent,
  opsgenieComponent,
  gitlabComponent,
  githubComponent,
];

/** Ready-to-use tool configs written into the lab dir; each tool adds its builder with one line here. */
export const LAB_TOOL_CONFIGS: ToolConfigBuilder[] = [authkeysConfig, deputizeConfig, vpnnotifyConfig, sockCheckConfig];
