import { spawn, spawnSync } from "node:child_process";
import { chmodSync, linkSync, mkdtempSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent, untilFile } from "@opsguard/lab/wait";
import { describe, expect, it } from "vitest";

/** What the T57 tester found in -o's files: a plugin ended by a full disk, a line glued onto a torn one, 0644 copies of the log. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

const login = (serial: number) =>
  `type=USER_LOGIN msg=audit(1700000000.000:${serial}): pid=1 uid=0 auid=0 ses=1 msg='op=login acct="alice" exe="/usr/sbin/sshd" hostname=? addr=10.0.0.${serial} terminal=ssh res=success'\n`;
const serials = (lines: string[]) => lines.map((l) => JSON.parse(l).serial);

/** auditd-parse ARGS under umask 022 (a shell's usual one), stdin `input`. */
function run(args: string[], input = "") {
  return spawnSync("sh", ["-c", 'umask 022; exec "$@"', "sh", process.execPath, "--import", "tsx", CLI, ...args], {
    input,
    encoding: "utf8",
  });
}

describe("plugin: -o's file on a full disk (T57 F3)", () => {
  it("does not end: it says so once, drops and counts the events, writes again once it can, and exits 74 naming the count", async () => {
    const out = join(mkdtempSync(join(tmpdir(), "auditd-parse-full-")), "out.json");
    // /dev/full answers every write with ENOSPC, as a full file system does; the link is removed to free the "disk"
    symlinkSync("/dev/full", out);
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "-o", out], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      child.stdin.write(login(1));
      await untilEvent(child.stderr, "data", () => stderr.includes("until it can be written again"), "the failed write said");
      // before, the plugin had ended here (74): what auditd sent next was lost until it restarted it
      expect(child.exitCode).toBeNull();
      unlinkSync(out);
      child.stdin.write(login(2));
      await untilFile(out, (text) => text?.includes('"serial":2') === true, "the next event, once the file can be written");
      child.stdin.end(login(3));
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    expect(await exited, stderr).toBe(74);
    expect(serials(readFileSync(out, "utf8").trim().split("\n"))).toEqual([2, 3]);
    const lines = stderr.trim().split("\n");
    expect(lines.filter((l) => l.includes("no space left"))).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot write .*out\.json: .*no space left.*events are dropped, and counted, until it can be written again/);
    expect(stderr).toContain(`${out} is written again; at most 1 line(s) could not be written to it meanwhile`);
    // the outage is over: no "free space" in the last line, only the count
    expect(lines.at(-1)).toMatch(/at most 1 line\(s\) could not be written to .*out\.json$/);
  });

  it("starts on a new line when the file it appends to ends in the middle of one (a write cut short, a run killed)", () => {
    const out = join(mkdtempSync(join(tmpdir(), "auditd-parse-torn-")), "out.json");
    writeFileSync(out, '{"id":"1700000000.000:9","serial":9,"ty');
    expect(run(["plugin", "-o", out], login(1) + login(2)).status).toBe(0);
    expect(run(["-o", out], login(3)).status).toBe(0);
    const lines = readFileSync(out, "utf8").split("\n");
    // the torn line stays as it was, alone; every line after it is whole
    expect(lines[0]).toBe('{"id":"1700000000.000:9","serial":9,"ty');
    expect(serials(lines.slice(1, -1))).toEqual([1, 2, 3]);
    expect(lines.at(-1)).toBe("");
  });
});

describe("-o's file mode (T57 F4)", () => {
  it("creates the file only its owner may read, as auditd keeps audit.log: it quotes every command line, unredacted", () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-mode-"));
    const log = join(dir, "audit.log");
    writeFileSync(log, login(1));
    const made = {
      ndjson: run(["-o", join(dir, "events.json"), log]),
      plugin: run(["plugin", "-o", join(dir, "plugin.json")], login(1)),
      page: run(["sessions", "--format", "html", "-o", join(dir, "page.html"), log]),
      report: run(["report", "--format", "html", "-o", join(dir, "report.html"), log]),
    };
    for (const [name, r] of Object.entries(made)) expect(r.status, `${name}: ${r.stderr}`).toBe(0);
    for (const file of ["events.json", "plugin.json", "page.html", "report.html"])
      expect((statSync(join(dir, file)).mode & 0o777).toString(8), file).toBe("600");
    // a file that exists keeps the mode it was given
    const shared = join(dir, "shared.json");
    writeFileSync(shared, "");
    chmodSync(shared, 0o640);
    expect(run(["-o", shared, log]).status).toBe(0);
    expect((statSync(shared).mode & 0o777).toString(8)).toBe("640");
  });
});

