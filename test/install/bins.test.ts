// What every built bin carries and does at start, checked on the bundles themselves (the tarballs, the .debs
// and the standalone executables all ship them).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, REPO, TOOLS } from "./helpers";

const bundle = (tool: string) => join(REPO, "packages", tool, "dist", `${tool}.cjs`);

/**
 * A bin's code with its lazily loaded chunks unpacked (brotli, base64 in a comment: scripts/build.mjs): what the
 * chunks run is searched too, and the base64 is not (it can spell anything, "jiti" once).
 */
const codeOf = (tool: string) =>
  readFileSync(bundle(tool), "utf8").replace(/\/\*([A-Za-z0-9+/=]+)\*\/""/g, (_, base64: string) =>
    brotliDecompressSync(Buffer.from(base64, "base64")).toString("utf8"),
  );

let work: string;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), "opsguard-bins-"));
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(TOOLS)("%s bundle", (tool) => {
  it("carries no TypeScript compiler, jiti or cosmiconfig's JS/TS loaders", () => {
    const code = codeOf(tool);
    for (const needle of ["typescript", "transpileModule", "jiti", "import-fresh", "js-yaml"]) {
      expect(code.includes(needle), needle).toBe(false);
    }
  });
});

describe("config discovery in a bin", () => {
  it("finds ./.<tool>rc.json and runs no code from the working directory (cosmiconfig's .config/config.js)", () => {
    const cwd = join(work, "project");
    const marker = join(work, "code-ran");
    mkdirSync(join(cwd, ".config"), { recursive: true });
    writeFileSync(join(cwd, ".config/config.js"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x");`);
    // deputize: auditd-parse, run as root as CI runs, reads no config from the working directory at all
    writeFileSync(join(cwd, ".deputizerc.json"), '{"bogusKey": 1}');
    const r = spawnSync(process.execPath, [bundle("deputize")], {
      cwd,
      input: "",
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: work },
    });
    expect(r.stderr).toMatch(new RegExp(`^deputize: invalid config in ${join(cwd, ".deputizerc.json")}: .*unknown key "bogusKey"\n$`));
    expect(r.status).toBe(78);
    expect(existsSync(marker)).toBe(false);
  });

  it("starts for a user without a home (HOME unset, no passwd entry), as a service's command user may be", () => {
    const r = spawnSync("setpriv", ["--reuid=54321", "--regid=54321", "--clear-groups", process.execPath, bundle("auditd-parse"), "-"], {
      cwd: work,
      input: "",
      encoding: "utf8",
      env: { PATH: process.env.PATH },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("finds $XDG_CONFIG_HOME/opsguard/<tool>.yaml", () => {
    const xdg = join(work, "xdg");
    mkdirSync(join(xdg, "opsguard"), { recursive: true });
    writeFileSync(join(xdg, "opsguard/auditd-parse.yaml"), "bogusKey: 1\n");
    const r = spawnSync(process.execPath, [bundle("auditd-parse"), "-"], {
      cwd: work,
      input: "",
      encoding: "utf8",
      env: { PATH: process.env.PATH, HOME: work, XDG_CONFIG_HOME: xdg },
    });
    expect(r.stderr).toContain(`invalid config in ${join(xdg, "opsguard/auditd-parse.yaml")}`);
    expect(r.status).toBe(78);
  });
});

/** The bin's --help (piped, so 80 columns) for the tool or one of its subcommands. */
function help(tool: string, sub?: string): string {
  const r = spawnSync(process.execPath, [bundle(tool), ...(sub ? [sub] : []), "--help"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, NO_COLOR: "1" },
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

describe.each(TOOLS)("%s --help", (tool) => {
  const subcommands = (text: string) =>
    (text.split("\nCommands:\n")[1] ?? "")
      .split("\n\n")[0]
      ?.split("\n")
      .map((line) => /^ {2}([a-z][\w-]*)/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined && name !== "help") ?? [];

  it("fits 80 columns when piped, for the tool and every subcommand, which also lists the global flags", () => {
    const top = help(tool);
    const subs = subcommands(top);
    expect(subs.length).toBeGreaterThan(0);
    for (const [name, text] of [[tool, top] as const, ...subs.map((sub) => [`${tool} ${sub}`, help(tool, sub)] as const)]) {
      const wide = text.split("\n").filter((line) => [...line].length > 80);
      expect(wide, name).toEqual([]);
      if (name === tool) continue;
      const global = text.split("\nGlobal Options:\n")[1] ?? "";
      for (const flag of ["--config <file>", "--json", "--verbose", "--log-format <format>"])
        expect(global, `${name}: ${flag}`).toContain(flag);
    }
  });
});
