import { spawnSync } from "node:child_process";
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { rotationOrder } from "../src/input";
import { serials, userCmd } from "./events-log";
import { runAuditdParse as run } from "./in-process";

/** T34 findings of the independent tester about inputs, outputs and arguments: what a user of the bin met. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const EXEC = readFileSync(new URL("golden/exec.log", import.meta.url), "utf8");

/**
 * The CLI as a process, for runs that blocked or looped before their fix: a FIFO held open() (no signal gets
 * through a thread blocked there, hence SIGKILL) and -F read its own output. The time limit only ends such a run
 * (its status is then null), it is not what is tested.
 */
function spawned(args: string[], input = "") {
  return spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    input,
    encoding: "utf8",
    timeout: 20_000,
    killSignal: "SIGKILL",
  });
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "auditd-parse-t34-"));
}

describe("finding 4: --passwd/--group that is no regular file is refused at once (78), as --config is", () => {
  it("a FIFO by flag or config key, or a file over 16 MiB: one line, exit 78, nothing on stdout (a FIFO held open() for ever)", () => {
    const dir = tempDir();
    const log = join(dir, "exec.log");
    writeFileSync(log, EXEC);
    const fifo = join(dir, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const config = join(dir, "config.yaml");
    writeFileSync(config, `group: ${fifo}\n`);
    // sparse: its size is what is refused, before a byte is read (it read 17 MB of NULs and went on)
    const huge = join(dir, "passwd");
    writeFileSync(huge, "");
    truncateSync(huge, 17 << 20);
    for (const [args, line] of [
      [["--passwd", fifo], `auditd-parse: passwd file ${fifo} is a FIFO, not a regular file`],
      [["--group", fifo], `auditd-parse: group file ${fifo} is a FIFO, not a regular file`],
      [["--config", config], `auditd-parse: group file ${fifo} is a FIFO, not a regular file`],
      [["sessions", "--passwd", fifo], `auditd-parse: passwd file ${fifo} is a FIFO, not a regular file`],
      [["--passwd", huge], `auditd-parse: passwd file ${huge} is 17825792 bytes, over the 16777216-byte limit`],
    ] as const) {
      const r = spawned([...args, log]);
      expect([r.status, r.stdout, r.stderr.split("\n").length, r.stderr], args.join(" ")).toEqual([
        78,
        "",
        2,
        expect.stringContaining(line),
      ]);
    }
  }, 120_000);

  it("the plugin refuses it at start, not at the first event that names an id", () => {
    const dir = tempDir();
    const fifo = join(dir, "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // no event at all: the feed ends at once, and the refusal must still be there
    const r = spawned(["plugin", "--passwd", fifo]);
    expect([r.status, r.stderr]).toEqual([78, expect.stringContaining(`passwd file ${fifo} is a FIFO, not a regular file`)]);
  }, 60_000);

  it("/dev/null stays the empty passwd it reads as: no names, exit 0", async () => {
    const r = await run(["--passwd", "/dev/null", "--group", "/dev/null"], EXEC);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(JSON.parse(r.stdout.split("\n")[0]!)).toMatchObject({ uid: "1000", names: "local" });
  });
});

describe("finding 8: -o naming one of the inputs is refused (64), with or without -F", () => {
  it("by its own name, a symbolic link or a hard link: one line naming both, the log left as it was", async () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, EXEC);
    symlinkSync(log, join(dir, "link.json"));
    linkSync(log, join(dir, "hard.json"));
    for (const out of [log, join(dir, "link.json"), join(dir, "hard.json")]) {
      // without -F the appended events were read back as soon as the output passed one buffer (GBs in seconds)
      for (const args of [
        ["-o", out, log],
        ["sessions", "--format", "html", "-o", out, log],
        ["detect", "-o", out, log],
      ]) {
        const r = await run(args);
        expect([r.code, r.stdout, r.stderr], args.join(" ")).toEqual([
          64,
          "",
          `auditd-parse: input file ${log} is the output file (-o ${out}) (give -o another path: what it appends would be read back as input, a page would replace the log)\n`,
        ]);
      }
    }
    expect(readFileSync(log, "utf8")).toBe(EXEC);
  });

  it("-F -o FILE FILE ends at once with 64 (it read its own output until the disk was full)", () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, EXEC);
    const r = spawned(["-F", "-o", log, log]);
    expect([r.status, r.stderr]).toEqual([64, expect.stringContaining(`input file ${log} is the output file (-o ${log})`)]);
    expect(statSync(log).size).toBe(Buffer.byteLength(EXEC));
  }, 60_000);

  it("stdin that is the -o file is refused too; /dev/null on both sides is no loop", () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, EXEC);
    const same = spawnSync("sh", ["-c", 'exec "$0" --import tsx "$1" -o "$2" < "$2"', process.execPath, CLI, log], { encoding: "utf8" });
    expect([same.status, same.stderr]).toEqual([64, expect.stringContaining(`stdin is the output file (-o ${log})`)]);
    expect(readFileSync(log, "utf8")).toBe(EXEC);
    const devNull = spawnSync("sh", ["-c", 'exec "$0" --import tsx "$1" -o /dev/null < /dev/null', process.execPath, CLI], {
      encoding: "utf8",
    });
    expect([devNull.status, devNull.stderr]).toEqual([0, ""]);
  }, 60_000);

  it("a stdout redirected into one of the inputs (> log, >> log, < log >> log) is refused too (T35 N1)", () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, EXEC);
    // `auditd-parse * > events.json` run a second time, or `auditd-parse log >> log`: GBs in seconds before
    for (const [script, who] of [
      ['exec "$0" --import tsx "$1" "$2" >> "$2"', `input file ${log}`],
      ['exec "$0" --import tsx "$1" -F "$2" >> "$2"', `input file ${log}`],
      ['exec "$0" --import tsx "$1" < "$2" >> "$2"', "stdin"],
    ] as const) {
      const r = spawnSync("sh", ["-c", script, process.execPath, CLI, log], { encoding: "utf8", timeout: 20_000, killSignal: "SIGKILL" });
      expect([r.status, r.stderr], script).toEqual([64, expect.stringContaining(`${who} is where standard output goes`)]);
    }
    expect(readFileSync(log, "utf8")).toBe(EXEC);
    // another file, a pipe, /dev/null: written as before
    const other = spawnSync("sh", ["-c", 'exec "$0" --import tsx "$1" "$2" > "$3"', process.execPath, CLI, log, join(dir, "events.json")], {
      encoding: "utf8",
    });
    expect([other.status, other.stderr]).toEqual([0, ""]);
    expect(readFileSync(join(dir, "events.json"), "utf8")).toContain('"types":["SYSCALL"');
  }, 60_000);
});

