import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExitCode } from "../src/index";
import { bundleFixture } from "./fixtures/bundle";

let bin = "";
const ANSI = /\u001b\[/;

beforeAll(async () => {
  bin = await bundleFixture(join(import.meta.dirname, "fixtures/cli-child.ts"));
});

afterAll(() => rmSync(dirname(bin), { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, TERM: "xterm-256color", ...env },
    timeout: 10_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs the bin on a pseudo-terminal (util-linux script), so stdout and stderr are TTYs. */
function runOnTty(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const command = [process.execPath, bin, ...args].map((a) => `'${a}'`).join(" ");
  const result = spawnSync("script", ["-qec", command, "/dev/null"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, TERM: "xterm-256color", ...env },
    timeout: 10_000,
  });
  return result.stdout;
}

describe("exit codes", () => {
  it("exits 64 with one line for an unknown flag", () => {
    const result = run(["--bogus"]);
    expect(result.status).toBe(ExitCode.USAGE);
    expect(result.stderr).toBe("ogdemo: unknown option '--bogus' (see ogdemo --help)\n");
    expect(result.stdout).toBe("");
  });

  it("exits 64 for an unknown command or a missing argument, with one line each", () => {
    const unknown = run(["frobnicate"]);
    expect(unknown.status).toBe(ExitCode.USAGE);
    expect(unknown.stderr).toBe("ogdemo: unknown command 'frobnicate' (see ogdemo --help)\n");
    const missing = run(["fail"]);
    expect(missing.status).toBe(ExitCode.USAGE);
    expect(missing.stderr).toBe("ogdemo: missing required argument 'kind' (see ogdemo --help)\n");
    const suggested = run(["--jsn"]);
    expect(suggested.stderr).toBe("ogdemo: unknown option '--jsn' (Did you mean --json?) (see ogdemo --help)\n");
  });

  it("prints help on stdout with the config keys and exit codes, and exits 0", () => {
    const result = run(["--help"]);
    expect(result.status).toBe(ExitCode.OK);
    expect(result.stdout).toContain("Usage: ogdemo");
    expect(result.stdout).toContain("demo.key");
    expect(result.stdout).toMatch(/Exit codes:\n {2}0 {3}success\n {2}64 {2}usage error/);
    // 70 is listed though ogdemo's exitCodes leaves it out: any tool exits 70 on an error it did not foresee
    // ("fail internal" below), so every --help says what it means.
    expect(result.stdout).toMatch(/\n {2}70 {2}internal error \(a bug: please report it\)\n/);
    expect(result.stderr).toBe("");
  });

  it("prints the version and exits 0", () => {
    expect(run(["--version"])).toMatchObject({ status: 0, stdout: "1.2.3\n" });
  });

  it.each([
    ["usage", ExitCode.USAGE, "ogdemo: --since must be a date (use YYYY-MM-DD)"],
    ["config", ExitCode.CONFIG, "ogdemo: invalid config: ldap.urls: required"],
    ["data", ExitCode.DATA_ERR, "ogdemo: line 3 is not an audit record"],
    ["noinput", ExitCode.NO_INPUT, "ogdemo: cannot read /nope"],
    ["unavailable", ExitCode.UNAVAILABLE, "ogdemo: LDAP is down"],
    ["tempfail", ExitCode.TEMP_FAIL, "ogdemo: Slack rate limited"],
    ["perm", ExitCode.NO_PERM, "ogdemo: bind refused"],
    ["io", ExitCode.IO_ERR, "ogdemo: disk full"],
    ["policy", ExitCode.FAILED, "ogdemo: 2 changes are noncompliant"],
  ])("maps a %s error to exit %i and one line", (kind, code, line) => {
    const result = run(["fail", kind]);
    expect(result.status).toBe(code);
    expect(result.stderr).toBe(`${line}\n`);
  });

  it("writes the error as one JSON line with --log-format json", () => {
    const result = run(["--log-format", "json", "fail", "config"]);
    expect(result.status).toBe(ExitCode.CONFIG);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({
      level: "error",
      tool: "ogdemo",
      msg: "invalid config: ldap.urls: required",
      exitCode: 78,
    });
  });

  it("reports an unexpected error as internal (70) without a stack trace", () => {
    const result = run(["fail", "internal"]);
    expect(result.status).toBe(ExitCode.SOFTWARE);
    expect(result.stderr).toBe(
      "ogdemo: internal error: cannot read properties of undefined (re-run with --verbose for details and please report it)\n",
    );
  });

  it("shows the stack with --verbose, with secrets still cut out", () => {
    const token = "xoxb-leaky-token-value";
    const quiet = run(["leak"], { OGDEMO_TOKEN: token });
    expect(quiet.status).toBe(ExitCode.SOFTWARE);
    expect(quiet.stderr).not.toContain(token);
    expect(quiet.stderr).toContain("server rejected [redacted]");
    const verbose = run(["-v", "leak"], { OGDEMO_TOKEN: token });
    expect(verbose.stderr).toMatch(/\n\s+at /);
    expect(verbose.stderr).not.toContain(token);
  });

  it("never prints a secret from the config, even at -vv", () => {
    const dir = mkdtempSync(join(tmpdir(), "opsguard-cli-"));
    const secret = "xoxb-config-secret-value";
    const good = join(dir, "good.yaml");
    writeFileSync(good, "server: ldaps://ldap.example.com\ntoken: env:OGDEMO_TOKEN\n");
    for (const format of ["human", "json"]) {
      const result = run(["-vv", "--log-format", format, "--config", good, "show-config"], { OGDEMO_TOKEN: secret });
      expect(result.status).toBe(ExitCode.OK);
      expect(result.stderr).toContain("config loaded");
      expect(result.stderr).toContain("would connect to ldaps://ldap.example.com with [redacted]");
      expect(result.stderr).not.toContain(secret);
    }
    const literal = join(dir, "literal.yaml");
    writeFileSync(literal, `server: ldaps://ldap.example.com\ntoken: ${secret}\nretries: "${secret}"\n`);
    const refused = run(["-vv", "--config", literal, "show-config"]);
    expect(refused.status).toBe(ExitCode.CONFIG);
    expect(refused.stderr).toMatch(/^ogdemo: invalid config in .*literal\.yaml: token: .*; retries: .*\n$/);
    expect(refused.stderr).not.toContain(secret);
    rmSync(dir, { recursive: true, force: true });
  });

  it("exits 78 with one line for a --config that is a FIFO nobody writes, instead of hanging", () => {
    const dir = mkdtempSync(join(tmpdir(), "opsguard-cli-"));
    const fifo = join(dir, "ogdemo.yaml");
    spawnSync("mkfifo", [fifo]);
    // run()'s 10 s timeout kills a hung bin: status null, not 78.
    const result = run(["--config", fifo, "show-config"]);
    expect(result.status).toBe(ExitCode.CONFIG);
    expect(result.stderr).toBe(`ogdemo: config file ${fifo} is a FIFO, not a regular file (--config must name a YAML or JSON file)\n`);
    expect(result.stdout).toBe("");
    rmSync(dir, { recursive: true, force: true });
  });

  it("treats a closed stdout as the reader being done, not as an error", async () => {
    const child = spawn(process.execPath, [bin, "flood"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += String(chunk);
    });
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(ExitCode.OK);
    expect(stderr).toBe("");
  });
});

describe("a stdout that must reach its reader (systemIO's stdoutRequired)", () => {
  /** The bin under sh, its fd 1 as `redirect` leaves it (a spawn cannot close fd 1: "ignore" is /dev/null read-write). */
  const runSh = (redirect: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync("sh", ["-c", `exec "$0" "$1" report ${redirect}`, process.execPath, bin], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, ...env },
      timeout: 10_000,
    });

  it("is exit 74 and one line when fd 1 was closed at start (>&-), where node's /dev/null took every write", () => {
    const closed = runSh(">&-", { OGDEMO_REPORT: "1" });
    expect([closed.status, closed.stderr]).toEqual([
      ExitCode.IO_ERR,
      "ogdemo: cannot write to stdout (EBADF: it was closed at start, or is /dev/null opened read-write as node leaves a closed one); the output is incomplete (write it with -o FILE)\n",
    ]);
    // a shell's >/dev/null is write-only: the user discarding it on purpose
    const discarded = runSh(">/dev/null", { OGDEMO_REPORT: "1" });
    expect([discarded.status, discarded.stderr]).toEqual([0, ""]);
    // and a data stream without the option is left as it was
    const stream = runSh(">&-");
    expect([stream.status, stream.stderr]).toEqual([0, ""]);
  });

  it("is exit 74 and one line when its reader left before it wrote (EPIPE), where a data stream ends quietly", async () => {
    const withReaderGone = async (env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, [bin, "report"], {
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH, ...env },
      });
      child.stdout.destroy();
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += String(chunk);
      });
      const [code] = (await once(child, "close")) as [number | null];
      return [code, stderr];
    };
    expect(await withReaderGone({ OGDEMO_REPORT: "1" })).toEqual([
      ExitCode.IO_ERR,
      "ogdemo: cannot write to stdout (EPIPE: its reader closed it); the output is incomplete (write it with -o FILE)\n",
    ]);
    expect(await withReaderGone({})).toEqual([ExitCode.OK, ""]);
  });
});

