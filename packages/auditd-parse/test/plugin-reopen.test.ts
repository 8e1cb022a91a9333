import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent, untilFile } from "@opsguard/lab/wait";
import { describe, expect, it } from "vitest";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

const login = (serial: number) =>
  `type=USER_LOGIN msg=audit(1700000000.000:${serial}): pid=1 uid=0 auid=0 ses=1 msg='op=e${serial} res=success'\n`;
const serials = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).serial);

/** The plugin started as a process writing to `out`: its stdin to feed, its stderr so far, its exit code. */
function startPlugin(out: string) {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "-o", out], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

describe("plugin: SIGHUP when -o's file cannot be opened again (T34 #9)", () => {
  it("goes on writing to the file it had, says so in one line, and opens the file at the next SIGHUP", async () => {
    const base = mkdtempSync(join(tmpdir(), "auditd-parse-hup-"));
    const dir = join(base, "pd");
    const moved = join(base, "pd.old");
    mkdirSync(dir);
    const out = join(dir, "out.json");
    const { child, stderr, exited } = startPlugin(out);
    try {
      child.stdin.write(login(1));
      await untilFile(out, (text) => text?.includes('"serial":1') === true, "the first event");
      // the directory rotated away and a file put in its place: -o's path now runs through a non-directory, which
      // cannot be opened by root either (a chmod 555 would not stop the root CI runs)
      renameSync(dir, moved);
      writeFileSync(dir, "");
      child.kill("SIGHUP");
      await untilEvent(child.stderr, "data", () => stderr().includes("next SIGHUP"), "the failed reopen said");
      child.stdin.write(login(2));
      await untilFile(join(moved, "out.json"), (text) => text?.includes('"serial":2') === true, "the next event in the file it had");
      unlinkSync(dir);
      mkdirSync(dir);
      child.kill("SIGHUP");
      await untilFile(out, (text) => text !== undefined, "the file opened again at the next SIGHUP");
      child.stdin.end(login(3));
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    expect(await exited, stderr()).toBe(0);
    expect(serials(readFileSync(join(moved, "out.json"), "utf8"))).toEqual([1, 2]);
    expect(serials(readFileSync(out, "utf8"))).toEqual([3]);
    const said = stderr()
      .split("\n")
      .filter((l) => l.includes("SIGHUP"));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`cannot write ${out}: ${dir} is not a directory`);
    expect(said[0]).toContain(`still writing to the ${out} it had open`);
  });
});

describe("plugin: SIGUSR1 and SIGUSR2 (T35 N8)", () => {
  it("opens no debugger at SIGUSR1 and does not end at SIGUSR2: it goes on and writes every event", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "auditd-parse-usr-")), "out.json");
    const { child, stderr, exited } = startPlugin(out);
    try {
      child.stdin.write(login(1));
      await untilFile(out, (text) => text?.includes('"serial":1') === true, "the first event");
      // Node's own SIGUSR1 opens its inspector on 127.0.0.1:9229 without authentication, saying "Debugger listening"
      child.kill("SIGUSR1");
      child.stdin.write(login(2));
      await untilFile(out, (text) => text?.includes('"serial":2') === true, "an event after SIGUSR1");
      child.kill("SIGUSR2");
      child.stdin.end(login(3));
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    expect(await exited, stderr()).toBe(0);
    expect(stderr()).not.toContain("Debugger");
    expect(serials(readFileSync(out, "utf8"))).toEqual([1, 2, 3]);
  });
});
