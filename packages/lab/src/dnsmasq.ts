import { spawn } from "node:child_process";
import { join } from "node:path";
import { ensureDebianPackages } from "./ensure";
import { freePort, guardChild, makeTempDir, onProcessExit, removeDir, stopProcess } from "./process";
import { untilEvent } from "./wait";

const DNSMASQ = "/usr/sbin/dnsmasq";

export interface SrvHost {
  /** e.g. "_ldap._tcp.example.org" */
  service: string;
  target: string;
  port: number;
  priority: number;
  weight: number;
}

export interface DnsmasqOptions {
  /** Answers for this domain come only from here: any other name in it is NXDOMAIN. */
  domain: string;
  srv: SrvHost[];
  /** TTL of every local answer (dnsmasq's --local-ttl), seconds. */
  ttl: number;
}

export interface DnsmasqHandle {
  /** "127.0.0.1:PORT", for dns.Resolver#setServers or authkeys' ldap.dnsServer. */
  server: string;
  /** How many queries it answered so far for `name` (from its --log-queries lines). */
  queries(name: string): number;
  /** SIGSTOP: queries are received but never answered (a DNS server that hangs). */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

/**
 * A real DNS server (Debian's dnsmasq) on a free loopback port, serving SRV records from the command
 * line, no upstream, no /etc/hosts, pid file and everything else in its own temp dir (never a host path).
 */
export async function startDnsmasq(options: DnsmasqOptions): Promise<DnsmasqHandle> {
  ensureDebianPackages([{ program: DNSMASQ, pkg: "dnsmasq-base" }]);
  const dir = makeTempDir("dnsmasq");
  const port = await freePort();
  const args = [
    "--keep-in-foreground",
    "--conf-file=/dev/null",
    `--pid-file=${join(dir, "dnsmasq.pid")}`,
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    "--log-queries",
    "--log-facility=-",
    `--local-ttl=${options.ttl}`,
    `--local=/${options.domain}/`,
    ...options.srv.map((r) => `--srv-host=${r.service},${r.target},${r.port},${r.priority},${r.weight}`),
  ];
  const child = spawn(DNSMASQ, args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  const collect = (chunk: Buffer) => {
    log += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const dismiss = guardChild(child, dir);
  const unregister = onProcessExit(() => {
    child.kill("SIGKILL");
    removeDir(dir);
  });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.kill("SIGCONT");
    await stopProcess(child);
    dismiss();
    unregister();
    removeDir(dir);
  };
  try {
    await untilEvent(child.stderr ?? child, "data", () => /started, version/.test(log), "dnsmasq to start", 10_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}: ${log.trim()}`);
  }
  return {
    server: `127.0.0.1:${port}`,
    queries: (name) => log.split("\n").filter((line) => line.includes(`query[SRV] ${name} from`)).length,
    freeze: () => child.kill("SIGSTOP"),
    thaw: () => child.kill("SIGCONT"),
    stop,
  };
}
