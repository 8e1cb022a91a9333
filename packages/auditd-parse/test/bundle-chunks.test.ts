import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The built bin carries detect's Sigma machinery and the ECS mapping as lazily loaded chunks (package.json's
// opsguard.chunks, scripts/build.mjs): compressed in a comment, so V8 does not parse them at every start (issue
// 23: peak RSS of the plain parse). These check it as users run it: what the chunks hold works, errors thrown
// inside a chunk are core's own classes (their exit codes, not an internal error), and the parse never needs them.
const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const WEB_RCE = new URL("sigma/cases/lnx_auditd_web_rce/hit.log", import.meta.url).pathname;
const EXEC = new URL("golden/exec.log", import.meta.url).pathname;

function run(args: string[], cwd?: string) {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1" };
  delete env.AUDITD_PARSE_CONFIG;
  const r = spawnSync(process.execPath, [BUNDLE, ...args], { encoding: "utf8", env, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the bin's lazily loaded chunks", () => {
  it("holds the built-in rules only compressed: no rule title in the bin's text, all of them from detect --list-rules", () => {
    const text = readFileSync(BUNDLE, "latin1");
    const list = run(["detect", "--list-rules", "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const titles = (JSON.parse(list.stdout) as { rules: { title: string }[] }).rules.map((r) => r.title);
    expect(titles.length).toBeGreaterThanOrEqual(50);
    expect(titles).toContain("Binary Padding - Linux");
    expect(titles.filter((t) => text.includes(JSON.stringify(t)))).toEqual([]);
    // and the whole bin stays under the size where V8's background compiler took 3.5 MB more (build.mjs)
    expect(text.length).toBeLessThanOrEqual(512 * 1024);
  });

  it("detect from the chunk: the web RCE rule fires on its case log", () => {
    const r = run(["detect", "--json", WEB_RCE]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"title":"Webshell Remote Command Execution"');
  });

  it("an error the chunk throws is core's class: a missing --rules is one line and exit 66, not an internal error (70)", () => {
    const r = run(["detect", "--rules", "/nonexistent/rules", "/dev/null"]);
    expect(r.code).toBe(66);
    expect(r.stderr.trim().split("\n")[0]).toMatch(/nonexistent\/rules/);
    expect(r.stderr).not.toMatch(/internal error|at .*\(/);
  });

  it("--format ecs from its chunk: one ECS document per event", () => {
    const events = run([EXEC]).stdout.trim().split("\n");
    const ecs = run(["--format", "ecs", EXEC]);
    expect(ecs.code, ecs.stderr).toBe(0);
    const docs = ecs.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { ecs?: { version?: string } });
    expect(docs).toHaveLength(events.length);
    expect(docs.every((d) => typeof d.ecs?.version === "string")).toBe(true);
  });

  // core reads a YAML config with the yaml package, which the plain parse never runs (a JSON config, or none, is
  // the usual case): a chunk too, named by package (issue 23, Round 26: ~5% of the bin's start-up instructions)
  it("reads a YAML config through the yaml chunk: yaml's code is not in the bin's text; its errors keep line and column", () => {
    const text = readFileSync(BUNDLE, "latin1");
    expect(text).not.toContain("Implicit keys need to be on a single line");
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-yaml-"));
    try {
      // given by --config: run as root (CI), a ./.auditd-parserc is not read
      const config = join(dir, "auditd-parse.yaml");
      writeFileSync(config, "# a YAML config\npasswd: /nonexistent/passwd\n");
      const missing = run(["--config", config, EXEC], dir);
      expect(missing.code).toBe(78);
      expect(missing.stderr).toContain("/nonexistent/passwd");
      writeFileSync(config, "windowMs: [3000\n");
      const bad = run(["--config", config, EXEC], dir);
      expect(bad.code).toBe(78);
      expect(bad.stderr).toMatch(/cannot parse config file .*auditd-parse\.yaml: .* at line 2, column 1/);
      expect(bad.stderr.trim().split("\n")).toHaveLength(1);
      writeFileSync(config, "windowMs: 3000\n");
      const ok = run(["--config", config, EXEC], dir);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toBe(run([EXEC]).stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
