import { DataError, ExitCode, UnavailableError } from "@opsguard/core";
import { describe, expect, it } from "vitest";
import type { Deputize } from "../src/build";
import { handleOf, mergePeople, type Person, person } from "../src/people";
import { type RunOptions, runOnce } from "../src/run";
import type { Sink, SinkPlan } from "../src/sinks/sink";
import type { Source } from "../src/sources/source";
import { fakeSource } from "./fake-source";

// deputize's guards (issue 19, mutation module deputize-guards): when a sink is left as it is instead of being
// changed — a failed source, a schedule nobody knows, nobody on call, nobody placed, too many removals, a dry
// run — and the exit code each gives. Sources and sinks are in-memory fakes: the decision is runOnce's, the
// LDAP/Slack/GitLab sinks have their own tests (run.test.ts, sinks.test.ts).

// Literals, not person(): a call while the file loads makes every person() mutant it reaches a "static" one,
// which Stryker tests by reloading the file, and a mutant that throws there fails the file before any test runs,
// which Stryker's vitest runner counts as survived (mutation module deputize-guards, README).
const alice: Person = { key: "alice@corp.example", email: "alice@corp.example", uid: "alice" };
const bob: Person = { key: "bob@corp.example", email: "bob@corp.example", uid: "bob" };

const source = fakeSource;

interface FakeSink extends Sink {
  applied: number;
  seen: string[][];
}

/** A sink whose plan is given; `apply` counts writes (or throws `fails`). */
function sink(plan: Partial<Omit<SinkPlan, "apply">>, options: { schedules?: string[]; fails?: Error; name?: string } = {}): FakeSink {
  const fake: FakeSink = {
    name: options.name ?? "group",
    kind: "fake",
    schedules: options.schedules,
    applied: 0,
    seen: [],
    plan: async (people) => {
      fake.seen.push(people.map((p) => p.key));
      return {
        current: [],
        desired: [],
        add: [],
        remove: [],
        updates: [],
        unresolved: [],
        ...plan,
        apply: async () => {
          if (options.fails) throw options.fails;
          fake.applied++;
        },
      };
    },
  };
  return fake;
}

function deputize(sources: Source[], sinks: Sink[], settings: Partial<Deputize["settings"]> = {}): Deputize {
  return {
    sources,
    sinks,
    // never read: no look-ahead DMs (dm undefined)
    state: undefined as unknown as Deputize["state"],
    settings: { lookAheadMinutes: 0, graceMinutes: 0, allowEmpty: false, maxRemovals: 2, stateDir: "/nonexistent", ...settings },
    lookAhead: { hours: 12, dm: undefined },
    close: async () => {},
  };
}

const run = (dep: Deputize, options: Partial<RunOptions> = {}) =>
  runOnce(dep, { dryRun: false, now: new Date("2024-05-01T12:00:00Z"), ...options });
const oneSink = async (dep: Deputize, options?: Partial<RunOptions>) => {
  const report = await run(dep, options);
  const { sink: _name, kind: _kind, plan: _plan, ...rest } = report.sinks[0]!;
  return { ...rest, exitCode: report.exitCode, sinkExit: report.sinks[0]!.exitCode };
};

