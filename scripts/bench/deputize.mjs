#!/usr/bin/env node
// deputize's cost in requests, not seconds: HTTP requests and LDAP operations per run with N schedules,
// 4 sinks (LDAP group, GitLab group, GitLab approval rule, Slack topic + user group + hand-off) and P people, against the real
// slapd and the simulators. A per-person design costs O(people × sinks); deputize must cost
// O(schedules + changed members), and a run with nothing to change must write nothing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register } from "tsx/esm/api";
import { printTable } from "./lib.mjs";

register();
const root = new URL("../../", import.meta.url).pathname;
const core = await import(join(root, "packages/core/src/index.ts"));
const lab = await import(join(root, "packages/lab/src/index.ts"));
const { buildDeputize, configSchema, runOnce } = await import(join(root, "packages/deputize/src/index.ts"));

const MAX_PEOPLE = 40;
const slapd = await lab.startSlapd();
const pd = new lab.PagerDutySim();
const slack = new lab.SlackSim();
const gitlab = new lab.GitLabSim();
await Promise.all([pd.start(), slack.start(), gitlab.start()]);
const stateDir = mkdtempSync(join(tmpdir(), "deputize-bench-"));

const ldapOps = { search: 0, modify: 0 };
for (const op of Object.keys(ldapOps)) {
  const original = core.LdapClient.prototype[op];
  core.LdapClient.prototype[op] = function (...args) {
    ldapOps[op]++;
    return original.apply(this, args);
  };
}
const http = { reads: 0, writes: 0 };
const onHttpAttempt = (method) => {
  if (method === "GET" || method === "HEAD") http.reads++;
  else http.writes++;
};

const names = Array.from({ length: MAX_PEOPLE }, (_, i) => `eng${String(i).padStart(2, "0")}`);
for (const name of names) {
  await slapd.addEntry(`uid=${name},${slapd.peopleDn}`, {
    objectClass: "inetOrgPerson",
    uid: name,
    cn: name,
    sn: name,
    mail: `${name}@bench.test`,
  });
  pd.addUser({ id: `P${name.toUpperCase()}`, name, email: `${name}@bench.test` });
  slack.addUser({ id: `U${name.toUpperCase()}`, name, email: `${name}@bench.test` });
  gitlab.addUser({ username: name, name, email: `${name}@bench.test` });
}
slack.addChannel({ id: "C0BENCH", name: "oncall", topic: "bench" });
slack.addUsergroup({ id: "S0BENCH", handle: "oncall", users: ["U0NOBODY"] });
gitlab.addGroup("bench/approvers", {});
new lab.GitLabProjectApprovalRules(gitlab, { id: 1, path: "bench/api" }).addRule({ name: "On call", approvalsRequired: 1 });

/** `people` people on call, spread over `schedules` schedules (each person on one of them). */
function setOnCall(schedules, people, shift = 0) {
  pd.schedules.length = 0;
  pd.escalationPolicies.length = 0;
  // As in a real account, the schedules are on call through an escalation policy (level s + 1), so
  // /oncalls lists them; a schedule in no policy costs one /schedules/{id}/users read more.
  pd.addEscalationPolicy({
    id: "PEPBENCH",
    name: "bench",
    rules: Array.from({ length: schedules }, (_, s) => ({ schedules: [`PS${String(s).padStart(5, "0")}`] })),
  });
  const now = Date.now();
  for (let s = 0; s < schedules; s++) {
    const on = names.slice(shift, shift + people).filter((_, i) => i % schedules === s);
    pd.addSchedule({
      id: `PS${String(s).padStart(5, "0")}`,
      name: `schedule ${s}`,
      shifts: on.map((n) => ({ userId: `P${n.toUpperCase()}`, start: new Date(now - 3_600_000), end: new Date(now + 3_600_000) })),
    });
  }
}

