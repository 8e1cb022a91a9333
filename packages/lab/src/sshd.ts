import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { ensureDebianPackages } from "./ensure";
import type { LabComponent, StartedComponent } from "./lab";
import { freePort, makeTempDir, onProcessExit, removeDir, stopProcess } from "./process";
import type { SlapdLab } from "./slapd";

const SSHD = "/usr/sbin/sshd";
const MULTIARCH: Record<string, string> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };
const NSS_WRAPPER = `/usr/lib/${MULTIARCH[process.arch] ?? `${process.arch}-linux-gnu`}/libnss_wrapper.so`;

/** A login account sshd resolves through nss_wrapper, so no user is ever added to the machine. */
export interface SshdUser {
  name: string;
  uid: number;
  gid?: number;
  home?: string;
}

export interface AuthorizedKeysCommandOptions {
  /** Absolute path of a root-owned executable under a root-owned, non-writable directory (see installRootOwned). */
  path: string;
  /** Arguments after the path, with sshd's tokens (%u %f %t %k). */
  args: string;
  /** The unprivileged account sshd runs the command as; it must be one of `users`. */
  user: string;
}

export interface SshdOptions {
  users: SshdUser[];
  authorizedKeysCommand?: AuthorizedKeysCommandOptions;
  /** "none" (the default) or a path pattern such as "%h/.ssh/authorized_keys" or an absolute file. */
  authorizedKeysFile?: string;
  /** Certificates signed by the CA keys in this file are accepted (sshd's TrustedUserCAKeys). */
  trustedUserCaKeys?: string;
  /** Which certificate principals may log in as a user (sshd's AuthorizedPrincipalsCommand, tokens %u %i %s %T). */
  authorizedPrincipalsCommand?: AuthorizedKeysCommandOptions;
  /** sshd_config lines appended as they are, e.g. what `authkeys install` printed. */
  snippet?: string;
  /** DEBUG1 or higher also shows the command's stderr in `logs()`. */
  logLevel?: "INFO" | "VERBOSE" | "DEBUG1" | "DEBUG3";
}

export interface SshdHandle {
  host: string;
  port: number;
  dir: string;
  /** The host key's public line, for a client's host key check. */
  hostPublicKey: string;
  /** Everything sshd wrote to stderr so far. */
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A real OpenSSH sshd on a free loopback port, configured from scratch in a temp dir: its own host key,
 * no PAM, key-only auth. Users exist only for this sshd (nss_wrapper via LD_PRELOAD).
 */
export async function startSshd(options: SshdOptions): Promise<SshdHandle> {
  requireRoot("sshd");
  ensureDebianPackages([
    { program: SSHD, pkg: "openssh-server" },
    { program: "/usr/bin/ssh-keygen", pkg: "openssh-client" },
    { program: NSS_WRAPPER, pkg: "libnss-wrapper" },
  ]);
  // Privilege separation directory; the Debian package creates it only when its service starts.
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });

  const dir = makeTempDir("sshd");
  const hostKey = join(dir, "ssh_host_ed25519_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "opsguard-lab", "-f", hostKey]);
  const { passwd, group } = nssFiles(dir, options.users);
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(config, sshdConfig(options, { port, hostKey, dir }));

  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    LD_PRELOAD: NSS_WRAPPER,
    NSS_WRAPPER_PASSWD: passwd,
    NSS_WRAPPER_GROUP: group,
  };
  execFileSync(SSHD, ["-t", "-f", config], { env, stdio: ["ignore", "ignore", "pipe"] });
  const child = spawn(SSHD, ["-D", "-e", "-f", config], { env, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    log += chunk;
  });
  const unregister = onProcessExit(() => {
    child.kill("SIGKILL");
    removeDir(dir);
  });
  const stop = once(async () => {
    await stopProcess(child);
    removeDir(dir);
    unregister();
  });
  try {
    await waitForBanner(port, child, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    host: "127.0.0.1",
    port,
    dir,
    hostPublicKey: readFileSync(`${hostKey}.pub`, "utf8").trim(),
    logs: () => log,
    stop,
  };
}

