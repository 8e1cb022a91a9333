import type { CliContext } from "@opsguard/core/cli";
import { csvCell } from "@opsguard/core/text";
import { escapedPrefix, escapeControls as x } from "./escape";
import type { AuditEvent } from "./event";

type ChalkInstance = CliContext["style"];

/** One short line per event for people: time, id, record types, what happened, who, and the details. */
export function formatText(e: AuditEvent, style: ChalkInstance): string {
  if (e.id === null) return style.red(`unparsed: ${x((e.unparsed ?? []).join(" | "))}`);
  const types = x([...new Set(e.records.map((r) => r.type))].join(","));
  const parts = [style.dim(e.time ?? ""), e.node ? `${x(e.node)}:${e.serial}` : String(e.serial), style.bold(types)];
  if (e.syscall !== undefined) parts.push(syscallResult(e, style));
  else if (e.success !== undefined) parts.push(e.success ? style.green("success") : style.red("failed"));
  parts.push(`auid=${x(e.auid ?? "?")} uid=${x(e.uid ?? "?")}`);
  if (e.comm !== undefined || e.exe !== undefined) parts.push(`${x(e.comm ?? "")}(${x(e.exe ?? "")})`);
  const said = detail(e);
  parts.push(x(said));
  // an AVC's denial, when the detail (argv, proctitle, or another record's text) did not say it (T20 finding 9)
  const avc = e.records.find((r) => typeof r.fields.seresult === "string" && r.text !== undefined);
  if (avc !== undefined && !said.startsWith(avc.text!)) parts.push(x(avc.text!));
  return parts.filter(Boolean).join(" ");
}

function syscallResult(e: AuditEvent, style: ChalkInstance): string {
  // a nonblocking connect returns EINPROGRESS while the connection is being made: not a failure
  if (e.syscall === "connect" && e.exit === "EINPROGRESS") return style.yellow("connect=EINPROGRESS (in progress)");
  return e.success === false ? style.red(x(`${e.syscall}=${e.exit ?? "?"}`)) : style.green(x(e.syscall ?? ""));
}

const COLUMNS = [
  ["TIME", 24],
  ["SERIAL", 10],
  ["TYPE", 14],
  ["SYSCALL", 12],
  ["OK", 3],
  ["AUID", 10],
  ["COMM", 14],
] as const;

export function tableHeader(style: ChalkInstance): string {
  return style.bold([...COLUMNS.map(([name, width]) => name.padEnd(width)), "DETAIL"].join(" "));
}

/** A fixed-width row; the last column takes what is left. */
export function formatRow(e: AuditEvent, style: ChalkInstance): string {
  if (e.id === null) return style.red(`unparsed: ${x((e.unparsed ?? []).join(" | "))}`);
  const ok = e.success === undefined ? "" : e.success ? "yes" : "no";
  const cells = [e.time ?? "", String(e.serial), e.records[0]?.type ?? "", e.syscall ?? "", ok, e.auid ?? "", e.comm ?? ""];
  const row = cells.map((c, i) => fit(x(c), COLUMNS[i]![1])).join(" ");
  return `${e.success === false ? style.red(row) : row} ${x(detail(e))}`;
}

function fit(s: string, width: number): string {
  // s is escaped: cut between its escapes, not inside one (\033[31m would become \0)
  return s.length > width ? `${escapedPrefix(s, width - 1)}…`.padEnd(width) : s.padEnd(width);
}

function detail(e: AuditEvent): string {
  if (e.argv !== undefined) return e.argv.join(" ");
  const sa = e.sockaddr;
  if (sa !== undefined) {
    if (sa.family === "inet" || sa.family === "inet6") return `${sa.family} ${sa.address} port ${sa.port}`;
    if (sa.family === "unix") return `unix ${sa.abstract ? "@" : ""}${sa.path}`;
    return sa.family;
  }
  if (e.proctitle !== undefined) return e.proctitle.join(" ");
  const first = e.records[0];
  if (first === undefined) return "";
  const f = first.fields;
  // cwd and cmd: what a USER_CMD (sudo) ran, and where, as ausearch -i shows it
  const bits = ["op", "acct", "cwd", "cmd", "hostname", "addr", "terminal", "res", "name", "key"]
    .filter((k) => typeof f[k] === "string")
    .map((k) => `${k}=${f[k] as string}`);
  if (first.text) bits.unshift(first.text);
  return bits.join(" ");
}

const CSV_COLUMNS = [
  "time",
  "node",
  "serial",
  "id",
  "types",
  "syscall",
  "success",
  "exit",
  "auid",
  "uid",
  "pid",
  "ppid",
  "ses",
  "comm",
  "exe",
  "keys",
  "detail",
];

export function csvHeader(): string {
  return CSV_COLUMNS.join(",");
}

/**
 * One RFC 4180 row per event: the summary columns, then the same detail as --format text. Values are escaped
 * as in --format text (ESC → \033, bidi override → \u202e, backslash doubled): CSV is read on a terminal as
 * often as in a spreadsheet, and a CR or LF, legal inside a quoted cell, would there forge a line. A cell a
 * spreadsheet would run as a formula (starting with = + - or @; TAB and CR are escaped by then) gets a
 * leading ' (OWASP's CSV-injection advice), so opening the export cannot execute a logged command line.
 */
export function formatCsv(e: AuditEvent): string {
  const cells =
    e.id === null
      ? ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", `unparsed: ${(e.unparsed ?? []).join(" | ")}`]
      : [
          e.time ?? "",
          e.node ?? "",
          String(e.serial),
          e.id,
          [...new Set(e.types)].join(" "),
          e.syscall ?? "",
          e.success === undefined ? "" : e.success ? "yes" : "no",
          e.exit ?? "",
          e.auid ?? "",
          e.uid ?? "",
          e.pid ?? "",
          e.ppid ?? "",
          e.ses ?? "",
          e.comm ?? "",
          e.exe ?? "",
          (e.keys ?? []).join(" "),
          detail(e),
        ];
  return cells.map((c) => csvCell(x(c))).join(",");
}
