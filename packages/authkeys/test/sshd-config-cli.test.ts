import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { runInProcess } from "../../core/test/run-in-process";
import { createAuthkeysProgram } from "../src/cli";

const authkeys = (...args: string[]) => runInProcess(createAuthkeysProgram, args, { env: { PATH: process.env.PATH, NO_COLOR: "1" } });

describe("authkeys sshd-config (in-process)", () => {
  it("refuses a --run-as or --path that would add a directive to sshd_config, with one line and exit 64", async () => {
    const user = await authkeys("sshd-config", "--run-as", "evil\nAuthorizedKeysFile /tmp/keys");
    expect(user).toEqual({
      code: 64,
      stdout: "",
      stderr:
        "authkeys: --run-as \"evil\\nAuthorizedKeysFile /tmp/keys\" is not a user name (give the account sshd runs authkeys as (letters, digits, '_', '.', '-'), e.g. --run-as authkeys)\n",
    });
    const path = await authkeys("sshd-config", "--path", "/usr/local/sbin/authkeys\nMatch all");
    expect(path.code).toBe(64);
    expect(path.stdout).toBe("");
    expect(path.stderr).toMatch(
      /^authkeys: --path "\/usr\/local\/sbin\/authkeys\\nMatch all" is empty or contains control characters, which would change sshd_config/,
    );
    const spaced = await authkeys("sshd-config", "--run-as", "a b");
    expect(spaced).toMatchObject({ code: 64, stdout: "" });
    expect(spaced.stderr).toMatch(/^authkeys: --run-as "a b" is not a user name/);
  });

  it("prints the lines for a plain user and path", async () => {
    const r = await authkeys("sshd-config", "--run-as", "_authkeys", "--path", "/opt/authkeys/authkeys");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("AuthorizedKeysCommand /opt/authkeys/authkeys lookup -- %u %f\nAuthorizedKeysCommandUser _authkeys\n");
    // OpenSSH < 9.4 ignores an AuthorizedPrincipalsCommand after the AuthorizedKeysCommand (bug 3574)
    expect(r.stdout.indexOf("AuthorizedPrincipalsCommand ")).toBeLessThan(r.stdout.indexOf("AuthorizedKeysCommand "));
  });

  it.skipIf(process.getuid?.() !== 0)("install refuses a --run-as sshd cannot take before it copies anything (64)", async () => {
    const prefix = join(mkdtempSync(join(tmpdir(), "authkeys-install-")), "prefix");
    const r = await authkeys("install", "--run-as", "a b", "--prefix", prefix);
    expect(r).toMatchObject({ code: 64, stdout: "" });
    expect(r.stderr).toMatch(/^authkeys: --run-as "a b" is not a user name/);
    expect(existsSync(prefix)).toBe(false);
    rmSync(dirname(prefix), { recursive: true });
  });
});
