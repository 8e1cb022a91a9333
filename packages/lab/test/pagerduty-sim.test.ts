import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PagerDutySim } from "../src/index";
import { Contract, contractsDir } from "./contract";

/**
 * The PagerDuty simulator's escalation-policy model of /oncalls, and every answer it gives in this
 * file checked against PagerDuty's published OpenAPI description.
 */

const pd = new PagerDutySim();
const now = Date.now();
const h = (n: number) => new Date(now + n * 3_600_000);
const dir = contractsDir();

/** PagerDuty's own OpenAPI v3, with what its descriptions say beyond the types. */
function pagerDutyContract(contracts: string): Contract {
  const contract = new Contract(join(contracts, "pagerduty", "rest-openapiv3.json"), { style: "openapi3" });
  // Oncall.start/end are typed string, yet described "If `null`, the on-call is a permanent user on-call" /
  // "If `null`, the user does not go off-call" (same contract; https://developer.pagerduty.com/api-reference/3a6b910f11050).
  const oncall = (contract.spec.components as { schemas: Record<string, { properties: Record<string, Record<string, unknown>> }> }).schemas
    .Oncall;
  // A user an escalation rule targets directly comes with "schedule": null, "start": null, "end": null — as a
  // real /oncalls answer shows (https://github.com/incidentbot/incidentbot/issues/328).
  if (!oncall) throw new Error("the PagerDuty contract has no Oncall schema");
  for (const field of ["start", "end"]) oncall.properties[field] = { ...oncall.properties[field], nullable: true };
  oncall.properties.schedule = { anyOf: [oncall.properties.schedule, { type: "null" }] };
  // include[]=users ("additional details to include", parameter include_oncalls) expands the reference into the
  // full User object (https://developer.pagerduty.com/docs/includes: "include … the full object instead of a reference").
  oncall.properties.user = { anyOf: [oncall.properties.user, { $ref: "#/components/schemas/User" }] };
  return contract;
}

