import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  AUTHKEYS_UID,
  type AuthkeysInstall,
  closedPort,
  generateSshKey,
  installAuthkeys,
  MALFORMED_KEY,
  type SlapdLab,
  type SshdHandle,
  startBlackholeServer,
  startSlapd,
  startSshd,
  startSyslogSocket,
} from "@opsguard/lab";
import { Client } from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBundle, sshLogin, writeConfig } from "./harness";

// Issue 15: logins through a real sshd that runs the authkeys installed as its README says, as the
// command user, against a real slapd: nothing may widen access, and nothing may lock the fleet out.
let lab: SlapdLab;
let install: AuthkeysInstall;
let sshd: SshdHandle;
const GROUP_OPTIONS = "no-port-forwarding,no-agent-forwarding";

beforeAll(async () => {
  requireBundle();
  lab = await startSlapd();
  // ops (alice, bob) may log in without forwarding; sre (carol) without restrictions.
  install = installAuthkeys(lab, { allowedGroups: [{ dn: lab.groups.ops, keyOptions: GROUP_OPTIONS }, lab.groups.sre] });
  const users = (["alice", "bob", "carol"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber }));
  sshd = await startSshd({
    users: [
      ...users,
      // Accounts sshd knows under names LDAP would match case-insensitively or read as options.
      { name: "ALICE", uid: lab.users.alice.uidNumber },
      { name: "-c", uid: lab.users.alice.uidNumber },
      { name: "--help", uid: lab.users.alice.uidNumber },
      { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir },
    ],
    authorizedKeysCommand: install.command,
    logLevel: "DEBUG1",
  });
});

afterAll(async () => {
  await sshd?.stop();
  install?.remove();
  await lab?.stop();
});

const key = (user: "alice" | "bob" | "carol", type = "ed25519") => {
  const found = lab.users[user].keys.find((k) => k.type === type);
  if (!found) throw new Error(`lab user ${user} has no ${type} key`);
  return found;
};

/** Runs argv as the AuthorizedKeysCommandUser with sshd's minimal environment. */
function asCommandUser(args: string[]) {
  return spawnSync("setpriv", [`--reuid=${AUTHKEYS_UID}`, `--regid=${AUTHKEYS_UID}`, "--clear-groups", install.bin, ...args], {
    encoding: "utf8",
    env: { PATH: "/usr/bin:/bin" },
  });
}

/** Replaces a user's sshPublicKey values for the duration of fn. */
async function withKeys(user: "alice" | "bob" | "carol", values: string[], fn: () => Promise<void>): Promise<void> {
  const { dn, sshPublicKeys } = lab.users[user];
  await lab.modify(dn, [{ operation: "replace", attribute: "sshPublicKey", values }]);
  try {
    await fn();
  } finally {
    await lab.modify(dn, [{ operation: "replace", attribute: "sshPublicKey", values: sshPublicKeys }]);
  }
}

/** Logs in and asks sshd to open a direct-tcpip channel to slapd's port: whether port forwarding is allowed. */
function forwardingAllowed(username: string, privateKeyFile: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .on("ready", () => {
        client.forwardOut("127.0.0.1", 0, "127.0.0.1", lab.port, (error, channel) => {
          channel?.destroy();
          client.end();
          resolve(!error);
        });
      })
      .on("error", reject)
      .connect({ host: "127.0.0.1", port: sshd.port, username, privateKey: readFileSync(privateKeyFile), readyTimeout: 30_000 });
  });
}

/**
 * A login with OpenSSH's own client, which (unlike ssh2) first asks whether the key would do and then
 * signs: sshd runs the command twice, as for a real engineer.
 */
async function opensshLogin(username: string, privateKeyFile: string, extra: string[] = []) {
  const started = Date.now();
  const args = [
    ...["-F", "/dev/null", "-p", String(sshd.port), "-i", privateKeyFile, ...extra],
    ...["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"],
    `${username}@127.0.0.1`,
    "true",
  ];
  // Asynchronously, so sshd's log keeps being read meanwhile.
  const child = spawn("ssh", args, { stdio: ["ignore", "ignore", "pipe"], timeout: 30_000 });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
  // sshd's last lines may still be on their way through its stderr pipe.
  await new Promise((r) => setTimeout(r, 100));
  return { status, stderr, ms: Date.now() - started };
}