describe("spinner", () => {
  it("spins 80 wide on a terminal that reports 0 columns, and finishes (ora redrew forever; then it was silenced)", () => {
    const command = [process.execPath, bin, "spin"].map((a) => `'${a}'`).join(" ");
    const result = spawnSync("script", ["-qec", `stty cols 0 rows 0; ${command}`, "/dev/null"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, TERM: "xterm-256color" },
      timeout: 10_000,
      maxBuffer: 1024 * 1024,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("finished");
    expect(result.stdout).toContain("spun");
  });

  it("spins and succeeds on a sized terminal", () => {
    const command = [process.execPath, bin, "spin"].map((a) => `'${a}'`).join(" ");
    const result = spawnSync("script", ["-qec", `stty cols 80 rows 24; ${command}`, "/dev/null"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH, TERM: "xterm-256color" },
      timeout: 10_000,
    });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("spun");
  });
});

describe("colour", () => {
  it("uses no ANSI escapes when stderr is not a TTY", () => {
    const result = run(["style"]);
    expect(result.stderr).toContain("red text color=false");
    expect(result.stderr).toContain("ogdemo: warn: a warning");
    expect(result.stderr).not.toMatch(ANSI);
  });

  it("colours on a TTY, and honours NO_COLOR and --no-color there", () => {
    const coloured = runOnTty(["style"]);
    expect(coloured).toContain("color=true");
    expect(coloured).toMatch(ANSI);
    for (const output of [
      runOnTty(["style"], { NO_COLOR: "1" }),
      runOnTty(["--no-color", "style"]),
      runOnTty(["style"], { TERM: "dumb" }),
    ]) {
      expect(output).toContain("color=false");
      expect(output).not.toMatch(ANSI);
    }
  });
});
