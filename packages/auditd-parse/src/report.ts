import { escapeControls } from "./escape";
import type { AuditEvent, FieldValue } from "./event";
import { PARTS_REMEMBERED, partKey } from "./parts";
import { Remembered } from "./remembered";
import { loginResult, readWhole } from "./sessions-login";

/**
 * aureport's main summaries, counted as events stream by: logins and authentications (with their result),
 * executables, rule keys, files, anomalies and the commands each user ran. Memory stays flat: each summary
 * keeps at most MAX_ROWS distinct rows; events past that are counted in its `other`.
 */

export interface ReportRow {
  /** What the row counts, by column name (user, from, result, exe …). */
  key: Record<string, string>;
  count: number;
  first: string;
  last: string;
}

export interface ReportTable {
  columns: string[];
  rows: ReportRow[];
  /** Events past the row bound, counted but not listed. */
  other: number;
}

export type Report = Record<SummaryName, ReportTable>;
export type SummaryName = "logins" | "authentications" | "executables" | "keys" | "files" | "anomalies" | "commands";

const MAX_ROWS = 10_000;

const COLUMNS: Record<SummaryName, string[]> = {
  logins: ["user", "from", "terminal", "exe", "result"],
  authentications: ["user", "from", "exe", "result"],
  executables: ["exe", "result"],
  keys: ["key", "result"],
  files: ["file", "syscall", "result"],
  anomalies: ["type", "exe", "comm"],
  commands: ["auid", "uid", "command"],
};

const str = (v: FieldValue | undefined): string | undefined => (typeof v === "string" ? v : undefined);
/** Where a login came from: its address, else its host name (an empty addr=, PAM with no rhost, says nothing). */
const origin = (f: Record<string, FieldValue>): string => str(f.addr) || str(f.hostname) || "?";
const result = (ok: boolean | undefined): string => (ok === undefined ? "?" : ok ? "success" : "failed");

export class ReportBuilder {
  /** The syscall and result of the latest events written in parts, by `node id` (firstPart). */
  private readonly parts = new Remembered<Pick<AuditEvent, "syscall" | "success">>(PARTS_REMEMBERED);
  private readonly tables = new Map<SummaryName, { rows: Map<string, ReportRow>; other: number }>();

  constructor() {
    for (const name of Object.keys(COLUMNS) as SummaryName[]) this.tables.set(name, { rows: new Map(), other: 0 });
  }

  add(e: AuditEvent): void {
    if (e.id === null || e.time === null) return;
    const time = e.time;
    // an event written in parts (a command line over 1 MiB) is one syscall and one command: its later parts, which
    // have no SYSCALL record, add their files under its first part's syscall and nothing else (T34 #3: one exec was
    // two commands, the second under user `?` with a command line of 500 blanks)
    const first = e.part === undefined ? e : this.firstPart(e);
    for (const r of e.records) {
      // a login or PAM record cut mid-write counts as none (readWhole)
      if (!readWhole(r) && (r.type === "USER_LOGIN" || r.type === "USER_AUTH")) continue;
      const f = r.fields;
      // as sessions reads it: `res=success)` was counted a failed login (T27 #5)
      const ok = loginResult(str(f.res));
      if (r.type === "USER_LOGIN") {
        this.count(
          "logins",
          [str(f.acct) ?? str(f.id) ?? e.auid ?? "?", origin(f), str(f.terminal) ?? "?", str(f.exe) ?? "?", result(ok)],
          time,
        );
      } else if (r.type === "USER_AUTH") {
        this.count("authentications", [str(f.acct) ?? e.auid ?? "?", origin(f), str(f.exe) ?? "?", result(ok)], time);
      } else if (r.type.startsWith("ANOM_")) {
        this.count("anomalies", [r.type, str(f.exe) ?? e.exe ?? "?", str(f.comm) ?? e.comm ?? "?"], time);
      } else if (r.type === "PATH" && str(f.name) !== undefined && first?.syscall !== undefined) {
        this.count("files", [str(f.name)!, first.syscall, result(first.success)], time);
      }
    }
    if (first !== e) return;
    if (e.syscall !== undefined && e.exe !== undefined) this.count("executables", [e.exe, result(e.success)], time);
    for (const key of e.keys ?? []) this.count("keys", [key, result(e.success)], time);
    if (e.argv !== undefined) {
      // the row's command line is the first part's arguments: said to go on, not taken for the whole
      const command = e.part === undefined ? e.argv.join(" ") : `${e.argv.join(" ")} … (continued in the event's later parts)`;
      this.count("commands", [e.auid ?? "?", e.uid ?? "?", command], time);
    }
  }

  /**
   * What a part of an event written in parts counts under: the first part itself (remembered for the later ones),
   * or for a later part its first part's syscall and result (undefined when the first part is not remembered).
   */
  private firstPart(e: AuditEvent): Pick<AuditEvent, "syscall" | "success"> | undefined {
    const key = partKey(e);
    if (e.part === 1) {
      this.parts.add(key, { syscall: e.syscall, success: e.success });
      return e;
    }
    return this.parts.get(key);
  }

  private count(name: SummaryName, values: string[], time: string): void {
    const table = this.tables.get(name)!;
    const id = values.join("\0");
    const row = table.rows.get(id);
    if (row !== undefined) {
      row.count++;
      if (time > row.last) row.last = time;
      if (time < row.first) row.first = time;
      return;
    }
    if (table.rows.size >= MAX_ROWS) {
      table.other++;
      return;
    }
    const key: Record<string, string> = {};
    COLUMNS[name].forEach((column, i) => {
      key[column] = values[i]!;
    });
    table.rows.set(id, { key, count: 1, first: time, last: time });
  }

  /** The summaries, rows by count (most first), then by their columns. */
  result(): Report {
    const out = {} as Report;
    for (const [name, table] of this.tables) {
      const rows = [...table.rows.values()].sort(
        (a, b) => b.count - a.count || Object.values(a.key).join("\0").localeCompare(Object.values(b.key).join("\0")),
      );
      out[name] = { columns: COLUMNS[name], rows, other: table.other };
    }
    return out;
  }
}

/** The report as readable tables: a heading per summary, aligned columns, control characters escaped. */
export function formatReport(report: Report, top: number): string {
  const parts: string[] = [];
  for (const [name, table] of Object.entries(report) as [SummaryName, ReportTable][]) {
    parts.push(`${name} (${table.rows.reduce((n, r) => n + r.count, 0) + table.other} events)`);
    if (table.rows.length === 0) {
      parts.push("  none", "");
      continue;
    }
    const header = ["count", ...table.columns];
    const lines = table.rows.slice(0, top).map((r) => [String(r.count), ...table.columns.map((c) => escapeControls(r.key[c] ?? ""))]);
    const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...lines.map((l) => l[i]!.length))));
    const fmt = (cells: string[]) => `  ${cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")}`;
    parts.push(fmt(header), ...lines.map(fmt));
    const hidden = table.rows.length - Math.min(top, table.rows.length);
    if (hidden > 0 || table.other > 0)
      parts.push(`  … ${hidden} more rows${table.other > 0 ? `, ${table.other} events past the ${MAX_ROWS}-row bound` : ""}`);
    parts.push("");
  }
  return parts.join("\n");
}
