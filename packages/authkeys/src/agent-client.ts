import type { AgentReply, AgentRequest } from "./agent-protocol";

export interface AgentSettings {
  socket: string;
  timeoutMs: number;
}

export type AgentAnswer = { ok: true; reply: AgentReply } | { ok: false; problem: string };

/**
 * One request, one reply, within settings.timeoutMs from the connect; never throws. owner: whom the
 * agent runs as (default this user). Self-contained (it refers to nothing outside its body), because
 * the installed launcher carries a copy and asks the agent without loading the bundle.
 *
 * The socket is trusted only when it and its directory belong to the owner or root and no one else
 * can write that directory: whoever answers on it decides which keys log in. A reply is used only if
 * it is exactly one the agent sends: a line break inside a key line (a smuggled second line) voids it.
 */
export function askAgent(settings: AgentSettings, request: AgentRequest, owner?: number): Promise<AgentAnswer> {
  const MAX_REPLY_BYTES = 1024 * 1024;
  const RESULTS = ["keys", "no-keys", "unknown-user", "not-allowed", "invalid-user"];
  const SOURCES = ["ldap", "cache", "none"];
  const { lstatSync, statSync } = process.getBuiltinModule("node:fs");
  const { dirname } = process.getBuiltinModule("node:path");
  const path = settings.socket;
  const uid = owner ?? process.geteuid?.() ?? 0;

  const untrusted = (): string | undefined => {
    const info = lstatSync(path, { throwIfNoEntry: false });
    if (!info) return `${path} does not exist`;
    if (!info.isSocket()) return `${path} is not a socket`;
    if (info.uid !== uid && info.uid !== 0) return `${path} is owned by uid ${info.uid}, not by uid ${uid} or root`;
    const dir = statSync(dirname(path));
    if (dir.uid !== uid && dir.uid !== 0) return `${dirname(path)} is owned by uid ${dir.uid}, not by uid ${uid} or root`;
    if ((dir.mode & 0o022) !== 0) return `${dirname(path)} is writable by group or others (mode ${(dir.mode & 0o777).toString(8)})`;
    return undefined;
  };
  const parseReply = (line: string): AgentReply | undefined => {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    if (value.pong === true) return { kind: "pong" };
    if (typeof value.error === "string") return { kind: "error", error: value.error };
    const { result, source, lines } = value;
    if (typeof result !== "string" || !RESULTS.includes(result)) return undefined;
    if (typeof source !== "string" || !SOURCES.includes(source)) return undefined;
    if (!Array.isArray(lines) || !lines.every((l) => typeof l === "string" && l.length > 0 && !/[\r\n\0]/.test(l))) return undefined;
    if (result !== "keys" && lines.length > 0) return undefined;
    return { kind: "lookup", result, source, lines } as AgentReply;
  };

  let problem: string | undefined;
  try {
    problem = untrusted();
  } catch (error) {
    problem = `cannot check ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`;
  }
  if (problem) return Promise.resolve({ ok: false, problem });
  const body = request.kind === "ping" ? { ping: true } : { user: request.user, fingerprint: request.fingerprint };
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const socket = process.getBuiltinModule("node:net").connect({ path });
    const finish = (answer: AgentAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ ok: false, problem: `no reply within ${settings.timeoutMs} ms` }), settings.timeoutMs);
    socket.on("error", (error: NodeJS.ErrnoException) => finish({ ok: false, problem: error.code ?? error.message }));
    socket.on("connect", () => socket.write(`${JSON.stringify(body)}\n`));
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
