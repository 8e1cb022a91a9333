import { escapeControlChars, escapeHtml as h, htmlPage, jsonForScript } from "@opsguard/core/html";
import type { AuditEvent, FieldValue, OutputRecord } from "./event";
import { INCOMPLETE_CSS, incompleteBanner } from "./incomplete";
import { connectionText } from "./net";
import {
  fromText,
  OPEN_END,
  partText,
  type RecordSource,
  type Session,
  SessionTracker,
  type SessionTrackerOptions,
  terminalText,
} from "./sessions";

/**
 * `auditd-parse sessions --format html` (issue #25): per session a timeline on a time axis — login, commands with
 * the uid they ran as, file changes, connections, su/sudo — each with its raw event one click away, and filters
 * by user and host in the page. Fed by SessionTracker's sessions as they end plus the events before them (for
 * the raw JSON and the file changes, which sessions do not keep), so it does not change how sessions are built.
 *
 * The page is bounded, so a 100 MiB log still opens in a browser: PAGE_BOUNDS below, and a visible note of how
 * much was left out and how to narrow the run. Everything from the log is escaped (core's escapeHtml); the
 * filters' data is JSON in a <script type="application/json"> (core's jsonForScript) read with textContent.
 */
export const PAGE_BOUNDS = {
  /** Sessions shown; later ones are counted. */
  sessions: 500,
  /** Timeline items (commands, connections, file changes, su/sudo) shown per session. */
  itemsPerSession: 200,
  /** Timeline items across the page. */
  items: 5_000,
  /** Characters of one raw event shown (the JSON line); longer ones end in "…". */
  rawChars: 1024,
  /** Raw events held for sessions still open: the memory bound while reading. */
  rawHeld: 20_000,
};

export type PageBounds = typeof PAGE_BOUNDS;

type Kind = "login" | "command" | "file" | "net" | "priv" | "logout";

interface Item {
  time: string;
  kind: Kind;
  text: string;
  /** Shown highlighted: a failure, a command run as another uid, a privilege change. */
  alert?: boolean;
  raw?: string | undefined;
}

interface Held {
  /** Raw JSON by event id. */
  raw: Map<string, string>;
  /** The first login event of the session (its USER_LOGIN/USER_START). */
  login?: string;
  files: Item[];
}

const LOGIN = new Set(["USER_LOGIN", "USER_START"]);
/** Syscalls that change a file named by their PATH record (beyond nametype CREATE/DELETE, which any syscall marks). */
const FILE_SYSCALLS = new Set([
  "rename",
  "renameat",
  "renameat2",
  "unlink",
  "unlinkat",
  "rmdir",
  "mkdir",
  "mkdirat",
  "chmod",
  "fchmod",
  "fchmodat",
  "chown",
  "fchown",
  "fchownat",
  "lchown",
  "truncate",
  "ftruncate",
  "setxattr",
  "lsetxattr",
  "fsetxattr",
  "removexattr",
  "link",
  "linkat",
  "symlink",
  "symlinkat",
]);

/** Syscalls that may create a file (nametype CREATE on a PATH record), beyond FILE_SYSCALLS. */
const CREATING = new Set(["open", "openat", "openat2", "creat", "mknod", "mknodat"]);

export class SessionsHtml {
  private readonly held = new Map<string, Held>();
  private heldCount = 0;
  private readonly sections: string[] = [];
  private readonly users = new Set<string>();
  private readonly hosts = new Set<string>();
  private sessionsSeen = 0;
  private sessionsOmitted = 0;
  private itemsShown = 0;
  private itemsOmitted = 0;
  private first: string | undefined;
  private last: string | undefined;

  constructor(
    private readonly bounds: PageBounds = PAGE_BOUNDS,
    private readonly openEnd = OPEN_END,
  ) {}

  /** Each event before SessionTracker.add sees it: keeps what the timeline shows but the session does not hold. */
  event(e: AuditEvent, json: EventText): void {
    // a full page shows no later session: nothing more is worth holding
    if (e.id === null || e.ses === undefined || e.ses === "unset" || this.full()) return;
    const login = e.types.some((t) => LOGIN.has(t));
    const item = login || e.argv !== undefined || e.sockaddr !== undefined || e.types.includes("USER_CMD");
    // a file change is read from the PATH records, parsed only for a syscall that can change a file
    const path = e.syscall !== undefined && (FILE_SYSCALLS.has(e.syscall) || CREATING.has(e.syscall)) && e.types.includes("PATH");
    if (!item && !path) return;
    const key = `${e.node ?? ""} ${e.ses}`;
    let held = this.held.get(key);
    if (held === undefined) {
      held = { raw: new Map(), files: [] };
      this.held.set(key, held);
      // sessions the tracker never writes (teardown records after an end) must not pile up
      if (this.held.size > 10_000) this.drop(this.held.keys().next().value as string);
    }
    const file =
      path && held.files.length < this.bounds.itemsPerSession ? this.fileChange(e, json.recordObjects?.() ?? e.records) : undefined;
    if (!item && file === undefined) return;
    if (this.heldCount >= this.bounds.rawHeld || held.raw.size >= this.bounds.itemsPerSession) {
      if (file !== undefined) held.files.push(file);
      return;
    }
    const raw = clip(String(json), this.bounds.rawChars);
    held.raw.set(e.id, raw);
    this.heldCount++;
    if (login) held.login ??= raw;
    if (file !== undefined) held.files.push({ ...file, raw });
  }

