import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Peak RSS flat in input size (issue 23): on the ENRICHED corpus log (c) the text path reads ~6 records a MiB (the old
// kernel LOGIN form), so its method reached TurboFan only after ~114 MiB. That compile runs on the main thread (the
// bin's --no-concurrent-recompilation) and took 2.1 MB of V8 zone memory from malloc at once: a 1.1 MB step of peak
// RSS that the 200 MiB run had and the 100 MiB one did not. Split in three, each part compiles in about half that.
const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const MAX_ZONE_BYTES = 1_500_000;

let dir: string;

beforeAll(() => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-compile-"));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The most zone memory V8's TurboFan held while compiling `name` (its --turbo-stats "Abs. max." column). */
function zoneBytes(name: string, log: string): number {
  // a small interrupt budget makes the method hot after a few thousand records instead of ~700 of them spread
  // over 114 MiB; the graph TurboFan builds is the same
  const r = spawnSync(
    process.execPath,
    ["--no-concurrent-recompilation", "--interrupt-budget=8192", "--turbo-stats", `--turbo-filter=${name}`, BUNDLE, "-q", log],
    { encoding: "utf8", maxBuffer: 1 << 28 },
  );
  expect(r.status, r.stderr).toBe(0);
  const phases = r.stdout.split("\n").filter((l) => /^\s+V8\.TF\w+\s/.test(l));
  expect(phases.length, `${name} was not compiled`).toBeGreaterThan(0);
  return Math.max(...phases.map((l) => Number(l.trim().split(/\s+/).at(-2))));
}

describe("the text path's compile (issue 23: peak RSS flat in input size)", () => {
  it("takes at most 1.5 MB of TurboFan zone memory for each of its methods", () => {
    const log = join(dir, "login.log");
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++)
      lines.push(
        `type=LOGIN msg=audit(${1_700_000_000 + i}.000:${i + 1}): login pid=${13_000 + i} uid=0 old auid=4294967295 new auid=0\x1dUID="root" AUID="unset" AUID="root"`,
      );
    writeFileSync(log, `${lines.join("\n")}\n`, "latin1");
    for (const name of ["textRecord", "textRecordEnd"]) expect(zoneBytes(name, log)).toBeLessThanOrEqual(MAX_ZONE_BYTES);
  });
});
