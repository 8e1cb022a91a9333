import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, renameSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { gzipSync } from "node:zlib";
import { untilEvent } from "@opsguard/lab/wait";
import { describe, expect, it } from "vitest";
import { type AuditEvent, AuditParser } from "../src/index";
import { runAuditdParse } from "./in-process";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

/** A run in-process (issue #21), in spawnSync's shape ({ status, stdout, stderr }): the assertions read as before. */
async function inProcess(args: string[], options: { input?: string | Buffer } = {}) {
  const r = await runAuditdParse(args, options.input);
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** Findings of a black-box try (findings-auditd.md): each test fails without its fix. */

/** Each event's NDJSON line, parsed; the log is given as bytes (it may not be UTF-8). */
function events(log: Buffer): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const parser = new AuditParser((_e: AuditEvent, json) => out.push(JSON.parse(String(json))), {});
  // odd chunk sizes: lines and byte sequences split across chunks
  for (let i = 0; i < log.length; i += 37) parser.pushBytes(log.subarray(i, i + 37));
  parser.end();
  return out;
}

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
type Rec = { type: string; fields: Record<string, unknown>; raw?: Record<string, string> };

describe("finding 1: quoted EXECVE chunks", () => {
  it("joins quoted aN[i] chunks without their quotes, in index order", () => {
    const log = [
      'type=EXECVE msg=audit(1700000000.000:10): argc=3 a0="x" a1_len=4 a1[0]="ab" a1[1]="cd" a2_len=6 a2[1]="de" a2[0]="ab" a2[2]=6667',
      "type=EOE msg=audit(1700000000.000:10):",
      "",
    ].join("\n");
    expect(events(Buffer.from(log))[0]!.argv).toEqual(["x", "abcd", "abdefg"]);
  });

  it("joins chunks spread over two EXECVE records by index (text path: a record with free text)", () => {
    const log = [
      'type=EXECVE msg=audit(1700000000.000:11): argc=2 a0="x" a1_len=6 a1[1]="cd"',
      'type=EXECVE msg=audit(1700000000.000:11): a1[0]="ab" a1[2]=6566 odd words',
      "type=EOE msg=audit(1700000000.000:11):",
      "",
    ].join("\n");
    expect(events(Buffer.from(log))[0]!.argv).toEqual(["x", "abcdef"]);
  });
});

describe("finding 3: invalid UTF-8 in quoted values stays recoverable as hex", () => {
  const stamp = "msg=audit(1700000000.000:1):";
  it("argvRaw, proctitleRaw and raw hold the exact bytes of quoted values (byte path)", () => {
    const log = bytes(
      `type=EXECVE ${stamp} argc=3 a0="x" a1="y`,
      [0xff],
      `z" a2_len=2 a2[0]="`,
      [0xfe],
      `" a2[1]="q"\ntype=PROCTITLE ${stamp} proctitle="p`,
      [0xff],
      `q"\ntype=SYSCALL ${stamp} arch=c000003e syscall=59 comm="c`,
      [0xff],
      `" key="k`,
      [0xff],
      `"\ntype=USER_ACCT ${stamp} pid=1 uid=0 msg='op=PAM acct="a`,
      [0xff],
      `" res=success'\ntype=EOE ${stamp}\n`,
    );
    const e = events(log)[0]!;
    expect(e.argv).toEqual(["x", "y\uFFFDz", "\uFFFDq"]);
    expect(e.argvRaw).toEqual({ "1": "79FF7A", "2": "FE71" });
    expect(e.proctitleRaw).toBe("70FF71");
    const recs = e.records as Rec[];
    expect(recs[2]!.raw).toMatchObject({ comm: "63FF", key: "6BFF" });
    expect(recs[3]!.raw).toMatchObject({ acct: "61FF" });
    expect(Buffer.from(recs[3]!.raw!.acct!, "hex")).toEqual(bytes("a", [0xff]));
  });

  it("the text tokenizer keeps them too (msg='…' repeating an outer name, free text)", () => {
    const log = bytes(
      `type=EXECVE ${stamp} argc=2 a0="x" a1="y`,
      [0xff],
      `z" stray words\ntype=USER_CMD ${stamp} pid=1 uid=0 msg='pid=2 acct="a`,
      [0xc3],
      `" res=success'\ntype=EOE ${stamp}\n`,
    );
    const e = events(log)[0]!;
    expect(e.argvRaw).toEqual({ "1": "79FF7A" });
    expect((e.records as Rec[])[1]!.raw).toMatchObject({ acct: "61C3" });
  });

  it("valid UTF-8 in quoted values carries no raw", () => {
    const e = events(Buffer.from(`type=EXECVE ${stamp} argc=2 a0="x" a1="caf\u00e9"\ntype=EOE ${stamp}\n`))[0]!;
    expect(e.argvRaw).toBeUndefined();
  });
});

