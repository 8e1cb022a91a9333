import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AUTHKEYS_UID,
  type AuthkeysInstall,
  type BlackholeServer,
  closedPort,
  installAuthkeys,
  type SlapdLab,
  type SshdHandle,
  sshdSkipReason,
  startBlackholeServer,
  startSlapd,
  startSshd,
} from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KnownHosts, parseHostsFile } from "../src/verify";
import { requireBundle } from "./harness";

// `authkeys verify` against several real sshd on loopback: one using authkeys (alice's keys from slapd), one
// with a static authorized_keys file that holds only bob's key, a closed port, a server that never answers,
// and names whose host key is wrong or not known.
let lab: SlapdLab;
let install: AuthkeysInstall;
let withAuthkeys: SshdHandle;
let staticKeys: SshdHandle;
let blackhole: BlackholeServer;
let dir: string;
let bin: string;

describe.skipIf(sshdSkipReason())("authkeys verify", () => {
  beforeAll(async () => {
    bin = requireBundle();
    dir = mkdtempSync(join(tmpdir(), "authkeys-verify-"));
    [lab, blackhole] = await Promise.all([startSlapd(), startBlackholeServer()]);
    install = installAuthkeys(lab);
    const keysFile = join(dir, "authorized_keys");
    writeFileSync(keysFile, `${lab.users.bob.keys[0]!.publicKey}\n`);
    const alice = { name: "alice", uid: lab.users.alice.uidNumber };
    [withAuthkeys, staticKeys] = await Promise.all([
      startSshd({
        users: [alice, { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir }],
        authorizedKeysCommand: { path: install.bin, args: `--config ${install.configFile} lookup -- %u %f`, user: "authkeys" },
      }),
      startSshd({ users: [alice], authorizedKeysFile: keysFile }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([withAuthkeys?.stop(), staticKeys?.stop(), lab?.stop(), blackhole?.stop()]);
    install?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("tells accepted, refused, unreachable, host key changed and host key unknown apart, and exits 1", { timeout: 60_000 }, async () => {
    // The budget covers sshd's fork and re-exec and the AuthorizedKeysCommand's LDAP lookup: on a loaded CI host
    // (stop 34) 2 s was not enough for the first login, so the silent server's wait is the price of a margin.
    const TIMEOUT_MS = 8000;
    const dead = await closedPort();
    const key = (h: SshdHandle) => h.hostPublicKey.split(" ").slice(0, 2).join(" ");
    const verify = (hosts: string[], known: string[]) => {
      const hostsFile = join(dir, `hosts-${hosts.length}`);
      writeFileSync(hostsFile, `# the fleet\n${hosts.join("\n")}\n`);
      const knownHosts = join(dir, `known-${hosts.length}`);
      writeFileSync(knownHosts, `${known.join("\n")}\n`);
      const privateKey = lab.users.alice.keys.find((k) => k.type === "ed25519")!.privateKeyFile;
      const args = [
        "verify",
        "--hosts",
        hostsFile,
        "--user",
        "alice",
        "-i",
        privateKey,
        "--known-hosts",
        knownHosts,
        "--timeout-ms",
        String(TIMEOUT_MS),
        "--json",
      ];
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { PATH: process.env.PATH } });
      return {
        code: r.status,
        stderr: r.stderr,
        verdicts: r.stdout ? (JSON.parse(r.stdout) as { host: string; port: number; result: string; detail: string }[]) : [],
      };
    };
    const first = verify(
      [
        `127.0.0.1:${withAuthkeys.port}`,
        `127.0.0.1:${staticKeys.port}   # no authkeys here yet`,
        `127.0.0.1:${dead}`,
        `127.0.0.1:${blackhole.port}`,
      ],
      [
        `[127.0.0.1]:${withAuthkeys.port} ${key(withAuthkeys)}`,
        `[127.0.0.1]:${staticKeys.port},other ${key(staticKeys)}`,
        `[127.0.0.1]:${blackhole.port} ${key(staticKeys)}`,
      ],
    );
    expect(first.code, `${first.stderr}\n${withAuthkeys.logs().slice(-3000)}`).toBe(1);
    expect(first.verdicts[0]?.result, `${JSON.stringify(first.verdicts[0])}\n${withAuthkeys.logs().slice(-3000)}`).toBe("accepted");
    expect(first.verdicts.map((v) => [v.port, v.result])).toEqual([
      [withAuthkeys.port, "accepted"],
      [staticKeys.port, "refused"],
      [dead, "unreachable"],
      [blackhole.port, "unreachable"],
    ]);
    expect(first.verdicts[3]!.detail).toMatch(new RegExp(`no answer within ${TIMEOUT_MS} ms|Timed out`));
    const accepted = withAuthkeys.logs().match(/Accepted publickey for alice/g)?.length ?? 0;

    // known_hosts holding the other server's key (a man in the middle, as far as ssh can tell), and none at all
    const second = verify(
      [`127.0.0.1:${withAuthkeys.port}`, `127.0.0.1:${staticKeys.port}`],
      [`[127.0.0.1]:${withAuthkeys.port} ${key(staticKeys)}`],
    );
    expect(second.code).toBe(1);
    expect(second.verdicts.map((v) => v.result)).toEqual(["host-key-changed", "host-key-unknown"]);
    // a host whose key is not trusted is never authenticated to
    expect(withAuthkeys.logs().match(/Accepted publickey for alice/g)?.length ?? 0).toBe(accepted);

    // found by a black-box try: a @revoked key ahead of the host's normal line, and a !negated pattern
    const revoked = verify(
      [`127.0.0.1:${withAuthkeys.port}`, `127.0.0.1:${staticKeys.port}`, `127.0.0.1:${dead}`],
      [
        `@revoked [127.0.0.1]:${withAuthkeys.port} ${key(withAuthkeys)}`,
        `[127.0.0.1]:${withAuthkeys.port} ${key(withAuthkeys)}`,
        `![127.0.0.1]:${staticKeys.port},[127.0.0.1]:${staticKeys.port} ${key(staticKeys)}`,
      ],
    );
    expect(revoked.verdicts.map((v) => v.result)).toEqual(["host-key-revoked", "host-key-unknown", "unreachable"]);
    expect(withAuthkeys.logs().match(/Accepted publickey for alice/g)?.length ?? 0).toBe(accepted);
  });

  it("every host accepting is exit 0; the table names each", () => {
    const hostsFile = join(dir, "hosts-ok");
    writeFileSync(hostsFile, `127.0.0.1:${withAuthkeys.port}\n`);
    const knownHosts = join(dir, "known_hosts-ok");
    const hashedName = `[127.0.0.1]:${withAuthkeys.port}`;
    // a hashed entry (HashKnownHosts yes), as ssh-keygen -H writes it
    const salt = Buffer.from("0123456789abcdef0123");
    const hash = createHmac("sha1", salt).update(hashedName).digest("base64");
    writeFileSync(knownHosts, `|1|${salt.toString("base64")}|${hash} ${withAuthkeys.hostPublicKey}\n`);
    const r = spawnSync(
      process.execPath,
      [bin, "verify", "--hosts", hostsFile, "--user", "alice", "-i", lab.users.alice.keys[0]!.privateKeyFile, "--known-hosts", knownHosts],
      { encoding: "utf8", env: { PATH: process.env.PATH } },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("accepted");
    expect(r.stdout).toContain("1 of 1 host(s) accepted the key");
  });

  it("offers the key held by an ssh-agent (SSH_AUTH_SOCK) when no -i is given", () => {
    const sock = join(dir, "agent.sock");
    const started = spawnSync("ssh-agent", ["-a", sock, "-s"], { encoding: "utf8" });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(started.stdout)?.[1]);
    try {
      const env = { PATH: process.env.PATH, SSH_AUTH_SOCK: sock };
      const added = spawnSync("ssh-add", [lab.users.alice.keys[0]!.privateKeyFile], { encoding: "utf8", env });
      expect(added.status, added.stderr).toBe(0);
      const hostsFile = join(dir, "hosts-agent");
      writeFileSync(hostsFile, `127.0.0.1:${withAuthkeys.port}\n`);
      const knownHosts = join(dir, "known_hosts-agent");
      writeFileSync(knownHosts, `[127.0.0.1]:${withAuthkeys.port} ${withAuthkeys.hostPublicKey}\n`);
      const r = spawnSync(
        process.execPath,
        [bin, "verify", "--hosts", hostsFile, "--user", "alice", "--known-hosts", knownHosts, "--json"],
        {
          encoding: "utf8",
          env,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)[0].result).toBe("accepted");
    } finally {
      if (pid) process.kill(pid);
    }
  });

  it("bad input is one line and exit 64/66, never a stack trace", () => {
    const bad = join(dir, "hosts-bad");
    writeFileSync(bad, "good.example\nnot a host\n");
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [bin, "verify", ...args], { encoding: "utf8", env: { PATH: process.env.PATH } });
    const r1 = run("--hosts", bad, "--user", "alice", "-i", "/dev/null");
    expect(r1.status).toBe(64);
    expect(r1.stderr).toMatch(/line 2: "not a host" is not a host name/);
    const good0 = join(dir, "hosts-good0");
    writeFileSync(good0, "good.example\n");
    for (const notKey of ["/dev/null", `${lab.users.alice.keys[0]!.privateKeyFile}.pub`]) {
      const r = run("--hosts", good0, "--user", "alice", "-i", notKey);
      expect(r.status, notKey).toBe(64);
      expect(r.stderr).toMatch(/not an unencrypted private key/);
    }
    const r2 = run("--hosts", join(dir, "missing"), "--user", "alice", "-i", "/dev/null");
    expect(r2.status).toBe(66);
    const good = join(dir, "hosts-good");
    writeFileSync(good, "good.example\n");
    const r3 = run("--hosts", good, "--user", "alice");
    expect(r3.status).toBe(64);
    expect(r3.stderr).toMatch(/give -i FILE or run an ssh-agent/);
    for (const r of [r1, r2, r3]) {
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
  });
});

describe("hosts file and known_hosts parsing", () => {
  it("reads names, host:port, [ipv6]:port and bare IPv6, skipping comments", () => {
    expect(parseHostsFile("a.example\nb.example:2222 # x\n[::1]:22022\n::1\n\n")).toEqual([
      { host: "a.example", port: 22 },
      { host: "b.example", port: 2222 },
      { host: "::1", port: 22022 },
      { host: "::1", port: 22 },
    ]);
    expect(parseHostsFile("x:99999")).toMatchObject({ line: 1 });
    expect(parseHostsFile("-oProxyCommand=sh")).toMatchObject({ line: 1 });
  });

  it("judges host keys as ssh does: per port, wildcards, !negation, hashed names, @revoked, @cert-authority skipped", () => {
    const one = Buffer.from("key-one");
    const two = Buffer.from("key-two");
    const b64 = (b: Buffer) => b.toString("base64");
    const salt = Buffer.from("salt-salt-salt-salt!");
    const hashed = createHmac("sha1", salt).update("h.example").digest("base64");
    const known = new KnownHosts(
      [
        `a.example ssh-ed25519 ${b64(one)}`,
        `[a.example]:2222 ssh-ed25519 ${b64(two)}`,
        `*.web.example,!db.web.example ssh-ed25519 ${b64(one)}`,
        `|1|${b64(salt)}|${hashed} ssh-ed25519 ${b64(two)}`,
        `@cert-authority *.example ssh-ed25519 ${b64(two)}`,
        `@revoked r.example ssh-ed25519 ${b64(one)}`,
        `r.example ssh-ed25519 ${b64(one)}`,
      ].join("\n"),
    );
    const at = (host: string, port = 22) => ({ host, port });
    expect(known.judge(at("a.example"), one)).toEqual({ known: true, trusted: true, revoked: false });
    expect(known.judge(at("a.example", 2222), one)).toEqual({ known: true, trusted: false, revoked: false });
    expect(known.judge(at("x.web.example"), one).trusted).toBe(true);
    expect(known.judge(at("db.web.example"), one)).toEqual({ known: false, trusted: false, revoked: false });
    expect(known.judge(at("h.example"), two).trusted).toBe(true);
    expect(known.judge(at("b.example"), two).known).toBe(false);
    // revoked wins over a line that lists the same key as the host's
    expect(known.judge(at("r.example"), one)).toEqual({ known: true, trusted: false, revoked: true });
  });
});
