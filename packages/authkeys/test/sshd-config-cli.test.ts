import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AUTHKEYS_UID, AUTHKEYS_USER, installRootOwned, sshdSkipReason, startSshd } from "@opsguard/lab";
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

describe.skipIf(sshdSkipReason())("a real sshd splits and expands the printed line back into the config path", () => {
  // sshd splits AuthorizedKeysCommand with argv_split (quotes, \-escapes) and expands %-tokens in every
  // argument after the path: a config path with %, a space, quotes and a backslash must arrive as it is.
  it("the command gets exactly --config PATH lookup -- <user> <fingerprint>", async () => {
    const out = mkdtempSync(join(tmpdir(), "authkeys-argv-"));
    chmodSync(out, 0o777);
    const argvFile = join(out, "argv");
    const command = installRootOwned({ argv: { content: `#!/bin/sh\nprintf '%s\\n' "$@" > ${argvFile}\n`, mode: 0o755 } });
    const config = `/etc/opsguard/p%u/my "odd" co'nf\\ig.yaml`;
    const { code, stdout, stderr } = await authkeys(
      "sshd-config",
      "--path",
      join(command.dir, "argv"),
      "--run-as",
      "authkeys",
      "--config",
      config,
    );
    expect(code, stderr).toBe(0);
    const key = join(out, "key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
    const sshd = await startSshd({
      users: [
        { name: "alice", uid: 30_001 },
        { name: AUTHKEYS_USER, uid: AUTHKEYS_UID },
      ],
      snippet: stdout,
    });
    try {
      const login = spawnSync(
        "ssh",
        [
          ...["-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "BatchMode=yes"],
          ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-p", String(sshd.port), "alice@127.0.0.1", "true"],
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
      expect(login.status, sshd.logs()).toBe(255);
      const argv = readFileSync(argvFile, "utf8").split("\n").slice(0, -1);
      expect(argv.slice(0, 5)).toEqual(["--config", config, "lookup", "--", "alice"]);
      expect(argv[5]).toMatch(/^SHA256:/);
    } finally {
      await sshd.stop();
      command.remove();
      rmSync(out, { recursive: true, force: true });
    }
  });
});
