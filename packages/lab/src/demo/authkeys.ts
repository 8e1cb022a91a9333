import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Client } from "ssh2";
import type { SlapdComponent } from "../components";
import type { SshdComponent } from "../sshd";
import type { DemoSection } from "./types";

export const authkeysDemo: DemoSection = {
  title: "authkeys: sshd's AuthorizedKeysCommand backed by LDAP (validated keys, group check, real sshd logins)",
  async run(lab, out) {
    const { slapd } = lab.get<SlapdComponent>("slapd");
    const { sshd, authkeys } = lab.get<SshdComponent>("sshd");
    const run = (...args: string[]) => {
      const started = Date.now();
      const r = spawnSync(authkeys.bin, ["--config", authkeys.configFile, ...args], { encoding: "utf8" });
      return { ...r, ms: Date.now() - started };
    };
    for (const user of ["alice", "dave"]) {
      const r = run(user);
      const lines = r.stdout.split("\n").filter(Boolean);
      out(`$ authkeys ${user}  →  exit ${r.status}, ${lines.length} key line(s) in ${r.ms} ms`);
      for (const line of lines) {
        const [type = "", blob = "", comment = ""] = line.split(" ");
        out(`  ${type.padEnd(20)} ${blob.slice(0, 16)}…${blob.slice(-8)} ${comment}`);
      }
    }
    out(`  (dave is outside allowedGroups ops/sre; his weak RSA-1024, DSA and malformed keys would be dropped anyway)`);
    const hostile = run("lookup", "*)(uid=*");
    out(
      `$ authkeys lookup '*)(uid=*'  →  exit ${hostile.status}, ${hostile.stdout.split("\n").filter(Boolean).length} lines (refused before LDAP)`,
    );
    const alice = slapd.users.alice.keys[0]?.privateKeyFile ?? "";
    const bob = slapd.users.bob.keys[0]?.privateKeyFile ?? "";
    out(`$ ssh -p ${sshd.port} alice@127.0.0.1 with alice's key  →  ${await login(sshd.port, "alice", alice)}`);
    out(`$ ssh -p ${sshd.port} alice@127.0.0.1 with bob's key    →  ${await login(sshd.port, "alice", bob)}`);
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