describe("a source that failed", () => {
  it("leaves every sink it may feed as it is, with the source's exit code, and writes nothing", async () => {
    const group = sink({ add: ["alice"] });
    const report = await run(
      deputize([source("pagerduty", new UnavailableError("PagerDuty did not answer")), source("rota", { SRE: [alice] })], [group]),
    );
    expect(report.sinks[0]).toMatchObject({ status: "skipped", onCall: [], reason: "source pagerduty failed; left as it is" });
    expect(report.sinks[0]?.exitCode).toBe(ExitCode.UNAVAILABLE);
    expect(report.exitCode).toBe(ExitCode.UNAVAILABLE);
    expect([group.applied, group.seen]).toEqual([0, []]);
    expect(report.sourceErrors).toEqual([{ source: "pagerduty", error: "PagerDuty did not answer", exitCode: ExitCode.UNAVAILABLE }]);
  });

  it("does not stop a sink fed only by schedules that did answer; one whose schedule is missing is skipped", async () => {
    const fed = sink({ add: ["alice"] }, { schedules: ["SRE"], name: "sre" });
    const orphan = sink({ add: ["bob"] }, { schedules: ["Database"], name: "db" });
    const report = await run(deputize([source("pagerduty", new Error("boom")), source("rota", { SRE: [alice] })], [fed, orphan]));
    expect(report.sinks.map((s) => [s.sink, s.status, s.reason])).toEqual([
      ["sre", "changed", undefined],
      ["db", "skipped", "source pagerduty failed; left as it is"],
    ]);
    expect([fed.applied, orphan.applied]).toEqual([1, 0]);
    expect(fed.seen).toEqual([["alice@corp.example"]]);
    // one sink changed, one left: partial
    expect(report.exitCode).toBe(ExitCode.PARTIAL);
  });

  it("with every sink fine, a failed source still makes the run partial", async () => {
    const report = await run(
      deputize([source("pagerduty", new Error("boom")), source("rota", { SRE: [alice] })], [sink({}, { schedules: ["SRE"] })]),
    );
    expect(report.sinks[0]?.status).toBe("unchanged");
    expect(report.exitCode).toBe(ExitCode.PARTIAL);
  });
});

describe("a schedule nobody knows", () => {
  it("fails the sink with a config exit naming it, without asking the sink", async () => {
    const group = sink({ add: ["alice"] }, { schedules: ["SRE", "Nightly"] });
    expect(await oneSink(deputize([source("rota", { SRE: [alice] })], [group]))).toMatchObject({
      status: "failed",
      onCall: [],
      reason: "no schedule named Nightly",
      exitCode: ExitCode.CONFIG,
    });
    expect(group.seen).toEqual([]);
  });

  it("a sink listing schedules gets only their people; one without a list gets everyone's", async () => {
    const some = sink({}, { schedules: ["SRE"], name: "some" });
    const all = sink({}, { name: "all" });
    await run(deputize([source("rota", { SRE: [alice], Database: [bob, alice] })], [some, all]));
    expect(some.seen).toEqual([["alice@corp.example"]]);
    expect(all.seen).toEqual([["alice@corp.example", "bob@corp.example"]]);
  });
});

