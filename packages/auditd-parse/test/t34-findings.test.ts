import { lstatSync, mkdtempSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";

/** T34 findings of the independent tester about inputs, outputs and arguments: what a user of the bin met. */

const EXEC = readFileSync(new URL("golden/exec.log", import.meta.url), "utf8");

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "auditd-parse-t34-"));
}

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
