import { ExitCode, UnavailableError } from "@opsguard/core";
import { describe, expect, it } from "vitest";
import type { Deputize } from "../src/build";
import { type Person, person } from "../src/people";
import { type RunProgress, runOnce } from "../src/run";
import type { PartOutcome, Sink, SinkPlan } from "../src/sinks/sink";
import type { Source } from "../src/sources/source";
import { fakeSource } from "./fake-source";

// deputize's guards, second part (mutation module deputize-guards): the messages that name several failed
// sources or unknown schedules, the write fence (beforeWrite) and the progress a signal handler reads, and a
// sink applied part by part. Sources and sinks are in-memory fakes, as in guards.test.ts.

// a literal, not person(): see guards.test.ts
const alice: Person = { key: "alice@corp.example", email: "alice@corp.example", uid: "alice" };

const source = fakeSource;

/** A sink that adds alice; `apply` runs `during` first and returns `outcomes` (parts) when given. */
function sink(options: { schedules?: string[]; outcomes?: PartOutcome[]; during?: () => void } = {}): Sink & { applied: number } {
  const fake = {
    name: "group",
    kind: "fake",
    schedules: options.schedules,
    applied: 0,
    plan: async () => ({
      current: [],
      desired: ["alice"],
      add: ["alice"],
      remove: [],
      updates: [],
      unresolved: [],
      // one write: the runner calls the fence before it (sink.ts: only a sink with several writes calls it itself)
      apply: async () => {
        options.during?.();
        fake.applied++;
        return options.outcomes;
      },
    }),
  };
  return fake as Sink & { applied: number };
}

function deputize(sources: Source[], sinks: Sink[]): Deputize {
  return {
    sources,
    sinks,
    state: undefined as unknown as Deputize["state"],
    settings: { lookAheadMinutes: 0, graceMinutes: 0, allowEmpty: false, maxRemovals: 2, stateDir: "/nonexistent" },
    lookAhead: { hours: 12, dm: undefined },
    close: async () => {},
  };
}
const now = new Date("2024-05-01T12:00:00Z");

describe("several failed sources or unknown schedules", () => {
  it("are each named in the sink's reason", async () => {
    const failed = await runOnce(
      deputize([source("pagerduty", new Error("down")), source("opsgenie", new Error("down")), source("rota", { SRE: [alice] })], [sink()]),
      { dryRun: false, now },
    );
    expect(failed.sinks[0]?.reason).toBe("source pagerduty, opsgenie failed; left as it is");
    const unknown = await runOnce(deputize([source("rota", { SRE: [alice] })], [sink({ schedules: ["Nightly", "Weekend"] })]), {
      dryRun: false,
      now,
    });
    expect(unknown.sinks[0]?.reason).toBe("no schedule named Nightly, Weekend");
  });
});

describe("the write fence and the progress a signal handler reads", () => {
  it("a fence that refuses stops the write: the sink failed with the fence's reason, nothing applied", async () => {
    const group = sink();
    const report = await runOnce(deputize([source("rota", { SRE: [alice] })], [group]), {
      dryRun: false,
      now,
      beforeWrite: async () => {
        throw new UnavailableError("another host holds the lease");
      },
    });
    expect(report.sinks[0]).toMatchObject({ status: "failed", reason: "another host holds the lease", exitCode: ExitCode.UNAVAILABLE });
    expect(group.applied).toBe(0);
  });

  it("a sink is listed as applying while it writes, and as applied with its report after", async () => {
    const progress: RunProgress = { applied: [], applying: new Set() };
    let during: string[] = [];
    const group = sink({ during: () => (during = [...progress.applying]) });
    await runOnce(deputize([source("rota", { SRE: [alice] })], [group]), { dryRun: false, now, progress });
    expect(during).toEqual(["group"]);
    expect([...progress.applying]).toEqual([]);
    expect(progress.applied.map((r) => [r.sink, r.status])).toEqual([["group", "changed"]]);
  });
});

describe("a sink applied part by part", () => {
  it("one failed part: partly changed, naming it, partial exit", async () => {
    const outcomes = [{ part: "topic" }, { part: "usergroup", error: new UnavailableError("Slack said no") }];
    const report = await runOnce(deputize([source("rota", { SRE: [alice] })], [sink({ outcomes })]), { dryRun: false, now });
    expect(report.sinks[0]).toMatchObject({ status: "partly-changed", reason: "usergroup: Slack said no", exitCode: ExitCode.PARTIAL });
    expect(report.exitCode).toBe(ExitCode.PARTIAL);
  });

  it("every part already there (posted by the other host): unchanged", async () => {
    const outcomes = [{ part: "message", alreadyPosted: true }];
    const report = await runOnce(deputize([source("rota", { SRE: [alice] })], [sink({ outcomes })]), { dryRun: false, now });
    expect(report.sinks[0]?.status).toBe("unchanged");
  });
});

describe("guards the first cases left open", () => {
  const bob: Person = { key: "bob@corp.example", email: "bob@corp.example", uid: "bob" };
  /** A sink whose plan is given whole. */
  const planned = (plan: Partial<Omit<SinkPlan, "apply">>, fails?: Error, name = "group"): Sink => ({
    name,
    kind: "fake",
    schedules: undefined,
    plan: async () => ({
      current: [],
      desired: [],
      add: [],
      remove: [],
      updates: [],
      unresolved: [],
      ...plan,
      apply: async () => {
        if (fails) throw fails;
      },
    }),
  });

  it("someone on call not placed, the rest placed and only a removal to make: applied, not refused as nobody placed", async () => {
    const sinks = [planned({ current: ["carol"], remove: ["carol"], unresolved: ["bob: no entry"] })];
    const report = await runOnce(deputize([source("rota", { SRE: [alice, bob] })], sinks), { dryRun: false, now });
    expect(report.sinks[0]?.status).toBe("changed");
  });

  it("one sink failed and another partly fine: the run is partial, not the failure's code", async () => {
    const sinks = [
      planned({ add: ["alice"] }, new UnavailableError("LDAP down"), "ldap"),
      planned({ add: ["alice"], unresolved: ["bob: no entry"] }, undefined, "slack"),
    ];
    const report = await runOnce(deputize([source("rota", { SRE: [alice, bob] })], sinks), { dryRun: false, now });
    expect(report.sinks.map((s) => s.exitCode)).toEqual([ExitCode.UNAVAILABLE, ExitCode.PARTIAL]);
    expect(report.exitCode).toBe(ExitCode.PARTIAL);
  });

  it("a refused identity says which and how to fix it", () => {
    expect(() => person({ email: "alice@corp" })).toThrow(
      expect.objectContaining({
        message: '"alice@corp" is not a valid e-mail address',
        hint: "fix the person's e-mail at the source",
      }),
    );
    expect(() => person({ uid: "bob)(uid=*" })).toThrow(
      expect.objectContaining({
        message: '"bob)(uid=*" is not a valid uid',
        hint: "fix the person's uid at the source",
      }),
    );
  });
});
