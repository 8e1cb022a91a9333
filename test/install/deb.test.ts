// Builds every opsguard-<tool>.deb (scripts/package/deb.mjs), checks them with lintian, installs each with
// dpkg -i on this host, runs it with no node on PATH, purges it and checks nothing is left behind. It changes
// the host (packages, system users), so it runs only as root with dpkg, and only when no opsguard package is
// installed already; otherwise it says why it skips, and under CI=true a skip is a failure.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chownSync, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { installRootOwned, type SshdHandle, startSlapd, startSshd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sshLogin } from "../../packages/authkeys/test/harness";
import { ensureBuilt, REPO, TOOLS } from "./helpers";

function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: options.timeout ?? 120_000,
    env: options.env ?? process.env,
    input: options.input,
  });
  if (r.error) throw r.error;
  return r;
}

function installed(pkg: string): boolean {
  return run("dpkg-query", ["-W", `-f=\${Status}`, pkg]).stdout.includes("install ok installed");
}

function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root (dpkg -i needs root)";
  for (const tool of ["/usr/bin/dpkg", "/usr/bin/dpkg-deb"]) if (!existsSync(tool)) return `${tool} is missing`;
  const present = TOOLS.map((t) => `opsguard-${t}`).filter(installed);
  if (present.length > 0) return `${present.join(", ")} already installed on this host; the test would replace it`;
  return undefined;
}

// dpkg, its man-db trigger and runs of 90 MB executables are slow on a busy machine: generous, never a speed check.
vi.setConfig({ testTimeout: 300_000 });

const reason = skipReason();
if (reason) console.warn(`test/install/deb.test.ts: skipped: ${reason}`);

describe.runIf(reason !== undefined && process.env.CI === "true")("Debian packages under CI", () => {
  it("are tested, not skipped", () => {
    throw new Error(`the .deb install test cannot run here: ${reason}`);
  });
});

/** Users, state and cache dirs each package's postinst makes: checked after install and gone after purge. */
const HOST: Record<string, { users: string[]; dirs: Array<{ path: string; owner: string; mode: number }> }> = {
  authkeys: { users: ["authkeys"], dirs: [{ path: "/var/cache/opsguard/authkeys", owner: "authkeys", mode: 0o700 }] },
  deputize: { users: ["deputize"], dirs: [{ path: "/var/lib/opsguard/deputize", owner: "deputize", mode: 0o700 }] },
  vpnnotify: { users: [], dirs: [{ path: "/var/lib/opsguard/vpnnotify", owner: "nobody", mode: 0o700 }] },
  "sock-check": { users: [], dirs: [] },
  "auditd-parse": { users: [], dirs: [] },
};

/**
 * Tools whose command is a launcher that starts the executable (kept under libexec/) with these NODE_OPTIONS
 * (scripts/package/deb.mjs SPECS nodeOptions).
 */
const NODE_OPTIONS: Record<string, string> = { "auditd-parse": "--v8-pool-size=1" };

/** Polls a state (a file's contents, /proc) every 50 ms until it holds; the bound is for a hang, not for speed. */
async function until(what: string, holds: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !holds(); await sleep(50)) if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
}

// Our own namespaces on the host, listed whole before and after.
const OURS = ["/usr/lib/opsguard", "/etc/opsguard", "/var/lib/opsguard", "/var/cache/opsguard", "/etc/audit/plugins.d/auditd-parse.conf"];

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function tree(path: string): string[] {
  if (!exists(path)) return [];
  if (!lstatSync(path).isDirectory()) return [path];
  return [path, ...readdirSync(path).flatMap((entry) => tree(join(path, entry)))];
}

