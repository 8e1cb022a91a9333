import { statSync } from "node:fs";
import { askAgent } from "./agent-client";
import { parseSshdArgv } from "./sshd-argv";

/**
 * Set by the launcher's fast path when it asked the agent and got no usable answer, before it loads
 * the bundle: the lookup then goes straight to LDAP instead of waiting for the agent a second time.
 */
export const AGENT_PROBLEM_GLOBAL = "__authkeysAgentProblem";

/** What install bakes into the launcher: nothing secret (the launcher is world-readable), no config content. */
export interface FastPathSettings {
  /** The --config argument exactly as in the sshd_config line. */
  configPath: string;
  /** The config file's identity and times at install; any edit, replacement or move changes it. */
  configStamp: string;
  socket: string;
  timeoutMs: number;
  /** The audit line goes to syslog with this priority (facility * 8 + info) through logger(1); undefined: to stderr. */
  syslog: { priority: number; socket: string | undefined } | undefined;
}

export function configStamp(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * The launcher's first step: a login whose config is the one validated at install, with an agent,
 * is answered by the agent without loading the bundle (no zod, TLS or LDAP code, no code cache to
 * read). Returns false for anything else (the launcher then loads the bundle as usual). When the agent
 * gives no usable answer, it marks the problem and runs the launcher again, which then loads the
 * bundle and looks up directly, so availability is the same as without an agent.
 * Self-contained: it reaches the other functions only through its arguments.
 */
export function runAgentFastPath(
  args: readonly string[],
  settings: FastPathSettings,
  launcher: { file: string; require: NodeJS.Require },
  parseArgv: typeof parseSshdArgv,
  ask: typeof askAgent,
): boolean {
  const PROBLEM = "__authkeysAgentProblem";
  const global = globalThis as Record<string, unknown>;
  if (global[PROBLEM] !== undefined) return false;
  const call = parseArgv(args);
  if (call?.kind !== "lookup" || call.config !== settings.configPath) return false;
  try {
    const st = process.getBuiltinModule("node:fs").statSync(settings.configPath, { bigint: true });
    if (`${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` !== settings.configStamp) return false;
  } catch {
    return false;
  }
  // Written synchronously: creating the stdio streams would cost about 1.5 ms. sshd closing the pipe
  // early (EPIPE) is not an error; a full non-blocking pipe (EAGAIN) gets the rest through the stream.
  const put = (fd: 1 | 2, text: string): void => {
    const data = Buffer.from(text);
    let done = 0;
    try {
      while (done < data.length) done += process.getBuiltinModule("node:fs").writeSync(fd, data, done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") (fd === 1 ? process.stdout : process.stderr).write(data.subarray(done));
      else if (code !== "EPIPE") throw error;
    }
  };
  void ask(
    { socket: settings.socket, timeoutMs: settings.timeoutMs },
    { kind: "lookup", user: call.user, fingerprint: call.fingerprint },
  ).then((answer) => {
    if (!answer.ok || answer.reply.kind !== "lookup") {
      global[PROBLEM] = answer.ok ? (answer.reply.kind === "error" ? answer.reply.error : "unexpected reply") : answer.problem;
      delete launcher.require.cache[launcher.file];
      launcher.require(launcher.file);
      return;
    }
    const { result, source, lines } = answer.reply;
    if (lines.length > 0) put(1, `${lines.join("\n")}\n`);
    // The same line as the bundle's audit Logger writes.
    const user = call.user.replace(/[^\x21-\x7e]/g, "?").slice(0, 64);
    const value = (text: string) => (/[\s"=]/.test(text) ? JSON.stringify(text) : text);
    const line = `lookup user=${value(user)} result=${result} keys=${lines.length} source=agent:${source} ms=${Math.round(process.uptime() * 1000)}`;
    if (!settings.syslog) {
      put(2, `authkeys: ${line}\n`);
      return;
    }
    // As the bundle's Logger sends it: this PID, the priority on the line, logger's --size (core log.ts; the line
    // is under 200 bytes: the user cut to 64, result and source checked against their lists), and stderr if
    // logger fails.
    const args = [`--id=${process.pid}`, "-t", "authkeys", "--prio-prefix", "--socket-errors=on", "--size=8192"];
    if (settings.syslog.socket) args.push("-u", settings.syslog.socket);
    let failed = false;
    const fail = (problem: string) => {
      if (failed) return;
      failed = true;
      put(2, `authkeys: error: syslog unavailable (${problem}); its lines go to stderr\nauthkeys: ${line}\n`);
    };
    try {
      const child = process
        .getBuiltinModule("node:child_process")
        .spawn("logger", args, { stdio: ["pipe", "ignore", "ignore"], detached: true });
      child.on("error", (error) => fail(error.message));
      child.on("exit", (code, signal) => {
        if (code !== 0) fail(`logger exited with ${signal ?? code}`);
      });
      child.stdin.on("error", () => {});
      child.stdin.end(`<${settings.syslog.priority}>${line}\n`);
      const timer = setTimeout(() => {
        child.kill();
        fail("logger did not finish within 1 s");
      }, 1000);
      child.once("exit", () => clearTimeout(timer));
    } catch (error) {
      fail((error as Error).message);
    }
  });
  return true;
}

/** The expression install puts in front of the launcher's bundle loading. */
export function agentFastPathExpression(settings: FastPathSettings): string {
  return `(${runAgentFastPath.toString()})(process.argv.slice(2), ${JSON.stringify(settings)}, { file: __filename, require }, (${parseSshdArgv.toString()}), (${askAgent.toString()}))`;
}
