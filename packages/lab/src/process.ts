import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A port nobody listens on right now; callers retry if another process takes it first. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP on host:port, or rejects after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, host = "127.0.0.1"): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host, port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a program to completion; rejects with its stderr when it fails. */
export function runCommand(file: string, args: readonly string[], options: { cwd?: string; input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

const cleanups = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Runs fn synchronously when the process exits, however it exits, so a crashed test file never
 * leaves a slapd or a temp dir behind. The returned function unregisters it.
 */
export function onProcessExit(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const cleanup of cleanups) {
        try {
          cleanup();
        } catch {
          // best effort at exit
        }
      }
    });
  }
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/**
 * A tiny sh process that SIGKILLs child and removes dir when our end of its stdin closes, which
 * happens even when this process is SIGKILLed (a vitest worker killed on timeout) and no exit hook
 * runs. Returns a function that dismisses it, for a normal stop.
 */
export function guardChild(child: ChildProcess, dir?: string): () => void {
  if (child.pid === undefined) return () => {};
  const script = 'read _ignored; kill -9 "$0" 2>/dev/null; [ -n "$1" ] && rm -rf -- "$1"';
  const watchdog = spawn("sh", ["-c", script, String(child.pid), dir ?? ""], { stdio: ["pipe", "ignore", "ignore"] });
  watchdog.on("error", () => {});
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return () => {
    watchdog.kill("SIGKILL");
  };
}

export function makeTempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `opsguard-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Sends SIGTERM, then SIGKILL if the process has not exited after graceMs. */
export async function stopProcess(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * SIGSTOP, then waits until the kernel reports every thread stopped: a busy process can still
 * answer a request or two right after kill() returns, which made "hung server" tests flaky.
 */
export async function suspendProcess(child: ChildProcess, timeoutMs = 2000): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || !child.kill("SIGSTOP")) throw new Error("cannot suspend a process that is not running");
  const until = Date.now() + timeoutMs;
  while (!allThreadsStopped(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} did not stop within ${timeoutMs} ms`);
    await sleep(2);
  }
}

function allThreadsStopped(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).every((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
      return state === "T" || state === "t";
    });
  } catch {
    // No /proc (not Linux): give the signal a moment instead.
    return true;
  }
}
