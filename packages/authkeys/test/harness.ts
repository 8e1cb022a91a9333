import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Logger, type LogLevel } from "@opsguard/core";
import { AUTHKEYS_BUNDLE } from "@opsguard/lab";
import { Client } from "ssh2";

export function requireBundle(): string {
  if (!existsSync(AUTHKEYS_BUNDLE)) throw new Error(`${AUTHKEYS_BUNDLE} is missing: run "node scripts/build.mjs authkeys" first`);
  return AUTHKEYS_BUNDLE;
}

/**
 * `authkeys --config <file> lookup -- <user>` through the built bundle, as sshd runs it, in a child: a lookup
 * that hangs is killed after timeoutMs (then r.signal is set) instead of freezing the test worker.
 */
export function bundleLookup(file: string, user: string, timeoutMs = 20_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [requireBundle(), "--config", file, "lookup", "--", user], { encoding: "utf8", timeout: timeoutMs });
}

/** Runs argv with its stdout closed at once, as sshd may (EPIPE); its exit code and stderr. */
export async function runWithClosedStdout(
  argv: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stderr: string }> {
  const [cmd = "", ...args] = argv;
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...(env ? { env } : {}) });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stderr };
}

export function writeConfig(file: string, config: Record<string, unknown>): void {
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

/** A logger whose lines a test reads back (lookups' warnings, the lookup line). */
export function collectingLogger(level: LogLevel = "warn"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = new Logger({
    tool: "authkeys",
    level,
    stream: { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream,
  });
  return { log, lines };
}