/**
 * Copies files into a fresh root-owned 0755 directory under /run: sshd refuses an AuthorizedKeysCommand
 * if any directory above it is group- or world-writable (as /tmp is). Returns the directory and a remover.
 */
export function installRootOwned(files: Record<string, { from?: string; content?: string; mode: number }>): {
  dir: string;
  remove(): void;
} {
  requireRoot("a root-owned command directory");
  const dir = mkdtempSync("/run/opsguard-lab-");
  chmodSync(dir, 0o755);
  chownSync(dir, 0, 0);
  for (const [name, file] of Object.entries(files)) {
    const target = join(dir, name);
    if (file.from) copyFileSync(file.from, target);
    else writeFileSync(target, file.content ?? "");
    chownSync(target, 0, 0);
    chmodSync(target, file.mode);
  }
  const unregister = onProcessExit(() => removeDir(dir));
  return {
    dir,
    remove: once(() => {
      removeDir(dir);
      unregister();
    }),
  };
}

function sshdConfig(options: SshdOptions, at: { port: number; hostKey: string; dir: string }): string {
  const lines = [
    `Port ${at.port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${at.hostKey}`,
    `PidFile ${join(at.dir, "sshd.pid")}`,
    "UsePAM no",
    "StrictModes no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PubkeyAuthentication yes",
    "PermitRootLogin no",
    "MaxAuthTries 10",
    "LoginGraceTime 60",
    "MaxStartups 100:30:200",
    "UseDNS no",
    ...(sshdSupportsPenalties() ? ["PerSourcePenalties no"] : []),
    `AuthorizedKeysFile ${options.authorizedKeysFile ?? "none"}`,
    `LogLevel ${options.logLevel ?? "VERBOSE"}`,
  ];
  if (options.trustedUserCaKeys) lines.push(`TrustedUserCAKeys ${options.trustedUserCaKeys}`);
  // Principals before keys: OpenSSH < 9.4 ignores an AuthorizedPrincipalsCommand after an AuthorizedKeysCommand (bug 3574).
  if (options.authorizedPrincipalsCommand) {
    const c = options.authorizedPrincipalsCommand;
    lines.push(`AuthorizedPrincipalsCommand ${c.path}${c.args ? ` ${c.args}` : ""}`, `AuthorizedPrincipalsCommandUser ${c.user}`);
  }
  if (options.authorizedKeysCommand) {
    const c = options.authorizedKeysCommand;
    lines.push(`AuthorizedKeysCommand ${c.path}${c.args ? ` ${c.args}` : ""}`, `AuthorizedKeysCommandUser ${c.user}`);
  }
  if (options.snippet) lines.push(options.snippet.trimEnd());
  return `${lines.join("\n")}\n`;
}

// PerSourcePenalties (OpenSSH 9.8+) would lock the test client out after a few refused logins.
function sshdSupportsPenalties(): boolean {
  const version = execFileSync(SSHD, ["-V"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).toString();
  const match = /OpenSSH_(\d+)\.(\d+)/.exec(version);
  return match !== null && (Number(match[1]) > 9 || (Number(match[1]) === 9 && Number(match[2]) >= 8));
}

function nssFiles(dir: string, users: SshdUser[]): { passwd: string; group: string } {
  const passwd = join(dir, "passwd");
  const group = join(dir, "group");
  const extraUsers = users.map((u) => `${u.name}:*:${u.uid}:${u.gid ?? u.uid}:${u.name}:${u.home ?? dir}:/bin/sh`);
  const extraGroups = users.map((u) => `${u.name}:x:${u.gid ?? u.uid}:`);
  // Ours first: nss_wrapper answers with the first match, and the host may gain a real "authkeys" user (the
  // .deb test installs one) while an sshd of another test is running; that one must not become the command user.
  writeFileSync(passwd, `${extraUsers.join("\n")}\n${readFileSync("/etc/passwd", "utf8").trimEnd()}\n`);
  writeFileSync(group, `${extraGroups.join("\n")}\n${readFileSync("/etc/group", "utf8").trimEnd()}\n`);
  return { passwd, group };
}

async function waitForBanner(port: number, child: ChildProcess, logs: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${logs().trim()}`);
    if (await answersBanner(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not answer on 127.0.0.1:${port} within 10 s: ${logs().trim()}`);
}

function answersBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("error", () => done(false));
    socket.once("data", (data) => done(data.toString("latin1").startsWith("SSH-2.0-")));
  });
}

/**
 * Why a real sshd login cannot be tested here, or undefined when it can: sshd runs an AuthorizedKeysCommand
 * only from a root-owned path and switches to the command user, which needs root. A test file that needs
 * sshd skips with this reason (printed once) as another user; under CI=true it never skips, so CI fails loudly.
 */
export function sshdSkipReason(): string | undefined {
  if (process.getuid?.() === 0 || process.env.CI === "true") return undefined;
  const reason = "real sshd logins need root (sshd checks root ownership and switches users): run npm test as root to include them";
  if (!warnedSkip) console.warn(`skipped: ${reason}`);
  warnedSkip = true;
  return reason;
}
let warnedSkip = false;

function requireRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new Error(`${what} needs root (sshd checks root ownership and switches users); run the tests as root`);
}

function once<T>(fn: () => T): () => T {
  let result: { value: T } | undefined;
  return () => {
    result ??= { value: fn() };
    return result.value;
  };
}

/** uid of the dedicated AuthorizedKeysCommandUser; it exists only inside the lab's sshd (nss_wrapper). */
export const AUTHKEYS_UID = 20_000;
export const AUTHKEYS_USER = "authkeys";
/** The built authkeys bundle (`node scripts/build.mjs authkeys`). */
export const AUTHKEYS_BUNDLE = new URL("../../authkeys/dist/authkeys.cjs", import.meta.url).pathname;

export interface AuthkeysInstall {
  dir: string;
  /** The launcher sshd runs. */
  bin: string;
  configFile: string;
  cacheDir: string;
  /** The AuthorizedKeysCommand that install printed, split for startSshd. */
  command: AuthorizedKeysCommandOptions;
  /** The AuthorizedPrincipalsCommand that install printed. */
  principalsCommand: AuthorizedKeysCommandOptions;
  /** The sshd_config lines install printed, exactly (SshdOptions.snippet). */
  printed: string;
  /** The environment install ran in (the command user known through nss_wrapper), to run it again. */
  installEnv: NodeJS.ProcessEnv;
  remove(): void;
}

/**
 * Installs the built authkeys the way its README says: the config (with cache.dir) in place first, then
 * `authkeys install --config FILE --run-as authkeys` as root, which makes the root-owned directory, the
 * launcher, the V8 code cache and the cache directory (with its parents) for the command user, and
 * prints the sshd_config lines. The account exists for install's `id` through nss_wrapper, as it does
 * for the lab's sshd, so nothing is added to the machine.
 */
