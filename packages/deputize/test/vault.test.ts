import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SLACK_SIM_TOKEN, SlackSim, VaultSim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// deputize as a user runs it, with its Slack token in Vault (as the original tool kept its secrets).
const BUNDLE = new URL("../dist/deputize.cjs", import.meta.url).pathname;
const vault = new VaultSim();
const slack = new SlackSim();
let dir = "";
let config = "";

function deputize(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BUNDLE, ...args],
      { env: { PATH: process.env.PATH, NO_COLOR: "1", ...env }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs deputize" first`);
  await Promise.all([vault.start(), slack.start()]);
  vault.put("secret/opsguard/slack", { token: SLACK_SIM_TOKEN });
  slack.addChannel({ id: "C0VAULT001", name: "oncall", topic: "" });
  slack.addUser({ id: "U0ALICE001", name: "alice", email: "alice@opsguard.test" });
  dir = mkdtempSync(join(tmpdir(), "deputize-vault-"));
  const rotation = join(dir, "rotation.yaml");
  writeFileSync(rotation, 'schedules:\n  sre:\n    start: "2020-01-06"\n    members: [alice@opsguard.test]\n');
  config = join(dir, "deputize.json");
  writeFileSync(
    config,
    JSON.stringify({
      sources: [{ type: "rotation", file: rotation }],
      sinks: [{ type: "slack", name: "slack", token: "vault:secret/opsguard/slack#token", baseUrl: slack.apiUrl, channel: "C0VAULT001" }],
      stateDir: join(dir, "state"),
    }),
  );
});
afterAll(async () => {
  await Promise.all([vault.stop(), slack.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("vault: secrets in deputize's config", () => {
  it("reads the Slack token from Vault after an AppRole login", async () => {
    const r = await deputize(
      { VAULT_ADDR: vault.url, VAULT_ROLE_ID: vault.roleId, VAULT_SECRET_ID: vault.secretId },
      "--config",
      config,
      "status",
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sre\s+rotation\s+alice@opsguard\.test/);
    expect(slack.callsTo("conversations.info")[0]?.headers.authorization).toBe(`Bearer ${SLACK_SIM_TOKEN}`);
  });

  it("a refused login is one line naming the fix, exit 77, without the secret id", async () => {
    const r = await deputize(
      { VAULT_ADDR: vault.url, VAULT_ROLE_ID: vault.roleId, VAULT_SECRET_ID: "wrong-secret-id-77" },
      "--config",
      config,
      "status",
    );
    expect(r.code).toBe(77);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "deputize: Vault refused AppRole login (auth/approle): invalid secret id (check VAULT_ROLE_ID and VAULT_SECRET_ID)\n",
    );
    const down = await deputize({ VAULT_ADDR: "http://127.0.0.1:9", VAULT_TOKEN: vault.token }, "--config", config, "status");
    expect(down.code).toBe(69);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    expect(down.stderr).not.toContain(vault.token);
  });

  it("VAULT_ADDR: plain http to another host is refused before the token is sent, 78; unreachable says so, 69 (T56 F2, F3)", async () => {
    const clear = await deputize({ VAULT_ADDR: "http://192.0.2.1:8200", VAULT_TOKEN: vault.token }, "--config", config, "status");
    expect([clear.code, clear.stdout]).toEqual([78, ""]);
    expect(clear.stderr).toBe(
      "deputize: VAULT_ADDR http://192.0.2.1:8200 is plain http to another host: the Vault token and the secrets read would cross the network in clear (use https://, plain http:// only to 127.0.0.1, ::1 or localhost)\n",
    );
    const ftp = await deputize({ VAULT_ADDR: "ftp://127.0.0.1:8200", VAULT_TOKEN: vault.token }, "--config", config, "status");
    expect([ftp.code, ftp.stderr]).toEqual([
      78,
      "deputize: VAULT_ADDR: ftp:// is not a way to reach Vault (expected https://) (export VAULT_ADDR=https://vault.example:8200)\n",
    ]);
    // A port that was just free (port 9 would not do: fetch refuses it as a "bad port" without connecting).
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const down = await deputize({ VAULT_ADDR: `http://127.0.0.1:${port}`, VAULT_TOKEN: vault.token }, "--config", config, "status");
    expect([down.code, down.stderr]).toEqual([
      69,
      `deputize: Vault is unreachable (ECONNREFUSED, http://127.0.0.1:${port}/v1/secret/data/opsguard/slack) while reading secret/opsguard/slack for sinks[0].token (check VAULT_ADDR and the network)\n`,
    ]);
  });
});
