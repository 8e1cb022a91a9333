import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpsgenieSim } from "../src/index";
import { Contract, contractsDir } from "./contract";

/** The Opsgenie simulator's answers, checked against Opsgenie's own Swagger description. */

const og = new OpsgenieSim();
const now = Date.now();
const h = (n: number) => new Date(now + n * 3_600_000);
const dir = contractsDir();

async function get(path: string, query: Record<string, string> = {}, key = og.apiKey) {
  const response = await fetch(`${og.url}${path}?${new URLSearchParams(query)}`, { headers: { authorization: `GenieKey ${key}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  og.addSchedule({
    id: "d2b7a2c4-0000-4000-8000-000000000001",
    name: "Platform",
    shifts: [
      { email: "alice@example.com", start: h(-2), end: h(2) },
      { email: "bob@example.com", start: h(2), end: h(30) },
    ],
  });
  await og.start();
});
afterAll(() => og.stop());

describe("Opsgenie simulator", () => {
  it("answers on-calls by name or id, flat or not, and the timeline clipped to the interval", async () => {
    const flat = await get("/v2/schedules/Platform/on-calls", { scheduleIdentifierType: "name", flat: "true" });
    expect((flat.body.data as { onCallRecipients: string[] }).onCallRecipients).toEqual(["alice@example.com"]);
    const full = await get("/v2/schedules/d2b7a2c4-0000-4000-8000-000000000001/on-calls");
    expect((full.body.data as { onCallParticipants: { name: string }[] }).onCallParticipants.map((p) => p.name)).toEqual([
      "alice@example.com",
    ]);
    const timeline = await get("/v2/schedules/Platform/timeline", { identifierType: "name", interval: "1", intervalUnit: "days" });
    expect(timeline.status).toBe(200);
    expect((await get("/v2/schedules/Nope/on-calls", { scheduleIdentifierType: "name" })).status).toBe(404);
    expect((await get("/v2/schedules/Platform/timeline", { identifierType: "name", interval: "0" })).status).toBe(422);
    expect((await get("/v2/schedules/Platform/on-calls", {}, "wrong")).status).toBe(401);
  });
});

describe.skipIf(!dir)("Opsgenie simulator against Opsgenie's Swagger description", () => {
  const contract = dir ? new Contract(join(dir, "opsgenie", "swagger.json"), { style: "swagger2" }) : undefined;

  it("every answer given in this file is one the contract allows", () => {
    expect(og.requests.length).toBeGreaterThan(5);
    expect(og.requests.flatMap((r) => contract?.check(r.method, r.path, r.status, r.response) ?? ["no contract"])).toEqual([]);
  });

  it("the check fails on answers the contract forbids", () => {
    const parent = { id: "x", name: "Platform", enabled: true };
    const good = { data: { _parent: parent, onCallRecipients: ["a@b.c"] }, took: 0.1, requestId: "r" };
    expect(contract?.check("GET", "/v2/schedules/x/on-calls", 200, good)).toEqual([]);
    expect(contract?.check("GET", "/v2/schedules/x/on-calls", 200, { ...good, took: "fast" }).join("\n")).toMatch(/took must be number/);
    const extra = { ...good, data: { ...good.data, onCallNow: true } };
    expect(contract?.check("GET", "/v2/schedules/x/on-calls", 200, extra).join("\n")).toMatch(/onCallNow is not a field/);
    expect(contract?.check("GET", "/v2/schedules/x/on-calls", 404, { message: "gone" }).join("\n")).toMatch(
      /required property 'requestId'/,
    );
  });
});