describe("detect -o and the rules it runs (T57 F10)", () => {
  const RULE = `title: A login
id: 9a6c0e48-7f0e-4f8e-9c43-6a0b4b0e2a11
status: test
logsource:
  product: linux
  service: auditd
detection:
  selection:
    type: USER_LOGIN
  condition: selection
level: low
`;

  it("refuses an -o that is a rule file, or a .yml file in a rules directory, before anything is written (64)", () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-rules-out-"));
    const rules = join(dir, "rules");
    const rule = join(rules, "login.yml");
    spawnSync("mkdir", [rules]);
    writeFileSync(rule, RULE);
    const log = join(dir, "audit.log");
    writeFileSync(log, login(1));
    for (const [args, input] of [
      [["detect", "--rules", rule, "-o", rule, log], ""],
      [["detect", "--rules", rules, "-o", join(rules, "alerts.yml"), log], ""],
      [["plugin", "--detect", "--rules", rules, "-o", rule], login(1)],
    ] as const) {
      const r = run([...args], input);
      expect(r.status, r.stderr).toBe(64);
      expect(r.stderr).toMatch(/-o .* is (the rule file|a \.yml file in the rules directory)/);
    }
    expect(readFileSync(rule, "utf8")).toBe(RULE);
    // by any other name (T60 N1): a symbolic or hard link to a rule found in the directory, a link into the directory,
    // the directory itself given through a link
    spawnSync("mkdir", [join(rules, "sub")]);
    const deeper = join(rules, "sub", "deeper.yml");
    writeFileSync(deeper, RULE);
    symlinkSync(deeper, join(dir, "alerts.json"));
    linkSync(deeper, join(dir, "hard.json"));
    symlinkSync(rules, join(dir, "rules-link"));
    symlinkSync(join(rules, "sub", "new.yml"), join(dir, "dangling.json"));
    for (const [rulesGiven, out] of [
      [rules, join(dir, "alerts.json")],
      [rules, join(dir, "hard.json")],
      [join(dir, "rules-link"), join(rules, "new.yml")],
      [rules, join(dir, "rules-link", "sub", "NEW.YAML")],
      [rules, join(dir, "dangling.json")],
    ]) {
      const r = run(["detect", "--rules", rulesGiven!, "-o", out!, log]);
      expect(r.status, `${out}: ${r.stderr}`).toBe(64);
    }
    expect(readFileSync(deeper, "utf8")).toBe(RULE);
    expect(run(["detect", "--rules", rules, "--list-rules"]).status).toBe(0);
    // elsewhere, even beside the rules, an -o takes the alerts
    const alerts = join(rules, "alerts.json");
    const r = run(["detect", "--rules", rules, "-o", alerts, log]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(readFileSync(alerts, "utf8").split("\n")[0]!).rule.title).toBe("A login");
  });
});

describe("plugin: a SIGHUP storm across its end (T60)", () => {
  it("exits 0 with every event written, not 129: it is not killed by a SIGHUP in its process's last milliseconds", async () => {
    for (let round = 0; round < 3; round++) {
      const out = join(mkdtempSync(join(tmpdir(), "auditd-parse-hup-end-")), "out.json");
      const child = spawn(process.execPath, ["--import", "tsx", CLI, "plugin", "-o", out], { stdio: ["pipe", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on("exit", (code, signal) => resolve(signal ?? code)));
      child.stdin.write(login(1));
      await untilFile(out, (text) => text?.includes('"serial":1') === true, "the first event");
      // logrotate's postrotate or auditd's reconfigure, again and again while the plugin ends
      const storm = setInterval(() => child.kill("SIGHUP"), 1);
      child.stdin.end(login(2) + login(3));
      const ended = await exited.finally(() => clearInterval(storm));
      expect(ended, stderr).toBe(0);
      expect(serials(readFileSync(out, "utf8").trim().split("\n"))).toEqual([1, 2, 3]);
    }
  });
});
