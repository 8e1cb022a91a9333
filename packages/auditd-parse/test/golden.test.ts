import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// auditd-parse's own expected output for the project's own logs (test/golden/*.log → *.ndjson), checked
// with the built bundle as users run it. Regenerate after an intended change, then review the diff:
//   node scripts/build.mjs auditd-parse && node scripts/conformance/auditd.mjs --update-golden
const DIR = new URL("golden/", import.meta.url).pathname;
const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const LOGS = readdirSync(DIR)
  .filter((f) => f.endsWith(".log"))
  .sort();

describe("auditd-parse golden output", () => {
  it("has golden logs to compare (an empty folder would pass everything below)", () => {
    expect(LOGS.length).toBeGreaterThanOrEqual(5);
  });

  it.each(LOGS)("%s: output equals the checked-in .ndjson byte for byte", (log) => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
    const r = spawnSync(process.execPath, [BUNDLE, "--passwd", join(DIR, "passwd"), "--group", join(DIR, "group"), join(DIR, log)], {
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(DIR, log.replace(/\.log$/, ".ndjson")), "utf8"));
  });

  it("nodes.log: three hosts sharing one stamp are three events, each with its own node and records", () => {
    const events = readFileSync(join(DIR, "nodes.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events.map((e) => [e.node, e.id, e.comm, e.records.length]).sort()).toEqual([
      ["db1", "1700000200.000:42", "psql", 2],
      ["web1", "1700000200.000:42", "id", 2],
      ["web2", "1700000200.000:42", "whoami", 2],
    ]);
  });
});
