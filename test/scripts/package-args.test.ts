// The packaging scripts' command lines: --help prints the usage and makes nothing, an unknown flag or tool is
// refused with exit 64 before any work (npm.mjs once took --help as its output folder and wrote into it).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const REPO = new URL("../..", import.meta.url).pathname;
const cwd = mkdtempSync(join(tmpdir(), "opsguard-package-args-"));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const run = (script: string, args: string[]) =>
  spawnSync(process.execPath, [join(REPO, "scripts/package", `${script}.mjs`), ...args], { cwd, encoding: "utf8", timeout: 60_000 });

describe.each(["npm", "sea", "man", "deb"])("scripts/package/%s.mjs", (script) => {
  it("--help prints the usage on stdout and makes nothing", () => {
    for (const flag of ["--help", "-h"]) {
      const r = run(script, [flag]);
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: node scripts/package/${script}\\.mjs `));
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("refuses an unknown flag with exit 64, one line naming it and the usage", () => {
    const r = run(script, ["--bogus"]);
    expect(r.status).toBe(64);
    expect(r.stdout).toBe("");
    const [problem, usage, ...rest] = r.stderr.trimEnd().split("\n");
    expect(problem).toMatch(new RegExp(`^package/${script}: .*'--bogus'`));
    expect(usage).toMatch(/^usage: /);
    expect(rest).toEqual([]);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe("arguments that are not flags", () => {
  it("a tool name the script does not know is refused, not built", () => {
    for (const script of ["sea", "man", "deb"]) {
      const r = run(script, ["nosuchtool"]);
      expect(r.status, script).toBe(64);
      expect(r.stderr).toMatch(new RegExp(`^package/${script}: unknown tool "nosuchtool"; one of authkeys, `));
    }
  });

  it("npm.mjs takes its folder from --out only, and refuses a flag as its value", () => {
    expect(run("npm", ["somewhere"]).stderr).toMatch(/^package\/npm: unexpected argument "somewhere"/);
    const r = run("npm", ["--out", "--help"]);
    expect(r.status).toBe(64);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it("deb.mjs checks --compression and --level", () => {
    expect(run("deb", ["--compression", "zstd"]).stderr).toMatch(/^package\/deb: --compression is xz or gzip\n/);
    expect(run("deb", ["--level", "12"]).stderr).toMatch(/^package\/deb: --level is 0 to 9\n/);
  });
});
