import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent } from "@opsguard/lab/wait";
import { beforeAll, describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

/** T21 findings 3, 5 and 6 of the black-box tester: what a user of --format csv, -F and a config's passwd met. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-t21-"));
});

/** An execve event; comm, exe and argv logged as hex (so any byte can be in them), node= raw as the kernel's. */
function execve(serial: number, node: string, comm: string, exe: string, argv: string[]): string {
  const stamp = `msg=audit(1764600000.${String(serial).padStart(3, "0")}:${serial}):`;
  const n = `node=${node}`;
  return [
    `${n} type=SYSCALL ${stamp} arch=c000003e syscall=59 success=yes exit=0 pid=10 auid=1000 uid=1000 comm=${hex(comm)} exe=${hex(exe)}`,
    `${n} type=EXECVE ${stamp} argc=${argv.length} ${argv.map((a, i) => `a${i}=${hex(a)}`).join(" ")}`,
    `${n} type=EOE ${stamp}`,
  ].join("\n");
}

describe("finding 3: --format csv on a terminal", () => {
  it("escapes control and bidi characters as the text output does: no raw ESC, BEL, CR, LF or U+202E in a cell", async () => {
    const log = [
      execve(12, "evil\x1b[31mRED\x1b[0m", "e\x1b[2Jx", "/tmp/\x1b]0;pwned\x07x", ["id"]),
      execve(13, "cr\rforged", "id", "/usr/bin/id", ["sh", "-c", "echo \x1b[2J\x1b[Hhi\r\nFAKE type=SYSCALL"]),
      execve(14, "bidi\u202etxt.exe", "id", "C:\\x", ["=1+1", "a,b"]),
    ].join("\n");
    const r = await run(["--format", "csv", "--passwd", "/dev/null"], `${log}\n`);
    expect(r.code, r.stderr).toBe(0);
    // one line per row: a CR or LF from the log, even quoted, would forge a line on the terminal
    const rows = r.stdout.split("\n");
    expect(rows).toHaveLength(5);
    expect(r.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
    expect(rows[1]).toContain(",evil\\033[31mRED\\033[0m,12,");
    expect(rows[1]).toContain(",e\\033[2Jx,/tmp/\\033]0;pwned\\007x,");
    expect(rows[2]).toContain(",cr\\015forged,13,");
    expect(rows[2]).toMatch(/,sh -c echo \\033\[2J\\033\[Hhi\\015\\012FAKE type=SYSCALL$/);
    // the backslash doubled, as in the text output (an escape cannot be forged); formula protection and quoting kept
    expect(rows[3]).toContain(",bidi\\u202etxt.exe,14,");
    expect(rows[3]).toContain(",C:\\\\x,");
    expect(rows[3]).toMatch(/,"'=1\+1 a,b"$/);
  });

  it("still defuses a cell a spreadsheet would run as a formula", async () => {
    const r = await run(["--format", "csv", "--passwd", "/dev/null"], `${execve(20, "h", "=HYPERLINK(1)", "@x", ["-l"])}\n`);
    expect(r.stdout.split("\n")[1]).toMatch(/,'=HYPERLINK\(1\),'@x,,'-l$/);
  });
});

describe("finding 5: -F and a copytruncate that regrows the file past the old offset before the next poll", () => {
  it("reads the new content from its start, and does not blame the kernel for serials lost across the cut", async () => {
    const log = join(dir, "copytruncate.log");
    const login = (serial: number) =>
      `type=USER_LOGIN msg=audit(1700000000.${String(serial).padStart(3, "0")}:${serial}): pid=1 uid=0 auid=0 ses=1 msg='op=o${serial} res=success'\n`;
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => login(from + i)).join("");
    writeFileSync(log, range(1, 20));
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--follow", log], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const serials = () =>
      out
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).serial as number | null);
    const waitFor = (serial: number) => untilEvent(child.stdout, "data", () => serials().includes(serial), `serial ${serial} on stdout`);
    const failed = (error: unknown) => {
      child.kill("SIGKILL");
      throw new Error(`${String(error)}\nstdout: ${out}\nstderr: ${err}`);
    };
    await waitFor(20).catch(failed);
    // copied away and truncated (serials 21-30 in the copy only), then more appended than had been read, at once
    writeFileSync(log, range(31, 80));
    await waitFor(80).catch(failed);
    const exited = new Promise((resolve) => child.on("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(serials()).toEqual([...Array.from({ length: 20 }, (_, i) => i + 1), ...Array.from({ length: 50 }, (_, i) => i + 31)]);
    expect(err).toContain("copytruncate.log: file truncated, reading it again from its start");
    expect(err).not.toMatch(/events missing|malformed/);
  });
});

describe("finding 6: a passwd or group file that cannot be read", () => {
  it("is a configuration error (exit 78), from the config or a flag; 66 stays the audit input's", async () => {
    const config = join(dir, "config.yaml");
    // a directory: unreadable as a file for root too
    writeFileSync(config, `passwd: ${dir}\n`);
    const input = 'type=EXECVE msg=audit(1700000000.000:6): argc=1 a0="ls"\n';
    const fromConfig = await run(["--config", config, "--format", "text"], input);
    expect([fromConfig.code, fromConfig.stdout, fromConfig.stderr.split("\n")[0]]).toEqual([
      78,
      "",
      expect.stringContaining(`passwd file ${dir} is a directory, not a regular file`),
    ]);
    expect(fromConfig.stderr).toContain("passwd/group config key");
    const fromFlag = await run(["--group", join(dir, "missing-group")], input);
    expect([fromFlag.code, fromFlag.stdout]).toEqual([78, ""]);
    expect((await run(["--passwd", "/dev/null", join(dir, "missing.log")], "")).code).toBe(66);
  });
});