describe("nobody on call, nobody placed", () => {
  it("refuses to empty a sink when nobody is on call, unless allowEmpty", async () => {
    const refused = sink({ current: ["alice"], remove: ["alice"] });
    expect(await oneSink(deputize([source("rota", { SRE: [] })], [refused]))).toMatchObject({
      status: "refused",
      reason: "nobody is on call; left as it is (set allowEmpty to empty it)",
      exitCode: ExitCode.FAILED,
    });
    expect(refused.applied).toBe(0);
    const allowed = sink({ current: ["alice"], remove: ["alice"] });
    expect(await oneSink(deputize([source("rota", { SRE: [] })], [allowed], { allowEmpty: true }))).toMatchObject({
      status: "changed",
      exitCode: ExitCode.OK,
    });
    expect(allowed.applied).toBe(1);
  });

  it("nobody on call and nothing to change is simply unchanged", async () => {
    expect(await oneSink(deputize([source("rota", { SRE: [] })], [sink({})]))).toMatchObject({
      status: "unchanged",
      exitCode: ExitCode.OK,
    });
  });

  it("refuses when none of the people on call could be placed, as the sink counts them or as unresolved says, allowEmpty or not", async () => {
    const counted = sink({ updates: ["topic: a → b"], placed: 0, unresolved: ["no Slack user for alice, bob"] });
    expect(await oneSink(deputize([source("rota", { SRE: [alice, bob] })], [counted]))).toMatchObject({
      status: "refused",
      reason: "none of the 2 people on call could be placed; left as it is (check the sink's lookup settings and the accounts)",
      exitCode: ExitCode.FAILED,
    });
    const unresolved = sink({ current: ["carol"], remove: ["carol"], unresolved: ["alice: no entry", "bob: no entry"] });
    expect((await oneSink(deputize([source("rota", { SRE: [alice, bob] })], [unresolved]))).status).toBe("refused");
    expect(counted.applied + unresolved.applied).toBe(0);
    // allowEmpty is for an on-call list that is really empty: people on call that were not found are no such list (T56 F16)
    const allowed = sink({ current: ["carol"], remove: ["carol"], unresolved: ["alice: no entry", "bob: no entry"] });
    expect(await oneSink(deputize([source("rota", { SRE: [alice, bob] })], [allowed], { allowEmpty: true }))).toMatchObject({
      status: "refused",
      exitCode: ExitCode.FAILED,
    });
    expect(allowed.applied).toBe(0);
  });

  it("someone placed is enough to apply; the ones not placed make the run partial", async () => {
    const half = sink({ add: ["alice"], unresolved: ["bob: no entry"] });
    expect(await oneSink(deputize([source("rota", { SRE: [alice, bob] })], [half]))).toMatchObject({
      status: "changed",
      sinkExit: ExitCode.PARTIAL,
      exitCode: ExitCode.PARTIAL,
    });
    // every person unresolved, yet the sink adds someone (placed under another name): not "nobody placed"
    const adds = sink({ add: ["alice"], unresolved: ["alice: two entries", "bob: no entry"] });
    expect((await oneSink(deputize([source("rota", { SRE: [alice, bob] })], [adds]))).status).toBe("changed");
    // nothing to change, yet someone unresolved: partial, never OK
    expect(await oneSink(deputize([source("rota", { SRE: [alice, bob] })], [sink({ unresolved: ["bob: no entry"] })]))).toMatchObject({
      status: "unchanged",
      exitCode: ExitCode.PARTIAL,
    });
  });
});

describe("too many removals, dry runs and failed writes", () => {
  const removing = (n: number) =>
    sink({ current: ["a", "b", "c", "d"].slice(0, n), remove: ["a", "b", "c", "d"].slice(0, n), add: ["alice"] });

  it("refuses more removals than maxRemovals unless forced; exactly maxRemovals applies", async () => {
    const three = removing(3);
    expect(await oneSink(deputize([source("rota", { SRE: [alice] })], [three]))).toMatchObject({
      status: "refused",
      reason: "would remove 3 members, more than maxRemovals (2); re-run with --force if intended",
      exitCode: ExitCode.FAILED,
    });
    expect(three.applied).toBe(0);
    expect((await oneSink(deputize([source("rota", { SRE: [alice] })], [removing(2)]))).status).toBe("changed");
    const forced = removing(3);
    expect((await oneSink(deputize([source("rota", { SRE: [alice] })], [forced]), { force: true })).status).toBe("changed");
    expect(forced.applied).toBe(1);
  });

  it("a dry run says what would change and writes nothing, guards still applied first", async () => {
    const group = sink({ add: ["alice"] });
    expect(await oneSink(deputize([source("rota", { SRE: [alice] })], [group]), { dryRun: true })).toMatchObject({
      status: "would-change",
      exitCode: ExitCode.OK,
    });
    expect(group.applied).toBe(0);
    expect((await oneSink(deputize([source("rota", { SRE: [alice] })], [removing(3)]), { dryRun: true })).status).toBe("refused");
  });

  it("a write that fails is the sink's failure with its exit code and the plan kept; the other sinks still apply", async () => {
    const broken = sink({ add: ["alice"] }, { fails: new DataError("LDAP refused the modify"), name: "ldap" });
    const fine = sink({ add: ["alice"] }, { name: "slack" });
    const report = await run(deputize([source("rota", { SRE: [alice] })], [broken, fine]));
    expect(report.sinks[0]).toMatchObject({
      status: "failed",
      reason: "LDAP refused the modify",
      exitCode: ExitCode.DATA_ERR,
      onCall: ["alice@corp.example"],
      plan: { add: ["alice"] },
    });
    expect(report.sinks[1]?.status).toBe("changed");
    expect(report.exitCode).toBe(ExitCode.PARTIAL);
    // every sink failing: the failure's own code
    const alone = await run(deputize([source("rota", { SRE: [alice] })], [sink({ add: ["alice"] }, { fails: new DataError("no") })]));
    expect(alone.exitCode).toBe(ExitCode.DATA_ERR);
  });
});

