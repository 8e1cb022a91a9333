/**
 * Help text wrapped to the terminal. Commander wraps its own option and command rows only while their
 * description column keeps 40 characters, and never touches the text a tool adds with addHelpText (config
 * keys, examples, prose), which the tools write at ~100 columns. Everything --help prints passes through
 * wrapHelp, so one rule covers both: a line that fits is kept as written; a longer one is broken at a space.
 * A row's description goes on at its description column and a paragraph at its margin, the overflow flowing
 * into the next line when that one continues the same text, so both stay filled. An indented line under a
 * line ending in ":" (an example, a command or config line to copy) goes on, indented deeper, on a line of its
 * own: joining it to the next line would change what a reader copies. Other indented text is prose.
 */

/** The width help is wrapped to: the terminal's columns on a TTY, else 80 (piped, man pages, tests). */
export function helpWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  return stream.isTTY && stream.columns ? Math.max(40, stream.columns) : 80;
}

/** Fewest columns a hanging continuation keeps; a description column further right hangs at the indent. */
const MIN_CONTINUATION = 24;

interface Hang {
  /** The column a broken line goes on at. */
  indent: number;
  /** Whether its overflow may flow into the next line. */
  flows: boolean;
}

export function wrapHelp(text: string, width: number): string {
  const out: string[] = [];
  let pending: { text: string; hang: Hang } | undefined;
  const emit = (line: string, hang: Hang): void => {
    const [head, rest] = split(line, hang.indent, width);
    out.push(head);
    pending = rest === undefined ? undefined : { text: rest, hang };
  };
  const flush = (): void => {
    while (pending) emit(`${" ".repeat(pending.hang.indent)}${pending.text}`, pending.hang);
  };
  const lines = text.split("\n");
  for (const [i, line] of lines.entries()) {
    if (pending?.hang.flows && continues(line, pending.hang.indent)) {
      const { hang, text: carried } = pending;
      emit(`${" ".repeat(hang.indent)}${carried} ${line.trim()}`, hang);
      continue;
    }
    flush();
    emit(line, hangOf(line, width, introOf(lines, i)));
  }
  flush();
  return out.join("\n");
}

/** The nearest line above `i` that is indented less: what introduces an indented block. */
function introOf(lines: string[], i: number): string | undefined {
  const indent = leadingSpaces(lines[i] ?? "");
  for (let j = i - 1; j >= 0; j--) {
    const line = lines[j] ?? "";
    if (line.trim() !== "" && leadingSpaces(line) < indent) return line;
  }
  return undefined;
}

function hangOf(line: string, width: number, intro: string | undefined): Hang {
  const column = descriptionColumn(line);
  const indent = leadingSpaces(line);
  const literal = indent > 0 && (intro === undefined || intro.trimEnd().endsWith(":"));
  const hang =
    column !== undefined && width - column >= MIN_CONTINUATION
      ? { indent: column, flows: true }
      : literal
        ? { indent: indent + 4, flows: false }
        : { indent, flows: true };
  // Every continuation keeps room for text, so breaking a line always makes progress.
  return { ...hang, indent: Math.min(hang.indent, Math.max(0, width - MIN_CONTINUATION)) };
}

/** "  term   description": the column the description starts at; undefined for prose. */
function descriptionColumn(line: string): number | undefined {
  const row = /^( *)\S(?:.*?\S)?( {2,})(?=\S)/.exec(line);
  return row ? row[0].length : undefined;
}

function leadingSpaces(line: string): number {
  return line.length - line.trimStart().length;
}

/**
 * Whether `line` carries on the text that overflowed at `indent`: same indent, not a row of its own, not a
 * new labelled item ("Output:", "70:") or list entry.
 */
function continues(line: string, indent: number): boolean {
  if (line.trim() === "" || leadingSpaces(line) !== indent) return false;
  if (indent > 0 && descriptionColumn(line) !== undefined) return false;
  return !/^\s*([A-Z0-9]\S*:|[-*#] )/.test(line);
}

/** The part of `line` that fits in `width`, broken at a space after the indent, and the rest (trimmed). */
function split(line: string, indent: number, width: number): [string, string | undefined] {
  if (line.length <= width) return [line, undefined];
  let at = line.lastIndexOf(" ", width);
  // One word longer than the room there is ({url,username,...}): after its last comma or bar that fits, so
  // names stay whole; else cut it, as nothing may exceed the width.
  if (at <= indent) at = Math.max(line.lastIndexOf(",", width - 1), line.lastIndexOf("|", width - 1)) + 1;
  if (at <= indent + 1) at = width;
  const head = line.slice(0, at).trimEnd();
  const rest = line.slice(at).trim();
  return rest === "" ? [head, undefined] : [head, rest];
}
