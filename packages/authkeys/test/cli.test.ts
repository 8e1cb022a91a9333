import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { closedPort, type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandConfig } from "../src/sshd-command";
import { requireBundle, runWithClosedStdout } from "./harness";

// The built bundle as sshd and people run it: exit codes, stdout/stderr discipline, EPIPE.
/**
 * The host's own authkeys config, if it has one: without --config authkeys reads /etc/opsguard by design (sshd's
 * command has no other place), and nothing short of a mount namespace (root only) hides it from a test.
 */
const HOST_CONFIG = ["json", "yaml", "yml"].map((ext) => `/etc/opsguard/authkeys.${ext}`).find((path) => existsSync(path));
let lab: SlapdLab;
let bin: string;
let configFile: string;
let deadConfigFile: string;

beforeAll(async () => {
  bin = requireBundle();
  lab = await startSlapd();
  configFile = join(lab.dir, "authkeys.json");
  const base = { ldap: lab.connection(), cache: { dir: join(lab.dir, "cache") }, syslog: false };
  writeFileSync(configFile, JSON.stringify(base));
  deadConfigFile = join(lab.dir, "authkeys-dead.json");
  const dead = {
    ...base,
    ldap: { ...lab.connection(), urls: [`ldap://127.0.0.1:${await closedPort()}`] },
    cache: { dir: join(lab.dir, "cache-dead") },
  };
  writeFileSync(deadConfigFile, JSON.stringify(dead));
});
afterAll(async () => {
  await lab?.stop();
});

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("authkeys CLI", () => {
  // Skipped on a host with its own /etc/opsguard/authkeys.*: the lookup would read it, ask its LDAP and write its cache.
  it.skipIf(HOST_CONFIG !== undefined)(
    "without --config reads /etc/opsguard only: the command user's ~/.config or working directory cannot supply one",
    () => {
      const home = join(lab.dir, "akuser-home");
      mkdirSync(join(home, ".config", "opsguard"), { recursive: true });
      copyFileSync(configFile, join(home, ".config", "opsguard", "authkeys.json"));
      copyFileSync(configFile, join(home, ".authkeysrc.json"));
      const r = spawnSync(process.execPath, [bin, "lookup", "--", "alice"], {
        encoding: "utf8",
        cwd: home,
        env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, ".config") },
      });
      expect(r.stdout).toBe("");
      expect(r.status).not.toBe(0);
      expect(r.stderr).not.toContain(home);
    },
  );

  it("refuses a config others can write or another user owns: one line, exit 78, and doctor fails it", () => {
    const file = join(lab.dir, "authkeys-loose.json");
    copyFileSync(configFile, file);
    chmodSync(file, 0o666);
    const loose = run("--config", file, "lookup", "--", "alice");
    expect(loose).toMatchObject({ code: 78, stdout: "" });
    expect(loose.stderr.trim().split("\n")[0]).toMatch(
      /refusing config file .*authkeys-loose\.json: .* is writable by group or others \(mode 666\)/,
    );
    expect(loose.stderr).not.toMatch(/\n\s+at /);
    const doctor = run("--config", file, "doctor");
    expect(doctor.code).not.toBe(0);
    expect(doctor.stdout).toMatch(/^FAIL +config: refusing config file/m);
    chmodSync(file, 0o644);
    chownSync(file, 65534, 65534);
    expect(run("--config", file, "lookup", "--", "alice")).toMatchObject({ code: 78, stdout: "" });
    expect(run("--config", file, "lookup", "--", "alice").stderr).toMatch(/is owned by uid 65534, not root/);
  });

  it("prints the keys on stdout and one lookup line, without key material, on stderr when syslog is off", () => {
    const r = run("--config", configFile, "alice");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${lab.users.alice.keys.map((k) => k.publicKey).join("\n")}\n`);
    expect(r.stderr).toMatch(/^authkeys: lookup user=alice result=keys keys=3 source=ldap ms=\d+\n$/);
    expect(run("--config", configFile, "-q", "alice").stderr).toBe("");
  });

  it("takes sshd's %u %f %t %k and prints only the offered key", () => {
    const ecdsa = lab.users.alice.keys.find((k) => k.type === "ecdsa")!;
    const [type, blob] = ecdsa.publicKey.split(" ");
    const r = run("--config", configFile, "lookup", "alice", ecdsa.fingerprint, type ?? "", blob ?? "");
    expect(r).toMatchObject({ code: 0, stdout: `${ecdsa.publicKey}\n` });
  });

  it("the install-time warm-up walks a lookup offline without output, and is not offered in --help", () => {
    // No config to load (a --config that does not exist: the same made-up offline config as none at all, without
    // reading the host's /etc/opsguard/authkeys.yaml, which would send a real lookup to the host's directory).
    expect(run("--config", join(lab.dir, "no-such-authkeys.yaml"), "warm-up")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(run("--help").stdout).not.toContain("warm-up");
  });

  it("with a config, the warm-up also looks up its made-up user in the directory but prints and caches nothing", async () => {
    const user = "opsguard-authkeys-warm-up";
    await lab.addEntry(`uid=${user},${lab.peopleDn}`, {
      objectClass: ["inetOrgPerson", "posixAccount", "ldapPublicKey"],
      uid: user,
      cn: "Warm Up",
      sn: "Up",
      uidNumber: "30099",
      gidNumber: "30099",
      homeDirectory: "/nonexistent",
      sshPublicKey: lab.users.alice.keys[0]?.publicKey ?? "",
    });
    const cached = join(lab.dir, "cache", `${user}.json`);
    expect(run("--config", configFile, "warm-up")).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(existsSync(cached)).toBe(false);
    // A real lookup of the same user does cache its keys: the warm-up leaves no trace in the key cache.
    expect(run("--config", configFile, "-q", user)).toMatchObject({ code: 0, stdout: `${lab.users.alice.keys[0]?.publicKey}\n` });
    expect(existsSync(cached)).toBe(true);
  });

  it("sshd's argument shapes print what the full CLI prints for them, and other shapes still reach the full CLI", () => {
    const ecdsa = lab.users.alice.keys.find((k) => k.type === "ecdsa");
    const shapes = [
      ["alice"],
      ["lookup", "alice", ecdsa?.fingerprint ?? ""],
      ["lookup", "alice", "SHA256:unknown", "ssh-ed25519", "AAAA"],
      ["mallory"],
      ["lookup", "*)(uid=*"],
      ["lookup", "--", "-c", "SHA256:x"],
      ["lookup", "--", "--help"],
      ["lookup", "--", "alice", ecdsa?.fingerprint ?? ""],
    ];
    const timeless = (r: ReturnType<typeof run>) => ({ ...r, stderr: r.stderr.replace(/ms=\d+/g, "ms=N") });
    for (const args of shapes) {
      // An explicit default flag sends the same lookup through commander.
      const full = timeless(run("--config", configFile, "--log-format", "human", ...args));
      expect(timeless(run("--config", configFile, ...args))).toEqual(full);
      expect(timeless(run(`--config=${configFile}`, ...args))).toEqual(full);
    }
    expect(run("--config", configFile, "alice", "a", "b", "c", "d")).toMatchObject({ code: 64, stdout: "" });
    expect(run("--config", configFile)).toMatchObject({ code: 64, stdout: "" });
    expect(run("--config", configFile, "help").stdout).toContain("Usage: authkeys");
    // 27 runs of the CLI: a machine under load (CI shares its 2 cores) needs more than the default 30 s.
  }, 120_000);

  it("a user named like a subcommand is still a lookup after `lookup`", () => {
    expect(run("--config", configFile, "lookup", "doctor")).toMatchObject({ code: 0, stdout: "" });
  });

  it("a user named like an option is a user after `--` (as sshd-config prints it): no help, no config taken from %f", () => {
    for (const user of ["--help", "-h", "--version", "-c", "--config"]) {
      expect(run("--config", configFile, "lookup", "--", user, "SHA256:x")).toMatchObject({
        code: 0,
        stdout: "",
        stderr: expect.stringMatching(/result=invalid-user/),
      });
    }
  });

  it("exits 0 with no output for unknown and invalid users", () => {
    expect(run("--config", configFile, "mallory")).toMatchObject({ code: 0, stdout: "" });
    expect(run("--config", configFile, "lookup", "*)(uid=*")).toMatchObject({ code: 0, stdout: "" });
  });

  it("--json describes the result", () => {
    const r = run("--config", configFile, "--json", "frank");
    expect(JSON.parse(r.stdout)).toEqual({ user: "frank", result: "no-keys", source: "ldap", keys: [] });
  });

  it("LDAP down and nothing cached: exit 69, one line on stderr, nothing on stdout", () => {
    const r = run("--config", deadConfigFile, "alice");
    expect(r.code).toBe(69);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^authkeys: no LDAP server reachable/);
  });

  it("a missing or invalid config: exit 78 with the problem and the fix, no stack trace", () => {
    const missing = run("--config", "/nonexistent/authkeys.yaml", "alice");
    expect(missing.code).toBe(78);
    expect(missing.stderr).toMatch(/config file \/nonexistent\/authkeys.yaml does not exist/);
    const bad = join(lab.dir, "bad.json");
    writeFileSync(bad, JSON.stringify({ ldap: lab.connection(), minRsaBits: 512, syslog: false }));
    const invalid = run("--config", bad, "alice");
    expect(invalid.code).toBe(78);
    expect(invalid.stderr).toMatch(/minRsaBits/);
    expect(invalid.stderr).not.toMatch(/\n\s+at /);
  });

  it("a DNS server port out of range or an ldap.srv that is no DNS name: exit 78 naming the key, at config time", () => {
    const { urls: _urls, ...connection } = lab.connection();
    const label = "a".repeat(64);
    const long = Array.from({ length: 4 }, () => "b".repeat(63)).join(".");
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ srv: "example.org", dnsServer: "127.0.0.1:0" }, /ldap\.dnsServer.*port/],
      [{ srv: "example.org", dnsServer: ["127.0.0.1", "[::1]:65536"] }, /ldap\.dnsServer.*port/],
      [{ srv: "example.org", dnsServer: "300.1.2.3" }, /ldap\.dnsServer/],
      [{ srv: `${label}.example.org` }, /ldap\.srv.*63/],
      [{ srv: `${long}.org` }, /ldap\.srv.*253/],
    ];
    for (const [ldap, message] of cases) {
      const file = join(lab.dir, "bad-dns.json");
      writeFileSync(file, JSON.stringify({ ldap: { ...connection, ...ldap }, cache: { dir: join(lab.dir, "cache-dns") }, syslog: false }));
      const r = run("--config", file, "alice");
      expect(r, JSON.stringify(ldap)).toMatchObject({ code: 78, stdout: "" });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("syslog with a socket but no facility logs to authpriv, as the README's default says", () => {
    const file = join(lab.dir, "syslog-socket.json");
    const socket = join(lab.dir, "no-syslog-here");
    writeFileSync(file, JSON.stringify({ ldap: lab.connection(), cache: { dir: join(lab.dir, "cache") }, syslog: { socket } }));
    const r = run("--config", file, "alice");
    expect(r.stderr).not.toMatch(/Invalid input/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ssh-ed25519 /m);
    // A facility it does not know: what is expected, not zod's "Invalid input".
    writeFileSync(file, JSON.stringify({ ldap: lab.connection(), cache: { dir: join(lab.dir, "cache") }, syslog: { facility: "kern" } }));
    const kern = run("--config", file, "alice");
    expect(kern).toMatchObject({ code: 78, stdout: "" });
    expect(kern.stderr).toMatch(/syslog: expected false, or \{facility, socket\} with facility one of auth, authpriv/);
  });

  it("--help's --config line says where authkeys looks: $AUTHKEYS_CONFIG, then /etc/opsguard, never rc files or ~/.config", () => {
    const help = run("--help").stdout;
    // The option's description, joined across the lines commander wraps it on.
    const line = /-c, --config <file>([\s\S]*?)\n {2}-/.exec(help)?.[1]?.replace(/\s+/g, " ") ?? "";
    expect(line).toMatch(/AUTHKEYS_CONFIG/);
    expect(line).toMatch(/\/etc\/opsguard/);
    expect(help).not.toMatch(/authkeysrc|XDG_CONFIG_HOME|~\/\.config/);
  });

  it("a reader that hangs up early (EPIPE) does not turn into a failure", async () => {
    const { code, stderr } = await runWithClosedStdout([process.execPath, bin, "--config", configFile, "alice"]);
    expect(code).toBe(0);
    expect(stderr).not.toMatch(/error|EPIPE/i);
  });

  it("install refuses to run as anyone but root", () => {
    const argv = [process.execPath, bin, "install", "--prefix", join(lab.dir, "x")];
    // As root, drop to nobody first; another user (npm test as non-root) is already not root.
    const asUser = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv] : argv;
    const r = spawnSync(asUser[0]!, asUser.slice(1), { encoding: "utf8" });
    expect(r.status).toBe(77);
    expect(r.stderr).toMatch(/^authkeys: install must run as root/);
  });

  it("sshd-config prints the lines to add", () => {
    const r = run("sshd-config", "--path", "/usr/local/sbin/authkeys", "--config", "/etc/opsguard/authkeys.yaml");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("AuthorizedKeysCommand /usr/local/sbin/authkeys --config /etc/opsguard/authkeys.yaml lookup -- %u %f\n");
    expect(r.stdout).toContain("AuthorizedKeysCommandUser authkeys\n");
  });

  it("sshd-config names a relative --config by its absolute path, and refuses a relative --path", () => {
    const r = spawnSync(process.execPath, [bin, "sshd-config", "--path", "/usr/local/sbin/authkeys", "--config", "authkeys.json"], {
      encoding: "utf8",
      cwd: lab.dir,
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `AuthorizedKeysCommand /usr/local/sbin/authkeys --config ${join(lab.dir, "authkeys.json")} lookup -- %u %f\n`,
    );
    const relative = run("sshd-config", "--path", "bin/authkeys");
    expect(relative).toMatchObject({ code: 64, stdout: "" });
    expect(relative.stderr).toMatch(/^authkeys: --path "bin\/authkeys" is not absolute.*\n$/);
    const quoted = run("sshd-config", "--path", "/opt/my authkeys/authkeys");
    expect(quoted).toMatchObject({ code: 64, stdout: "" });
    expect(quoted.stderr).toMatch(/^authkeys: --path "\/opt\/my authkeys\/authkeys" contains white space or quotes/);
  });

  it("sshd-config writes --config as sshd splits and expands it: %% for %, quoted with white space or quotes", () => {
    const r = run("sshd-config", "--path", "/opt/authkeys", "--config", '/opt/x/p%u/my "a".yaml');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('AuthorizedKeysCommand /opt/authkeys --config "/opt/x/p%%u/my \\"a\\".yaml" lookup -- %u %f\n');
    // and doctor reads it back as sshd does (argv_split, then %% as %) to tell which config sshd's logins use
    for (const line of r.stdout.split("\n").filter((l) => /^Authorized(Keys|Principals)Command /.test(l))) {
      expect(commandConfig(line.replace(/^\S+ /, ""))).toBe('/opt/x/p%u/my "a".yaml');
    }
    expect(commandConfig(`/opt/authkeys --config "/opt/a b/c'd\\\\e.yaml" lookup -- %u %f`)).toBe("/opt/a b/c'd\\e.yaml");
    expect(commandConfig("/opt/authkeys lookup -- %u %f")).toBeNull();
    expect(commandConfig("/usr/bin/sss_ssh_authorizedkeys %u")).toBeUndefined();
    // as authkeys itself reads its arguments (T58 NEW-3): the last --config wins, one after the command counts, none after --
    expect(commandConfig("/opt/authkeys --config /a.yaml --config /b.yaml lookup -- %u %f")).toBe("/b.yaml");
    expect(commandConfig("/opt/authkeys lookup --config /b.yaml -- %u %f")).toBe("/b.yaml");
    expect(commandConfig("/opt/authkeys --config /a.yaml principals -c/b.yaml -- %u %i %s %T")).toBe("/b.yaml");
    expect(commandConfig("/opt/authkeys --config /a.yaml lookup --config=/b.yaml -- %u %f")).toBe("/b.yaml");
    expect(commandConfig("/opt/authkeys --config /a.yaml lookup -- %u --config /b.yaml")).toBe("/a.yaml");
    expect(commandConfig("/opt/authkeys lookup -- %u %f --config")).toBeNull();
    // a line authkeys would refuse (--config without its file) runs with no config at all: not judged here
    expect(commandConfig("/opt/authkeys lookup --config")).toBeUndefined();
    // biome-ignore lint/suspicious/noTemplateCurlyInString: sshd's ${ENV} syntax, not a JavaScript template
    const env = run("sshd-config", "--config", "/opt/${HOME}/a.yaml");
    expect(env).toMatchObject({ code: 64, stdout: "" });
    expect(env.stderr).toMatch(/^authkeys: --config "\/opt\/\$\{HOME\}\/a.yaml" contains "\$\{", which sshd expands/);
  });

  it.skipIf(process.getuid?.() !== 0)("doctor reads sshd -T: a user CA without the principals command in effect fails", () => {
    const dir = join(lab.dir, "sshd-doctor");
    mkdirSync(dir, { recursive: true });
    const hostKey = join(dir, "host_key");
    if (!existsSync(hostKey)) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
    // A file that exists: one that does not fails doctor by itself (revocation-outage.test.ts).
    const printed = run("--config", configFile, "sshd-config", "--path", "/usr/bin/true", "--run-as", "nobody").stdout;
    const keysFirst = printed.split("\n").filter((line) => /^Authorized(Keys|Principals)Command/.test(line));
    keysFirst.push(...keysFirst.splice(0, 2)); // the principals lines after the keys lines, as before the fix
    const write = (name: string, lines: string[]) => {
      const file = join(dir, name);
      writeFileSync(file, [`HostKey ${hostKey}`, `TrustedUserCAKeys ${hostKey}.pub`, ...lines, ""].join("\n"));
      return file;
    };
    const bad = run("--config", configFile, "doctor", "--sshd-config", write("keys-first.conf", keysFirst));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /^FAIL +sshd: TrustedUserCAKeys .* without an AuthorizedPrincipalsCommand in effect: .*put the AuthorizedPrincipals\* lines first/m,
    );
    const good = run("--config", configFile, "doctor", "--sshd-config", write("printed.conf", printed.split("\n")));
    expect(good.stdout).toMatch(/^ok +sshd: AuthorizedPrincipalsCommand \/usr\/bin\/true --config \S+ principals -- %u %i %s %T$/m);
    expect(good.stdout).not.toMatch(/^FAIL +sshd/m);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "doctor fails when sshd's command runs authkeys with another config than the one it checks (T52 F3)",
    () => {
      const dir = join(lab.dir, "sshd-doctor-config");
      mkdirSync(dir, { recursive: true });
      const hostKey = join(dir, "host_key");
      if (!existsSync(hostKey)) spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
      const sshdConfig = (name: string, config: string[]) => {
        const file = join(dir, name);
        const printed = run(...config, "sshd-config", "--path", "/usr/bin/true", "--run-as", "nobody").stdout;
        writeFileSync(file, `HostKey ${hostKey}\n${printed}`);
        return file;
      };
      // sshd runs the dead-server config; the admin checks the working one, which alone would pass
      const other = run(
        "--config",
        configFile,
        "doctor",
        "--user",
        "alice",
        "--sshd-config",
        sshdConfig("other.conf", ["--config", deadConfigFile]),
      );
      expect(other.code).toBe(1);
      for (const name of ["AuthorizedKeysCommand", "AuthorizedPrincipalsCommand"]) {
        expect(other.stdout).toContain(
          `FAIL  sshd: sshd's ${name} runs authkeys with --config ${deadConfigFile}, not ${configFile}, which these checks are of: they say nothing about its logins (check that one: authkeys --config ${deadConfigFile} doctor, or fix the sshd_config line)`,
        );
      }
      expect(other.stdout).toMatch(/^ok +lookup alice: 3 key\(s\)/m);
      // no --config in the line: sshd's authkeys reads /etc/opsguard (the host's file there, if any: doctor only looks
      // whether it exists), not the file given to doctor
      const none = run("--config", configFile, "doctor", "--sshd-config", sshdConfig("default.conf", []));
      expect(none.code).toBe(1);
      expect(none.stdout).toContain(
        `FAIL  sshd: sshd's AuthorizedKeysCommand names no --config, so authkeys reads ${HOST_CONFIG ?? "no config file (none in /etc/opsguard)"}, not `,
      );
      // the same file, by another path (a symbolic link): no such failure
      const link = join(dir, "link.json");
      if (!existsSync(link)) symlinkSync(configFile, link);
      const same = run("--config", configFile, "doctor", "--sshd-config", sshdConfig("same.conf", ["--config", link]));
      expect(same.stdout).toMatch(/^ok +sshd: AuthorizedKeysCommand /m);
      expect(same.stdout).not.toMatch(/^FAIL +sshd/m);
      // Hand-edited lines, judged by the config authkeys runs with (T58 NEW-3): the last --config, one after the command too
      const edited = (name: string, keys: string, principals: string) => {
        const file = join(dir, name);
        const lines = [
          `HostKey ${hostKey}`,
          `AuthorizedPrincipalsCommand /usr/bin/true ${principals} -- %u %i %s %T`,
          "AuthorizedPrincipalsCommandUser nobody",
          `AuthorizedKeysCommand /usr/bin/true ${keys} -- %u %f`,
          "AuthorizedKeysCommandUser nobody",
        ];
        writeFileSync(file, `${lines.join("\n")}\n`);
        return file;
      };
      const twice = `--config ${configFile} --config ${deadConfigFile}`;
      for (const [name, keys, principals] of [
        ["twice.conf", `${twice} lookup`, `${twice} principals`],
        ["after.conf", `lookup --config ${deadConfigFile}`, `--config ${configFile} principals --config ${deadConfigFile}`],
      ] as const) {
        const r = run("--config", configFile, "doctor", "--sshd-config", edited(name, keys, principals));
        expect(r.code, name).toBe(1);
        for (const command of ["AuthorizedKeysCommand", "AuthorizedPrincipalsCommand"])
          expect(r.stdout, name).toContain(
            `FAIL  sshd: sshd's ${command} runs authkeys with --config ${deadConfigFile}, not ${configFile},`,
          );
      }
      const effective = run(
        "--config",
        configFile,
        "doctor",
        "--sshd-config",
        edited(
          "effective.conf",
          `--config ${deadConfigFile} lookup --config ${configFile}`,
          `principals -c ${deadConfigFile} -c ${configFile}`,
        ),
      );
      expect(effective.stdout).toMatch(/^ok +sshd: AuthorizedKeysCommand /m);
      expect(effective.stdout).not.toMatch(/^FAIL +sshd/m);
    },
  );

  it("doctor warns about a bind password file others may read, naming the fix", () => {
    const file = join(lab.dir, "open.password");
    copyFileSync(lab.readerPasswordFile, file);
    chmodSync(file, 0o644);
    const config = join(lab.dir, "authkeys-open-password.json");
    writeFileSync(
      config,
      JSON.stringify({ ldap: lab.connection({ bindPassword: `file:${file}` }), cache: { dir: join(lab.dir, "cache") }, syslog: false }),
    );
    const r = run("--config", config, "doctor");
    expect(r.stdout).toContain(`warn  config: the bind password file ${file} is open to group or others (mode 644): chmod 600 ${file}`);
    expect(r.stdout).not.toContain(readFileSync(file, "utf8").trim());
  });

  it("a literal bind password starting with / is refused without echoing it, by lookup and doctor alike (T52 F2)", () => {
    // sshd logs the command's stderr on every login: the value would have stood in its log until fixed
    const config = join(lab.dir, "authkeys-slash-password.json");
    writeFileSync(
      config,
      JSON.stringify({ ldap: lab.connection({ bindPassword: "/BindS3cretXYZ" }), cache: { dir: join(lab.dir, "cache") }, syslog: false }),
    );
    const lookup = run("--config", config, "lookup", "--", "alice");
    expect(lookup.code, lookup.stderr).toBe(78);
    expect(lookup.stderr).toContain("ldap.bindPassword: the secret file it names cannot be read (ENOENT: no such file)");
    // doctor tells it as a failed check among the others (T58 NEW-2)
    const doctor = run("--config", config, "doctor");
    expect(doctor.code, doctor.stderr).toBe(1);
    expect(doctor.stdout).toContain("FAIL  config: ldap.bindPassword: the secret file it names cannot be read (ENOENT: no such file)");
    for (const r of [lookup, doctor]) expect(r.stdout + r.stderr).not.toContain("BindS3cret");
  });

  it("doctor fails a bind password file that is a FIFO, a directory or too large, and goes on with the checks that need no password (T58 NEW-2)", () => {
    const dir = join(lab.dir, "password-kinds");
    mkdirSync(dir, { recursive: true });
    const fifo = join(dir, "fifo");
    if (!existsSync(fifo)) expect(spawnSync("mkfifo", ["-m", "666", fifo]).status).toBe(0);
    const directory = join(dir, "dir.pw");
    mkdirSync(directory, { recursive: true, mode: 0o755 });
    const huge = join(dir, "huge.pw");
    writeFileSync(huge, "x".repeat(64 * 1024 + 1), { mode: 0o600 });
    for (const [file, reason] of [
      [fifo, "is a FIFO, not a regular file"],
      [directory, "is a directory, not a regular file"],
      [huge, "is 65537 bytes, over the 65536-byte limit"],
    ] as const) {
      const config = join(lab.dir, `authkeys-password-${file.replace(/.*\//, "")}.json`);
      writeFileSync(
        config,
        JSON.stringify({ ldap: lab.connection({ bindPassword: `file:${file}` }), cache: { dir: join(lab.dir, "cache") }, syslog: false }),
      );
      const r = run("--config", config, "doctor", "--user", "alice");
      expect(r.code, `${file}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain(`FAIL  config: ldap.bindPassword: the secret file it names ${reason}`);
      // neither the mode of something that is no password file, nor its path
      expect(r.stdout).not.toContain("open to group or others");
      expect(r.stdout).not.toContain(file);
      // the checks after it still run: the cache (its verdict depends on what earlier tests left there), DNS and TCP
      expect(r.stdout).toMatch(/^(ok|warn|FAIL) +cache: /m);
      expect(r.stdout).toMatch(/^ok +ldap ldap:\/\/127\.0\.0\.1:\d+: TCP: connected/m);
      expect(r.stdout).toMatch(/^warn +ldap ldap:\/\/127\.0\.0\.1:\d+: StartTLS and bind not tried: ldap.bindPassword cannot be used/m);
      expect(r.stdout).toMatch(/^warn +lookup alice: not tried: ldap.bindPassword cannot be used/m);
    }
  });

  it("doctor checks every step and fails on an install sshd would refuse", () => {
    const copy = join(lab.dir, "authkeys");
    copyFileSync(bin, copy);
    const r = run("--config", configFile, "doctor", "--user", "alice", "--binary", copy);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ok +config: /m);
    expect(r.stdout).toMatch(/^FAIL +install: sshd will refuse .*\/tmp is writable by group or others/m);
    expect(r.stdout).toMatch(/^ok +ldap ldap:\/\/127\.0\.0\.1:\d+: TCP: connected/m);
    expect(r.stdout).toMatch(/^ok +ldap ldap:\/\/127\.0\.0\.1:\d+: StartTLS, bound as cn=reader/m);
    expect(r.stdout).toMatch(/^ok +lookup alice: 3 key\(s\)/m);
  });
});