async function get(path: string, query: Record<string, string | string[]> = {}) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) params.append(k, one);
  const response = await fetch(`${pd.url}${path}?${params}`, { headers: { authorization: `Token token=${pd.token}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  const people = ["alice", "bob", "carol"];
  for (const name of people) pd.addUser({ id: `PU${name.toUpperCase()}`, name, email: `${name}@example.com` });
  pd.addSchedule({ id: "PSRE001", name: "SRE", shifts: [{ userId: "PUALICE", start: h(-2), end: h(6) }] });
  pd.addSchedule({ id: "PDB0001", name: "Database", shifts: [{ userId: "PUBOB", start: h(-2), end: h(6) }] });
  // In no escalation policy: on call by its own rota, but /oncalls never shows it.
  pd.addSchedule({ id: "PLONE01", name: "Lonely", shifts: [{ userId: "PUCAROL", start: h(-1), end: h(3) }] });
  // 40 services' policies, each escalating SRE then Database then carol directly: 120 on-call rows for 3 people.
  for (let i = 0; i < 40; i++) {
    pd.addEscalationPolicy({
      id: `PEP${String(i).padStart(4, "0")}`,
      name: `Service ${i}`,
      rules: [{ schedules: ["PSRE001"] }, { schedules: ["PDB0001"] }, { users: ["PUCAROL"] }],
    });
  }
  await pd.start();
});
afterAll(() => pd.stop());

describe("PagerDuty simulator: on-calls come from escalation policies", () => {
  it("lists one row per escalation policy and level, paged at most 100 at a time", async () => {
    const first = await get("/oncalls", { limit: "100" });
    expect(first.body).toMatchObject({ offset: 0, limit: 100, more: true, total: null });
    const second = await get("/oncalls", { limit: "100", offset: "100" });
    expect(second.body).toMatchObject({ more: false });
    const rows = [...(first.body.oncalls as unknown[]), ...(second.body.oncalls as unknown[])] as {
      escalation_policy: { id: string };
      escalation_level: number;
      schedule: { id: string } | null;
      user: { id: string };
      start: string | null;
    }[];
    expect(rows).toHaveLength(120);
    expect(new Set(rows.map((r) => r.user.id))).toEqual(new Set(["PUALICE", "PUBOB", "PUCAROL"]));
    const alice = rows.filter((r) => r.user.id === "PUALICE");
    expect(alice).toHaveLength(40);
    expect(new Set(alice.map((r) => `${r.escalation_policy.id}/${r.escalation_level}`)).size).toBe(40);
    expect(alice.every((r) => r.escalation_level === 1 && r.schedule?.id === "PSRE001")).toBe(true);
    // carol is on call directly at level 3: no schedule, no start or end.
    expect(rows.filter((r) => r.user.id === "PUCAROL").every((r) => r.schedule === null && r.start === null)).toBe(true);
    expect((await get("/oncalls", { limit: "101" })).status).toBe(400);
    expect((await get("/oncalls", { total: "true" })).body.total).toBe(120);
  });

  it("never lists a schedule that no escalation policy uses; /schedules/{id} and /users show it", async () => {
    const viaOncalls = await get("/oncalls", { "schedule_ids[]": "PLONE01" });
    expect(viaOncalls.body.oncalls).toEqual([]);
    const users = await get("/schedules/PLONE01/users", { since: h(0).toISOString(), until: h(0).toISOString() });
    expect((users.body.users as { email: string }[]).map((u) => u.email)).toEqual(["carol@example.com"]);
    const schedule = (await get("/schedules/PLONE01", { since: h(0).toISOString(), until: h(1).toISOString() })).body.schedule as {
      escalation_policies: unknown[];
      final_schedule: { rendered_schedule_entries: { user: { id: string } }[] };
    };
    expect(schedule.escalation_policies).toEqual([]);
    expect(schedule.final_schedule.rendered_schedule_entries.map((e) => e.user.id)).toEqual(["PUCAROL"]);
    const sre = (await get("/schedules/PSRE001")).body.schedule as { escalation_policies: unknown[]; final_schedule: object };
    expect(sre.escalation_policies).toHaveLength(40);
    expect(sre.final_schedule).toEqual({ name: "Final Schedule" });
  });

  it("with the quirk off every schedule is on call at level 1 of a policy of its own", async () => {
    try {
      pd.quirks({ oncallsFromPoliciesOnly: false });
      const rows = (await get("/oncalls", { "schedule_ids[]": "PLONE01" })).body.oncalls as { user: { id: string } }[];
      expect(rows.map((r) => r.user.id)).toEqual(["PUCAROL"]);
    } finally {
      pd.quirks({ oncallsFromPoliciesOnly: true });
    }
  });

  it("filters by schedule, policy and user, and includes full users on request", async () => {
    const rows = (await get("/oncalls", { "schedule_ids[]": "PDB0001", "escalation_policy_ids[]": "PEP0003", "include[]": "users" })).body
      .oncalls as { user: { type: string; email: string }; escalation_level: number }[];
    expect(rows).toEqual([
      expect.objectContaining({ escalation_level: 2, user: expect.objectContaining({ type: "user", email: "bob@example.com" }) }),
    ]);
    expect(((await get("/oncalls", { "user_ids[]": "PUCAROL" })).body.oncalls as unknown[]).length).toBe(25);
    expect((await get("/schedules/PNOPE00")).status).toBe(404);
  });
});

describe.skipIf(!dir)("PagerDuty simulator against PagerDuty's OpenAPI description", () => {
  const contract = dir ? pagerDutyContract(dir) : undefined;

  it("every answer given in this file is one the contract allows", async () => {
    await get("/schedules", { query: "s", limit: "1" });
    await fetch(`${pd.url}/oncalls`, { headers: { authorization: "Token token=wrong" } });
    const answered = pd.requests.filter((r) => r.status !== 400 || r.path !== "/oncalls");
    expect(answered.length).toBeGreaterThan(8);
    const problems = answered.flatMap((r) => contract?.check(r.method, r.path, r.status, r.response) ?? ["no contract"]);
    expect(problems).toEqual([]);
  });

  it("the check fails on answers the contract forbids", () => {
    const row = {
      escalation_policy: { id: "P1", type: "escalation_policy_reference" },
      escalation_level: "1",
      user: { id: "P2", type: "user_reference" },
    };
    expect(contract?.check("GET", "/oncalls", 200, { oncalls: [row], limit: 25, offset: 0, more: false, total: null }).join("\n")).toMatch(
      /escalation_level must be integer/,
    );
    expect(contract?.check("GET", "/oncalls", 200, { oncalls: [], more: "no" }).join("\n")).toMatch(/more must be boolean/);
    expect(contract?.check("GET", "/oncalls", 200, { oncalls: [], on_call_now: true }).join("\n")).toMatch(/on_call_now is not a field/);
    expect(
      contract?.check("GET", "/schedules/P1/users", 200, { users: [{ id: "P2", type: "person", name: "x", email: "x@y.z" }] }),
    ).not.toEqual([]);
    expect(contract?.check("GET", "/schedules/P1", 200, {}).join("\n")).toMatch(/must have required property 'schedule'/);
    expect(contract?.check("GET", "/nowhere", 200, {})).toEqual(["GET /nowhere: no such path in the contract"]);
  });
});