  private full(): boolean {
    return this.sections.length >= this.bounds.sessions || this.itemsShown >= this.bounds.items;
  }

  /** A session SessionTracker wrote: rendered now, so only its HTML is kept. */
  session(s: Session): void {
    const key = `${s.node ?? ""} ${s.ses}`;
    const held = s.ses === "unset" ? undefined : this.held.get(key);
    if (held !== undefined) this.drop(key);
    this.sessionsSeen++;
    if (s.start !== undefined && (this.first === undefined || s.start < this.first)) this.first = s.start;
    const end = s.end ?? s.start;
    if (end !== undefined && (this.last === undefined || end > this.last)) this.last = end;
    if (this.sections.length >= this.bounds.sessions || this.itemsShown >= this.bounds.items) {
      this.sessionsOmitted++;
      this.itemsOmitted += s.commands.length + s.connections.length + (s.nested?.length ?? 0) + (s.omitted ?? 0);
      return;
    }
    // as the sections' data-user/data-host read back (escapeHtml makes control and bidi characters visible first)
    this.users.add(escapeControlChars(s.user ?? "?"));
    this.hosts.add(escapeControlChars(s.node ?? "?"));
    this.sections.push(this.renderSession(s, held));
  }

  /** The page; `unread` inputs that could not be read whole get a banner, so a partial page never looks whole. */
  render(unread = 0): string {
    const omitted =
      this.sessionsOmitted > 0 || this.itemsOmitted > 0
        ? `<p class="omitted" id="omitted">${this.sessionsOmitted} more session(s) and ${this.itemsOmitted} more timeline item(s) omitted to keep this page small enough to open — narrow the run with --user, --node, --since/--until.</p>`
        : "";
    const filters = {
      users: [...this.users].sort(),
      hosts: [...this.hosts].sort(),
    };
    const body = [
      "<header><h1>auditd-parse sessions</h1>",
      `<p class="meta"><span id="shown">${this.sections.length}</span> of <span id="total">${this.sessionsSeen}</span> session(s), ${h(this.first ?? "?")} .. ${h(this.last ?? "?")}</p>`,
      incompleteBanner(unread),
      omitted,
      '<form class="filters" id="filters"><label>user <select id="f-user"><option value="">all</option></select></label> ',
      '<label>host <select id="f-host"><option value="">all</option></select></label> ',
      '<span id="matching"></span></form>',
      '<p class="legend"><span class="k login">login</span> <span class="k command">command</span> <span class="k file">file change</span> <span class="k net">network</span> <span class="k priv">privilege change</span> <span class="k logout">logout</span></p>',
      "</header>",
      `<script type="application/json" id="filter-data">${jsonForScript(filters)}</script>`,
      this.sections.length === 0 ? "<p>No sessions in the input.</p>" : "",
      ...this.sections,
    ].join("\n");
    return htmlPage({ title: "auditd-parse sessions", css: CSS, body, script: SCRIPT });
  }

  private drop(key: string): void {
    const held = this.held.get(key);
    if (held === undefined) return;
    this.heldCount -= held.raw.size;
    this.held.delete(key);
  }

  /** A file the event created, deleted or changed (PATH records), or undefined. */
  private fileChange(e: AuditEvent, records: OutputRecord[]): Item | undefined {
    const changing = e.syscall !== undefined && FILE_SYSCALLS.has(e.syscall);
    const changed: string[] = [];
    for (const r of records) {
      if (r.type !== "PATH") continue;
      const name = str(r.fields.name);
      const type = str(r.fields.nametype);
      if (name === undefined) continue;
      if (type === "CREATE" || type === "DELETE") changed.push(`${type === "CREATE" ? "created" : "deleted"} ${name}`);
      else if (changing && type !== "PARENT") changed.push(`${e.syscall} ${name}`);
    }
    if (changed.length === 0 || e.time === null) return undefined;
    const failed = e.success === false;
    return {
      time: e.time,
      kind: "file",
      text: `${changed.join(", ")}${e.uid !== undefined ? ` (as ${e.uid})` : ""}${failed ? ` — failed${e.exit ? `: ${e.exit}` : ""}` : ""}`,
      alert: failed,
    };
  }

