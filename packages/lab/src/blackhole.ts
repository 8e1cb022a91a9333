import { createServer, type Socket } from "node:net";

export interface BlackholeServer {
  port: number;
  /** ldap://127.0.0.1:PORT, for LDAP failover and timeout tests. */
  url: string;
  /** How many connections it has accepted. */
  connections(): number;
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
