import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

// What an independent black-box try of `auditd-parse detect` found (r17, T-aud17), each as a user meets it.
const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const CASES = new URL("sigma/cases/", import.meta.url).pathname;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-detfix-"));
});

/** Runs the program with a stdout whose reader is gone before it writes a byte (`| true`). */
async function withClosedStdout(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--conditions=@opsguard/source", "--import", "tsx", CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  // the read end is closed at once, before the program has even started: its first write meets EPIPE
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += String(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  return { code, stderr };
}

describe("a closed stdout (finding 1: the gate failed open)", () => {
  it("detect --fail-level with matches does not exit 0 when nobody reads its alerts: 74, named on stderr", async () => {
    const r = await withClosedStdout(["detect", "--json", "--fail-level", "low", join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(74);
    expect(r.stderr).toContain("cannot write standard output: its reader closed it (EPIPE)");
  }, 20_000);

  it("the plain parse says the same: its events were not delivered", async () => {
    const r = await withClosedStdout([join(CASES, "lnx_auditd_web_rce/hit.log")]);
    expect(r.code).toBe(74);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^auditd-parse: cannot write standard output: its reader closed it/)]);
  }, 20_000);
});
