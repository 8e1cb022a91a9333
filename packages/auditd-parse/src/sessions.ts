import { escapeControls } from "./escape";
import type { AuditEvent, FieldValue } from "./event";
import { type Connection, connectionOf, connectionText } from "./net";

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
  /** Commands and connections past the caps (per session, across open sessions), counted but not listed. */
  omitted?: number;
}

const LOGIN_TYPES = new Set(["USER_LOGIN", "USER_START", "USER_END", "USER_LOGOUT", "CRED_ACQ", "CRED_REFR", "CRED_DISP", "LOGIN"]);

export interface SessionTrackerOptions {
  /** Open sessions kept at most; past it the oldest is emitted as it stands (still open). */
  maxOpen?: number;
  /** Commands plus connections kept per session; past it they are counted in `omitted`. */
  maxItems?: number;
  /**
   * Commands plus connections kept across all open sessions (so memory stays flat when sessions never
   * end); past it they are counted in their session's `omitted` until an emitted session frees room.
   */
  maxKept?: number;
}

/** Ended sessions remembered so their trailing CRED_DISP does not open a new one. */
const CLOSED_REMEMBERED = 4096;

/**
 * Builds per-session timelines from events keyed by (node, ses) and hands each session to `emit` when it
 * ends: the USER_END/USER_LOGOUT of the program that opened it (a sudo inside the session ends only sudo's
 * PAM session), or CRED_DISP when the session never had a USER_END. Events without a session are skipped.
 */
export class SessionTracker {
  private readonly sessions = new Map<string, Session>();
  private readonly closed = new Set<string>();
  private readonly maxOpen: number;
  private readonly maxItems: number;
  private readonly maxKept: number;
  /** Commands plus connections held by the open sessions. */
  private kept = 0;

  constructor(
    private readonly emit: (s: Session) => void,
    options: SessionTrackerOptions = {},
  ) {
    this.maxOpen = options.maxOpen ?? 10_000;
    this.maxItems = options.maxItems ?? 10_000;
    this.maxKept = options.maxKept ?? 40_000;
  }

  add(e: AuditEvent): void {
    if (e.ses === undefined || e.ses === "unset" || e.id === null || e.time === null) return;
    const key = `${e.node ?? ""} ${e.ses}`;
    let s = this.sessions.get(key);
    if (s === undefined) {
      // the teardown records that follow an ended session's USER_END belong to it, not to a new session
      if (this.closed.has(key) && e.records.every((r) => LOGIN_TYPES.has(r.type))) return;
      s = { ses: e.ses, commands: [], connections: [] };
      if (e.node !== undefined) s.node = e.node;
      this.sessions.set(key, s);
      if (this.sessions.size > this.maxOpen) this.endOldest();
    }
    if (e.auid !== undefined && e.auid !== "unset") s.user ??= e.auid;
    s.start ??= e.time;
    let ended = false;
    for (const r of e.records) {
      if (!LOGIN_TYPES.has(r.type)) continue;
      const f = r.fields;
      const from = str(f.addr) ?? str(f.hostname);
      if (from) s.from ??= from;
      if (str(f.terminal)) s.terminal ??= str(f.terminal);
      const exe = str(f.exe);
      if (exe && r.type !== "LOGIN") s.via ??= exe;
      if (r.type === "USER_LOGIN" || r.type === "USER_START") {
        const res = str(f.res);
        if (res !== undefined) s.loginSuccess = res === "success" && s.loginSuccess !== false;
      }
      if ((r.type === "USER_END" || r.type === "USER_LOGOUT") && (exe === undefined || exe === s.via)) ended = true;
      if (r.type === "CRED_DISP" && s.end === undefined && (exe === undefined || exe === s.via)) ended = true;
    }
    if (e.argv !== undefined) {
      const c: SessionCommand = { time: e.time, id: e.id, argv: e.argv };
      if (e.pid !== undefined) c.pid = e.pid;
      if (e.exe !== undefined) c.exe = e.exe;
      if (e.cwd !== undefined) c.cwd = e.cwd;
      if (e.success !== undefined) c.success = e.success;
      if (e.success === false && e.exit !== undefined) c.exit = e.exit;
      this.keep(s, () => s.commands.push(c));
    }
    const conn = connectionOf(e);
    if (conn) this.keep(s, () => s.connections.push(conn));
    if (ended) {
      s.end = e.time;
      this.sessions.delete(key);
      this.closed.add(key);
      if (this.closed.size > CLOSED_REMEMBERED) this.closed.delete(this.closed.values().next().value as string);
      this.release(s);
    }
  }

  /** Emits the sessions still open (end of input), oldest first. */
  flush(): void {
    for (const s of this.sessions.values()) this.release(s);
    this.sessions.clear();
  }

  private keep(s: Session, add: () => void): void {
    if (s.commands.length + s.connections.length < this.maxItems && this.kept < this.maxKept) {
      add();
      this.kept++;
    } else {
      s.omitted = (s.omitted ?? 0) + 1;
    }
  }

  /** Hands a session over; its items no longer count against maxKept. */
  private release(s: Session): void {
    this.kept -= s.commands.length + s.connections.length;
    this.emit(s);
  }

  private endOldest(): void {
    const first = this.sessions.entries().next();
    if (first.done) return;
    this.sessions.delete(first.value[0]);
    this.release(first.value[1]);
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
    ...s.connections.map((c) => ({ time: c.time, text: `  ${c.time} net  ${connectionText(c).slice(c.time.length + 1)}` })),
  ].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const omitted = s.omitted ? [`  … ${s.omitted} more commands/connections not listed (capped to bound memory)`] : [];
  // every line escaped on its own: a logged newline cannot forge a line of the timeline
  return [head, ...items.map((i) => i.text), ...omitted].map(escapeControls).join("\n");
}
