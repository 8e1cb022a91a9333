import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

/** T27 findings of the independent tester: what a user of the installed bin met. */

const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const EXEC = readFileSync(new URL("golden/exec.log", import.meta.url));
const { NODE_OPTIONS: _workspaceConditions, ...userEnv } = process.env;

describe("finding 1: gzip on a pipe or FIFO named as a file is decompressed, as on stdin", () => {
  const gz = gzipSync(EXEC);

  it("`cat x.gz | auditd-parse /dev/stdin` and a FIFO give the events of the plain log (were lines of compressed bytes, exit 0)", async () => {
    expect(existsSync(BUNDLE), `${BUNDLE}: run "node scripts/build.mjs auditd-parse" first`).toBe(true);
    const plain = spawnSync(process.execPath, [BUNDLE, "-"], { input: EXEC, encoding: "utf8", env: userEnv });
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).not.toBe("");
    // a shell's pipe, and a socket (node's spawn gives one: Linux cannot open it by name, ENXIO)
    const gzFile = join(mkdtempSync(join(tmpdir(), "auditd-parse-t27-gz-")), "exec.log.gz");
    writeFileSync(gzFile, gz);
    const shellPipe = spawnSync("sh", ["-c", 'cat "$2" | exec "$0" "$1" /dev/stdin', process.execPath, BUNDLE, gzFile], {
      encoding: "utf8",
      env: userEnv,
    });
    expect([shellPipe.status, shellPipe.stderr, shellPipe.stdout]).toEqual([0, "", plain.stdout]);
    for (const name of ["/dev/stdin", "/dev/fd/0"]) {
      const socket = spawnSync(process.execPath, [BUNDLE, name], { input: gz, encoding: "utf8", env: userEnv });
      expect([socket.status, socket.stderr, socket.stdout], name).toEqual([0, "", plain.stdout]);
    }

    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-t27-"));
    const fifo = join(dir, "feed");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const writer = spawn("sh", ["-c", 'cat > "$0"', fifo], { stdio: ["pipe", "ignore", "ignore"] });
    writer.stdin.end(gz);
    const viaFifo = await run([fifo]);
    expect([viaFifo.code, viaFifo.stderr, viaFifo.stdout]).toEqual([0, "", plain.stdout]);
  }, 30_000);
});

describe("finding 4: run from a directory that was removed", () => {
  it("reads the log as anywhere else (was exit 70, `internal error: ENOENT … uv_cwd` from the config search)", () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-t27-cwd-"));
    const gone = join(dir, "gone");
    mkdirSync(gone);
    const log = join(dir, "exec.log");
    writeFileSync(log, EXEC);
    const r = spawnSync("sh", ["-c", 'cd "$1" && rmdir "$1" && exec "$0" "$2" "$3"', process.execPath, gone, BUNDLE, log], {
      encoding: "utf8",
      env: userEnv,
    });
    expect([r.status, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toContain('"types":["SYSCALL"');
  });
});

describe("T28 #2: a run that could read nothing writes no csv or table header either", () => {
  it("`--format csv missing.log`: exit 66, nothing on stdout (was the header line); an empty log still has its header", async () => {
    const missing = join(mkdtempSync(join(tmpdir(), "auditd-parse-t28-")), "missing.log");
    for (const format of ["csv", "table"]) {
      const none = await run(["--format", format, missing]);
      expect([none.code, none.stdout], format).toEqual([66, ""]);
      const empty = await run(["--format", format], "");
      expect([empty.code, empty.stdout.split("\n").length], format).toEqual([0, 2]);
      const one = await run(["--format", format], EXEC);
      expect(one.stdout.split("\n")[0], format).toBe(empty.stdout.split("\n")[0]);
    }
  });
});