describe("who counts as a person on call", () => {
  it("refuses identities that could forge output or a filter, and over-long ones", () => {
    const refused = [
      { email: "alice@corp.example\nforged line" },
      { email: "alice@corp" },
      { email: "(|(uid=*))@corp.example" },
      // only the part before @ is a name: a space or a parenthesis earlier is refused, not skipped over
      { email: "alice smith@corp.example" },
      { email: "x)(uid=*)alice@corp.example" },
      // a label may not end in a hyphen
      { email: "alice@corp-.example" },
      { email: `${"a".repeat(64)}@${"b".repeat(182)}.example` },
      { uid: "bob\r\nx" },
      { uid: "bob)(uid=*" },
      { uid: "-rf" },
      { uid: "a".repeat(255) },
    ];
    for (const fields of refused) expect(() => person(fields), JSON.stringify(fields)).toThrow(DataError);
    expect(() => person({ name: "Nobody" })).toThrow("a person needs an email or a uid");
    expect(() => person({ email: "  ", uid: "" })).toThrow("a person needs an email or a uid");
  });

  it("keys a person by the lower-cased e-mail, else the uid, with fields trimmed and blanks left out", () => {
    expect(person({ email: " Alice@Corp.Example ", uid: " alice ", name: " Alice A. " })).toEqual({
      key: "alice@corp.example",
      email: "Alice@Corp.Example",
      uid: "alice",
      name: "Alice A.",
    });
    expect(person({ uid: "bob.b_1", name: "  " })).toEqual({ key: "bob.b_1", uid: "bob.b_1" });
    expect(person({ email: `${"a".repeat(64)}@${"b".repeat(181)}.example` }).key).toHaveLength(254);
    expect(person({ uid: "u".repeat(254) }).key).toHaveLength(254);
  });

  it("accepts the addresses real directories hold: one-letter and hyphenated labels, subdomains, plus tags", () => {
    for (const email of ["sre@a.corp.example", "on-call+pager@eu.b.corp-mail.example", "j.o'neil@x.example", "a@b.io"])
      expect(person({ email }).email, email).toBe(email);
    for (const uid of ["a", "svc_deploy", "j.doe-2", "_x"]) expect(person({ uid }).uid, uid).toBe(uid);
  });

  it("names someone in chat by the uid, else the e-mail's local part", () => {
    expect(handleOf(person({ email: "alice@corp.example", uid: "asmith" }))).toBe("asmith");
    expect(handleOf(person({ email: "Alice.Smith@corp.example" }))).toBe("Alice.Smith");
  });

  it("merges lists: one entry per person, the first's fields winning and missing ones filled, sorted by key", () => {
    const merged = mergePeople([
      [person({ uid: "zed" }), person({ email: "bob@corp.example", name: "Bob" })],
      [person({ email: "BOB@corp.example", uid: "bob", name: "Robert" }), person({ uid: "adam" })],
    ]);
    expect(merged).toEqual([
      { key: "adam", uid: "adam" },
      { key: "bob@corp.example", email: "bob@corp.example", uid: "bob", name: "Bob" },
      { key: "zed", uid: "zed" },
    ]);
  });
});