  private renderSession(s: Session, held: Held | undefined): string {
    const raw = (id: string) => held?.raw.get(id);
    const items: Item[] = [];
    if (s.start !== undefined) {
      const how = [s.via ? `via ${s.via}` : "", s.from ? `from ${fromText(s)}` : "", s.terminal ? `on ${terminalText(s)}` : ""]
        .filter(Boolean)
        .join(" ");
      items.push({
        time: s.start,
        kind: "login",
        text: `${s.loginSuccess === false ? "FAILED login" : "login"} ${s.user ?? "?"} ${how}`.trim(),
        alert: s.loginSuccess === false,
        raw: held?.login,
      });
    }
    for (const c of s.commands) {
      const as = c.uid !== undefined && c.uid !== s.user;
      items.push({
        time: c.time,
        kind: "command",
        text: `${partText(c)}${c.via ? ` (via ${c.via})` : ""}${c.uid !== undefined ? ` — as ${c.uid}` : ""}${c.cwd ? ` in ${c.cwd}` : ""}${c.success === false ? ` — failed${c.exit ? `: ${c.exit}` : ""}` : ""}`,
        alert: as || c.success === false,
        raw: raw(c.id),
      });
    }
    for (const n of s.nested ?? []) {
      items.push({
        time: n.start,
        kind: "priv",
        text: `${n.success === false ? "FAILED " : ""}${n.via} → ${n.user ?? "?"}${n.end ? ` until ${n.end}` : ""}`,
        alert: true,
      });
    }
    for (const c of s.connections) {
      items.push({
        time: c.time,
        kind: "net",
        text: connectionText(c).slice(c.time.length + 1),
        alert: c.success === false && !c.inProgress,
        raw: raw(c.id),
      });
    }
    items.push(...(held?.files ?? []));
    if (s.end !== undefined && s.ses !== "unset") items.push({ time: s.end, kind: "logout", text: "session ended" });
    items.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    const room = Math.max(0, Math.min(this.bounds.itemsPerSession, this.bounds.items - this.itemsShown));
    const shown = items.slice(0, room);
    const cut = items.length - shown.length + (s.omitted ?? 0);
    this.itemsShown += shown.length;
    this.itemsOmitted += cut;
    const t0 = Date.parse(s.start ?? shown[0]?.time ?? "");
    const t1 = Date.parse(s.end ?? shown.at(-1)?.time ?? "");
    const span = Number.isFinite(t0) && Number.isFinite(t1) && t1 > t0 ? t1 - t0 : 0;
    const x = (time: string) => {
      const t = Date.parse(time);
      return span > 0 && Number.isFinite(t) ? Math.min(100, Math.max(0, (100 * (t - t0)) / span)) : 0;
    };
    const axis = `<svg class="axis" width="100%" height="22" role="img" aria-label="timeline"><line x1="0" y1="11" x2="100%" y2="11"></line>${shown
      .map(
        (i) =>
          `<circle class="${i.kind}${i.alert ? " alert" : ""}" cx="${x(i.time).toFixed(2)}%" cy="11" r="5"><title>${h(`${i.time} ${i.text}`)}</title></circle>`,
      )
      .join("")}</svg>`;
    const rows = shown.map(
      (i) =>
        `<li class="${i.kind}${i.alert ? " alert" : ""}"><time>${h(i.time)}</time> <span class="k ${i.kind}">${KIND[i.kind]}</span> <span class="text">${h(i.text)}</span>${
          i.raw !== undefined ? `<details><summary>raw event</summary><pre>${hText(i.raw)}</pre></details>` : ""
        }</li>`,
    );
    const head = `<h2>${h(s.user ?? "?")} <small>on ${h(s.node ?? "?")} · session ${h(s.ses)}${s.from ? ` · from ${h(fromText(s))}` : ""} · ${h(s.start ?? "?")} .. ${h(s.end ?? this.openEnd)}</small></h2>`;
    const note = cut > 0 ? `<p class="omitted">${cut} more item(s) of this session omitted (page bound).</p>` : "";
    return `<section class="session${s.loginSuccess === false ? " failed" : ""}" data-user="${h(s.user ?? "?")}" data-host="${h(s.node ?? "?")}">\n${head}\n${axis}\n<ol class="timeline">${rows.join("")}</ol>${note}\n</section>`;
  }
}

