import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureDebianPackages } from "./ensure";
import type { LabComponent, StartedComponent } from "./lab";
import { freePort, makeTempDir, onProcessExit, removeDir, stopProcess, waitForPort } from "./process";
import { makeCa, makeServerCert } from "./tls";

const REDIS_SERVER = "/usr/bin/redis-server";
const HOST = "127.0.0.1";

export interface RedisLabOptions {
  /** requirepass for the default user; written to passwordFile too. */
  password?: string;
  /** TLS only (no plaintext port), with a throwaway CA. */
  tls?: boolean;
  startTimeoutMs?: number;
}

export interface RedisLab {
  host: string;
  port: number;
  /** redis://127.0.0.1:PORT/0, or rediss:// with tls. */
  url: string;
  password: string | undefined;
  /** The password in a file (no newline), for "file:/path" secret references. */
  passwordFile: string | undefined;
  /** PEM of the CA that signed the server certificate (tls only). */
  caFile: string | undefined;
  dir: string;
  /** Stops the server but keeps its port and files: clients get "connection refused". */
  stopServer(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is persisted). */
  startServer(): Promise<void>;
  /** SIGSTOP: the kernel accepts connections, nobody answers (a hung server). */
  freeze(): void;
  thaw(): void;
  logs(): string;
  /** Stops redis-server and removes every file; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A real redis-server on a free loopback port, in its own temp dir, never persisting to disk and
 * never the system instance; optionally with a password and TLS.
 */
export async function startRedis(options: RedisLabOptions = {}): Promise<RedisLab> {
  ensureDebianPackages([{ program: REDIS_SERVER, pkg: "redis-server" }]);
  const dir = makeTempDir("redis");
  let child: ChildProcess | undefined;
  const unregister = onProcessExit(() => {
    child?.kill("SIGKILL");
    removeDir(dir);
  });
  try {
    const password = options.password;
    const passwordFile = password === undefined ? undefined : join(dir, "redis.password");
    if (passwordFile && password !== undefined) writeFileSync(passwordFile, password, { mode: 0o600 });
    const ca = options.tls ? await makeCa(dir, "redis") : undefined;
    const cert = ca ? await makeServerCert(dir, ca, "redis") : undefined;
    const port = await freePort();
    const conf = [
      `bind ${HOST}`,
      "protected-mode yes",
      `dir ${dir}`,
      'save ""',
      "appendonly no",
      "daemonize no",
      "loglevel warning",
      'logfile ""',
      ...(password === undefined ? [] : [`requirepass ${password}`]),
      ...(cert && ca
        ? [
            "port 0",
            `tls-port ${port}`,
            `tls-cert-file ${cert.certFile}`,
            `tls-key-file ${cert.keyFile}`,
            `tls-ca-cert-file ${ca.certFile}`,
            "tls-auth-clients no",
          ]
        : [`port ${port}`]),
    ];
    const confFile = join(dir, "redis.conf");
    writeFileSync(confFile, `${conf.join("\n")}\n`, { mode: 0o600 });

    let output = "";
    const launch = async (): Promise<void> => {
      const proc = spawn(REDIS_SERVER, [confFile], { stdio: ["ignore", "pipe", "pipe"] });
      child = proc;
      const collect = (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000);
      };
      proc.stdout?.on("data", collect);
      proc.stderr?.on("data", collect);
      const exited = new Promise<never>((_, reject) =>
        proc.once("exit", (code) =>
          reject(new Error(`redis-server exited (${code}) before answering: ${output.trim().split("\n").slice(-3).join(" | ")}`)),
        ),
      );
      exited.catch(() => {});
      await Promise.race([waitForPort(port, options.startTimeoutMs ?? 10_000, HOST), exited]);
    };
    await launch();

    let stopped = false;
    return {
      host: HOST,
      port,
      url: `${cert ? "rediss" : "redis"}://${HOST}:${port}/0`,
      password,
      passwordFile,
      caFile: ca?.certFile,
      dir,
      stopServer: async () => {
        if (child) await stopProcess(child);
      },
      startServer: launch,
      freeze: () => child?.kill("SIGSTOP"),
      thaw: () => child?.kill("SIGCONT"),
      logs: () => output,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (child) {
          child.kill("SIGCONT");
          await stopProcess(child);
        }
        removeDir(dir);
        unregister();
      },
    };
  } catch (error) {
    child?.kill("SIGKILL");
    removeDir(dir);
    unregister();
    throw error;
  }
}

export interface RedisComponent extends StartedComponent {
  redis: RedisLab;
}

/** redis-server for the lab: the shared place store of vpnnotify across several VPN servers. */
export const redisComponent: LabComponent<RedisComponent> = {
  name: "redis",
  async start() {
    const redis = await startRedis();
    return {
      redis,
      describe: () => [`redis-server    ${redis.url}`, `  try           redis-cli -h ${redis.host} -p ${redis.port} keys 'vpnnotify:*'`],
      sections: () => ({ redis: { url: redis.url } }),
      stop: () => redis.stop(),
    };
  },
};