describe("finding 4: gzip on stdin", () => {
  it("decompresses gzip content read from stdin (by its magic bytes), and tells corrupt gzip in one line", async () => {
    const log = 'type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes comm="ls"\n';
    const r = await inProcess(["-"], { input: gzipSync(log) });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ serial: 5, syscall: "execve", comm: "ls" });
    const corrupt = await inProcess([], { input: gzipSync(log).subarray(0, 20) });
    // what could be recovered is written (as zcat does), the cut named, and the run marked incomplete (65)
    expect([corrupt.status, corrupt.stderr.split("\n")[0]]).toEqual([65, expect.stringContaining("truncated gzip")]);
    const garbage = await inProcess([], {
      input: Buffer.from([0x1f, 0x8b, 0, 0, 1, 2, 3]),
    });
    expect([garbage.status, garbage.stderr.trim().split("\n").length]).toEqual([66, 1]);
  });
});

describe("finding 2: sudo's USER_CMD in human formats and sessions", () => {
  const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();
  const log = [
    'type=USER_START msg=audit(1700000000.000:1): pid=10 uid=0 auid=1000 ses=5 msg=\'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" hostname=9.9.9.9 addr=9.9.9.9 terminal=ssh res=success\'',
    `type=USER_CMD msg=audit(1700000002.000:7): pid=30 uid=1000 auid=1000 ses=5 msg='cwd="/home/alice" cmd=${hex("rm -rf /")} exe="/usr/bin/sudo" terminal=pts/0 res=failed'`,
    "",
  ].join("\n");
  const cli = (args: string[]) => inProcess(args, { input: log });

  it("text and table show the decoded cmd= and cwd= of a USER_CMD", async () => {
    for (const format of ["text", "table"]) {
      const line = (await cli(["--format", format])).stdout.split("\n").find((l) => l.includes("USER_CMD"));
      expect(line, format).toContain("cwd=/home/alice cmd=rm -rf /");
    }
  });

  it("a sudo command refused (res=failed) is listed in its session, marked failed", async () => {
    const sessions = JSON.parse((await cli(["sessions", "--json"])).stdout) as { ses: string; commands: Record<string, unknown>[] }[];
    expect(sessions.find((s) => s.ses === "5")!.commands).toEqual([
      expect.objectContaining({ argv: ["rm -rf /"], via: "/usr/bin/sudo", cwd: "/home/alice", success: false }),
    ]);
    expect((await cli(["sessions"])).stdout).toContain("cmd  rm -rf /  (via /usr/bin/sudo)  (cwd /home/alice) (failed)");
  });
});

