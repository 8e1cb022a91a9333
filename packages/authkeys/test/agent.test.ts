import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import {
  AUTHKEYS_UID,
  type AuthkeysInstall,
  installAuthkeys,
  type SlapdLab,
  type SshdHandle,
  sshdSkipReason,
  startSlapd,
  startSshd,
} from "@opsguard/lab";
import { untilFile } from "@opsguard/lab/wait";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_REQUEST_BYTES } from "../src/agent-protocol";
import { requireBundle, runWithClosedStdout, sshLogin, writeConfig } from "./harness";

// Real sshd → authkeys (as the command user) → the agent over its unix socket → real slapd; and every way the agent can fail.
let lab: SlapdLab;
let install: AuthkeysInstall;
let sshd: SshdHandle;
let runDir: string;
let socket: string;
let agent: AgentProcess | undefined;
const AGENT_TIMEOUT_MS = 1000;

beforeAll(async () => {
  requireBundle();
  lab = await startSlapd();
  runDir = mkdtempSync("/run/opsguard-agent-test-");
  chownSync(runDir, AUTHKEYS_UID, AUTHKEYS_UID);
  chmodSync(runDir, 0o700);
  socket = join(runDir, "agent.sock");
  install = installAuthkeys(lab, { allowedGroups: [lab.groups.ops, lab.groups.sre], agent: { socket, timeoutMs: AGENT_TIMEOUT_MS } });
  const users = (["alice", "bob"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber }));
  sshd = await startSshd({
    users: [...users, { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir }],
    authorizedKeysCommand: { path: install.bin, args: `--config ${install.configFile} lookup -- %u %f`, user: "authkeys" },
  });
  agent = await startAgent();
});

afterAll(async () => {
  await agent?.stop();
  await sshd?.stop();
  install?.remove();
  rmSync(runDir, { recursive: true, force: true });
  await lab?.stop();
});

interface AgentProcess {
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM; resolves with the exit code. */
  stop: () => Promise<number | null>;
}

const asCommandUser = (argv: string[]) => ["setpriv", `--reuid=${AUTHKEYS_UID}`, `--regid=${AUTHKEYS_UID}`, "--clear-groups", ...argv];

