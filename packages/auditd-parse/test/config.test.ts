import { spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@opsguard/core/log";
import { afterAll, describe, expect, it } from "vitest";
import { loadAuditdConfig, validateAuditdConfig } from "../src/config";

// the built bin, as root starts it: run from the directory under test, where tsx cannot be resolved
const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const quiet = new Logger({ tool: "auditd-parse", level: "silent" });

const dir = mkdtempSync(join(tmpdir(), "auditd-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const problem = (raw: unknown): string => {
  try {
    validateAuditdConfig(raw, "/etc/x.yaml");
  } catch (error) {
    return (error as Error).message;
  }
  return "accepted";
};

describe("config file", () => {
  it("reads the three keys from YAML, and nothing when there is no file", async () => {
    const file = join(dir, "c.yaml");
    writeFileSync(file, "passwd: /srv/passwd\ngroup: /srv/group\nwindowMs: 5000\n");
    expect(await loadAuditdConfig(file, quiet)).toEqual({ passwd: "/srv/passwd", group: "/srv/group", windowMs: 5000 });
    writeFileSync(file, "{}\n");
    expect(await loadAuditdConfig(file, quiet)).toEqual({});
  });

  it("names each wrong key and what it expects, in one line, at most three problems", () => {
    expect(problem({ passwd: 1 })).toBe("invalid config in /etc/x.yaml: passwd: expected string, received number");
    expect(problem({ windowMs: 0 })).toBe("invalid config in /etc/x.yaml: windowMs: Too small: expected number to be >0");
    expect(problem({ windowMs: 1.5 })).toBe("invalid config in /etc/x.yaml: windowMs: expected int, received number");
    expect(problem({ windowMs: 600_001 })).toBe("invalid config in /etc/x.yaml: windowMs: Too big: expected number to be <=600000");
    expect(problem({ windowMs: "5s" })).toBe("invalid config in /etc/x.yaml: windowMs: expected number, received string");
    expect(problem({ windwMs: 5, x: 1 })).toBe('invalid config in /etc/x.yaml: (top level): unknown keys "windwMs", "x"');
    expect(problem(["a"])).toBe("invalid config in /etc/x.yaml: (top level): expected object, received array");
    expect(problem({ passwd: ["/etc/passwd"] })).toBe("invalid config in /etc/x.yaml: passwd: expected string, received array");
    expect(problem({ windowMs: Number.POSITIVE_INFINITY })).toBe(
      "invalid config in /etc/x.yaml: windowMs: expected a finite number, received Infinity",
    );
    expect(problem(null)).toBe("invalid config in /etc/x.yaml: (top level): expected object, received null");
    expect(problem({ passwd: 1, group: 2, windowMs: -1, x: 1 })).toBe(
      "invalid config in /etc/x.yaml: passwd: expected string, received number; group: expected string, received number; windowMs: Too small: expected number to be >0; and 1 more",
    );
  });

  it("-v names the config file it read (T34 #5)", async () => {
    const file = join(dir, "named.yaml");
    writeFileSync(file, "windowMs: 5000\n");
    let said = "";
    const log = new Logger({ tool: "auditd-parse", level: "info", stream: { write: (t: string) => (said += t) } });
    await loadAuditdConfig(file, log);
    expect(said).toContain(`config: ${file}`);
  });

  // as root only: what it guards against is a file someone else left where root runs it
  it.skipIf(process.getuid?.() !== 0)(
    "as root, reads no ./.auditd-parserc, whoever owns it (it would rename who did what: T34 #5, T35 N4); --config takes it",
    () => {
      if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
      const log = "type=USER_CMD msg=audit(1700000000.000:1): pid=1 uid=1000 auid=1000 ses=1 msg='cmd=6964 res=success'\n";
      // another user's directory, and an evidence tree root's tar extracted with the archive's owner: root
      for (const [name, owner] of [
        ["home", 1001],
        ["evidence", 0],
      ] as const) {
        const where = join(dir, name);
        mkdirSync(where);
        const rc = join(where, ".auditd-parserc");
        writeFileSync(join(where, "fakepw"), "root:x:1000:0::/:/bin/sh\n");
        writeFileSync(rc, "passwd: ./fakepw\n");
        for (const path of [where, rc]) chownSync(path, owner, owner);
        const run = (...args: string[]) => spawnSync(process.execPath, [BUNDLE, ...args], { cwd: where, input: log, encoding: "utf8" });
        const refused = run();
        expect([refused.status, refused.stdout], name).toEqual([78, ""]);
        expect(refused.stderr).toContain(
          `refusing config file ${rc}: run as root, auditd-parse reads no config from the working directory`,
        );
        expect(refused.stderr).toContain("pass it with --config FILE to use it");
        // named on purpose, it is the user's choice
        const chosen = run("-v", "--config", rc);
        expect(chosen.status, chosen.stderr).toBe(0);
        expect(chosen.stderr).toContain(`config: ${rc}`);
        expect(JSON.parse(chosen.stdout).uid).toBe("root");
      }
    },
  );

  it("refuses a bad file with a config error (exit 78)", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, '{"windowMs": "soon"}');
    await expect(loadAuditdConfig(file, quiet)).rejects.toMatchObject({ exitCode: 78 });
  });
});
