import type { AuditEvent, FieldValue } from "./interpret";
import { type Connection, connectionOf, formatConnection } from "./net";

export interface SessionCommand {
  time: string;
  id: string;
  pid?: string;
  exe?: string;
  cwd?: string;
  argv: string[];
  success?: boolean;
  /** errno name when the exec failed. */
  exit?: string;
}

export interface Session {
  node?: string;
  ses: string;
  user?: string;
  start?: string;
  end?: string;
  /** Where the login came from (addr/hostname of USER_LOGIN/USER_START). */
  from?: string;
  terminal?: string;
  /** The program that opened the session (sshd, login, cron …). */
  via?: string;
  /** USER_LOGIN/USER_START results; false when a login failed. */
  loginSuccess?: boolean;
  commands: SessionCommand[];
  connections: Connection[];
}

const LOGIN_TYPES = new Set(["USER_LOGIN", "USER_START", "USER_END", "USER_LOGOUT", "CRED_ACQ", "CRED_REFR", "CRED_DISP", "LOGIN"]);

/** Builds per-session timelines from events keyed by (node, ses); events without a session are skipped. */
export class SessionTracker {
  private readonly sessions = new Map<string, Session>();

  add(e: AuditEvent): void {
    if (e.ses === undefined || e.ses === "unset" || e.id === null || e.time === null) return;
    const key = `${e.node ?? ""} ${e.ses}`;
    let s = this.sessions.get(key);
    if (s === undefined) {
      s = { ses: e.ses, commands: [], connections: [] };
      if (e.node !== undefined) s.node = e.node;
      this.sessions.set(key, s);
    }
    if (e.auid !== undefined && e.auid !== "unset") s.user ??= e.auid;
    s.start ??= e.time;
    for (const r of e.records) {
      if (!LOGIN_TYPES.has(r.type)) continue;
      const f = r.fields;
      const from = str(f.addr) ?? str(f.hostname);
      if (from) s.from ??= from;
      if (str(f.terminal)) s.terminal ??= str(f.terminal);
      if (str(f.exe) && r.type !== "LOGIN") s.via ??= str(f.exe);
      if (r.type === "USER_LOGIN" || r.type === "USER_START") {
        const res = str(f.res);
        if (res !== undefined) s.loginSuccess = res === "success" && s.loginSuccess !== false;
      }
      if (r.type === "USER_END" || r.type === "USER_LOGOUT") s.end = e.time;
    }
    if (e.argv !== undefined) {
      const c: SessionCommand = { time: e.time, id: e.id, argv: e.argv };
      if (e.pid !== undefined) c.pid = e.pid;
      if (e.exe !== undefined) c.exe = e.exe;
      if (e.cwd !== undefined) c.cwd = e.cwd;
      if (e.success !== undefined) c.success = e.success;
      if (e.success === false && e.exit !== undefined) c.exit = e.exit;
      s.commands.push(c);
    }
    const conn = connectionOf(e);
    if (conn) s.connections.push(conn);
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }
}

function str(v: FieldValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** A readable timeline: one header per session, then its commands and connections in time order. */
export function formatSession(s: Session): string {
  const head = [
    `session ${s.ses}${s.node ? ` on ${s.node}` : ""}`,
    `user ${s.user ?? "?"}`,
    s.from ? `from ${s.from}` : "",
    s.via ? `via ${s.via}` : "",
    s.terminal ? `tty ${s.terminal}` : "",
    `${s.start ?? "?"} .. ${s.end ?? "(open)"}`,
    s.loginSuccess === false ? "LOGIN FAILED" : "",
  ]
    .filter(Boolean)
    .join("  ");
  const items = [
    ...s.commands.map((c) => ({
      time: c.time,
      text: `  ${c.time} exec ${c.argv.join(" ")}${c.cwd ? `  (cwd ${c.cwd})` : ""}${c.success === false ? ` (failed${c.exit ? `: ${c.exit}` : ""})` : ""}`,
    })),
    ...s.connections.map((c) => ({ time: c.time, text: `  ${c.time} net  ${formatConnection(c).slice(c.time.length + 1)}` })),
  ].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return [head, ...items.map((i) => i.text)].join("\n");
}
