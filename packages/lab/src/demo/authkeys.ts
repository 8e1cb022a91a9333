import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Client } from "ssh2";
import type { SlapdComponent } from "../components";
import { toolBin } from "../configs/sections";
import { type SshdComponent, sshdSkipReason } from "../sshd";
import type { DemoSection } from "./types";

export const authkeysDemo: DemoSection = {
  title: "authkeys: sshd's AuthorizedKeysCommand backed by LDAP (validated keys, group check, real sshd logins)",
  async run(lab, out) {
    const { slapd } = lab.get<SlapdComponent>("slapd");
    // Without root there is no sshd: authkeys runs from its bundle with the lab's ready config instead.
    const withSshd = lab.components.has("sshd") ? lab.get<SshdComponent>("sshd") : undefined;
    const [bin, ...binArgs] = withSshd ? [withSshd.authkeys.bin] : [process.execPath, toolBin("authkeys")];
    const configFile = withSshd?.authkeys.configFile ?? lab.configFiles.authkeys ?? "";
    const run = (...args: string[]) => {
      const started = Date.now();
      const r = spawnSync(bin ?? "", [...binArgs, "--config", configFile, ...args], { encoding: "utf8" });
      return { ...r, ms: Date.now() - started };
    };
    const alice = run("alice");
    const lines = alice.stdout.split("\n").filter(Boolean);
    out(`$ authkeys alice  →  exit ${alice.status}, ${lines.length} key line(s) in ${alice.ms} ms`);
    for (const line of lines) {
      const [type = "", blob = "", comment = ""] = line.split(" ");
      out(`  ${type.padEnd(20)} ${blob.slice(0, 16)}…${blob.slice(-8)} ${comment}`);
    }
    const dave = run("--json", "dave");
    out(`$ authkeys --json dave  →  exit ${dave.status}, ${dave.stdout.trim()}  (outside allowedGroups ops, sre)`);
    const hostile = run("lookup", "*)(uid=*");
    out(
      `$ authkeys lookup '*)(uid=*'  →  exit ${hostile.status}, ${hostile.stdout.split("\n").filter(Boolean).length} lines (refused before LDAP)`,
    );
    if (!withSshd) {
      out(`$ ssh alice@127.0.0.1  →  skipped: ${sshdSkipReason()}`);
      return;
    }
    const { sshd } = withSshd;
    const aliceKey = slapd.users.alice.keys[0]?.privateKeyFile ?? "";
    const bobKey = slapd.users.bob.keys[0]?.privateKeyFile ?? "";
    out(`$ ssh -p ${sshd.port} alice@127.0.0.1 with alice's key  →  ${await login(sshd.port, "alice", aliceKey)}`);
    out(`$ ssh -p ${sshd.port} alice@127.0.0.1 with bob's key    →  ${await login(sshd.port, "alice", bobKey)}`);
  },
};

function login(port: number, username: string, keyFile: string): Promise<string> {
  const started = Date.now();
  return new Promise((resolve) => {
    const client = new Client();
    client
      .on("ready", () => {
        client.end();
        resolve(`logged in (${Date.now() - started} ms)`);
      })
      .on("error", (error: Error & { level?: string }) =>
        resolve(error.level === "client-authentication" ? "refused" : `error: ${error.message}`),
      )
      .connect({ host: "127.0.0.1", port, username, privateKey: readFileSync(keyFile), readyTimeout: 20_000 });
  });
}
