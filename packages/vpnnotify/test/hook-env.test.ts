import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SLACK_SIM_TOKEN, SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openvpnUserPassEnv, PLACES, runBare } from "./fixtures";

let dir: string;
let slack: SlackSim;
let config: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-hookenv-"));
  slack = new SlackSim();
  slack.addUser({ id: "U0ALICE", name: "alice", email: "alice@example.org" });
  slack.addChannel({ id: "C0SECURITY", name: "security-alerts" });
  await slack.start();
  const token = join(dir, "token");
  writeFileSync(token, SLACK_SIM_TOKEN);
  config = join(dir, "vpnnotify.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: { name: "vpn-test" },
      slack: { token: `file:${token}`, baseUrl: slack.apiUrl },
      securityChannel: "C0SECURITY",
      directory: { emailDomain: "example.org" },
      state: { file: join(dir, "state", "state.json") },
      deadlineMs: 10_000,
    }),
  );
});

afterAll(async () => {
  await slack.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("wired as OpenVPN's auth-user-pass-verify (env -i, only OpenVPN's variables)", () => {
  it("refuses with exit 78 and one line saying why, never echoing the password, and sends nothing", async () => {
    const env = openvpnUserPassEnv("alice", "hunter2-secret", PLACES.london.ip);
    for (const args of [
      ["--config", config],
      ["--config", config, "--wait"],
      ["--config", config, "openvpn"],
    ]) {
      const result = await runBare(args, env);
      expect(result.code).toBe(78);
      expect(result.stderr).toMatch(/^vpnnotify: error: refused reason=".*auth-user-pass-verify.*refuses every login.*client-connect/);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr + result.stdout).not.toContain("hunter2");
    }
    // via-file: OpenVPN passes the credentials file as the argument instead of the password variable.
    const credentials = join(dir, "openvpn_up_1.tmp");
    writeFileSync(credentials, "alice\nhunter2-secret\n");
    const { password: _pw, ...viaFile } = env;
    const result = await runBare(["--config", config, credentials], viaFile);
    expect(result.code).toBe(78);
    expect(result.stderr).not.toContain("hunter2");
    expect(slack.messages).toEqual([]);
  });
});