describe("install as the README says, run as the command user", () => {
  it("creates cache.dir from the config, its new parents open to pass through, and doctor as the command user proves it", () => {
    expect(statSync(install.cacheDir)).toMatchObject({ uid: AUTHKEYS_UID });
    expect(statSync(install.cacheDir).mode & 0o777).toBe(0o700);
    for (let dir = dirname(install.cacheDir); dir !== install.dir; dir = dirname(dir)) {
      expect(statSync(dir).mode & 0o777, dir).toBe(0o755);
    }
    expect(install.command.args).toBe(`--config ${install.configFile} lookup -- %u %f`);
    const doctor = asCommandUser(["--config", install.configFile, "doctor", "--user", "alice"]);
    expect(doctor.stdout).toMatch(
      new RegExp(`^ok +cache: ${install.cacheDir} is private \\(mode 700\\) and uid ${AUTHKEYS_UID} wrote, read`, "m"),
    );
    expect(doctor.status, doctor.stdout).toBe(0);
  });

  it("install refuses a --cache-dir other than the config's cache.dir, which logins use", () => {
    const r = spawnSync(
      process.execPath,
      [
        requireBundle(),
        "install",
        "--config",
        install.configFile,
        "--prefix",
        install.dir,
        "--run-as",
        "root",
        "--cache-dir",
        "/elsewhere",
      ],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(64);
    expect(r.stderr).toMatch(/--cache-dir \/elsewhere differs from cache.dir .* in the config/);
  });

  it("install does not hand a directory in use to the command user", () => {
    const prefix = mkdtempSync("/run/opsguard-authkeys-prefix-");
    const config = join(prefix, "authkeys.json");
    try {
      chmodSync(prefix, 0o755);
      // cache.dir naming a directory that holds other files (as /tmp or /var would).
      writeConfig(config, { ...JSON.parse(readFileSync(install.configFile, "utf8")), cache: { dir: install.dir } });
      const r = spawnSync(process.execPath, [requireBundle(), "install", "--config", config, "--prefix", prefix, "--run-as", "authkeys"], {
        encoding: "utf8",
        env: install.installEnv,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/exists, is not empty and belongs to uid 0: not giving it to authkeys/);
      expect(statSync(install.dir)).toMatchObject({ uid: 0 });
      expect(statSync(install.dir).mode & 0o777).toBe(0o755);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it("install --config with a relative path prints the sshd line with the absolute path (sshd runs it from /)", () => {
    const prefix = mkdtempSync("/run/opsguard-authkeys-prefix-");
    try {
      chmodSync(prefix, 0o755);
      copyFileSync(install.configFile, join(prefix, "p.json"));
      const r = spawnSync(
        process.execPath,
        [requireBundle(), "install", "--config", "p.json", "--prefix", join(prefix, "lib"), "--run-as", "authkeys"],
        { encoding: "utf8", cwd: prefix, env: install.installEnv },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(
        `AuthorizedKeysCommand ${join(prefix, "lib", "authkeys")} --config ${join(prefix, "p.json")} lookup -- %u %f\n`,
      );
      // As sshd runs it: from /, with that line's arguments.
      const login = spawnSync(join(prefix, "lib", "authkeys"), ["--config", join(prefix, "p.json"), "lookup", "--", "alice"], {
        encoding: "utf8",
        cwd: "/",
        env: { PATH: "/usr/bin:/bin" },
      });
      expect(login.status, login.stderr).toBe(0);
      expect(login.stdout.trim().split("\n")).toHaveLength(3);
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  });

  it("a cache the command user cannot reach fails an outage lookup with the cause and the fix (77), not an internal error", async () => {
    const parent = dirname(install.cacheDir);
    const dead = join(install.dir, "dead.json");
    const config = JSON.parse(readFileSync(install.configFile, "utf8")) as { ldap: Record<string, unknown> };
    writeConfig(dead, { ...config, ldap: { ...config.ldap, urls: [`ldap://127.0.0.1:${await closedPort()}`] } });
    chmodSync(parent, 0o700);
    try {
      const r = asCommandUser(["--config", dead, "alice"]);
      expect(r).toMatchObject({ status: 77, stdout: "" });
      expect(r.stderr).toMatch(
        new RegExp(`^authkeys: cannot read the key cache ${install.cacheDir} \\(EACCES\\) \\(re-run authkeys install`, "m"),
      );
      expect(r.stderr).not.toMatch(/internal error/);
    } finally {
      chmodSync(parent, 0o755);
      rmSync(dead, { force: true });
    }
  });

  it("doctor as the command user fails when it cannot write the cache", () => {
    execFileSync("chown", ["root:root", install.cacheDir]);
    try {
      const doctor = asCommandUser(["--config", install.configFile, "doctor"]);
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toMatch(/^FAIL +cache: /m);
    } finally {
      execFileSync("chown", [`${AUTHKEYS_UID}:${AUTHKEYS_UID}`, install.cacheDir]);
    }
  });
});

describe("user names are matched as sshd matches them", () => {
  it("ALICE, an account sshd knows, does not get alice's keys though LDAP matches uid case-insensitively", async () => {
    expect(await sshLogin(sshd.port, "alice", key("alice").privateKeyFile)).toMatchObject({ ok: true });
    expect(await sshLogin(sshd.port, "ALICE", key("alice").privateKeyFile)).toMatchObject({ ok: false });
    expect(asCommandUser(["--config", install.configFile, "lookup", "--", "ALICE"])).toMatchObject({ status: 0, stdout: "" });
  });

  it("a user named like an option is looked up as a name (and refused), not read as an option", async () => {
    for (const name of ["-c", "--help"]) {
      expect(await sshLogin(sshd.port, name, key("alice").privateKeyFile)).toMatchObject({ ok: false });
    }
    // sshd logs the command's stderr at DEBUG1: the lookup line, no help text and no config error.
    expect(sshd.logs()).toMatch(/lookup user=-c result=invalid-user/);
    expect(sshd.logs()).toMatch(/lookup user=--help result=invalid-user/);
    expect(sshd.logs()).not.toMatch(/Usage: authkeys|config file SHA256/);
  });
});

describe("a group's keyOptions hold", () => {
  it("a member's own port-forwarding/agent-forwarding options are dropped (and logged), so forwarding stays off", async () => {
    const bob = key("bob");
    await withKeys("bob", [`port-forwarding,agent-forwarding ${bob.publicKey}`], async () => {
      const lookup = asCommandUser(["--config", install.configFile, "bob"]);
      expect(lookup.stdout).toBe(`${GROUP_OPTIONS} ${bob.publicKey}\n`);
      expect(lookup.stderr).toMatch(
        /ignored key options that would undo the group's keyOptions .*options=port-forwarding,agent-forwarding/,
      );
      expect(await forwardingAllowed("bob", bob.privateKeyFile)).toBe(false);
    });
    // The check can tell: a member of a group without keyOptions may forward.
    expect(await forwardingAllowed("carol", key("carol", "ecdsa").privateKeyFile)).toBe(true);
  });

  // Found by a black-box try: inside a quoted value sshd reads only \" as an escape, so `"A=\\"` does
  // not end there for sshd. Read any other way, the options sshd obeys are not the ones checked.
  it("a backslash-quote crafted line cannot smuggle port-forwarding past the group (sshd login refuses to forward)", async () => {
    const bob = key("bob");
    const crafted = `environment="A=\\\\",environment=",port-forwarding,agent-forwarding,pty,command=" ${bob.publicKey}" ${bob.publicKey}`;
    await withKeys("bob", [crafted], async () => {
      const lookup = asCommandUser(["--config", install.configFile, "bob"]);
      expect(lookup.stdout).toBe(`${GROUP_OPTIONS},environment="A=\\\\",environment=",pty,command=" ${bob.publicKey}" ${bob.publicKey}\n`);
      expect(lookup.stderr).toMatch(
        /ignored key options that would undo the group's keyOptions .*options=port-forwarding,agent-forwarding/,
      );
      expect(await forwardingAllowed("bob", bob.privateKeyFile)).toBe(false);
    });
  });

  it("a crafted line cannot hide a weak key behind a cert-authority line authkeys would print (sshd refuses the key)", async () => {
    const dir = join(lab.dir, "crafted");
    execFileSync("mkdir", ["-p", dir]);
    const ca = await generateSshKey(dir, "ca", "ed25519", "ca@opsguard.test");
    const weak = await generateSshKey(dir, "weak", "rsa-1024", "weak@opsguard.test");
    const crafted = `environment="A=\\\\",cert-authority,environment=",port-forwarding,command=" ${ca.publicKey}" ${weak.publicKey}`;
    await withKeys("bob", [crafted], async () => {
      const lookup = asCommandUser(["--config", install.configFile, "bob"]);
      expect(lookup.stdout).toBe("");
      expect(lookup.stderr).toMatch(/dropped a key: RSA key of 1024 bits \(minimum 2048\)/);
      expect(await sshLogin(sshd.port, "bob", weak.privateKeyFile)).toMatchObject({ ok: false });
      // The check can tell: with minRsaBits 1024 the same line is printed (as sshd reads it) and the key logs in.
      const original = readFileSync(install.configFile, "utf8");
      try {
        writeConfig(install.configFile, { ...JSON.parse(original), minRsaBits: 1024 });
        expect(asCommandUser(["--config", install.configFile, "bob"]).stdout).toContain(weak.publicKey);
        expect(await sshLogin(sshd.port, "bob", weak.privateKeyFile)).toMatchObject({ ok: true });
      } finally {
        writeFileSync(install.configFile, original);
      }
    });
  });
});

describe("key lines sshd accepts", () => {
  it("a key separated from its type by two spaces or a tab logs in", async () => {
    const carol = key("carol", "ecdsa");
    const [type, blob, comment] = carol.publicKey.split(" ");
    for (const value of [`${type}  ${blob} ${comment}`, `${type}\t${blob}\t${comment}`]) {
      await withKeys("carol", [value], async () => {
        expect(await sshLogin(sshd.port, "carol", carol.privateKeyFile), value).toMatchObject({ ok: true });
      });
    }
  });

  it("a cert-authority line lets in a certificate it signed, though sshd passes the certificate key's %f", async () => {
    const dir = join(lab.dir, "certs");
    execFileSync("mkdir", ["-p", dir]);
    const ca = await generateSshKey(dir, "ca", "ed25519", "ca@opsguard.test");
    const user = await generateSshKey(dir, "carol-cert", "ed25519", "carol@opsguard.test");
    execFileSync("ssh-keygen", [
      "-q",
      "-s",
      ca.privateKeyFile,
      "-I",
      "carol-cert",
      "-n",
      "carol",
      "-V",
      "-5m:+1h",
      `${user.privateKeyFile}.pub`,
    ]);
    const [type, blob] = ca.publicKey.split(" ");
    const ssh = () => opensshLogin("carol", user.privateKeyFile, ["-o", `CertificateFile=${user.privateKeyFile}-cert.pub`]);
    // Without the CA line the certificate is refused: the check can tell.
    expect((await ssh()).status).not.toBe(0);
    await withKeys("carol", [`cert-authority,principals="carol"\t${type}  ${blob} ca`], async () => {
      const r = await ssh();
      expect(r.status, `${r.stderr}\n${sshd.logs().slice(-3000)}`).toBe(0);
    });
  });
});

describe("a bind the servers refuse is an outage, not an answer", () => {
  it("serves fresh cached keys with an error naming the bind DN, refuses the uncached, and doctor fails", async () => {
    const passwordFile = join(install.dir, "reader.password");
    const password = readFileSync(passwordFile);
    expect(await sshLogin(sshd.port, "alice", key("alice").privateKeyFile)).toMatchObject({ ok: true });
    rmSync(join(install.cacheDir, "carol.json"), { force: true });
    // The password rotated in the directory before this host got the new one.
    writeFileSync(passwordFile, "rotated-elsewhere\n");
    try {
      expect(await sshLogin(sshd.port, "alice", key("alice").privateKeyFile), sshd.logs().slice(-2000)).toMatchObject({ ok: true });
      const cached = asCommandUser(["--config", install.configFile, "alice"]);
      expect(cached.status).toBe(0);
      expect(cached.stdout.trim().split("\n")).toHaveLength(3);
      expect(cached.stderr).toMatch(
        /^authkeys: error: LDAP bind as "cn=reader,ou=services,dc=opsguard,dc=test" rejected by .*; serving cached keys/m,
      );
      const uncached = asCommandUser(["--config", install.configFile, "carol"]);
      expect(uncached).toMatchObject({ status: 78, stdout: "" });
      expect(uncached.stderr).toMatch(/LDAP bind as "cn=reader,ou=services,dc=opsguard,dc=test" rejected/);
      expect(await sshLogin(sshd.port, "carol", key("carol", "ecdsa").privateKeyFile)).toMatchObject({ ok: false });
      const doctor = asCommandUser(["--config", install.configFile, "doctor"]);
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toMatch(/^FAIL +ldap .*bind as "cn=reader,ou=services,dc=opsguard,dc=test" rejected/m);
    } finally {
      writeFileSync(passwordFile, password);
    }
  });
});

describe("with every LDAP server blackholed", () => {
  it("a whole login (both sshd runs) waits once, for every server at the same time; later runs skip all but a short probe of the first", async () => {
    const holes = await Promise.all([startBlackholeServer(), startBlackholeServer(), startBlackholeServer()]);
    const original = readFileSync(install.configFile, "utf8");
    try {
      expect((await opensshLogin("alice", key("alice").privateKeyFile)).status).toBe(0);
      rmSync(join(install.cacheDir, "bob.json"), { force: true });
      const config = JSON.parse(original) as { ldap: Record<string, unknown> };
      // Three connect timeouts one after another would overrun the deadline: the third would never be tried.
      const ldap = { ...config.ldap, urls: holes.map((h) => h.url), connectTimeoutMs: 700, timeoutMs: 700, deadlineMs: 1400 };
      writeConfig(install.configFile, { ...config, ldap });
      const runs = () => sshd.logs().match(/lookup user=alice result=keys keys=1 source=cache/g)?.length ?? 0;
      const runsBefore = runs();
      const logBefore = sshd.logs().length;
      const cached = await opensshLogin("alice", key("alice").privateKeyFile);
      expect(cached.status, cached.stderr).toBe(0);
      // sshd ran the lookup twice (query, then signature), both from the cache. The first tried the three
      // servers 100 ms apart, so each had its whole connect timeout within the deadline and failed; the
      // second skipped the other two at once and gave the first a 300 ms probe (every server skipped: a
      // short freeze of the directory must not mean a hold's worth of refusals).
      expect(runs() - runsBefore).toBe(2);
      const login = sshd.logs().slice(logBefore);
      expect(login).not.toContain("not tried");
      for (const hole of holes) expect(login).toContain(`${hole.url}: no answer within 700 ms`);
      expect(login).toContain(`${holes[0]?.url}: no answer within 300 ms`);
      for (const hole of holes.slice(1)) expect(login).toContain(`${hole.url}: skipped: failed moments ago (no answer within 700 ms)`);
      expect(holes.map((h) => h.connections())).toEqual([2, 1, 1]);
      const refused = await opensshLogin("bob", key("bob").privateKeyFile);
      expect(refused.status).not.toBe(0);
      expect(holes.slice(1).map((h) => h.connections())).toEqual([1, 1]);
      console.info(`all LDAP blackholed (deadline 1400 ms): cached login ${cached.ms} ms, uncached refusal ${refused.ms} ms`);
    } finally {
      writeFileSync(install.configFile, original);
      await Promise.all(holes.map((h) => h.stop()));
    }
  });
});

describe("syslog", () => {
  it("sends every line of a lookup to the syslog socket, in order, RFC 3164 with the lookup's own PID", async () => {
    // Where the command user can reach it (the lab's own directory is private).
    const syslog = await startSyslogSocket(join(install.dir, "dev-log"));
    const original = readFileSync(install.configFile, "utf8");
    const bob = key("bob");
    const weak = lab.users.dave.sshPublicKeys.find((v) => v.startsWith("ssh-rsa ")) ?? "";
    try {
      writeConfig(install.configFile, { ...JSON.parse(original), syslog: { facility: "authpriv", socket: syslog.path } });
      await withKeys("bob", [bob.publicKey, weak, MALFORMED_KEY], async () => {
        const r = asCommandUser(["--config", install.configFile, "bob"]);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toBe(`${GROUP_OPTIONS} ${bob.publicKey}\n`);
        await syslog.until((m) => m.length >= 3, "three syslog lines");
        const messages = syslog.messages();
        expect(messages).toHaveLength(3);
        // authpriv.warning (10*8+4) for the two dropped keys, then authpriv.info for the one lookup line.
        const header = (pri: number) => new RegExp(`^<${pri}>[A-Z][a-z]{2} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d authkeys\\[${r.pid}\\]: `);
        expect(messages[0]).toMatch(header(84));
        expect(messages[0]).toMatch(/dropped a key: RSA key of 1024 bits/);
        expect(messages[1]).toMatch(header(84));
        expect(messages[2]).toMatch(header(86));
        expect(messages[2]).toMatch(/lookup user=bob result=keys keys=1 source=ldap ms=\d+$/);
        // Warnings also reach stderr (sshd's log); the lookup line only syslog.
        expect(r.stderr).not.toMatch(/lookup user=bob/);
      });
      // A real login: sshd's run of the command logs there too.
      const before = syslog.messages().length;
      expect(await sshLogin(sshd.port, "bob", bob.privateKeyFile)).toMatchObject({ ok: true });
      await syslog.until(
        (m) => m.slice(before).some((line) => /^<86>.* authkeys\[\d+\]: lookup user=bob result=keys keys=1 source=ldap/.test(line)),
        "the lookup line of sshd's run",
      );
    } finally {
      writeFileSync(install.configFile, original);
      await syslog.stop();
    }
  });

  it("a failed lookup's syslog line says why, and odd user names are escaped distinctly", async () => {
    const syslog = await startSyslogSocket(join(install.dir, "dev-log-errors"));
    const original = readFileSync(install.configFile, "utf8");
    try {
      const config = JSON.parse(original) as { ldap: Record<string, unknown> };
      const dead = `ldap://127.0.0.1:${await closedPort()}`;
      writeConfig(install.configFile, {
        ...config,
        ldap: { ...config.ldap, urls: [dead] },
        syslog: { facility: "authpriv", socket: syslog.path },
      });
      rmSync(join(install.cacheDir, "carol.json"), { force: true });
      const r = asCommandUser(["--config", install.configFile, "carol"]);
      expect(r.status).not.toBe(0);
      // Names that all printed as alice? before; a byte that is not UTF-8 reaches Node as U+FFFD.
      for (const name of ["alice ", "alice\xff", "a\\x20"]) asCommandUser(["--config", install.configFile, "--", name]);
      const setpriv = `setpriv --reuid=${AUTHKEYS_UID} --regid=${AUTHKEYS_UID} --clear-groups`;
      spawnSync("/bin/sh", ["-c", `exec ${setpriv} "$0" --config "$1" -- "$(printf 'alice\\377')"`, install.bin, install.configFile], {
        env: { PATH: "/usr/bin:/bin" },
      });
      await syslog.until((m) => m.length >= 5, "five syslog lines");
      const [failed, spaced, latin, literal, byte] = syslog.messages();
      // authpriv.err (10*8+3), with the cause the stderr line gives.
      expect(failed).toMatch(/^<83>.* authkeys\[\d+\]: lookup user=carol result=error keys=0 source=none ms=\d+ error=".+"$/);
      expect(failed).toContain(dead);
      expect(spaced).toMatch(/lookup user=alice\\x20 result=invalid-user /);
      expect(latin).toMatch(/lookup user=alice\\xff result=invalid-user /);
      expect(byte).toMatch(/lookup user=alice\\u\{fffd\} result=invalid-user /);
      expect(literal).toMatch(/lookup user=a\\\\x20 result=invalid-user /);
    } finally {
      writeFileSync(install.configFile, original);
      await syslog.stop();
    }
  });

  it("without a syslog socket or without logger(1), the lines go to stderr, never nowhere", async () => {
    const original = readFileSync(install.configFile, "utf8");
    try {
      writeConfig(install.configFile, {
        ...JSON.parse(original),
        syslog: { facility: "authpriv", socket: join(lab.dir, "no-such-socket") },
      });
      const noSocket = asCommandUser(["--config", install.configFile, "alice"]);
      expect(noSocket.status).toBe(0);
      expect(noSocket.stdout.trim().split("\n")).toHaveLength(3);
      expect(noSocket.stderr).toMatch(/^authkeys: error: syslog unavailable \(.*no-such-socket.*\); its lines go to stderr$/m);
      expect(noSocket.stderr).toMatch(/^authkeys: lookup user=alice result=keys keys=3 source=ldap ms=\d+$/m);
      const noLogger = spawnSync(
        "/usr/bin/setpriv",
        [`--reuid=${AUTHKEYS_UID}`, `--regid=${AUTHKEYS_UID}`, "--clear-groups", install.bin, "--config", install.configFile, "alice"],
        { encoding: "utf8", env: { PATH: "/nonexistent" } },
      );
      expect(noLogger.status).toBe(0);
      expect(noLogger.stderr).toMatch(/^authkeys: error: syslog unavailable \(.*ENOENT.*\); its lines go to stderr$/m);
      expect(noLogger.stderr).toMatch(/^authkeys: lookup user=alice result=keys keys=3 source=ldap ms=\d+$/m);
    } finally {
      writeFileSync(install.configFile, original);
    }
  });
});
