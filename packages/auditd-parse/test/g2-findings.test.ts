import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";

// Round 13's black-box findings on auditd-parse (detect and plain parse), each as a user meets it.
const CLI = new URL("../src/cli.ts", import.meta.url).pathname;
const CASES = new URL("sigma/cases/", import.meta.url).pathname;
const WEB_RCE = "c0d3734d-330f-4a03-aae2-65dacc6a8222"; // critical

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lines = (stdout: string) => stdout.split("\n").filter(Boolean);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-parse-g2-"));
});

describe("finding 1: one bad input among several", () => {
  it("reads every other input and what a truncated .gz holds, names each bad one, exits 65 (66 when nothing is readable)", () => {
    const hit = readFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), "utf8");
    const rot = mkdtempSync(join(dir, "rot-"));
    copyFileSync(join(CASES, "lnx_auditd_web_rce/hit.log"), join(rot, "audit.log"));
    // a truncated rotated file: its first event complete, the gzip trailer and the rest missing
    const gz = gzipSync(`${hit}${"type=USER_END msg=audit(1767225800.000:2000): pid=1 uid=0\n".repeat(200)}`);
    writeFileSync(join(rot, "audit.log.2.gz"), gz.subarray(0, gz.length - 40));
    const missing = join(rot, "audit.log.1");
    const d = run(["detect", "--json", "--fail-level", "high", join(rot, "audit.log"), join(rot, "audit.log.2.gz"), missing]);
    // two alerts: the event in the truncated .gz (read as zcat would) and the one in audit.log
    expect(lines(d.stdout).filter((l) => JSON.parse(l).rule.id === WEB_RCE)).toHaveLength(2);
    expect(d.code, d.stderr).toBe(65);
    expect(d.stderr).toMatch(/audit\.log\.2\.gz: truncated gzip data/);
    expect(d.stderr).toMatch(/cannot read .*audit\.log\.1: ENOENT/);
    expect(d.stderr).toMatch(/incomplete: 2 of 3 input/);
    const p = run([join(rot, "audit.log"), missing]);
    expect([p.code, lines(p.stdout).length]).toEqual([65, 1]);
    const none = run([missing, join(rot, "nope")]);
    expect([none.code, none.stdout]).toEqual([66, ""]);
    expect(none.stderr).toMatch(/none of the 2 inputs could be read/);
  });
});
