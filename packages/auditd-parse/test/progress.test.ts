import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Progress on stderr while reading (issue #25), tested under a pseudo-terminal from util-linux script(1): it is
 * there on a terminal and absent when stderr is a pipe, with --quiet, or under NO_COLOR. The input is held open
 * on stdin for 3 s (progress appears only for runs over a second, and tsx takes its time to start on a busy
 * machine); the four runs go in parallel.
 */
const exec = promisify(execFile);
const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const ROOT = new URL("../../..", import.meta.url).pathname;
let dir: string;
let log: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-progress-"));
  log = join(dir, "audit.log");
  const lines: string[] = [];
  for (let i = 1; i <= 2000; i++)
    lines.push(
      `type=SYSCALL msg=audit(1700000000.${String(i % 1000).padStart(3, "0")}:${i}): arch=c000003e syscall=59 success=yes exit=0 pid=${i} auid=1000 uid=1000 ses=1 comm="ls" exe="/usr/bin/ls"`,
      `type=EOE msg=audit(1700000000.${String(i % 1000).padStart(3, "0")}:${i}):`,
    );
  writeFileSync(log, `${lines.join("\n")}\n`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (extra: Record<string, string> = {}) => {
  const e: NodeJS.ProcessEnv = { ...process.env, TERM: "xterm", ...extra };
  if (!("NO_COLOR" in extra)) delete e.NO_COLOR;
  return e;
};
const command = (flags: string, stdout = "> /dev/null") =>
  `(cat '${log}'; sleep 3) | '${process.execPath}' --conditions=@opsguard/source --import tsx '${CLI}' ${flags} - ${stdout}`;

/** Runs the command on a pseudo-terminal 120 columns wide; resolves to what the terminal showed. */
async function onTerminal(flags: string, extra: Record<string, string> = {}, stdout?: string): Promise<string> {
  const r = await exec("script", ["-qfec", `stty cols 120 rows 40; ${command(flags, stdout)}`, "/dev/null"], {
    cwd: ROOT,
    env: env(extra),
    encoding: "utf8",
    timeout: 30_000,
  });
  return r.stdout;
}

let shown: Promise<string>;
let quiet: Promise<string>;
let noColor: Promise<string>;
let piped: Promise<{ stdout: string; stderr: string }>;
let toScreen: Promise<string>;
let toFile: Promise<string>;
let hostileName: Promise<string>;
let zeroColumns: Promise<string>;
beforeAll(() => {
  // script(1) started from a non-terminal (cron, CI, this test runner) gives its pty 0 columns and 0 rows
  zeroColumns = exec("script", ["-qfec", `stty cols 0 rows 0; ${command("")}`, "/dev/null"], {
    cwd: ROOT,
    env: env(),
    encoding: "utf8",
    timeout: 30_000,
  }).then((r) => r.stdout);
  // -o FILE: the events go to the file, so the terminal is free for the progress line
  toFile = onTerminal(`-o '${join(dir, "out.ndjson")}'`, {}, "");
  // a file name carrying an OSC title sequence and BEL: a FIFO, so the read lasts past the one-second mark
  const fifo = join(dir, "evil\u001b]0;pwned\u0007.log");
  execFileSync("mkfifo", [fifo]);
  hostileName = exec(
    "script",
    [
      "-qfec",
      `stty cols 120 rows 40; (cat '${log}'; sleep 3) > '${fifo}' & '${process.execPath}' --conditions=@opsguard/source --import tsx '${CLI}' '${fifo}' > /dev/null`,
      "/dev/null",
    ],
    { cwd: ROOT, env: env(), encoding: "utf8", timeout: 30_000 },
  ).then((r) => r.stdout);

  shown = onTerminal("");
  quiet = onTerminal("--quiet");
  noColor = onTerminal("", { NO_COLOR: "1" });
  // the events themselves on the terminal (text, so they are easy to find)
  toScreen = onTerminal("--format text", {}, "");
  piped = exec("sh", ["-c", command("")], { cwd: ROOT, env: env(), encoding: "utf8", timeout: 30_000 });
});

describe("auditd-parse progress", () => {
  it("shows bytes read and events/s on a terminal, and clears the line at the end", async () => {
    const screen = await shown;
    expect(screen).toMatch(/reading stdin: \d+\.\d MiB, [\d,]+ events\/s/);
    // ora's spinner frames, drawn over and cleared
    expect(screen).toMatch(/\u001b\[1G\u001b\[0K/);
  });

  it("shows nothing with --quiet or NO_COLOR on a terminal, or when stderr is not one", async () => {
    expect(await quiet).not.toContain("reading");
    expect(await noColor).not.toContain("reading");
    expect((await piped).stderr).toBe("");
  });

  it("shows nothing when the output goes to the same terminal: a spinner between the events would garble them", async () => {
    const screen = await toScreen;
    expect(screen).toContain("ls(/usr/bin/ls)");
    expect(screen).not.toContain("reading");
  });

  it("shows progress on a terminal that reports 0 columns (drawn 80 wide; it showed none)", async () => {
    expect(await zeroColumns).toMatch(/reading stdin: \d+\.\d MiB, [\d,]+ events\/s/);
  });

  it("shows progress when -o sends the output to a file, even with stdout on the terminal", async () => {
    expect(await toFile).toMatch(/reading stdin: \d+\.\d MiB, [\d,]+ events\/s/);
  });

  it("escapes control characters in the file name it shows (no OSC/BEL from a name reaches the terminal)", async () => {
    const screen = await hostileName;
    expect(screen).toContain("evil\\033]0;pwned\\007.log: ");
    expect(screen).not.toContain("\u001b]0;pwned");
  });
});
