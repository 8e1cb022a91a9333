import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The bin starts node with the package's start flags (package.json opsguard.nodeFlags, scripts/build.mjs): its first
// lines are read by sh, which execs node with them and the file itself; node reads the rest. V8 takes
// --no-concurrent-recompilation only at start (issue 23: 3-4 MB of peak RSS). Run here as npm's bin link runs it:
// a symlink to the file, executed, from a directory whose name a shell would split or expand.
const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const EXEC = new URL("golden/exec.log", import.meta.url).pathname;
const FLAG = "--no-concurrent-recompilation";

let dir: string;
let bin: string;
// the bin finds node on PATH, as `#!/usr/bin/env node` did; the workspace's source condition left out (a user's env)
const { NODE_OPTIONS: _workspaceConditions, ...userEnv } = process.env;
const env = { ...userEnv, PATH: `${dirname(process.execPath)}:/usr/bin:/bin`, NO_COLOR: "1" };

beforeAll(() => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
  dir = mkdtempSync(join(tmpdir(), "auditd-parse bin '$HOME' `x` "));
  copyFileSync(BUNDLE, join(dir, "auditd-parse.cjs"));
  bin = join(dir, "auditd-parse");
  symlinkSync(join(dir, "auditd-parse.cjs"), bin);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** node's argv of a running process, once sh has exec'd it (same pid), or undefined while it is still sh. */
function nodeArgv(pid: number): string[] | undefined {
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  return argv.includes(bin) && !argv[0]?.endsWith("sh") ? argv : undefined;
}

describe("the bin's start", () => {
  it("is executable and runs node with --no-concurrent-recompilation, reading stdin as under `node <bin>`", async () => {
    const child = spawn(bin, ["-"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
    // the tool waits for stdin; until sh has exec'd node the pid's argv is sh's (bounded: 20 s)
    const pid = child.pid ?? -1;
    let argv: string[] | undefined;
    for (const until = Date.now() + 20_000; argv === undefined && Date.now() < until; ) {
      argv = nodeArgv(pid);
      if (argv === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    child.stdin.end(readFileSync(EXEC));
    expect(await exited, stderr).toBe(0);
    expect(argv).toEqual([expect.stringMatching(/node$/), FLAG, "--", bin, "-"]);
    const plain = spawnSync(process.execPath, [BUNDLE, EXEC], { encoding: "utf8", env });
    expect(plain.status, plain.stderr).toBe(0);
    expect(stdout).toBe(plain.stdout);
    expect(stdout.trim().split("\n").length).toBeGreaterThan(1);
  });

  it("passes arguments through untouched (spaces, quotes, $, a leading -) and its exit code back", () => {
    const log = join(dir, "a b'$USER.log");
    copyFileSync(EXEC, log);
    const viaBin = spawnSync(bin, ["--format", "text", log], { encoding: "utf8", env });
    const viaNode = spawnSync(process.execPath, [BUNDLE, "--format", "text", log], { encoding: "utf8", env });
    expect(viaBin.status, viaBin.stderr).toBe(0);
    expect(viaBin.stdout).toBe(viaNode.stdout);
    expect(viaBin.stdout).toContain("execve");
    // a file that does not exist: one line and the documented exit code (66), as under node
    const missing = spawnSync(bin, [join(dir, "-no such $file")], { encoding: "utf8", env });
    expect(missing.status).toBe(66);
    expect(missing.stderr).toContain("-no such $file");
    expect(missing.stderr.trim().split("\n")).toHaveLength(
      spawnSync(process.execPath, [BUNDLE, join(dir, "-no such $file")], { encoding: "utf8", env })
        .stderr.trim()
        .split("\n").length,
    );
  });

  it("starts node without NODE_EXTRA_CA_CERTS, which it never uses: a bundle node cannot load costs no warning", () => {
    const withCerts = { ...env, NODE_EXTRA_CA_CERTS: join(dir, "no such bundle.pem") };
    // under plain node the variable is read at start: the warning shows it is set as node sees it
    expect(spawnSync(process.execPath, [BUNDLE, EXEC], { encoding: "utf8", env: withCerts }).stderr).toContain("extra certs");
    const viaBin = spawnSync(bin, [EXEC], { encoding: "utf8", env: withCerts });
    expect(viaBin.status, viaBin.stderr).toBe(0);
    expect(viaBin.stderr).toBe("");
    expect(viaBin.stdout.trim().split("\n").length).toBeGreaterThan(1);
  });
});
