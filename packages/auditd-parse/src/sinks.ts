import type { CliContext } from "@opsguard/core/cli";
import { writeOutputFile } from "@opsguard/core/output";
import { createStyle } from "@opsguard/core/tty";
import type { ParseFlags } from "./commands/flags";
import { type Grouping, parseTop, sessionLimits } from "./commands/flags";
import type { Detector } from "./detect";
import type { AuditEvent } from "./event";
import { EventJson } from "./event-json";
import { csvHeader, formatCsv, formatRow, formatText, tableHeader } from "./format";
import { incompleteText } from "./incomplete";
import { JsonBytes } from "./json";
import { type Connection, connectionOf, formatConnection } from "./net";
import { OUTPUT_FILE_MODE, type Output } from "./output";
import type { EcsModule, Mode } from "./pipeline";
import { formatReport, ReportBuilder } from "./report";
import { renderReportHtml } from "./report-html";
import { formatSession, LineBuffer, OPEN_END, readsRecords, SessionTracker, sessionLine, UNSEEN_END } from "./sessions";
import { PAGE_BOUNDS, sessionsHtmlSink } from "./sessions-html";

export function detectSink(detector: Detector, output: Output): Sink {
  let wait: Promise<void> | undefined;
  const line = (text: string): void => {
    const w = output.line(text);
    if (w) wait = w;
  };
  const header = detector.header();
  if (header !== undefined) line(header);
  const framed = (head: string, json: EventJson, tail: string): void => {
    const w = output.framed(head, json, tail);
    if (w) wait = w;
  };
  // early: what the alerts of an event held back for order write, kept until its turn: their text lines, or an
  // NDJSON alert's head and tail around the event's line, copied once as bytes (its buffers go back to the pool).
  // One pair of functions for every event: most write nothing, and a closure per event was garbage (issue 24).
  const kept: (string | { head: string; tail: string })[] = [];
  let keptLine: JsonBytes | undefined;
  const keep = (text: string): void => {
    kept.push(text);
  };
  const keepFramed = (head: string, json: EventJson, tail: string): void => {
    if (keptLine === undefined) {
      keptLine = new JsonBytes(json.lineLength);
      keptLine.length = json.copyLine(keptLine.buf, 0) - 1;
    }
    kept.push({ head, tail });
  };
  return {
    // the detector reads the event during the call alone and keeps strings (its alerts' lines)
    keepsNoEvent: true,
    event: (e, json) => detector.event(e, json, line, framed),
    early: (e, json) => {
      detector.event(e, json, keep, keepFramed);
      if (kept.length === 0) return undefined;
      const alerts = kept.splice(0);
      const held = keptLine;
      keptLine = undefined;
      return () => {
        // the kept line as a line that is all head (EventJson.held reads the plain parse's held lines where they lie)
        const json = held === undefined ? undefined : new EventJson(held, undefined);
        for (const alert of alerts) {
          if (typeof alert === "string") line(alert);
          else framed(alert.head, json!, alert.tail);
        }
        json?.release();
      };
    },
    pending: () => {
      const w = wait;
      wait = undefined;
      return w;
    },
    finish: async () => undefined,
  };
}

/** How the reading went, for what a sink writes at the end. */
export interface ReadResult {
  /** Inputs that could not be read whole: the pages and the readable report say the run is incomplete. */
  unread: number;
  /** Not a byte of any input was read (exit 66): an -o page is not written, so a good earlier one survives. */
  nothing: boolean;
}

/** Consumes events for one mode and writes them; pending() is the backpressure hook. */
export interface Sink {
  event(e: AuditEvent, json: EventJson): void;
  pending(): Promise<void> | undefined;
  finish(read: ReadResult): Promise<void>;
  /**
   * detect: handles an event the grouping holds back for order now, and returns what writes its output in the
   * event's turn (undefined when it writes nothing); event() is then not called for it (InterpreterOptions.early).
   */
  early?(e: AuditEvent, json: EventJson): (() => void) | undefined;
  /**
   * The sink reads an event object only during event() and keeps nothing of the object itself (values it keeps
   * are strings or copies): the parser may then reuse the object for a later event (its reuseEvents).
   */
  keepsNoEvent?: boolean;
  /**
   * Whether event() may read this event's JSON (its line or records); when it never does, an event held back for
   * order gives its buffers back at once (InterpreterOptions.readsJson). Absent: every event's may be read.
   */
  readsJson?(e: AuditEvent): boolean;
}

