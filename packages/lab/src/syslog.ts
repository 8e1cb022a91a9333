// A unix datagram socket standing in for /dev/log, so a test sees what a tool sends to syslog: the real
// logger(1) and the tools write to it exactly as to the host's. Node has no unix datagram sockets, so python3
// (Debian's, installed by scripts/setup.mjs) binds it and prints each datagram in base64, one per line.
import { spawn } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { untilEvent } from "./wait";

/** rsyslog's default maxMessageSize is 8 KiB; read more, so a datagram over it is seen whole, not cut here. */
const RECEIVE_BYTES = 262_144;

export interface SyslogSocket {
  path: string;
  /** Every datagram received so far, in order, as sent. */
  datagrams(): Buffer[];
  /** The same, decoded as UTF-8 (an invalid byte shown as U+FFFD). */
  messages(): string[];
  /** Resolves once `ready(messages)` holds, checked as each datagram arrives; bounded, naming `what`. */
  until(ready: (messages: string[]) => boolean, what: string): Promise<void>;
  stop(): Promise<void>;
}

/** Binds `path` (writable by anyone, so a tool run as another user can send to it) and collects what arrives. */
export async function startSyslogSocket(path: string): Promise<SyslogSocket> {
  const script = [
    "import base64, socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "s.bind(sys.argv[1])",
    "print('ready', flush=True)",
    "while True:",
    `    print(base64.b64encode(s.recv(${RECEIVE_BYTES})).decode(), flush=True)`,
  ].join("\n");
  const child = spawn("/usr/bin/python3", ["-c", script, path], { stdio: ["ignore", "pipe", "inherit"] });
  const datagrams: Buffer[] = [];
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
        else datagrams.push(Buffer.from(line, "base64"));
      }
    });
  });
  chmodSync(path, 0o666);
  const messages = () => datagrams.map((d) => d.toString("utf8"));
  return {
    path,
    datagrams: () => [...datagrams],
    messages,
    // registered after the parser above, so a check sees the datagrams of the chunk that woke it
    until: (ready, what) => untilEvent(child.stdout, "data", () => ready(messages()), what),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(path, { force: true });
    },
  };
}