/** The agent as the command user, through the installed launcher, once it answers a ping. */
async function startAgent(): Promise<AgentProcess> {
  const [cmd = "", ...args] = asCommandUser([install.bin, "--config", install.configFile, "agent"]);
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env: { PATH: "/usr/bin:/bin" } });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  for (let i = 0; i < 100 && !(await pings()); i++) {
    if (child.exitCode !== null) throw new Error(`agent exited ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    stderr: () => stderr,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

function request(text: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ path: socket }, () => s.write(text));
    let reply = "";
    s.on("data", (c: Buffer) => {
      reply += c.toString();
    });
    s.on("close", () => resolve(reply));
    s.on("error", reject);
  });
}

async function pings(): Promise<boolean> {
  return request('{"ping":true}\n').then(
    (r) => r === '{"pong":true}\n',
    () => false,
  );
}

/** One lookup as sshd runs it; source is the audit line's (stderr, since syslog is off). */
function lookup(user: string) {
  const [cmd = "", ...args] = asCommandUser([install.bin, "--config", install.configFile, "lookup", user]);
  const started = Date.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
  return {
    code: r.status,
    keys: r.stdout.split("\n").filter(Boolean).length,
    stderr: r.stderr,
    source: /source=(\S+)/.exec(r.stderr)?.[1],
    ms: Date.now() - started,
  };
}

/** lookup() without blocking this process, for a fake agent served from it. */
function lookupAsync(user: string): Promise<{ keys: number; stderr: string; source: string | undefined }> {
  const [cmd = "", ...args] = asCommandUser([install.bin, "--config", install.configFile, "lookup", user]);
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } }, (error, stdout, stderr) => {
      if (error) reject(error);
      else resolve({ keys: stdout.split("\n").filter(Boolean).length, stderr, source: /source=(\S+)/.exec(stderr)?.[1] });
    });
  });
}

const key = (user: "alice" | "bob") => {
  const found = lab.users[user].keys.find((k) => k.type === "ed25519");
  if (!found) throw new Error(`lab user ${user} has no ed25519 key`);
  return found.privateKeyFile;
};

describe.skipIf(sshdSkipReason())("authkeys agent", () => {
  it("answers lookups on a 0600 socket; sshd logs in through it", async () => {
    expect(existsSync(socket)).toBe(true);
    expect(spawnSync("stat", ["-c", "%a %u", socket], { encoding: "utf8" }).stdout.trim()).toBe(`600 ${AUTHKEYS_UID}`);
    expect(lookup("alice")).toMatchObject({ code: 0, keys: 3, source: "agent:ldap" });
    expect(await sshLogin(sshd.port, "alice", key("alice")), sshd.logs()).toMatchObject({ ok: true });
    expect(await sshLogin(sshd.port, "alice", key("bob"))).toMatchObject({ ok: false });
  });

  it("a reader that hangs up early (EPIPE) does not turn an agent's answer into a failure", async () => {
    const { code, stderr } = await runWithClosedStdout(asCommandUser([install.bin, "--config", install.configFile, "lookup", "alice"]), {
      PATH: "/usr/bin:/bin",
    });
    expect(code).toBe(0);
    expect(stderr).toMatch(/^authkeys: lookup user=alice result=keys keys=3 source=agent:ldap ms=\d+\n$/);
  });

  it("doctor pings the agent and looks the user up through it", () => {
    const r = spawnSync(install.bin, ["--config", install.configFile, "doctor", "--user", "alice"], { encoding: "utf8" });
    expect(r.stdout).toMatch(/^ok +agent: answers on \S+agent.sock in \d+ ms$/m);
    expect(r.stdout).toMatch(/^ok +agent: lookup alice: 3 key\(s\) \(keys, from ldap\)/m);
  });

  it("refuses the next attempt once the key is removed from LDAP: no positive answer is kept", async () => {
    const bob = lab.users.bob;
    expect(await sshLogin(sshd.port, "bob", key("bob"))).toMatchObject({ ok: true });
    await lab.modify(bob.dn, [{ operation: "delete", attribute: "sshPublicKey", values: bob.sshPublicKeys }]);
    try {
      expect(lookup("bob")).toMatchObject({ code: 0, keys: 0, source: "agent:ldap" });
      expect(await sshLogin(sshd.port, "bob", key("bob"))).toMatchObject({ ok: false });
    } finally {
      await lab.modify(bob.dn, [{ operation: "add", attribute: "sshPublicKey", values: bob.sshPublicKeys }]);
    }
  });

  it("reconnects to LDAP on the next request after slapd restarts", async () => {
    expect(lookup("alice")).toMatchObject({ source: "agent:ldap" });
    await lab.stopServer();
    await lab.startServer();
    const after = lookup("alice");
    expect(after, `${after.stderr}\n${agent?.stderr()}`).toMatchObject({ code: 0, keys: 3, source: "agent:ldap" });
  });

  describe("after the bind password rotated, without restarting the agent (T72 F1)", () => {
    const passwordFile = () => join(install.dir, "reader.password");
    const setDirectoryPassword = (password: string) =>
      lab.modify(lab.readerDn, [{ operation: "replace", attribute: "userPassword", values: [password] }]);
    /** Rotates the reader's password (to a new value each time) in the directory (and on this host when onHost), forces the agent to bind again, runs check, restores. */
    async function rotated(rotatedTo: string, onHost: boolean, check: () => Promise<void>) {
      const original = readFileSync(passwordFile(), "utf8").replace(/\n$/, "");
      const bob = lab.users.bob;
      try {
        expect(lookup("bob")).toMatchObject({ code: 0, keys: bob.keys.length, source: "agent:ldap" });
        await setDirectoryPassword(rotatedTo);
        if (onHost) writeFileSync(passwordFile(), `${rotatedTo}\n`);
        // A bound connection stays bound: only the next connect binds with the password.
        await lab.stopServer();
        await lab.startServer();
        // bob revoked meanwhile: his cached keys must not let him in while LDAP answers
        await lab.modify(bob.dn, [{ operation: "delete", attribute: "sshPublicKey", values: bob.sshPublicKeys }]);
        await check();
      } finally {
        await setDirectoryPassword(original);
        writeFileSync(passwordFile(), `${original}\n`);
        await lab.modify(bob.dn, [{ operation: "add", attribute: "sshPublicKey", values: bob.sshPublicKeys }]).catch(() => {});
      }
    }

    it("rotated on the servers and on this host: the agent reads the password file again and refuses a revoked user", async () => {
      await rotated("rotated-F1-both", true, async () => {
        const r = lookup("bob");
        expect(r, `${r.stderr}\n${agent?.stderr()}`).toMatchObject({ code: 0, keys: 0, source: "agent:ldap" });
        expect(await sshLogin(sshd.port, "bob", key("bob"))).toMatchObject({ ok: false });
        expect(lookup("alice")).toMatchObject({ code: 0, keys: 3, source: "agent:ldap" });
        expect(agent?.stderr()).not.toContain("rotated-F1-both");
      });
    });

    it("rotated on the servers only: the agent's rejected bind is no answer; the login looks up directly", async () => {
      await rotated("rotated-F1-servers", false, async () => {
        const r = lookup("alice");
        // Not "agent:cache": the agent's cache answer would decide the login for a reason the login can check itself.
        expect(r, `${r.stderr}\n${agent?.stderr()}`).toMatchObject({ code: 0, keys: 3, source: "cache" });
        expect(r.stderr).toMatch(/agent not used \(the agent's LDAP bind was rejected \(LDAP bind as "cn=reader,[^"]*" rejected by /);
        expect(r.stderr).not.toContain("rotated-F1-servers");
        // …and when the host gets the new password, the very next login through the agent is decided by LDAP.
        writeFileSync(passwordFile(), "rotated-F1-servers\n");
        expect(lookup("bob")).toMatchObject({ code: 0, keys: 0, source: "agent:ldap" });
      });
    });
  });

  it("answers concurrent lookups on its one LDAP connection", async () => {
    const users = ["alice", "bob", "carol", "alice", "bob", "carol", "alice", "bob"];
    const replies = await Promise.all(users.map((user) => request(`${JSON.stringify({ user })}\n`)));
    const counts = replies.map((r) => (JSON.parse(r) as { lines: string[] }).lines.length);
    expect(counts).toEqual(users.map((u) => lab.users[u as "alice" | "bob" | "carol"].keys.length));
  });

  it("answers an oversized or garbage request with an error and keeps serving", async () => {
    const huge = await request(Buffer.alloc(MAX_REQUEST_BYTES + 10, "a"));
    expect(JSON.parse(huge)).toEqual({ error: `request larger than ${MAX_REQUEST_BYTES} bytes` });
    expect(JSON.parse(await request("not json\n"))).toEqual({ error: "request is not JSON" });
    expect(JSON.parse(await request("[1]\n"))).toEqual({ error: "request is not a JSON object" });
    expect(JSON.parse(await request('{"user":7}\n'))).toEqual({ error: "request has no user" });
    expect(JSON.parse(await request('{"user":"*)(uid=*"}\n'))).toMatchObject({ result: "invalid-user", lines: [] });
    expect(lookup("alice")).toMatchObject({ keys: 3, source: "agent:ldap" });
    expect(agent?.stderr()).not.toMatch(/ssh-ed25519 AAAA/);
  });

  it("is not trusted when its directory is writable by others or the socket belongs to another user", () => {
    try {
      chmodSync(runDir, 0o770);
      const r = lookup("alice");
      expect(r).toMatchObject({ code: 0, keys: 3, source: "ldap" });
      expect(r.stderr).toMatch(/agent not used \(.*writable by group or others/);
    } finally {
      chmodSync(runDir, 0o700);
    }
    try {
      chownSync(socket, 12_345, 12_345);
      expect(lookup("alice")).toMatchObject({ keys: 3, source: "ldap", stderr: expect.stringMatching(/owned by uid 12345/) });
    } finally {
      chownSync(socket, AUTHKEYS_UID, AUTHKEYS_UID);
    }
    expect(lookup("alice")).toMatchObject({ source: "agent:ldap" });
  });

  it("refuses to start, with one line and exit 77, when the socket directory is writable by others", () => {
    try {
      chmodSync(runDir, 0o777);
      const [cmd = "", ...args] = asCommandUser([install.bin, "--config", install.configFile, "agent"]);
      const r = spawnSync(cmd, args, { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
      expect(r.status).toBe(77);
      expect(r.stderr).toMatch(/socket directory .* must be owned by uid 20000 and not writable by others/);
    } finally {
      chmodSync(runDir, 0o700);
    }
  });

  it("an agent that accepts and never answers: the login looks up directly within the agent's timeout", async () => {
    await agent?.stop();
    agent = undefined;
    // Root may answer on the socket too (as a root-run agent would); this one never does.
    rmSync(socket, { force: true });
    const held = new Set<Socket>();
    const hung: Server = createServer((c) => held.add(c));
    await new Promise<void>((resolve) => hung.listen(socket, resolve));
    chmodSync(socket, 0o666);
    try {
      // Run asynchronously, so the hung agent (in this process) sees each connection as it is made.
      const started = Date.now();
      const r = await lookupAsync("alice");
      const ms = Date.now() - started;
      expect(r).toMatchObject({ keys: 3, source: "ldap" });
      expect(r.stderr).toMatch(new RegExp(`agent not used \\(no reply within ${AGENT_TIMEOUT_MS} ms\\)`));
      console.info(`lookup with a hung agent took ${ms} ms (agent timeout ${AGENT_TIMEOUT_MS} ms)`);
      expect(ms).toBeGreaterThanOrEqual(AGENT_TIMEOUT_MS);
      // Asked once: the launcher, which asked first, tells the bundle not to wait for the agent again
      // (counted as connections, not timed: a loaded machine stretches any time bound).
      expect(held.size).toBe(1);
      expect(r.stderr.match(/agent not used/g)).toHaveLength(1);
      expect(await sshLogin(sshd.port, "alice", key("alice")), sshd.logs()).toMatchObject({ ok: true });
    } finally {
      for (const c of held) c.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  it("a reply that smuggles a second key line is not used: the login looks up directly", async () => {
    rmSync(socket, { force: true });
    const smuggled = {
      result: "keys",
      source: "ldap",
      lines: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA x\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5BBBB evil"],
    };
    const held = new Set<Socket>();
    const fake = createServer((c) => {
      held.add(c);
      c.end(`${JSON.stringify(smuggled)}\n`);
    });
    await new Promise<void>((resolve) => fake.listen(socket, resolve));
    chmodSync(socket, 0o666);
    try {
      const r = await lookupAsync("alice");
      expect(r).toMatchObject({ keys: 3, source: "ldap" });
      expect(r.stderr).toMatch(/agent not used \(malformed reply\)/);
    } finally {
      for (const c of held) c.destroy();
      await new Promise((resolve) => fake.close(resolve));
    }
  });

  it("stopped (SIGTERM exits 0), logins still work through the direct lookup", async () => {
    agent = await startAgent();
    expect(lookup("alice")).toMatchObject({ source: "agent:ldap" });
    expect(await agent.stop()).toBe(0);
    agent = undefined;
    const r = lookup("alice");
    expect(r).toMatchObject({ code: 0, keys: 3, source: "ldap" });
    const doctor = spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8" });
    expect(doctor.stdout).toMatch(/^warn +agent: \S+ does not exist: logins look up directly/m);
    expect(await sshLogin(sshd.port, "alice", key("alice"))).toMatchObject({ ok: true });
  });

  it("with syslog on, the audit line of an agent's answer goes to logger(1) as the bundle writes it", async () => {
    agent ??= await startAgent();
    const fakeBin = mkdtempSync("/run/opsguard-agent-logger-");
    chmodSync(fakeBin, 0o777);
    const logFile = join(fakeBin, "syslog");
    // Records its arguments and then every line it is given on stdin.
    writeFileSync(join(fakeBin, "logger"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${logFile}\ncat >> ${logFile}\n`, { mode: 0o755 });
    const syslogInstall = installAuthkeys(lab, { agent: { socket, timeoutMs: AGENT_TIMEOUT_MS }, syslog: { facility: "authpriv" } });
    const [cmd = "", ...args] = asCommandUser([syslogInstall.bin, "--config", syslogInstall.configFile, "lookup", "alice"]);
    // logger(1) runs beside the lookup: its lines land after the lookup has exited
    const loggedLines = async (count: number) =>
      (await untilFile(logFile, (text) => text !== undefined && text.split("\n").length > count, `${count} syslog lines`))
        .trim()
        .split("\n");
    try {
      const env = { PATH: `${fakeBin}:/usr/bin:/bin` };
      expect(spawnSync(cmd, args, { encoding: "utf8", env })).toMatchObject({ status: 0, stderr: "" });
      // The same config, touched: the launcher no longer answers, the bundle asks the agent and logs.
      writeFileSync(syslogInstall.configFile, readFileSync(syslogInstall.configFile));
      expect(spawnSync(cmd, args, { encoding: "utf8", env })).toMatchObject({ status: 0, stderr: "" });
      const lines = await loggedLines(4);
      expect(lines).toHaveLength(4);
      for (const [i, line] of lines.entries()) {
        expect(line).toMatch(
          i % 2 === 0
            ? /^--id=\d+ -t authkeys --prio-prefix --socket-errors=on --size=8192$/
            : /^<86>lookup user=alice result=keys keys=3 source=agent:ldap ms=\d+$/,
        );
      }
    } finally {
      syslogInstall.remove();
      rmSync(fakeBin, { recursive: true, force: true });
    }
  });

  it("a config edited since install is read again, by the login and by the agent", async () => {
    agent ??= await startAgent();
    const original = readFileSync(install.configFile, "utf8");
    try {
      expect(lookup("alice")).toMatchObject({ source: "agent:ldap" });
      // The agent reads the edited config too: another key attribute finds no keys, at once.
      writeConfig(install.configFile, { ...JSON.parse(original), keyAttribute: "cn" });
      expect(lookup("alice")).toMatchObject({ code: 0, keys: 0, source: "agent:ldap" });
      writeConfig(install.configFile, { ...JSON.parse(original), agent: undefined });
      expect(lookup("alice")).toMatchObject({ code: 0, keys: 3, source: "ldap", stderr: expect.not.stringMatching(/agent/) });
      writeFileSync(install.configFile, original);
      expect(lookup("alice")).toMatchObject({ code: 0, keys: 3, source: "agent:ldap" });
    } finally {
      writeFileSync(install.configFile, original);
    }
  });
});
