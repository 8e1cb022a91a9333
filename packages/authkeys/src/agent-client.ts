import { lstatSync, statSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { type AgentReply, type AgentRequest, formatRequest, MAX_REPLY_BYTES, parseReply } from "./agent-protocol";

export interface AgentSettings {
  socket: string;
  timeoutMs: number;
}

export type AgentAnswer = { ok: true; reply: AgentReply } | { ok: false; problem: string };

/**
 * Why this socket must not be trusted, or undefined. Whoever answers on it decides which keys log
 * in, so it must belong to this user (the agent runs as the command user) or root, in a directory
 * no one else can write, where no one could have swapped in a socket of their own.
 */
export function untrustedSocket(path: string, owner = process.geteuid?.() ?? 0): string | undefined {
  const info = lstatSync(path, { throwIfNoEntry: false });
  if (!info) return `${path} does not exist`;
  if (!info.isSocket()) return `${path} is not a socket`;
  if (info.uid !== owner && info.uid !== 0) return `${path} is owned by uid ${info.uid}, not by uid ${owner} or root`;
  const dir = statSync(dirname(path));
  if (dir.uid !== owner && dir.uid !== 0) return `${dirname(path)} is owned by uid ${dir.uid}, not by uid ${owner} or root`;
  if ((dir.mode & 0o022) !== 0) return `${dirname(path)} is writable by group or others (mode ${(dir.mode & 0o777).toString(8)})`;
  return undefined;
}

/** One request, one reply, within settings.timeoutMs from the connect; never throws. owner: whom the agent runs as. */
export function askAgent(settings: AgentSettings, request: AgentRequest, owner?: number): Promise<AgentAnswer> {
  let problem: string | undefined;
  try {
    problem = untrustedSocket(settings.socket, owner);
  } catch (error) {
    problem = `cannot check ${settings.socket} (${(error as NodeJS.ErrnoException).code ?? "error"})`;
  }
  if (problem) return Promise.resolve({ ok: false, problem });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = connect({ path: settings.socket });
    const finish = (answer: AgentAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ ok: false, problem: `no reply within ${settings.timeoutMs} ms` }), settings.timeoutMs);
    socket.on("error", (error: NodeJS.ErrnoException) => finish({ ok: false, problem: error.code ?? error.message }));
    socket.on("connect", () => socket.write(formatRequest(request)));
    socket.on("data", (chunk: Buffer) => {
      const end = chunk.indexOf(10);
      size += end === -1 ? chunk.length : end;
      if (size > MAX_REPLY_BYTES) return finish({ ok: false, problem: `reply larger than ${MAX_REPLY_BYTES} bytes` });
      chunks.push(end === -1 ? chunk : chunk.subarray(0, end));
      if (end === -1) return;
      const reply = parseReply(Buffer.concat(chunks).toString("utf8"));
      finish(reply ? { ok: true, reply } : { ok: false, problem: "malformed reply" });
    });
    socket.on("end", () => finish({ ok: false, problem: "closed without a reply" }));
  });
}
