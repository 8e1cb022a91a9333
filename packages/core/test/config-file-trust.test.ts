import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configSearchPaths, readConfigText } from "../src/config-file";
import { ConfigError } from "../src/errors";
import { ExitCode } from "../src/exit";

// places: "system" and rootOwned, for a config that decides access (authkeys run by sshd as a service user).
const TOOL = "trusttest-cfg";
const NOBODY = 65534;
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "og-cfg-trust-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const refusal = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("not refused");
};

describe.skipIf(process.getuid?.() !== 0)("config ownership (rootOwned)", () => {
  it("accepts a root-owned file in a root-owned directory below sticky /tmp", () => {
    const file = join(dir, "c.yaml");
    writeFileSync(file, "a: 1\n", { mode: 0o644 });
    expect(readConfigText({ tool: TOOL, path: file, rootOwned: true })?.text).toBe("a: 1\n");
  });

  it("refuses a world-writable file, one owned by another user, and one in a directory another user owns", () => {
    const file = join(dir, "c.yaml");
    writeFileSync(file, "a: 1\n");
    chmodSync(file, 0o666);
    const writable = refusal(() => readConfigText({ tool: TOOL, path: file, rootOwned: true }));
    expect(writable.message).toMatch(/refusing config file .*c\.yaml: .*c\.yaml is writable by group or others \(mode 666\)/);
    expect(writable.exitCode).toBe(ExitCode.CONFIG);
    chmodSync(file, 0o644);
    chownSync(file, NOBODY, NOBODY);
    expect(refusal(() => readConfigText({ tool: TOOL, path: file, rootOwned: true })).message).toMatch(
      /c\.yaml is owned by uid 65534, not root/,
    );
    // Without the option the generic loader is unchanged.
    expect(readConfigText({ tool: TOOL, path: file })?.text).toBe("a: 1\n");
    const sub = join(dir, "sub");
    mkdirSync(sub);
    chownSync(sub, NOBODY, NOBODY);
    writeFileSync(join(sub, "c.yaml"), "a: 1\n");
    expect(refusal(() => readConfigText({ tool: TOOL, path: join(sub, "c.yaml"), rootOwned: true })).message).toMatch(
      /sub is owned by uid 65534, not root/,
    );
  });
});

describe("config places", () => {
  it('"system" searches /etc/opsguard only: neither the working directory nor the user\'s config home', () => {
    const home = join(dir, "xdg");
    mkdirSync(join(home, "opsguard"), { recursive: true });
    writeFileSync(join(home, "opsguard", `${TOOL}.yaml`), "a: home\n");
    writeFileSync(join(dir, `.${TOOL}rc`), "a: cwd\n");
    const env = { XDG_CONFIG_HOME: home };
    expect(configSearchPaths(TOOL, dir, env, "system")).toEqual([
      `/etc/opsguard/${TOOL}.json`,
      `/etc/opsguard/${TOOL}.yaml`,
      `/etc/opsguard/${TOOL}.yml`,
    ]);
    expect(readConfigText({ tool: TOOL, cwd: dir, env, places: "system", optional: true })).toBeUndefined();
    expect(readConfigText({ tool: TOOL, cwd: join(dir, "xdg"), env, optional: true })?.text).toBe("a: home\n");
  });
});
