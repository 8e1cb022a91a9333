import { spawn } from "node:child_process";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { guardChild, stopProcess, suspendProcess } from "./process";

export interface BlackholeServer {
  port: number;
  /** ldap://127.0.0.1:PORT, for LDAP failover and timeout tests. */
  url: string;
  /** How many connections it has accepted. */
  connections(): number;
  /** How many of them are still open (its own sockets, in this process). */
  open(): number;
  stop(): Promise<void>;
}

/** Accepts TCP connections on a free loopback port and never sends a byte: a hung or blackholed server. */
export function startBlackholeServer(): Promise<BlackholeServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({
        port,
        url: `ldap://127.0.0.1:${port}`,
        connections: () => accepted,
        open: () => sockets.size,
        stop: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A loopback port with nothing listening: connections are refused at once. */
export { freePort as closedPort } from "./process";

export interface NeverAcceptingServer {
  port: number;
  /** ldap://127.0.0.1:PORT */
  url: string;
  stop(): Promise<void>;
}

/**
 * A loopback port whose listen queue is full and never drained (a server process that hangs or is
 * swamped before accept()): a connect to it stays in SYN-SENT, neither refused nor accepted. A stopped
 * child listens with a backlog of 1 and two connections of ours fill its queue; the kernel then drops
 * further SYNs (Linux tcp_conn_request: sk_acceptq_is_full).
 */
export async function startNeverAcceptingServer(): Promise<NeverAcceptingServer> {
  const script = `const s = require("node:net").createServer(); s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "ignore"] });
  const unguard = guardChild(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", () => reject(new Error("the never-accepting listener exited")));
    child.stdout?.once("data", (chunk: Buffer) => resolve(Number(String(chunk).trim())));
  });
  await suspendProcess(child);
  const fillers = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = netConnect(port, "127.0.0.1", () => resolve(socket));
          socket.once("error", reject);
        }),
    ),
  );
  return {
    port,
    url: `ldap://127.0.0.1:${port}`,
    stop: async () => {
      for (const socket of fillers) socket.destroy();
      child.kill("SIGCONT");
      await stopProcess(child);
      unguard();
    },
  };
}
