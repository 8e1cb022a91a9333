// Each tool's README exit-code table lists exactly the codes its --help lists (README and --help say the same),
// and both list 70, the code of an error the tool did not foresee.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, REPO, TOOLS } from "../install/helpers";

beforeAll(() => ensureBuilt(), 300_000);

function helpCodes(tool: string): number[] {
  const r = spawnSync(process.execPath, [join(REPO, "packages", tool, "dist", `${tool}.cjs`), "--help"], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const table = r.stdout.split("\nExit codes:\n")[1] ?? "";
  return [...table.matchAll(/^ {2}(\d+) /gm)].map((m) => Number(m[1]));
}

function readmeCodes(tool: string): number[] {
  const readme = readFileSync(join(REPO, "packages", tool, "README.md"), "utf8");
  const from = readme.slice(readme.search(/^#+ Exit codes/im));
  // The section ends at the next heading: tables further down (benchmark runs) also start rows with numbers.
  const next = from.indexOf("\n#");
  const section = next < 0 ? from : from.slice(0, next);
  return [...section.matchAll(/^\| *(\d+) *\|/gm)].map((m) => Number(m[1]));
}

describe.each(TOOLS)("%s exit codes", (tool) => {
  it("README's table and --help list the same codes, 70 among them", () => {
    const help = helpCodes(tool);
    expect(help).toContain(70);
    // 128+N for a signal (auditd-parse stopped by SIGINT/SIGTERM) is in both too
    expect(readmeCodes(tool)).toEqual(help);
  });
});
