import { execFileSync } from "node:child_process";
import { chownSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { installRootOwned, type SlapdLab } from "@opsguard/lab";
import { Client } from "ssh2";

export const BUNDLE = new URL("../dist/authkeys.cjs", import.meta.url).pathname;
/** uid of the dedicated AuthorizedKeysCommandUser; it exists only inside the test sshd (nss_wrapper). */
export const COMMAND_UID = 20_000;

export function requireBundle(): string {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs authkeys" first`);
  return BUNDLE;
}

export interface Install {
  dir: string;
  bin: string;
  configFile: string;
  cacheDir: string;
  remove(): void;
}

/**
 * Installs the built bundle the way the README says: a root-owned 0755 directory sshd accepts, a config
 * and the files it names readable by the command user, and a cache dir owned by that user (0700).
 */
export function installForSshd(lab: SlapdLab, config: Record<string, unknown>): Install {
  const placeholder = { content: "", mode: 0o644 };
  const installed = installRootOwned({
    "ca.pem": { from: lab.caFile, mode: 0o644 },
    "reader.password": { from: lab.readerPasswordFile, mode: 0o600 },
    "authkeys.json": placeholder,
  });
  const dir = installed.dir;
  chownSync(join(dir, "reader.password"), COMMAND_UID, COMMAND_UID);
  const cacheDir = join(dir, "cache");
  // As the README says: `authkeys install` (launcher + code cache); the command user exists only in the test sshd.
  execFileSync(process.execPath, [requireBundle(), "install", "--prefix", dir, "--run-as", "root", "--cache-dir", cacheDir], {
    stdio: "ignore",
  });
  chownSync(cacheDir, COMMAND_UID, COMMAND_UID);
  const configFile = join(dir, "authkeys.json");
  const full = {
    ldap: { ...lab.connection(), caFile: join(dir, "ca.pem"), bindPassword: `file:${join(dir, "reader.password")}` },
    cache: { dir: cacheDir },
    syslog: false,
    ...config,
  };
  writeConfig(configFile, full);
  return { dir, bin: join(dir, "authkeys"), configFile, cacheDir, remove: installed.remove };
}

export function writeConfig(file: string, config: Record<string, unknown>): void {
  // Written in place: the root-owned directory and the file's mode stay as installed.
  writeFileSync(file, JSON.stringify(config, null, 2));
}

export interface LoginResult {
  ok: boolean;
  ms: number;
}

/** One publickey login with a real SSH client; resolves ok: false when the server refuses the key. */
export function sshLogin(port: number, username: string, privateKeyFile: string): Promise<LoginResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .on("ready", () => {
        client.end();
        resolve({ ok: true, ms: Date.now() - started });
      })
      .on("error", (error: Error & { level?: string }) => {
        if (error.level === "client-authentication") resolve({ ok: false, ms: Date.now() - started });
        else reject(error);
      })
      .connect({ host: "127.0.0.1", port, username, privateKey: readFileSync(privateKeyFile), readyTimeout: 30_000 });
  });
}