async function measure(label, schedules, people, shift = 0) {
  setOnCall(schedules, people, shift);
  const config = configSchema.parse({
    sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: pd.schedules.map((s) => s.name) }],
    ldap: slapd.connection({ bindDn: slapd.serviceDn, bindPassword: slapd.servicePasswordFile }),
    sinks: [
      { type: "ldap-group", group: slapd.groups.oncall, peopleBase: slapd.peopleDn },
      // E-mails of bench.test are GitLab usernames: people are matched by name among the members read,
      // not looked up one by one (an e-mail outside usernameDomains costs one /users?search= per person).
      { type: "gitlab-group", baseUrl: gitlab.url, token: "env:GITLAB_TOKEN", group: "bench/approvers", usernameDomains: ["bench.test"] },
      {
        type: "gitlab-approval-rule",
        baseUrl: gitlab.url,
        token: "env:GITLAB_TOKEN",
        project: "bench/api",
        rule: "On call",
        usernameDomains: ["bench.test"],
      },
      { type: "slack", token: "env:SLACK_TOKEN", baseUrl: slack.apiUrl, channel: "C0BENCH", usergroup: "S0BENCH" },
    ],
    stateDir,
    maxRemovals: MAX_PEOPLE,
  });
  const env = { PD_TOKEN: pd.token, GITLAB_TOKEN: gitlab.token, SLACK_TOKEN: lab.SLACK_SIM_TOKEN };
  const dep = buildDeputize(config, { env, onHttpAttempt });
  Object.assign(http, { reads: 0, writes: 0 });
  Object.assign(ldapOps, { search: 0, modify: 0 });
  const report = await runOnce(dep, { dryRun: false });
  await dep.close();
  if (report.exitCode !== 0) throw new Error(`${label}: exit ${report.exitCode}: ${JSON.stringify(report.sinks.map((s) => s.reason))}`);
  const changed = Math.max(...report.sinks.map((s) => (s.plan?.add.length ?? 0) + (s.plan?.remove.length ?? 0)));
  return { label, schedules, people, changed, ...http, ...ldapOps, naive: people * 4 };
}

const rows = [];
try {
  rows.push(await measure("first run (all added)", 5, 20));
  rows.push(await measure("no change", 5, 20));
  rows.push(await measure("hand-off of 1 person", 5, 20, 1));
  rows.push(await measure("no change", 5, 20, 1));
  rows.push(await measure("grow to 2x people", 5, 40, 0));
  rows.push(await measure("no change, 2x people", 5, 40, 0));
  rows.push(await measure("no change, 2x schedules", 10, 40, 0));
} finally {
  await Promise.all([slapd.stop(), pd.stop(), slack.stop(), gitlab.stop()]);
  rmSync(stateDir, { recursive: true, force: true });
}

console.log(
  "requests per run: PagerDuty source, 4 sinks (LDAP group, GitLab group, GitLab approval rule, Slack topic + user group + hand-off)",
);
printTable([
  ["run", "schedules", "people", "changed", "HTTP reads", "HTTP writes", "LDAP searches", "LDAP modifies", "total / (people x sinks)"],
  ...rows.map((r) => [
    r.label,
    r.schedules,
    r.people,
    r.changed,
    r.reads,
    r.writes,
    r.search,
    r.modify,
    ((r.reads + r.writes + r.search + r.modify) / r.naive).toFixed(2),
  ]),
]);

const [, noChange20, , , , noChange40, moreSchedules] = rows;
const failures = [];
for (const r of rows.filter((r) => r.changed === 0)) {
  if (r.writes + r.modify !== 0) failures.push(`"${r.label}" wrote ${r.writes} HTTP + ${r.modify} LDAP`);
}
const ops = (r) => r.reads + r.search;
if (ops(noChange40) !== ops(noChange20))
  failures.push(`doubling the people changed the reads from ${ops(noChange20)} to ${ops(noChange40)}`);
if (ops(moreSchedules) - ops(noChange40) > 5)
  failures.push(`5 more schedules cost ${ops(moreSchedules) - ops(noChange40)} more reads (expected at most 5)`);
if (failures.length > 0) {
  console.error(`FAIL: ${failures.join("; ")}`);
  process.exit(1);
}
console.log("OK: a no-change run writes nothing; reads do not grow with people; each schedule costs at most one request");