/** What a package could leave behind: its own paths and their parents, our namespaces, its users and groups. */
function hostState(deb: string, tool: string) {
  const paths = run("dpkg-deb", ["-c", deb])
    .stdout.trim()
    .split("\n")
    .map((line) =>
      line
        .slice(line.indexOf("./") + 1)
        .replace(/\/$/, "")
        .replace(/ -> .*$/, ""),
    )
    .filter((p) => p !== "");
  const candidates = new Set([...paths, ...HOST[tool]!.dirs.flatMap((d) => [d.path, dirname(d.path)])]);
  const accounts = HOST[tool]!.users.flatMap((u) => [
    `passwd:${u}=${run("getent", ["passwd", u]).stdout.trim()}`,
    `group:${u}=${run("getent", ["group", u]).stdout.trim()}`,
  ]);
  return {
    paths: [...candidates].filter(exists).sort(),
    ours: OURS.flatMap(tree).sort(),
    accounts,
    units: run("find", ["/etc/systemd", "-name", "authkeys-agent*", "-o", "-name", "deputize*", "-o", "-name", "vpnnotify*"]).stdout.trim(),
  };
}

/**
 * The host as a purge should leave it: as before the install, less the package's own state and cache
 * directories. Purge removes those whole, as Debian policy asks, even when they were there before the install
 * (left by an earlier install on this host), and their parent when nothing else is in it.
 */
function afterPurge(before: ReturnType<typeof hostState>, tool: string): ReturnType<typeof hostState> {
  const own = HOST[tool]!.dirs.map((d) => d.path);
  const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);
  const keep = (paths: string[]) => paths.filter((p) => !own.some((dir) => under(p, dir)));
  let ours = keep(before.ours);
  let paths = keep(before.paths);
  for (const parent of new Set(own.map((dir) => dirname(dir)))) {
    if (!ours.some((p) => p !== parent && under(p, parent))) {
      ours = ours.filter((p) => p !== parent);
      paths = paths.filter((p) => p !== parent);
    }
  }
  return { ...before, ours, paths };
}

const LINTIAN = existsSync("/usr/bin/lintian");
let lintianChild: ChildProcess | undefined;

/**
 * Starts lintian on the packages and returns its exit status and stdout. It is the slowest step of this file
 * (a minute or more per 90 MB executable: readelf of Node's dynamic symbols, parsed in Perl), and it only reads
 * the .deb files, so it runs while the install tests run dpkg.
 *
 * It runs only the checks that can report an error or a warning (--tags-from-file: every tag of those two
 * severities in the installed lintian), the only findings the test fails on; the info-only checks it leaves
 * out included binaries/spelling, strings(1) of each executable spell-checked in Perl.
 */