describe("finding 7: options that cannot match or do nothing are usage errors", () => {
  const log = 'type=SYSCALL msg=audit(1700000000.000:5): arch=c000003e syscall=59 success=yes uid=1000 comm="ls"\n';
  const cli = (args: string[]) => inProcess(args, { input: log });

  it("exits 64 with one line on an unknown --syscall, a malformed --event, --from-end without -F", async () => {
    for (const [args, says] of [
      [["--syscall", "nosuch"], '--syscall "nosuch" is not a syscall name or number'],
      [["--event", "x:y"], '--event "x:y" is not an event serial or id'],
      [["--from-end"], "--from-end needs --follow"],
    ] as const) {
      const r = await cli([...args]);
      expect([r.status, r.stdout, r.stderr.split("\n")[0]], args.join(" ")).toEqual([64, "", expect.stringContaining(says)]);
    }
    // the valid forms still match
    expect(JSON.parse((await cli(["--syscall", "execve", "--event", "1700000000.000:5"])).stdout).serial).toBe(5);
    expect(JSON.parse((await cli(["--syscall", "59", "--event", "5"])).stdout).serial).toBe(5);
  });

  it("an unreadable --passwd fails up front with 78 (a configuration error, not the audit input), before any output, even when no uid needs a name", async () => {
    const r = await inProcess(["--passwd", "/nonexistent/passwd", "--format", "text"], {
      input: 'type=EXECVE msg=audit(1700000000.000:6): argc=1 a0="ls"\n',
    });
    expect([r.status, r.stdout, r.stderr.split("\n")[0]]).toEqual([78, "", expect.stringContaining("cannot read /nonexistent/passwd")]);
  });
});

describe("finding 9: a msg='…' pair whose name the record repeats outside msg", () => {
  it("is read as its name is (cmd= hex decoded under msg.cmd), and a failed res beside a successful one fails the event", () => {
    const log = Buffer.from(
      "type=USER_CMD msg=audit(1700000005.000:70): pid=5 uid=1000 auid=1000 ses=3 msg='cwd=\"/home/u\" cmd=6C73 terminal=pts/0 res=success' cmd=xx res=failed\n",
    );
    const e = events(log)[0]!;
    const fields = (e.records as Rec[])[0]!.fields;
    expect(fields).toMatchObject({ "msg.cmd": "ls", "msg.res": "success", res: "failed" });
    expect((e.records as Rec[])[0]!.raw).toMatchObject({ "msg.cmd": "6C73" });
    expect(e.success).toBe(false);
  });
});

describe("finding 10: lines over 4 MiB", () => {
  it("are counted as cut, and the value cut in half is dropped, not decoded as a shorter argument", () => {
    const hexArg = "41".repeat(2.5 * 1024 * 1024); // 5 MiB of hex: "AAAA…"
    const log = Buffer.from(
      `type=EXECVE msg=audit(1700000000.000:3): argc=3 a0="x" a1=${hexArg} a2="y"\ntype=EOE msg=audit(1700000000.000:3):\n`,
    );
    const out: AuditEvent[] = [];
    const parser = new AuditParser((e) => out.push(e), {});
    for (let i = 0; i < log.length; i += 65536) parser.pushBytes(log.subarray(i, i + 65536));
    parser.end();
    expect(parser.stats.cut).toBe(1);
    const argv = out.find((e) => e.serial === 3)!.argv!;
    expect(argv[0]).toBe("x");
    // the cut half of a1 is neither its hex nor a shorter "AAA…" argument
    expect(argv.slice(1).every((a) => a === "")).toBe(true);
  });
});

describe("finding 8: exit on signals outside follow mode", () => {
  it("--help documents 130/143 and what a killed run leaves in the -o file", async () => {
    // --help wraps to the terminal: a phrase may span lines.
    const help = (await inProcess(["--help"])).stdout.replace(/\s+/g, " ");
    expect(help).toContain("130 (SIGINT) or 143 (SIGTERM)");
    expect(help).toContain("an -o file then holds only what was written so far");
  });

  it("--help's exit code table lists 130 and 143, as the README's does", async () => {
    const help = (await inProcess(["--help"])).stdout;
    const table = help.split("\nExit codes:\n")[1] ?? "";
    expect(table).toMatch(/^ {2}130 interrupted \(SIGINT, Ctrl-C\) outside -F$/m);
    expect(table).toMatch(/^ {2}143 terminated \(SIGTERM\) outside -F and the plugin$/m);
  });
});

