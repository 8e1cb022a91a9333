import { describe, expect, it } from "vitest";
import { formatDiff, formatStatus } from "../src/format";
import type { RunReport } from "../src/run";

// Names come from schedules (PagerDuty, Opsgenie, a rotation file): none may forge a line of output.
const forged = "alice\n  + mallory\r";
const report: RunReport = {
  window: { since: "2026-12-04T00:00:00.000Z", now: "2026-12-04T00:00:00.000Z", until: "2026-12-04T00:00:00.000Z" },
  schedules: [{ source: "pd", schedule: "SRE\nEVIL", onCall: [forged] }],
  sourceErrors: [],
  sinks: [
    {
      sink: "ldap",
      kind: "ldap-group",
      status: "would-change",
      onCall: [forged],
      plan: {
        current: ["bob"],
        desired: [forged],
        add: [forged],
        remove: ["bob"],
        updates: [`topic: "${forged}"`],
        unresolved: [`${forged}: no entry`],
      },
    },
  ],
  exitCode: 0,
};

describe("human output", () => {
  it("escapes newlines and control characters in every name, so the diff has one line per change", () => {
    expect(formatDiff(report, true)).toBe(
      [
        "ldap (ldap-group): would change",
        "  + alice\\n  + mallory\\x0d",
        "  - bob",
        '  ~ topic: "alice\\n  + mallory\\x0d"',
        "  ! alice\\n  + mallory\\x0d: no entry",
        "",
      ].join("\n"),
    );
    const status = formatStatus(report);
    expect(status.split("\n")).toHaveLength(6);
    expect(status).toContain("SRE\\nEVIL  pd      alice\\n  + mallory\\x0d");
  });
});