export function makeSink(
  mode: Mode,
  flags: ParseFlags,
  ctx: CliContext,
  output: Output,
  ecs: EcsModule | undefined,
  /** The grouping's window and newest log time: sessions holds an ended session by them (SessionTracker's holdMs). */
  grouping: Grouping = {},
  /** Whether filters choose the events (a session's end may be among those left out: UNSEEN_END). */
  filtered = false,
): Sink {
  const openEnd = filtered ? UNSEEN_END : OPEN_END;
  const style = createStyle(ctx.io.colorEnabled(ctx.io.stdout, ctx.opts.color));
  let wait: Promise<void> | undefined;
  const line = (text: string): void => {
    const w = output.line(text);
    if (w) wait = w;
  };
  const pending = (): Promise<void> | undefined => {
    const w = wait;
    wait = undefined;
    return w;
  };
  if (mode === "sessions" && flags.format === "html" && !ctx.opts.json) {
    // -o FILE: the page replaces the file whole (atomically), a second run must not append a second document
    const file = flags.output;
    let html = "";
    const page = sessionsHtmlSink(
      file === undefined ? line : (text) => (html = text),
      PAGE_BOUNDS,
      sessionLimits(flags, grouping),
      openEnd,
    );
    const finish = async (read: ReadResult) => {
      // nothing read: no page at all, not an empty one a script would take for "no sessions" (T27 #3)
      if (read.nothing) return;
      page.finish(read.unread);
      // the same bytes as on stdout, where line() ends it with a newline
      if (file !== undefined) await writeOutputFile(file, `${html}\n`, OUTPUT_FILE_MODE);
    };
    return { event: (e, json) => page.event(e, json), pending, finish };
  }
  if (mode === "sessions") {
    // each session is written when it ends (a JSON list written as it goes, see jsonList), so memory stays bounded
    const list = jsonList(flags.follow);
    // --json without indentation: each session's commands kept as their JSON bytes (sessionLine writes them as they are)
    const commandsJson = ctx.opts.json && !flags.pretty;
    const lines = new LineBuffer();
    const tracker = new SessionTracker(
      (s) => {
        const prefix = list.prefix();
        if (!ctx.opts.json) line(`${formatSession(s, openEnd)}\n`);
        else if (commandsJson) {
          const bytes = sessionLine(prefix, s, lines);
          const w = output.bytes(bytes, () => lines.give(bytes));
          if (w) wait = w;
        } else line(`${prefix}${JSON.stringify(s, null, 2)}`);
      },
      // the text timeline: each command kept as its line (formatSession writes it as it is)
      { ...sessionLimits(flags, grouping), commandsJson, commandsText: !ctx.opts.json },
    );
    return {
      event: (e, json) => tracker.add(e, json),
      // the tracker keeps an event's strings, its command's JSON or packed text and a copy of its connection: on
      // 16 hosts interleaved without EOE, ~220 events open at once each lived through scavenges until promoted,
      // a tenth of what sessions allocated (README sessions, round 21)
      keepsNoEvent: true,
      // the tracker reads the records of login, PAM and USER_CMD events alone
      readsJson: readsRecords,
      pending,
      finish: async (read) => {
        // one at a time, each written before the next is made (Output's backpressure): the sessions open at the
        // end are not all queued as text at once
        while (tracker.flushOne()) await pending();
        const close = list.close();
        // nothing read: no `[]`, which `jq length` reads as "no sessions" (T27 #3); the exit code is 66
        if (ctx.opts.json && close !== undefined && !read.nothing) line(close);
        // the timeline is written as sessions end, so its "incomplete" line comes last: a saved timeline read later
        // says what the page and the report say (T47 F10)
        if (!ctx.opts.json && read.unread > 0 && !read.nothing) line(incompleteText(read.unread, "precedes"));
        // a command line's later parts carry no ses=: one whose first part's session was written before it is not listed
        if (tracker.partsLeftOut > 0)
          ctx.log.warn(
            `${tracker.partsLeftOut} later part(s) of command lines written in parts not listed: their session was written before them`,
          );
        // an entry "(open)" that was cut by the bound looks like a session that is still open: say how many were
        if (tracker.writtenEarly > 0)
          ctx.log.warn(
            `${tracker.writtenEarly} session(s) written early, still open, past 10000 open at once; ${tracker.laterEvents} later event(s) of theirs not listed`,
          );
      },
    };
  }
  if (mode === "report") {
    const builder = new ReportBuilder();
    const top = parseTop(flags.top);
    return {
      event: (e) => builder.add(e),
      pending,
      finish: async (read) => {
        const report = builder.result();
        if (flags.format === "html" && !ctx.opts.json) {
          const page = renderReportHtml(report, { source: "aureport-style summaries of the audit log", unread: read.unread });
          // -o FILE: the page replaces the file whole (atomically), as sessions' page does
          if (read.nothing) return;
          if (flags.output === undefined) line(page);
          else await writeOutputFile(flags.output, `${page}\n`, OUTPUT_FILE_MODE);
          return;
        }
        // nothing read (a directory, a missing file, a closed stdin): the one line on stderr alone, in every format;
        // seven empty tables were no report (T25 #9), nor is their JSON, which a script reads as all clear (T27 #3)
        if (read.nothing) return;
        // JSON keeps its shape when some input was read (the summaries alone): a script reads the exit code (65)
        if (ctx.opts.json) line(JSON.stringify(report, null, flags.pretty ? 2 : undefined));
        else line(`${read.unread > 0 ? `${incompleteText(read.unread)}\n\n` : ""}${formatReport(report, top)}`);
      },
    };
  }
  if (mode === "net") {
    // --format ndjson asks for what `--json -F` writes, one connection a line; the text list under that name was no
    // JSON to read (T57 F9)
    const ndjson = flags.format === "ndjson";
    const json = ctx.opts.json || ndjson;
    // a JSON list written as it goes (jsonList), so memory does not grow with the number of connections
    const list = jsonList(flags.follow || ndjson);
    const item = (c: Connection): string => (flags.pretty && !ndjson ? JSON.stringify(c, null, 2) : JSON.stringify(c));
    // socket addresses of syscalls whose arch has no table here (riscv32, ia64, one not known at all): their call is a
    // number, so whether it connected, sent or received is not known; counted and said, not dropped unsaid (T57 F2)
    const unnamed = new Map<string, number>();
    return {
      event: (e, eventJson) => {
        const c = connectionOf(e, () => eventJson.recordObjects());
        if (c === undefined) {
          if (e.syscall !== undefined && syscallUnnamed(e.syscall) && (e.sockaddr !== undefined || e.types.includes("SOCKADDR"))) {
            const arch = e.arch ?? "?";
            unnamed.set(arch, (unnamed.get(arch) ?? 0) + 1);
          }
          return;
        }
        if (!json) line(formatConnection(c));
        else line(`${list.prefix()}${item(c)}`);
      },
      pending,
      finish: async (read) => {
        const close = list.close();
        // nothing read: no `[]` (T27 #3), as sessions
        if (json && close !== undefined && !read.nothing) line(close);
        if (unnamed.size > 0) {
          const count = [...unnamed.values()].reduce((a, b) => a + b, 0);
          const arches = [...unnamed].map(([arch, n]) => `${arch}: ${n}`).join(", ");
          ctx.log.warn(`${count} event(s) with a socket address not listed: no syscall table for their arch names the call (${arches})`);
        }
      },
    };
  }
  if (ecs) {
    return { event: (e) => line(JSON.stringify(ecs.toEcs(e), null, flags.pretty ? 2 : undefined)), pending, finish: async () => undefined };
  }
  // a header goes out with the first row, or at the end when there was none: a run that could read nothing (exit 66)
  // writes nothing on stdout, not a header (T28 #2), while an empty log still gets its header
  let header = flags.format === "table" ? tableHeader(style) : flags.format === "csv" ? csvHeader() : undefined;
  const withHeader = (row: string): void => {
    if (header !== undefined) {
      line(header);
      header = undefined;
    }
    line(row);
  };
  const headerAlone = async (read: ReadResult): Promise<void> => {
    if (header !== undefined && !read.nothing) line(header);
    header = undefined;
  };
  if (flags.format === "csv") return { event: (e) => withHeader(formatCsv(e)), pending, finish: headerAlone };
  if (flags.format === undefined || flags.format === "ndjson") {
    const event = flags.pretty
      ? (_e: AuditEvent, json: EventJson) => line(JSON.stringify(JSON.parse(String(json)), null, 2))
      : (_e: AuditEvent, json: EventJson) => {
          const w = output.event(json);
          if (w) wait = w;
        };
    return { event, pending, finish: async () => undefined };
  }
  const format = flags.format === "text" ? (e: AuditEvent) => formatText(e, style) : (e: AuditEvent) => formatRow(e, style);
  return { event: (e) => withHeader(format(e)), pending, finish: headerAlone };
}

/**
 * How `sessions` and `net` write their items as they go: one JSON array, or with -F one item a line (NDJSON), each
 * line whole when written: an array closed only at exit was no JSON to read while following (T23 #10). prefix() goes
 * before each item; close() is what ends the list (undefined for NDJSON).
 */
function jsonList(follow: boolean): { prefix: () => string; close: () => string | undefined } {
  let count = 0;
  return {
    prefix: () => (follow ? "" : count++ === 0 ? "[" : ","),
    close: () => (follow ? undefined : count === 0 ? "[]" : "]"),
  };
}

/** A syscall left as its number: its arch has no table here. */
function syscallUnnamed(syscall: string): boolean {
  const c = syscall.charCodeAt(0);
  return c >= 48 && c <= 57;
}