describe("finding 11: a file given twice is read once, with one warning naming it", () => {
  it("repeated, through a symbolic link or a hard link: the events of one copy (doubled or merged before)", async () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, EXEC);
    symlinkSync(log, join(dir, "link.log"));
    linkSync(log, join(dir, "hard.log"));
    const once = await run([log]);
    expect(once.code).toBe(0);
    for (const other of [log, join(dir, "link.log"), join(dir, "hard.log")]) {
      const r = await run([log, other]);
      const said = other === log ? `${log} is given twice: read once` : `${other} is the same file as ${log}: read once`;
      expect([r.code, r.stdout, r.stderr]).toEqual([0, once.stdout, `auditd-parse: warn: ${said}\n`]);
    }
    // two different files are both read
    const copy = join(dir, "copy.log");
    writeFileSync(copy, EXEC);
    expect((await run([log, copy])).stdout).toBe(once.stdout + once.stdout);
  });
});

describe("finding 10: logrotate's dateext names are read oldest first, before the live log", () => {
  it("`audit.log*` as a shell expands it (the live log first) gives a timeline that never goes backwards", async () => {
    const dir = join(tempDir(), "rot");
    mkdirSync(dir);
    const lines = (from: number) => `${[from, from + 1, from + 2].map(userCmd).join("\n")}\n`;
    writeFileSync(join(dir, "audit.log-20240101.gz"), gzipSync(lines(1)));
    writeFileSync(join(dir, "audit.log-20240102"), lines(4));
    writeFileSync(join(dir, "audit.log"), lines(7));
    // a shell's glob order
    const glob = ["audit.log", "audit.log-20240101.gz", "audit.log-20240102"].map((f) => join(dir, f));
    const r = await run(glob);
    expect([r.code, r.stderr, serials(r.stdout)]).toEqual([0, "", [1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });

  it("one ordering for both schemes: the higher .N and the earlier date are older; other names keep their place", () => {
    expect(
      rotationOrder([
        "audit.log",
        "audit.log-2024010212",
        "x.log",
        "audit.log-20240102.gz",
        "audit.log-2024010123",
        "audit.log.1",
        "audit.log.2.gz",
      ]),
    ).toEqual([
      "audit.log.2.gz",
      "audit.log.1",
      "audit.log-2024010123",
      "audit.log-20240102.gz",
      "audit.log-2024010212",
      "audit.log",
      "x.log",
    ]);
  });
});

describe("finding 13: usage and output nits", () => {
  it("-o on a directory or a full disk: one line in the tool's words with a fix (was Node's raw text)", async () => {
    const dir = tempDir();
    const toDir = await run(["-o", dir], EXEC);
    expect([toDir.code, toDir.stderr]).toEqual([74, `auditd-parse: cannot write ${dir}: it is a directory (give a file name)\n`]);
    const full = await run(["-o", "/dev/full"], EXEC);
    expect([full.code, full.stderr]).toEqual([
      74,
      "auditd-parse: cannot write /dev/full: no space left on its device (ENOSPC) (free space on that file system, or give a path on another one)\n",
    ]);
  });

  it("a mistyped subcommand that is no file is a usage error naming the command (was read as a missing log, exit 65)", async () => {
    const dir = tempDir();
    const log = join(dir, "ok.log");
    writeFileSync(log, EXEC);
    const r = await run(["session", log]);
    expect([r.code, r.stdout, r.stderr]).toEqual([
      64,
      "",
      'auditd-parse: unknown command "session", and no file has that name (did you mean sessions? see auditd-parse sessions --help)\n',
    ]);
    expect((await run(["reprot", log])).stderr).toContain("did you mean report?");
    // a file of that name is a log like any other
    const named = join(dir, "session");
    writeFileSync(named, EXEC);
    // run in dir, where "tsx" is no package name to import: its loader by path
    const tsx = createRequire(import.meta.url).resolve("tsx");
    const file = spawnSync(process.execPath, ["--import", tsx, CLI, "session"], { cwd: dir, encoding: "utf8" });
    expect([file.status, file.stderr]).toEqual([0, ""]);
    expect(file.stdout).toBe((await run([log])).stdout);
  }, 30_000);

  it("--pid/--ppid that are no number, and --since not before --until: 64 (matched nothing, exit 0)", async () => {
    for (const [args, line] of [
      [["--pid", "abc"], 'auditd-parse: --pid "abc" is not a process id (use a number such as 1234)\n'],
      [["--ppid", "900,x"], 'auditd-parse: --ppid "x" is not a process id (use a number such as 1234)\n'],
      [
        ["--since", "2030-01-01", "--until", "2000-01-01"],
        'auditd-parse: --since "2030-01-01" is not before --until "2000-01-01": no event can match (swap them: --since is the start, --until the end)\n',
      ],
    ] as const) {
      const r = await run([...args], EXEC);
      expect([r.code, r.stdout, r.stderr], args.join(" ")).toEqual([64, "", line]);
    }
    expect(serials((await run(["--pid", "901", "--since", "2000-01-01", "--until", "2030-01-01"], EXEC)).stdout)).toEqual([500]);
  });

  it("-o given twice is a usage error, no file written (the last won, the first silently not written)", async () => {
    const dir = tempDir();
    const [a, b] = [join(dir, "a.json"), join(dir, "b.json")];
    for (const args of [
      ["-o", a, "-o", b],
      ["sessions", "-o", a, "--output", b],
      ["detect", "-o", a, "-o", b],
    ]) {
      const r = await run(args, EXEC);
      expect([r.code, r.stderr], args.join(" ")).toEqual([
        64,
        `auditd-parse: -o/--output given twice (${a}, ${b}) (give one output file: the output is written to one place)\n`,
      ]);
    }
    expect([lstatSync(a, { throwIfNoEntry: false }), lstatSync(b, { throwIfNoEntry: false })]).toEqual([undefined, undefined]);
  });

  it("a page to -o through a dangling symbolic link creates its target, as the appended formats do (it replaced the link)", async () => {
    const dir = tempDir();
    symlinkSync("page.html", join(dir, "page.lnk"));
    symlinkSync("events.json", join(dir, "events.lnk"));
    const page = await run(["sessions", "--format", "html", "-o", join(dir, "page.lnk")], EXEC);
    const events = await run(["-o", join(dir, "events.lnk")], EXEC);
    expect([page.code, page.stderr, events.code, events.stderr]).toEqual([0, "", 0, ""]);
    for (const [link, target] of [
      ["page.lnk", "page.html"],
      ["events.lnk", "events.json"],
    ] as const)
      expect([lstatSync(join(dir, link)).isSymbolicLink(), statSync(join(dir, target)).isFile()], link).toEqual([true, true]);
    expect(readFileSync(join(dir, "page.html"), "utf8")).toMatch(/^<!doctype html>/i);
  });
});