describe("finding 11: human output", () => {
  it("escapes line separators and zero-width characters; a table cell is cut between escapes", async () => {
    const { escapeControls } = await import("../src/escape");
    const { formatRow } = await import("../src/format");
    expect(escapeControls("a\u2028b\u200bc\ufeffd\u2060")).toBe("a\\u2028b\\u200bc\\ufeffd\\u2060");
    const e = events(Buffer.from("type=SYSCALL msg=audit(1700000000.000:1): syscall=59 comm=1B5B33316D5245441B5B306D\n"))[0]!;
    const identity = { red: (s: string) => s } as unknown as Parameters<typeof formatRow>[1];
    const row = formatRow(e as unknown as Parameters<typeof formatRow>[0], identity);
    // COMM is 14 wide: "\033[31mRED\033[0m" (18) is cut after RED, never to "…RED\03…"
    expect(row).not.toMatch(/\\[0-7]{0,2}…/);
    expect(row).toContain("\\033[31mRED");
  });

  it("escapes every character that renders as nothing or as a plain space: soft hyphen, tags, variation selectors, fillers, no-break spaces (T34 #12, T35 N11)", async () => {
    // /tmp/ls followed by each invisible character: as logged (hex, as the kernel writes a name with a byte over 0x7e)
    const invisible = [
      "\u00ad",
      "\u034f",
      "\u180e",
      "\u3164",
      "\ufe0f",
      "\ufff9",
      "\u{e0041}",
      "\u{e0020}",
      "\u00a0",
      "\u2007",
      "\u3000",
      "\u2800",
    ];
    const exe = `/tmp/ls${invisible.join("")}`;
    const log = `type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=7 auid=0 uid=0 comm="ls" exe=${Buffer.from(exe).toString("hex").toUpperCase()}\n`;
    for (const format of ["text", "csv"]) {
      const out = (await inProcess(["--format", format, "--no-color"], { input: log })).stdout;
      for (const c of invisible) expect(out).not.toContain(c);
      expect(out).toContain("/tmp/ls\\u00ad\\u034f\\u180e\\u3164\\ufe0f\\ufff9\\udb40\\udc41\\udb40\\udc20\\u00a0\\u2007\\u3000\\u2800");
    }
    // what renders stays: accents, CJK, emoji without selectors
    const { escapeControls } = await import("../src/escape");
    expect(escapeControls("café 日本 🙂")).toBe("café 日本 🙂");
  });
});

describe("finding 6: follow mode", () => {
  const line = (n: number) => `type=USER_LOGIN msg=audit(1700000000.000:${n}): pid=1 uid=0 auid=0 ses=1 msg='op=o${n} res=success'\n`;

  it("waits when the followed file is replaced by a directory, and reads the file that comes back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-findings-"));
    const log = join(dir, "audit.log");
    writeFileSync(log, line(1));
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "--follow", log], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    let exited: number | null | undefined;
    child.on("exit", (code) => {
      exited = code;
    });
    const waitFor = (n: number) =>
      untilEvent(child.stdout, "data", () => out.split("\n").filter(Boolean).length >= n, `${n} events on stdout`);
    await waitFor(1);
    renameSync(log, `${log}.1`);
    mkdirSync(log);
    // several polls (250 ms each) see the directory: a real wait, the follower's clock is its own
    await delay(1500);
    expect(exited).toBeUndefined();
    rmdirSync(log);
    writeFileSync(log, line(2));
    await waitFor(2);
    child.kill("SIGTERM");
    const code = exited !== undefined ? exited : await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(
      out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).serial),
    ).toEqual([1, 2]);
  });

  it("refuses a FIFO with one line naming it and how to read it (exit 66), without blocking on it", () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-findings-"));
    const fifo = join(dir, "pipe");
    spawnSync("mkfifo", [fifo]);
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "-F", fifo], { encoding: "utf8", timeout: 20_000 });
    expect([r.status, r.stderr.split("\n")[0]]).toEqual([66, expect.stringContaining("is not a regular file")]);
    expect(r.stderr).toContain(`auditd-parse < ${fifo}`);
  });
});