export function installAuthkeys(slapd: SlapdLab, config: Record<string, unknown> = {}): AuthkeysInstall {
  if (!existsSync(AUTHKEYS_BUNDLE)) throw new Error(`${AUTHKEYS_BUNDLE} is missing: run "node scripts/build.mjs authkeys" first`);
  const installed = installRootOwned({
    "ca.pem": { from: slapd.caFile, mode: 0o644 },
    "reader.password": { from: slapd.readerPasswordFile, mode: 0o600 },
  });
  const dir = installed.dir;
  chownSync(join(dir, "reader.password"), AUTHKEYS_UID, AUTHKEYS_UID);
  // Below directories install has to create, as /var/cache/opsguard/authkeys on a fresh host.
  const cacheDir = join(dir, "var/cache/opsguard/authkeys");
  const configFile = join(dir, "authkeys.json");
  writeFileSync(
    configFile,
    JSON.stringify(
      {
        ldap: { ...slapd.connection(), caFile: join(dir, "ca.pem"), bindPassword: `file:${join(dir, "reader.password")}` },
        cache: { dir: cacheDir },
        syslog: false,
        ...config,
      },
      null,
      2,
    ),
    { mode: 0o644 },
  );
  const nssDir = join(dir, "nss");
  mkdirSync(nssDir, { mode: 0o755 });
  const nss = nssFiles(nssDir, [{ name: AUTHKEYS_USER, uid: AUTHKEYS_UID }]);
  // Config first, as the README says: install's warm-up lookup then compiles the LDAP reply path into the code cache.
  const installEnv = { ...process.env, LD_PRELOAD: NSS_WRAPPER, NSS_WRAPPER_PASSWD: nss.passwd, NSS_WRAPPER_GROUP: nss.group };
  const printed = execFileSync(
    process.execPath,
    [AUTHKEYS_BUNDLE, "install", "--config", configFile, "--prefix", dir, "--run-as", AUTHKEYS_USER],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], env: installEnv },
  );
  return {
    dir,
    bin: join(dir, "authkeys"),
    configFile,
    cacheDir,
    command: commandOf(printed),
    principalsCommand: commandOf(printed, "AuthorizedPrincipals"),
    printed,
    installEnv,
    remove: installed.remove,
  };
}

/** The AuthorizedKeysCommand and AuthorizedKeysCommandUser lines (or AuthorizedPrincipals…) of printed sshd_config lines. */
export function commandOf(
  sshdConfig: string,
  kind: "AuthorizedKeys" | "AuthorizedPrincipals" = "AuthorizedKeys",
): AuthorizedKeysCommandOptions {
  const command = new RegExp(`^${kind}Command (\\S+) (.*)$`, "m").exec(sshdConfig);
  const user = new RegExp(`^${kind}CommandUser (\\S+)$`, "m").exec(sshdConfig);
  if (!command?.[1] || command[2] === undefined || !user?.[1]) throw new Error(`no ${kind}Command in:\n${sshdConfig}`);
  return { path: command[1], args: command[2], user: user[1] };
}

export interface SshdComponent extends StartedComponent {
  sshd: SshdHandle;
  authkeys: AuthkeysInstall;
}

/** `pnpm lab`'s sshd: logins for the seeded users, keys from slapd through the built authkeys. */
export const sshdComponent: LabComponent<SshdComponent> = {
  name: "sshd",
  async start({ started }) {
    const slapd = (started.get("slapd") as { slapd?: SlapdLab } | undefined)?.slapd;
    if (!slapd) throw new Error("sshd needs the slapd component (authkeys reads keys from it)");
    const authkeys = installAuthkeys(slapd, { allowedGroups: [slapd.groups.ops, slapd.groups.sre] });
    try {
      const users = Object.values(slapd.users).map((u) => ({ name: u.uid, uid: u.uidNumber }));
      const sshd = await startSshd({
        users: [...users, { name: "authkeys", uid: AUTHKEYS_UID, home: authkeys.dir }],
        authorizedKeysCommand: authkeys.command,
      });
      const alice = slapd.users.alice.keys[0]?.privateKeyFile ?? "";
      return {
        sshd,
        authkeys,
        describe: () => [
          `OpenSSH sshd    127.0.0.1:${sshd.port}  AuthorizedKeysCommand ${authkeys.bin} (allowedGroups: ops, sre)`,
          `  authkeys      config ${authkeys.configFile}; cache ${authkeys.cacheDir}`,
          `  try           ssh -p ${sshd.port} -i ${alice} -o StrictHostKeyChecking=no alice@127.0.0.1 true`,
        ],
        sections: () => ({ sshd: { host: sshd.host, port: sshd.port, authkeysConfig: authkeys.configFile } }),
        stop: async () => {
          await sshd.stop();
          authkeys.remove();
        },
      };
    } catch (error) {
      authkeys.remove();
      throw error;
    }
  },
};
