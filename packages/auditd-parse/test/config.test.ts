import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadAuditdConfig, validateAuditdConfig } from "../src/config";

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
    expect(await loadAuditdConfig(file)).toEqual({ passwd: "/srv/passwd", group: "/srv/group", windowMs: 5000 });
    writeFileSync(file, "{}\n");
    expect(await loadAuditdConfig(file)).toEqual({});
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

  it("refuses a bad file with a config error (exit 78)", async () => {
    const file = join(dir, "bad.json");
    writeFileSync(file, '{"windowMs": "soon"}');
    await expect(loadAuditdConfig(file)).rejects.toMatchObject({ exitCode: 78 });
  });
});