function lintianInBackground(files: string[], dir: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const tags: string[] = [];
  for (const path of readdirSync("/usr/share/lintian/tags", { recursive: true, encoding: "utf8" })) {
    if (!path.endsWith(".tag")) continue;
    const text = readFileSync(join("/usr/share/lintian/tags", path), "utf8");
    const field = (name: string) => new RegExp(`^${name}: *(.+)$`, "m").exec(text)?.[1]?.trim();
    if (!["error", "warning"].includes(field("Severity") ?? "")) continue;
    // A name-spaced tag is known by its check's name and its own (team/pkg-perl/…/autopkgtest-needs-use-name).
    tags.push(field("Name-Spaced") === "yes" ? `${field("Check")}/${field("Tag")}` : field("Tag")!);
  }
  if (tags.length < 100) throw new Error(`found only ${tags.length} error and warning tags in /usr/share/lintian/tags`);
  const tagsFile = join(dir, "lintian-error-warning.tags");
  writeFileSync(tagsFile, `${tags.join("\n")}\n`);
  const result = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn("lintian", ["--fail-on", "error,warning", "--tags-from-file", tagsFile, ...files], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    lintianChild = child;
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
  // Awaited by the lintian test; until then a failure to start is not an unhandled rejection.
  result.catch(() => undefined);
  return result;
}

describe.skipIf(reason !== undefined)("Debian packages", () => {
  let out: string;
  const debs: Record<string, string> = {};
  let lintian: ReturnType<typeof lintianInBackground> | undefined;

  beforeAll(() => {
    ensureBuilt();
    out = mkdtempSync(join(tmpdir(), "opsguard-deb-"));
    // gzip -1: a quick build for the test; release builds use xz.
    const build = run(process.execPath, [join(REPO, "scripts/package/deb.mjs"), "--out", out, "--compression", "gzip", "--level", "1"], {
      timeout: 900_000,
    });
    if (build.status !== 0) throw new Error(`building the packages failed: ${build.stderr}`);
    for (const deb of build.stdout.trim().split("\n")) debs[/^opsguard-(.+?)_/.exec(basename(deb))![1]!] = deb;
    if (LINTIAN) lintian = lintianInBackground(Object.values(debs), out);
  }, 900_000);

  afterAll(async () => {
    // A run stopped early must not leave lintian reading packages about to be deleted.
    lintianChild?.kill();
    await lintian?.catch(() => undefined);
    for (const tool of TOOLS) if (installed(`opsguard-${tool}`)) run("dpkg", ["--purge", `opsguard-${tool}`]);
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it("one opsguard-<tool>_<version>_amd64.deb per tool", () => {
    for (const tool of TOOLS) {
      const { version } = JSON.parse(readFileSync(join(REPO, "packages", tool, "package.json"), "utf8"));
      expect(debs[tool]).toBe(join(out, `opsguard-${tool}_${version}_amd64.deb`));
      expect(run("dpkg-deb", ["-f", debs[tool]!, "Package", "Architecture"]).stdout).toBe(
        `Package: opsguard-${tool}\nArchitecture: amd64\n`,
      );
    }
  });

  describe.each(TOOLS)("opsguard-%s", (tool) => {
    let before: ReturnType<typeof hostState>;
    const exe = `/usr/lib/opsguard/${tool}/${tool}`;
    // No node anywhere on PATH: the executable must need none.
    const noNode = { PATH: "/nonexistent", LC_ALL: "C" };

    beforeAll(() => {
      before = hostState(debs[tool]!, tool);
      const install = run("dpkg", ["-i", debs[tool]!]);
      if (install.status !== 0) throw new Error(`dpkg -i failed: ${install.stderr}`);
    }, 300_000);

    it("installs the executable root-owned where sshd and hooks accept it, with a command in /usr/bin", () => {
      const libexec = NODE_OPTIONS[tool] ? [`/usr/lib/opsguard/${tool}/libexec`, `/usr/lib/opsguard/${tool}/libexec/${tool}`] : [];
      for (const path of ["/usr/lib/opsguard", `/usr/lib/opsguard/${tool}`, exe, ...libexec]) {
        const st = lstatSync(path);
        expect(st.uid, path).toBe(0);
        expect(st.mode & 0o022, path).toBe(0);
      }
      expect(lstatSync(`/usr/bin/${tool}`).isSymbolicLink()).toBe(true);
      const version = run(`/usr/bin/${tool}`, ["--version"], { env: noNode });
      expect(version.stderr).toBe("");
      expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(REPO, "packages", tool, "package.json"), "utf8")).version);
      const help = run(exe, ["--help"], { env: noNode });
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: ${tool}`));
    });

    it("installs its man page and the example config as a conffile", () => {
      expect(run("man", ["-w", tool]).stdout.trim()).toBe(`/usr/share/man/man1/${tool}.1.gz`);
      const conffiles = run("dpkg-query", ["-W", `-f=\${Conffiles}`, `opsguard-${tool}`]).stdout;
      expect(conffiles).toContain(`/etc/opsguard/${tool}.yaml.example`);
    });

    it("installs bash, zsh and fish completion where each shell loads it from", () => {
      const fn = `_${tool.replace(/-/g, "_")}_complete`;
      // bash-completion loads /usr/share/bash-completion/completions/<command> on the first Tab.
      const bash = run("bash", ["--norc", "-c", `. /usr/share/bash-completion/completions/${tool}; complete -p ${tool}`]);
      expect(bash.stderr).toBe("");
      expect(bash.stdout).toContain(fn);
      expect(readFileSync(`/usr/share/zsh/vendor-completions/_${tool}`, "utf8")).toMatch(new RegExp(`^#compdef ${tool}`, "m"));
      expect(readFileSync(`/usr/share/fish/vendor_completions.d/${tool}.fish`, "utf8")).toContain(`complete -c ${tool}`);
    });

    it("creates its system users and state/cache directories with the right owners", () => {
      for (const user of HOST[tool]!.users) {
        const entry = run("getent", ["passwd", user]).stdout.trim().split(":");
        expect(entry[6], user).toBe("/usr/sbin/nologin");
        expect(Number(entry[2]), user).toBeLessThan(1000);
      }
      for (const dir of HOST[tool]!.dirs) {
        const st = lstatSync(dir.path);
        expect(run("id", ["-u", dir.owner]).stdout.trim(), dir.path).toBe(String(st.uid));
        expect(st.mode & 0o777, dir.path).toBe(dir.mode);
      }
    });

    it("does its job from the package", () => {
      if (tool === "auditd-parse") {
        const r = run(exe, [], {
          env: noNode,
          input: 'type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 uid=0 comm="ls"\n',
        });
        expect(r.status).toBe(0);
        const event = JSON.parse(r.stdout.trim().split("\n")[0]!);
        expect(JSON.stringify(event)).toContain("execve");
      } else if (tool === "authkeys") {
        // As sshd runs it: the unprivileged command user, an empty environment. The example config names a
        // password file that is not there: it fails closed, one line on stderr, no key on stdout.
        const r = run(
          "/usr/sbin/runuser",
          ["-u", "authkeys", "--", exe, "--config", "/etc/opsguard/authkeys.yaml.example", "lookup", "alice"],
          {
            env: noNode,
          },
        );
        expect(r.stdout).toBe("");
        // named by its config key, not its path (a bare "/…" value may be a literal password: T52 F2)
        expect(r.stderr).toMatch(/ldap\.bindPassword: the secret file it names cannot be read \(ENOENT: no such file\)/);
        expect(r.status).toBe(78);
      } else if (tool === "sock-check") {
        // The example policy is read and validated; the run then stops at the missing token, before any request.
        const repo = mkdtempSync(join(tmpdir(), "opsguard-deb-git-"));
        const git = (...args: string[]) => run("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@example.org", ...args]);
        git("init", "-q");
        git("commit", "-q", "--allow-empty", "-m", "one");
        git("tag", "deploy-1");
        const r = spawnSync(exe, ["--config", `/etc/opsguard/${tool}.yaml.example`, "--from", "deploy-1", "--repo", "acme/shop"], {
          cwd: repo,
          encoding: "utf8",
          env: { PATH: "/usr/bin:/bin", HOME: repo },
        });
        rmSync(repo, { recursive: true, force: true });
        expect(r.stderr).toMatch(/GITHUB_TOKEN is not set/);
        expect(r.status).toBe(78);
      } else {
        // As the user the package runs it as: the example config is read and validated, and the run stops,
        // fail closed, at the secret file an admin has yet to write.
        const user = tool === "deputize" ? "deputize" : "nobody";
        const command = tool === "deputize" ? ["run", "--dry-run"] : ["notify", "--user", "alice", "--ip", "81.2.69.160"];
        const r = run("/usr/sbin/runuser", ["-u", user, "--", exe, "--config", `/etc/opsguard/${tool}.yaml.example`, ...command], {
          env: noNode,
        });
        expect(r.stderr).toMatch(/[a-zA-Z.]+: the secret file it names cannot be read \(ENOENT: no such file\)/);
        expect(r.stdout).toBe("");
        expect(r.status).toBe(78);
      }
      if (tool === "vpnnotify") {
        for (const family of [4, 6]) expect(exists(`/usr/lib/opsguard/vpnnotify/dbip-country-ipv${family}.mmdb`)).toBe(true);
        // The flush timer --help tells admins to run: README.Debian has the unit to write, with this package's path.
        const readme = readFileSync("/usr/share/doc/opsguard-vpnnotify/README.Debian", "utf8");
        expect(readme).toContain(`ExecStart=${exe} --config /etc/opsguard/vpnnotify.yaml flush`);
        expect(readme).toMatch(/^ {2}OnUnitActiveSec=/m);
      }
      if (tool === "auditd-parse") {
        const plugin = readFileSync("/etc/audit/plugins.d/auditd-parse.conf", "utf8");
        expect(plugin).toMatch(/^active = no$/m);
        expect(plugin).toMatch(new RegExp(`^path = ${exe}$`, "m"));
      }
      if (tool === "deputize") {
        expect(readFileSync("/lib/systemd/system/deputize.service", "utf8")).toMatch(/^User=deputize$/m);
        expect(readFileSync("/lib/systemd/system/deputize.timer", "utf8")).toMatch(/^OnCalendar=/m);
      }
    });

    it.runIf(NODE_OPTIONS[tool] !== undefined)(
      "the command on PATH and the auditd plugin's path exec the executable with its NODE_OPTIONS, the caller's after",
      async () => {
        const real = `/usr/lib/opsguard/${tool}/libexec/${tool}`;
        const plugin = /^path = (.+)$/m.exec(readFileSync("/etc/audit/plugins.d/auditd-parse.conf", "utf8"))![1]!;
        const dir = mkdtempSync(join(tmpdir(), "opsguard-deb-plugin-"));
        // As auditd runs it: the plugin's path and args, records on stdin, SIGTERM to stop; then the executable alone.
        let runs = 0;
        const runPlugin = async (command: string, env: NodeJS.ProcessEnv) => {
          const out = join(dir, `events-${++runs}.json`);
          const child = spawn(command, ["plugin", "-o", out], { env, stdio: ["pipe", "ignore", "pipe"] });
          let stderr = "";
          child.stderr.on("data", (chunk) => {
            stderr += chunk;
          });
          const exited = once(child, "exit");
          child.stdin.write('type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=59 success=yes exit=0 uid=0 comm="ls"\n');
          // The event is in FILE once the tool has started and read it (completed after the grouping window).
          await until(`${command} to write ${out}`, () => exists(out) && readFileSync(out, "utf8").includes("execve"));
          const proc = {
            exe: readlinkSync(`/proc/${child.pid}/exe`),
            nodeOptions: readFileSync(`/proc/${child.pid}/environ`, "utf8")
              .split("\0")
              .find((e) => e.startsWith("NODE_OPTIONS=")),
            // V8's worker pool is --v8-pool-size threads (4 by default), started with the process.
            threads: readdirSync(`/proc/${child.pid}/task`).length,
          };
          child.kill("SIGTERM");
          const [code, signal] = await exited;
          return { ...proc, code, signal, stderr };
        };
        try {
          expect(plugin).toBe(exe);
          const direct = await runPlugin(real, noNode);
          expect(direct).toMatchObject({ exe: real, nodeOptions: undefined, code: 0, signal: null, stderr: "" });
          // As auditd starts the plugin (no NODE_OPTIONS of its own), then the command on PATH with a caller's
          // NODE_OPTIONS, which come after the launcher's and so win (node takes an option's last value). A caller's
          // V8 flag (--max-old-space-size) would also make V8 reject the executable's code cache, with a warning.
          const cases = [
            { command: plugin, caller: undefined, nodeOptions: NODE_OPTIONS[tool], fewerThreads: 3 },
            {
              command: `/usr/bin/${tool}`,
              caller: "--v8-pool-size=2",
              nodeOptions: `${NODE_OPTIONS[tool]} --v8-pool-size=2`,
              fewerThreads: 2,
            },
          ];
          for (const { command, caller, nodeOptions, fewerThreads } of cases) {
            const launched = await runPlugin(command, { ...noNode, ...(caller && { NODE_OPTIONS: caller }) });
            // Same pid, the executable's image: exec'd, not a child, so SIGTERM reached the tool (flush, exit 0).
            expect(launched, command).toMatchObject({
              exe: real,
              nodeOptions: `NODE_OPTIONS=${nodeOptions}`,
              code: 0,
              signal: null,
              stderr: "",
            });
            expect(direct.threads - launched.threads, command).toBe(fewerThreads);
          }
          // Exit codes and the program's name pass through: a missing log is exit 66, named as auditd-parse.
          const missing = run(`/usr/bin/${tool}`, [join(dir, "missing.log")], { env: noNode });
          expect(missing.status).toBe(66);
          expect(missing.stderr).toMatch(new RegExp(`^${tool}: `));
          expect(run(`/usr/bin/${tool}`, ["--help"], { env: noNode }).stdout).toMatch(new RegExp(`^Usage: ${tool}`));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    );

    it.runIf(tool === "authkeys")("lets a real sshd log in through the installed authkeys, and refuses another key", async () => {
      // sshd (own config, loopback port, users via nss_wrapper) runs the packaged command as the package's
      // authkeys user, with the config in a root-owned directory, against a real slapd.
      const slapd = await startSlapd();
      const files = installRootOwned({
        "ca.pem": { from: slapd.caFile, mode: 0o644 },
        "reader.password": { from: slapd.readerPasswordFile, mode: 0o600 },
      });
      let sshd: SshdHandle | undefined;
      try {
        const uid = Number(run("id", ["-u", "authkeys"]).stdout.trim());
        chownSync(join(files.dir, "reader.password"), uid, uid);
        const config = join(files.dir, "authkeys.json");
        const ldap = {
          ...slapd.connection(),
          caFile: join(files.dir, "ca.pem"),
          bindPassword: `file:${join(files.dir, "reader.password")}`,
        };
        writeFileSync(config, JSON.stringify({ ldap, allowedGroups: [slapd.groups.ops, slapd.groups.sre], syslog: false }), {
          mode: 0o644,
        });
        sshd = await startSshd({
          users: [
            ...(["alice", "bob"] as const).map((name) => ({ name, uid: slapd.users[name].uidNumber })),
            { name: "authkeys", uid, home: "/nonexistent" },
          ],
          authorizedKeysCommand: { path: exe, args: `--config ${config} lookup %u %f`, user: "authkeys" },
        });
        const key = (user: "alice" | "bob") => slapd.users[user].keys[0]?.privateKeyFile ?? "";
        expect(await sshLogin(sshd.port, "alice", key("alice")), sshd.logs()).toMatchObject({ ok: true });
        expect(await sshLogin(sshd.port, "alice", key("bob"))).toMatchObject({ ok: false });
        // The lookup cached alice's keys where the package made the cache, as the authkeys user.
        expect(readdirSync("/var/cache/opsguard/authkeys").length).toBeGreaterThan(0);
      } finally {
        await sshd?.stop();
        files.remove();
        await slapd.stop();
      }
    });

    it("purges without a trace", () => {
      const purge = run("dpkg", ["--purge", `opsguard-${tool}`]);
      expect(purge.stderr).toBe("");
      expect(purge.status).toBe(0);
      expect(hostState(debs[tool]!, tool)).toEqual(afterPurge(before, tool));
    }, 300_000);
  });

  it("purging keeps an account the admin made before install, and drops the statoverride of a purged directory", () => {
    // Starts from a host without the packages (under -t the per-tool purge tests may not have run).
    for (const tool of ["deputize", "vpnnotify"]) if (installed(`opsguard-${tool}`)) run("dpkg", ["--purge", `opsguard-${tool}`]);
    // The admin's own deputize user existed first: postinst keeps it, so purge must not delete it.
    const made = run("useradd", ["--system", "--user-group", "--no-create-home", "--comment", "the admin's deputize", "deputize"]);
    expect(made.status, made.stderr).toBe(0);
    const override = "/var/lib/opsguard/vpnnotify";
    try {
      // README.Debian's step for a hook user other than nobody.
      expect(run("dpkg-statoverride", ["--add", "nobody", "nogroup", "0700", override]).status).toBe(0);
      for (const tool of ["deputize", "vpnnotify"]) expect(run("dpkg", ["-i", debs[tool]!]).status).toBe(0);
      for (const tool of ["deputize", "vpnnotify"]) {
        expect(run("dpkg", ["--purge", `opsguard-${tool}`]).status).toBe(0);
      }
      expect(run("getent", ["passwd", "deputize"]).stdout).toContain("the admin's deputize");
      expect(run("getent", ["group", "deputize"]).status).toBe(0);
      expect(run("dpkg-statoverride", ["--list", override]).stdout).toBe("");
    } finally {
      run("dpkg-statoverride", ["--remove", override]);
      run("userdel", ["deputize"]);
      run("groupdel", ["deputize"]);
    }
  }, 300_000);
  // Last: lintian has run beside the install tests since the packages were built (beforeAll).
  it.runIf(LINTIAN)(
    "are clean under lintian (errors and warnings)",
    async () => {
      const result = await lintian!;
      const findings = result.stdout.split("\n").filter((line) => /^[EW]: /.test(line));
      expect(findings).toEqual([]);
      expect(result.status, result.stderr).toBe(0);
    },
    900_000,
  );
});
