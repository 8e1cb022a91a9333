import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeError, HttpClient } from "@opsguard/core";
import { OpsgenieSim, PagerDutySim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpsgenieSource } from "../src/sources/opsgenie";
import { PagerDutySource } from "../src/sources/pagerduty";
import { onCallInWindow, RotationSource, rotationFileSchema, shiftsInWindow } from "../src/sources/rotation";
import { accessWindow } from "../src/window";

const at = (iso: string) => accessWindow(new Date(iso), 0, 0);
const keys = (people: Array<{ key: string }>) => people.map((p) => p.key);

describe("rotation schedule", () => {
  const schedule = rotationFileSchema.parse({
    schedules: {
      sre: {
        timeZone: "Europe/Berlin",
        start: "2026-11-02",
        handoff: "09:00",
        rotationDays: 7,
        members: ["alice@opsguard.test", { uid: "bob", email: "bob@opsguard.test" }, "carol@opsguard.test"],
        overrides: [{ start: "2026-11-25T12:00", end: "2026-11-25T18:00", member: "dave@opsguard.test" }],
      },
    },
  }).schedules.sre!;

  it("hands off at the local hand-off time, not at UTC midnight", () => {
    // Berlin is UTC+1 in November: 09:00 local is 08:00Z.
    expect(keys(onCallInWindow(schedule, at("2026-11-09T07:59:00Z")))).toEqual(["alice@opsguard.test"]);
    expect(keys(onCallInWindow(schedule, at("2026-11-09T08:00:00Z")))).toEqual(["bob@opsguard.test"]);
    expect(keys(onCallInWindow(schedule, at("2026-11-16T08:00:00Z")))).toEqual(["carol@opsguard.test"]);
    expect(keys(onCallInWindow(schedule, at("2026-11-23T08:00:00Z")))).toEqual(["alice@opsguard.test"]);
  });

  it("puts nobody on call before the rotation's first shift, except through look-ahead", () => {
    // The first shift starts 2026-11-02 09:00 Berlin (08:00Z).
    expect(keys(onCallInWindow(schedule, at("2026-10-20T12:00:00Z")))).toEqual([]);
    expect(keys(onCallInWindow(schedule, at("2026-11-02T07:59:00Z")))).toEqual([]);
    expect(keys(onCallInWindow(schedule, accessWindow(new Date("2026-11-02T07:30:00Z"), 60, 0)))).toEqual(["alice@opsguard.test"]);
    expect(keys(onCallInWindow(schedule, at("2026-11-02T08:00:00Z")))).toEqual(["alice@opsguard.test"]);
  });

  it("lets a dated override replace the rotation while it lasts", () => {
    expect(keys(onCallInWindow(schedule, at("2026-11-25T11:30:00Z")))).toEqual(["dave@opsguard.test"]);
    expect(keys(onCallInWindow(schedule, at("2026-11-25T17:00:00Z")))).toEqual(["alice@opsguard.test"]);
  });

  it("lists the shifts of a window with their real starts and ends, cut by an override", () => {
    const day = (from: string, hours: number) => ({
      since: new Date(from),
      now: new Date(from),
      until: new Date(Date.parse(from) + hours * 3_600_000),
    });
    const row = (s: { person: { key: string }; start: Date | null; end: Date | null }) =>
      `${s.person.key} ${s.start?.toISOString()} ${s.end?.toISOString()}`;
    // Alice's override-cut week: her turn, dave 12:00–18:00 Berlin (11:00Z–17:00Z), her turn again.
    expect(shiftsInWindow(schedule, day("2026-11-25T00:00:00Z", 24)).map(row)).toEqual([
      "alice@opsguard.test 2026-11-23T08:00:00.000Z 2026-11-25T11:00:00.000Z",
      "dave@opsguard.test 2026-11-25T11:00:00.000Z 2026-11-25T17:00:00.000Z",
      "alice@opsguard.test 2026-11-25T17:00:00.000Z 2026-11-30T08:00:00.000Z",
    ]);
    // Before the rotation starts: nobody until the first shift, which is listed from its start.
    expect(shiftsInWindow(schedule, day("2026-11-01T12:00:00Z", 24)).map(row)).toEqual([
      "alice@opsguard.test 2026-11-02T08:00:00.000Z 2026-11-09T08:00:00.000Z",
    ]);
    expect(shiftsInWindow(schedule, day("2026-10-01T00:00:00Z", 24))).toEqual([]);
  });

  it("with look-ahead and grace includes the people on either side of a hand-off", () => {
    const justBefore = accessWindow(new Date("2026-11-09T07:30:00Z"), 60, 0);
    expect(keys(onCallInWindow(schedule, justBefore))).toEqual(["alice@opsguard.test", "bob@opsguard.test"]);
    const justAfter = accessWindow(new Date("2026-11-09T08:30:00Z"), 0, 60);
    expect(keys(onCallInWindow(schedule, justAfter))).toEqual(["alice@opsguard.test", "bob@opsguard.test"]);
  });

  it("one rule for local times a DST change skips or repeats, hand-offs and overrides alike: skipped moves forward, repeated is the earlier (T56 F13)", () => {
    // New York, 2027-03-14: the clocks jump from 02:00 EST (07:00Z) to 03:00 EDT; 02:30 does not exist that night.
    const gap = rotationFileSchema.parse({
      schedules: {
        ny: {
          timeZone: "America/New_York",
          start: "2027-03-13",
          handoff: "02:30",
          rotationDays: 1,
          members: ["alice@opsguard.test", "bob@opsguard.test"],
          overrides: [{ start: "2027-03-14T02:30", end: "2027-03-14T05:00", member: "dave@opsguard.test" }],
        },
      },
    }).schedules.ny!;
    const noOverride = { ...gap, overrides: [] };
    // 02:30 moves forward by the gap's hour to 03:30 EDT (07:30Z), never back to 01:30 EST (06:30Z).
    expect(keys(onCallInWindow(noOverride, at("2027-03-14T06:30:00Z")))).toEqual(["alice@opsguard.test"]);
    expect(keys(onCallInWindow(noOverride, at("2027-03-14T07:29:00Z")))).toEqual(["alice@opsguard.test"]);
    expect(keys(onCallInWindow(noOverride, at("2027-03-14T07:30:00Z")))).toEqual(["bob@opsguard.test"]);
    // An override starting at the same skipped 02:30 starts at the same instant as that hand-off.
    expect(keys(onCallInWindow(gap, at("2027-03-14T07:29:00Z")))).toEqual(["alice@opsguard.test"]);
    expect(shiftsInWindow(gap, at("2027-03-14T07:30:00Z")).map((x) => [x.person.key, x.start?.toISOString()])).toEqual([
      ["dave@opsguard.test", "2027-03-14T07:30:00.000Z"],
    ]);
    // 2027-11-07: the clocks go back from 02:00 EDT to 01:00 EST; 01:30 happens twice, the first (05:30Z) counts.
    const repeated = { ...noOverride, start: "2027-11-06", handoff: "01:30" };
    expect(keys(onCallInWindow(repeated, at("2027-11-07T05:29:00Z")))).toEqual(["alice@opsguard.test"]);
    expect(keys(onCallInWindow(repeated, at("2027-11-07T05:30:00Z")))).toEqual(["bob@opsguard.test"]);
  });

  it('an override emptied by a DST gap names the time that does not exist, not "end is not after start" (T56 F8)', async () => {
    const dir = mkdtempSync(join(tmpdir(), "deputize-rot-"));
    try {
      const file = join(dir, "rotation.yaml");
      // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist and reads as 03:30.
      writeFileSync(
        file,
        "schedules:\n  db:\n    timeZone: Europe/Berlin\n    start: '2026-03-02'\n    members: [a@b.c]\n    overrides:\n      - { start: '2026-03-29T02:30', end: '2026-03-29T03:30', member: d@e.f }\n",
      );
      const error = await new RotationSource({ name: "rotation", file }).onCall(at("2026-03-20T08:00:00Z")).catch((e: unknown) => e);
      expect(describeError(error)).toBe(
        `invalid rotation file ${file}: schedules.db.overrides[0]: start 2026-03-29T02:30 does not exist in Europe/Berlin (the clocks jump over it, e.g. into daylight saving time; read as 2026-03-29T03:30), so the override from 2026-03-29T02:30 to 2026-03-29T03:30 would last no time (give times outside the skipped hour)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the file and key of a bad rotation file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deputize-rot-"));
    try {
      const file = join(dir, "rotation.yaml");
      writeFileSync(file, "schedules:\n  sre:\n    start: 2026-11-02\n    members: []\n");
      await expect(new RotationSource({ name: "rotation", file }).onCall(at("2026-11-09T08:00:00Z"))).rejects.toThrow(
        /invalid rotation file .*rotation\.yaml: schedules\.sre\.members: list at least one member/,
      );
      writeFileSync(file, "schedules:\n  sre:\n    start: '2026-11-02'\n    timeZone: Mars/Olympus\n    members: [a@b.c]\n");
      await expect(new RotationSource({ name: "rotation", file }).onCall(at("2026-11-09T08:00:00Z"))).rejects.toThrow(
        /unknown time zone "Mars\/Olympus"/,
      );
      writeFileSync(
        file,
        "schedules:\n  sre:\n    start: '2026-11-02'\n    members: [a@b.c]\n    overrides:\n      - { start: '2026-11-25T18:00', end: '2026-11-25T12:00', member: d@e.f }\n",
      );
      await expect(new RotationSource({ name: "rotation", file }).onCall(at("2026-11-09T08:00:00Z"))).rejects.toThrow(
        /schedules\.sre\.overrides\[0\]: end 2026-11-25T12:00 is not after start 2026-11-25T18:00/,
      );
      // A name that is neither an e-mail nor a uid (a newline forging output lines, a filter fragment) is refused.
      for (const [member, problem] of [
        ['"alice\\n  + mallory"', "members[0]: neither a valid e-mail address nor a valid uid"],
        ['"alice@opsguard.test)(mail=*"', "members[0]: neither a valid e-mail address nor a valid uid"],
        ['{ uid: "bob\\r\\nx" }', "members[0].uid: not a valid uid"],
      ]) {
        writeFileSync(file, `schedules:\n  sre:\n    start: '2026-11-02'\n    members: [${member}]\n`);
        const error = await new RotationSource({ name: "rotation", file }).onCall(at("2026-11-09T08:00:00Z")).catch((e: unknown) => e);
        expect(describeError(error)).toContain(`schedules.sre.${problem}`);
        expect(describeError(error)).not.toContain("\n");
      }
      writeFileSync(file, `schedules:\n  sre:\n    start: '2026-11-02'\n    members: [${"a".repeat(300)}@b.c]\n`);
      await expect(new RotationSource({ name: "rotation", file }).onCall(at("2026-11-09T08:00:00Z"))).rejects.toThrow(
        /schedules\.sre\.members\[0\]: Too big: expected string to have <=254 characters/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("rotation file bytes", () => {
  it("a rotation file that is not UTF-8 is one line naming the line, not a garbled email", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deputize-utf8-"));
    try {
      const file = join(dir, "rotation.yaml");
      writeFileSync(
        file,
        Buffer.concat([
          Buffer.from('schedules:\n  sre:\n    start: "2020-01-06"\n    members: [al'),
          Buffer.from([0xff]),
          Buffer.from("ice@x.test]\n"),
        ]),
      );
      const error = await new RotationSource({ name: "rot", file }).onCall(accessWindow(new Date(), 0, 0)).catch((e) => e);
      expect(describeError(error)).toBe(`rotation file ${file} is not valid UTF-8 (line 4) (save it as UTF-8)`);
      expect(error.exitCode).toBe(78);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("PagerDuty source", () => {
  const pd = new PagerDutySim();
  const now = new Date();
  const h = (n: number) => new Date(now.getTime() + n * 3_600_000);
  let http: HttpClient;

  beforeAll(async () => {
    await pd.start();
    http = new HttpClient({ service: "PagerDuty API", baseUrl: pd.url, headers: { authorization: `Token token=${pd.token}` }, retries: 2 });
    for (const name of ["alice", "bob", "carol", "dave"])
      pd.addUser({ id: `PU${name.toUpperCase()}`, name, email: `${name}@opsguard.test` });
    pd.addSchedule({
      id: "PSRE001",
      name: "SRE",
      shifts: [
        { userId: "PUALICE", start: h(-2), end: h(1) },
        { userId: "PUBOB", start: h(1), end: h(9) },
      ],
    });
    // In no escalation policy: /oncalls never lists it.
    pd.addSchedule({ id: "PSRE002", name: "SRE secondary", shifts: [{ userId: "PUCAROL", start: h(-2), end: h(9) }] });
    pd.addSchedule({
      id: "PDB0001",
      name: "Database",
      shifts: [
        { userId: "PUALICE", start: h(-1), end: h(2) },
        { userId: "PUDAVE", start: h(-1), end: h(2) },
      ],
    });
    // SRE is level 1 of two policies (two rows for alice), Database only level 2.
    pd.addEscalationPolicy({ id: "PEPSRE1", name: "SRE", rules: [{ schedules: ["PSRE001"] }, { schedules: ["PDB0001"] }] });
    pd.addEscalationPolicy({ id: "PEPDB01", name: "DB", rules: [{ schedules: ["PSRE001"] }] });
  });
  afterAll(() => pd.stop());

  /** Database's /oncalls page at `offset`, one row a page, as the simulator answers it (for faults built on it). */
  const databasePage = (offset: number) =>
    http.request<{ oncalls: unknown[] }>({
      url: "/oncalls",
      query: { "schedule_ids[]": ["PDB0001"], "include[]": ["users"], offset, limit: 1 },
    });
  /** Who is on call for Database now, read one row a page: the error it fails with (the paging tests' faults). */
  const databaseByOneRowPages = () =>
    new PagerDutySource({ name: "pd", http, schedules: ["PDB0001"], pageSize: 1 }).onCall(accessWindow(now, 0, 0)).catch((e) => e);

  it("resolves names exactly (not the API's substring match) with one-item pages, and de-duplicates", async () => {
    pd.requests.length = 0;
    const source = new PagerDutySource({ name: "pd", http, schedules: ["SRE", "Database"], pageSize: 1 });
    const result = await source.onCall(accessWindow(now, 0, 0));
    expect(result.map((s) => [s.schedule, keys(s.people)])).toEqual([
      ["SRE", ["alice@opsguard.test"]],
      ["Database", ["alice@opsguard.test", "dave@opsguard.test"]],
    ]);
    const oncalls = pd.requests.filter((r) => r.path === "/oncalls");
    // alice on SRE twice (level 1 of two policies), alice and dave on Database (level 2): four rows.
    expect(oncalls.map((r) => r.query.get("offset"))).toEqual(["0", "1", "2", "3"]);
    expect(pd.requests.filter((r) => r.path === "/schedules").length).toBeGreaterThan(2);
    expect(oncalls[0]?.query.getAll("schedule_ids[]")).toEqual(["PSRE001", "PDB0001"]);
    expect(oncalls[0]?.query.getAll("include[]")).toEqual(["users"]);
    expect(oncalls[0]?.headers.authorization).toBe(`Token token=${pd.token}`);
  });

  it("follows offset/limit/more pagination", async () => {
    pd.requests.length = 0;
    const paged = new PagerDutySource({ name: "pd", http, schedules: ["SRE secondary", "PSRE001", "Database"], pageSize: 1 });
    const result = await paged.onCall(accessWindow(now, 0, 0));
    expect(result.flatMap((s) => keys(s.people))).toEqual([
      "carol@opsguard.test",
      "alice@opsguard.test",
      "alice@opsguard.test",
      "dave@opsguard.test",
    ]);
    const offsets = pd.requests.filter((r) => r.path === "/oncalls").map((r) => r.query.get("offset"));
    expect(offsets).toEqual(["0", "1", "2", "3"]);
  });

  it("reads a schedule in no escalation policy (absent from /oncalls) from /schedules/{id}/users", async () => {
    pd.requests.length = 0;
    const result = await new PagerDutySource({ name: "pd", http, schedules: ["SRE secondary"] }).onCall(accessWindow(now, 0, 0));
    expect(keys(result[0]!.people)).toEqual(["carol@opsguard.test"]);
    const users = pd.requests.find((r) => r.path === "/schedules/PSRE002/users");
    expect(users?.query.get("since")).toBe(now.toISOString());
  });

  it("refuses escalationLevels for a schedule in no escalation policy, and finds nobody at a level a schedule is not on", async () => {
    const outside = new PagerDutySource({ name: "pd", http, schedules: ["SRE secondary"], escalationLevels: [1] });
    const error = await outside.onCall(accessWindow(now, 0, 0)).catch((e) => e);
    expect(describeError(error)).toBe(
      'pd: PagerDuty schedule "SRE secondary" is in no escalation policy, so escalationLevels cannot apply to it (drop escalationLevels from this source, or add the schedule to an escalation policy)',
    );
    expect(error.exitCode).toBe(78);
    const levelThree = new PagerDutySource({ name: "pd", http, schedules: ["Database"], escalationLevels: [3] });
    expect((await levelThree.onCall(accessWindow(now, 0, 0)))[0]!.people).toEqual([]);
  });

  it("reads every page when a few people fill more than 100 on-call rows", async () => {
    for (let i = 0; i < 60; i++)
      pd.addEscalationPolicy({ id: `PEPX${String(i).padStart(3, "0")}`, name: `svc ${i}`, rules: [{ schedules: ["PDB0001"] }] });
    try {
      pd.requests.length = 0;
      const result = await new PagerDutySource({ name: "pd", http, schedules: ["Database"], escalationLevels: [1] }).onCall(
        accessWindow(now, 0, 0),
      );
      expect(keys(result[0]!.people)).toEqual(["alice@opsguard.test", "dave@opsguard.test"]);
      expect(pd.requests.filter((r) => r.path === "/oncalls").map((r) => r.query.get("offset"))).toEqual(["0", "100"]);
    } finally {
      pd.escalationPolicies.splice(2);
    }
  });

  it("filters by escalation level and widens the window for look-ahead", async () => {
    const levelOne = new PagerDutySource({ name: "pd", http, schedules: ["Database"], escalationLevels: [1] });
    expect((await levelOne.onCall(accessWindow(now, 0, 0)))[0]!.people).toEqual([]);
    const levelTwo = new PagerDutySource({ name: "pd", http, schedules: ["Database"], escalationLevels: [2] });
    expect(keys((await levelTwo.onCall(accessWindow(now, 0, 0)))[0]!.people)).toEqual(["alice@opsguard.test", "dave@opsguard.test"]);
    const ahead = new PagerDutySource({ name: "pd", http, schedules: ["SRE"] });
    expect(keys((await ahead.onCall(accessWindow(now, 90, 0)))[0]!.people)).toEqual(["alice@opsguard.test", "bob@opsguard.test"]);
  });

  it("says which name does not exist, and which names are ambiguous", async () => {
    const unknown = await new PagerDutySource({ name: "pd", http, schedules: ["SR"] }).onCall(at(now.toISOString())).catch((e) => e);
    expect(describeError(unknown)).toBe('pd: no PagerDuty schedule is named "SR" (did you mean "SRE", "SRE secondary"?)');
    expect(unknown.exitCode).toBe(78);
    pd.addSchedule({ id: "PDUP001", name: "Twin", shifts: [] });
    pd.addSchedule({ id: "PDUP002", name: "Twin", shifts: [] });
    const twin = await new PagerDutySource({ name: "pd", http, schedules: ["Twin"] }).onCall(at(now.toISOString())).catch((e) => e);
    expect(describeError(twin)).toBe('pd: 2 PagerDuty schedules are named "Twin" (use the ID instead: PDUP001, PDUP002)');
  });

  it("a schedule ID PagerDuty does not know (deleted) is a configuration error (78) that names it, in run and next (T56 F9)", async () => {
    const source = new PagerDutySource({ name: "pd", http, schedules: ["PDEL456"] });
    for (const read of [() => source.onCall(at(now.toISOString())), () => source.shifts(at(now.toISOString()))]) {
      const error = await read().catch((e) => e);
      expect(describeError(error)).toBe(
        "pd: no PagerDuty schedule has ID PDEL456; PagerDuty answered 404 Not Found (deleted? check the schedule in sources[].schedules)",
      );
      expect(error.exitCode).toBe(78);
    }
  });

  it("an empty page that says more follow fails the source (65), never a shorter list of who is on call (T41 F1)", async () => {
    // Database has two rows (alice, dave): with one-row pages, page two comes back empty but `more: true`.
    pd.fault(
      { status: 200, body: { oncalls: [], offset: 1, limit: 1, more: true, total: null } },
      { path: "/oncalls", query: { offset: "1" } },
    );
    const error = await databaseByOneRowPages();
    expect(error.exitCode).toBe(65);
    expect(describeError(error)).toMatch(/^PagerDuty API said more follow after offset 1 but sent none, so the list is incomplete/);
  });

  it("a page repeating the previous one fails at once, not after 1,000 requests (T41 F2)", async () => {
    const first = { oncalls: [] as unknown[], offset: 0, limit: 1, more: true, total: null };
    const probe = await databasePage(0);
    first.oncalls = probe.body.oncalls;
    pd.fault({ status: 200, body: { ...first, offset: 1 } }, { path: "/oncalls", query: { offset: "1" }, times: 5 });
    pd.requests.length = 0;
    const error = await databaseByOneRowPages();
    pd.clearFaults();
    expect(error.exitCode).toBe(65);
    expect(describeError(error)).toMatch(/^PagerDuty API sent page 2 with the same items as page 1/);
    expect(describeError(error)).not.toMatch(/narrow the query/);
    expect(pd.requests.filter((r) => r.path === "/oncalls")).toHaveLength(2);
  });

  it("pages cycling A, B, A… while more is true fail at once, not after 1,000 requests (T43 N6)", async () => {
    const rows = [] as unknown[];
    for (const offset of [0, 1]) {
      const page = await databasePage(offset);
      rows.push(page.body.oncalls[0]);
    }
    // Every offset after the first answers alice, dave, alice, dave… and says more follow.
    for (let offset = 1; offset <= 1000; offset++) {
      const body = { oncalls: [rows[offset % 2]], offset, limit: 1, more: true, total: null };
      pd.fault({ status: 200, body }, { path: "/oncalls", query: { offset: String(offset) } });
    }
    pd.requests.length = 0;
    const error = await databaseByOneRowPages();
    pd.clearFaults();
    expect(error.exitCode).toBe(65);
    expect(describeError(error)).toMatch(/^PagerDuty API sent page 3 with the same items as page 1/);
    expect(pd.requests.filter((r) => r.path === "/oncalls")).toHaveLength(3);
  });

  it("a `more` that is not a boolean fails the source (65), never read as the end of the list (T43 N8)", async () => {
    // Database has two rows (alice, dave): with one-row pages, page one says more follow in a broken way.
    for (const more of ["true", null]) {
      const page = await databasePage(0);
      pd.fault({ status: 200, body: { ...page.body, more } }, { path: "/oncalls", query: { offset: "0" } });
      const error = await databaseByOneRowPages();
      expect(error.exitCode).toBe(65);
      expect(describeError(error)).toMatch(
        /^PagerDuty API answered in an unexpected shape \(more: (null|"true"), expected true or false\)/,
      );
    }
  });

  it("an answer in an unexpected shape is an error (exit 65), never nobody on call", async () => {
    const source = new PagerDutySource({ name: "pd", http, schedules: ["PSRE001", "PSRE002"] });
    const broken = [
      "<html>proxy login</html>",
      {},
      { oncalls: "none" },
      { oncalls: [{ escalation_level: 1, schedule: { id: "PSRE001" }, user: { id: "PUX" } }] },
    ];
    for (const body of broken) {
      pd.fault({ status: 200, body }, { path: "/oncalls" });
      const error = await source.onCall(accessWindow(now, 0, 0)).catch((e) => e);
      expect(describeError(error)).toMatch(/^PagerDuty answered GET \/oncalls in an unexpected shape \(/);
      expect(error.exitCode).toBe(65);
    }
    // The name lookup too: a proxy's page is an unusable answer (65), not "no schedule is named" (78, T41 F8).
    pd.fault({ status: 200, body: "<html>Service Unavailable</html>" }, { path: "/schedules" });
    const lookup = await new PagerDutySource({ name: "pd", http, schedules: ["SRE"] }).onCall(accessWindow(now, 0, 0)).catch((e) => e);
    expect(lookup.exitCode).toBe(65);
    expect(describeError(lookup)).toMatch(/^PagerDuty answered GET \/schedules in an unexpected shape \(body: /);
    pd.fault({ status: 200, body: { users: [{ name: "no email" }] } }, { path: "/schedules/PSRE002/users" });
    const error = await source.onCall(accessWindow(now, 0, 0)).catch((e) => e);
    expect(describeError(error)).toMatch(/^PagerDuty answered GET \/schedules\/PSRE002\/users in an unexpected shape \(users\.0\.email: /);
  });

  it("an on-call e-mail that is not an e-mail (a newline, a filter fragment) fails the source closed (exit 65)", async () => {
    const source = new PagerDutySource({ name: "pd", http, schedules: ["PSRE002"] });
    for (const email of ["carol@opsguard.test\n  + mallory", "alice@opsguard.test)(mail=*"]) {
      pd.fault({ status: 200, body: { users: [{ id: "PUCAROL", name: "carol", email }] } }, { path: "/schedules/PSRE002/users" });
      const error = await source.onCall(accessWindow(now, 0, 0)).catch((e) => e);
      expect(error.exitCode).toBe(65);
      expect(describeError(error)).toBe(`${JSON.stringify(email)} is not a valid e-mail address (fix the person's e-mail at the source)`);
    }
  });

  it("rides out a 429 with Retry-After, and a bad token is a permission error", async () => {
    pd.fault(
      { status: 429, headers: { "retry-after": "0" }, body: { error: { message: "Rate Limit Exceeded", code: 2020 } } },
      { times: 2 },
    );
    const result = await new PagerDutySource({ name: "pd", http, schedules: ["PSRE002"] }).onCall(accessWindow(now, 0, 0));
    expect(keys(result[0]!.people)).toEqual(["carol@opsguard.test"]);
    const wrong = new HttpClient({ service: "PagerDuty API", baseUrl: pd.url, headers: { authorization: "Token token=nope" }, retries: 0 });
    const error = await new PagerDutySource({ name: "pd", http: wrong, schedules: ["PSRE002"] })
      .onCall(at(now.toISOString()))
      .catch((e) => e);
    expect(error.exitCode).toBe(77);
    expect(error.message).toMatch(/PagerDuty API answered HTTP 401: Unauthorized/);
  });
});

describe("Opsgenie source", () => {
  const og = new OpsgenieSim();
  const now = new Date();
  const h = (n: number) => new Date(now.getTime() + n * 3_600_000);

  beforeAll(async () => {
    await og.start();
    og.addSchedule({
      id: "9f0c8a1e-0000-4000-8000-000000000001",
      name: "platform_schedule",
      shifts: [
        { email: "alice@opsguard.test", start: h(-3), end: h(1) },
        { email: "bob@opsguard.test", start: h(1), end: h(5) },
        { email: "carol@opsguard.test", start: h(0.25), end: h(0.75) },
        { email: "dave@opsguard.test", start: h(-2), end: h(-1.5) },
      ],
    });
  });
  afterAll(() => og.stop());

  it("reads who is on call now from the schedule's timeline with GenieKey auth", async () => {
    const http = new HttpClient({ service: "Opsgenie API", baseUrl: og.url, headers: { authorization: `GenieKey ${og.apiKey}` } });
    const source = new OpsgenieSource({ name: "og", http, schedules: ["platform_schedule"], identifierType: "name" });
    const before = og.requests.length;
    expect(keys((await source.onCall(accessWindow(now, 0, 0)))[0]!.people)).toEqual(["alice@opsguard.test"]);
    const asked = og.requests.slice(before);
    expect(asked.map((r) => [r.path, r.query.get("identifierType")])).toEqual([["/v2/schedules/platform_schedule/timeline", "name"]]);
  });

  it("sees a shift that starts and ends inside the look-ahead or grace window", async () => {
    const http = new HttpClient({ service: "Opsgenie API", baseUrl: og.url, headers: { authorization: `GenieKey ${og.apiKey}` } });
    const source = new OpsgenieSource({ name: "og", http, schedules: ["platform_schedule"], identifierType: "name" });
    expect(keys((await source.onCall(accessWindow(now, 120, 0)))[0]!.people)).toEqual([
      "alice@opsguard.test",
      "bob@opsguard.test",
      "carol@opsguard.test",
    ]);
    expect(keys((await source.onCall(accessWindow(now, 0, 180)))[0]!.people)).toEqual(["alice@opsguard.test", "dave@opsguard.test"]);
  });

  it("a team, escalation or schedule on call fails the source (65), never dropped in silence (T41 F4)", async () => {
    const http = new HttpClient({ service: "Opsgenie API", baseUrl: og.url, headers: { authorization: `GenieKey ${og.apiKey}` } });
    for (const recipientType of ["team", "escalation", "schedule"] as const) {
      og.addSchedule({
        id: `9f0c8a1e-0000-4000-8000-${recipientType.padEnd(12, "0").slice(0, 12)}`,
        name: `with_${recipientType}`,
        shifts: [
          { email: "alice@opsguard.test", start: h(-1), end: h(1) },
          { email: "dba_team", recipientType, start: h(-1), end: h(1) },
        ],
      });
      const source = new OpsgenieSource({ name: "og", http, schedules: [`with_${recipientType}`], identifierType: "name" });
      const error = await source.onCall(accessWindow(now, 0, 0)).catch((e) => e);
      expect(error.exitCode).toBe(65);
      expect(describeError(error)).toMatch(
        new RegExp(
          `^Opsgenie schedule with_${recipientType} has ${recipientType} recipient "dba_team" on call in rotation "rot2", not a user`,
        ),
      );
    }
  });

  it("reports an unknown schedule as a configuration error (78) with Opsgenie's message", async () => {
    const http = new HttpClient({ service: "Opsgenie API", baseUrl: og.url, headers: { authorization: `GenieKey ${og.apiKey}` } });
    const source = new OpsgenieSource({ name: "og", http, schedules: ["nope"], identifierType: "name" });
    const error = await source.onCall(accessWindow(now, 0, 0)).catch((e) => e);
    // A deleted or renamed schedule is the config's to fix (78), as PagerDuty's unknown name is (T41 F5).
    expect(error.exitCode).toBe(78);
    expect(describeError(error)).toMatch(
      /^og: no Opsgenie schedule is named "nope" \(Opsgenie API answered HTTP 404: Schedule with identifier \[nope\] doesn't exist .*\) \(check the schedule's name in the config, or use its id with identifierType: id\)$/,
    );
  });

  it("a timeline in an unexpected shape is an error (exit 65), never nobody on call", async () => {
    const http = new HttpClient({
      service: "Opsgenie API",
      baseUrl: og.url,
      headers: { authorization: `GenieKey ${og.apiKey}` },
      retries: 0,
    });
    const source = new OpsgenieSource({ name: "og", http, schedules: ["Platform"], identifierType: "name" });
    for (const body of [
      "<html>proxy login</html>",
      { data: {} },
      { data: { finalTimeline: { rotations: [{ periods: [{ startDate: "soon", endDate: "later" }] }] } } },
    ]) {
      og.fault({ status: 200, body });
      const error = await source.onCall(accessWindow(now, 0, 0)).catch((e) => e);
      expect(describeError(error)).toMatch(/^Opsgenie answered (the timeline|a period) of Platform /);
      expect(error.exitCode).toBe(65);
    }
  });
});