const KIND: Record<Kind, string> = { login: "login", command: "cmd", file: "file", net: "net", priv: "su/sudo", logout: "end" };

/** A text node's escape: as escapeHtml, but quotes stay (a JSON line is mostly quotes, and they are inert in text). */
function hText(text: string): string {
  return h(text)
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

function str(v: FieldValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function clip(text: string, max: number): string {
  // a copy: V8 may keep a slice as a view of the whole (long) line
  return text.length > max ? Buffer.from(`${text.slice(0, max)}…`).toString() : text;
}

/**
 * The filters: options from the JSON data (textContent, never markup), sections hidden by comparing their
 * data-user/data-host with the choice. No handler attributes: the CSP allows this script by hash alone.
 */
const SCRIPT = `(function(){
var data=JSON.parse(document.getElementById("filter-data").textContent);
var user=document.getElementById("f-user"),host=document.getElementById("f-host"),matching=document.getElementById("matching");
function fill(select,values){values.forEach(function(v){var o=document.createElement("option");o.value=v;o.textContent=v;select.appendChild(o);});}
fill(user,data.users);fill(host,data.hosts);
var sections=document.querySelectorAll("section.session");
function apply(){var n=0;sections.forEach(function(s){var ok=(!user.value||s.dataset.user===user.value)&&(!host.value||s.dataset.host===host.value);s.hidden=!ok;if(ok)n++;});matching.textContent=n+" shown";}
user.addEventListener("change",apply);host.addEventListener("change",apply);apply();
})();`;

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em auto;max-width:80em;padding:0 1em;color:#1b1b1b}
h1{font-size:1.4em;margin:0}h2{font-size:1.05em;margin:.2em 0}h2 small{font-weight:400;color:#555}
.meta{margin:.2em 0}.omitted{background:#fff3cd;border:1px solid #d4a72c;padding:.3em .6em;font-weight:600}
.filters{margin:.5em 0}.filters select{margin-right:1em}
.session{border:1px solid #ccc;border-left:5px solid #1565c0;margin:.8em 0;padding:.4em .7em;break-inside:avoid}
.session.failed{border-left-color:#c62828;background:#fff5f5}
.axis{display:block;margin:.3em 0}.axis line{stroke:#999;stroke-width:1}
circle{stroke:#fff;stroke-width:1}circle.login{fill:#2e7d32}circle.command{fill:#1565c0}circle.file{fill:#6d4c41}
circle.net{fill:#00838f}circle.priv{fill:#f9a825}circle.logout{fill:#757575}circle.alert{stroke:#c62828;stroke-width:2.5}
.timeline{list-style:none;padding:0;margin:0}.timeline li{padding:.1em 0;border-top:1px solid #eee}
.timeline li.alert .text{color:#b71c1c;font-weight:600}
time{font:12px ui-monospace,monospace;color:#555}.text{font:13px ui-monospace,monospace;word-break:break-all}
.k{display:inline-block;min-width:4.5em;font-size:.8em;font-weight:700;text-transform:uppercase;text-align:center;border-radius:3px;color:#fff;padding:0 .3em}
.k.login{background:#2e7d32}.k.command{background:#1565c0}.k.file{background:#6d4c41}.k.net{background:#00838f}.k.priv{background:#f9a825;color:#000}.k.logout{background:#757575}
details{display:inline}summary{cursor:pointer;color:#1565c0;font-size:.85em;display:inline}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:.4em;font-size:11px;margin:.2em 0}
@media print{body{margin:0;max-width:none;font-size:11px}.filters{display:none}.session{print-color-adjust:exact;-webkit-print-color-adjust:exact}}
${INCOMPLETE_CSS}
`;

/** An event's JSON line (the parser's EventJson), and its records when the event does not carry them. */
type EventText = { toString(): string } & RecordSource;

/** The sessions command's HTML output: the tracker feeds the page, and the page is written whole at the end. */
export function sessionsHtmlSink(
  write: (html: string) => void,
  bounds: PageBounds = PAGE_BOUNDS,
  limits: SessionTrackerOptions = {},
  /** How a session with no end is shown (formatSession's openEnd). */
  openEnd = OPEN_END,
): { event(e: AuditEvent, json: EventText): void; finish(unread?: number): void } {
  const page = new SessionsHtml(bounds, openEnd);
  const tracker = new SessionTracker((s) => page.session(s), limits);
  return {
    event(e, json) {
      // before the tracker: the event that ends a session is held before the session is rendered
      page.event(e, json);
      tracker.add(e, json);
    },
    finish(unread = 0) {
      tracker.flush();
      write(page.render(unread));
    },
  };
}
