import { type SpawnSyncReturns, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Logger, type LogLevel } from "@opsguard/core";
import { AUTHKEYS_BUNDLE } from "@opsguard/lab";
import { untilEvent } from "@opsguard/lab/wait";
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

export interface SyslogSocket {
  path: string;
  /** Every datagram received so far, in order. */
  messages(): string[];
  /** Resolves once `ready(messages)` holds, checked as each datagram arrives; bounded, naming `what`. */
  until(ready: (messages: string[]) => boolean, what: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A unix datagram socket standing in for /dev/log, writable by anyone (the command user sends to it).
 * Node has no unix datagram sockets, so python3 (Debian's, in scripts/setup.mjs) binds it and prints
 * each datagram as one JSON string per line.
 */
export async function startSyslogSocket(path: string): Promise<SyslogSocket> {
  const script = [
    "import json, os, socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "s.bind(sys.argv[1])",
    "os.chmod(sys.argv[1], 0o666)",
    "print('ready', flush=True)",
    "while True:",
    "    print(json.dumps(s.recv(65536).decode('utf-8', 'replace')), flush=True)",
  ].join("\n");
  const child = spawn("/usr/bin/python3", ["-c", script, path], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: string[] = [];
  let buffered = "";
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`python3 exited with ${code} before binding ${path}`)));
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") resolve();
        else messages.push(JSON.parse(line) as string);
      }
    });
  });
  return {
    path,
    messages: () => [...messages],
    // registered after the parser above, so a check sees the datagrams of the chunk that woke it
    until: (ready, what) => untilEvent(child.stdout, "data", () => ready([...messages]), what),
    stop: async () => {
      child.kill();
      await new Promise((r) => child.once("exit", r));
      rmSync(path, { force: true });
    },
  };
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
