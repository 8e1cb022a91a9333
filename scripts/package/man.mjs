#!/usr/bin/env node
// Writes each tool's man page, packages/<tool>/dist/<tool>.1, from the built bin's own --help and every
// subcommand's --help (node scripts/package/man.mjs [tool...], after node scripts/build.mjs): one source, so the
// man page says what --help says. Options and commands become roff tagged paragraphs that man(1) fills to the
// reader's terminal; other sections (config keys, examples, exit codes) are kept as laid out.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseCommandLine, unknownTool } from "./args.mjs";

const root = new URL("../..", import.meta.url).pathname;
export const TOOLS = ["authkeys", "deputize", "vpnnotify", "sock-check", "auditd-parse"];

function help(bundle, args) {
  // Not a TTY, no colour, and the width commander wraps to when nothing says otherwise.
  const r = spawnSync(process.execPath, [bundle, ...args, "--help"], {
    encoding: "utf8",
    env: { PATH: process.env.PATH, NO_COLOR: "1", COLUMNS: "80", HOME: "/nonexistent" },
  });
  if (r.status !== 0) throw new Error(`${bundle} ${args.join(" ")} --help exited ${r.status}: ${r.stderr.trim()}`);
  return r.stdout.replace(/\x1b\[[0-9;]*m/g, "");
}

/** Escapes text for roff: backslashes, and a leading . or ' that would read as a request. */
function roff(text) {
  return text.replace(/\\/g, "\\e").replace(/^([.'])/, "\\&$1");
}

/** An option or command term: bold, with - as a real minus so it can be searched and copied. */
function term(text) {
  return `.B ${roff(text).replace(/-/g, "\\-")}`;
}

/**
 * Splits help text into its usage line, the paragraphs before the first heading, and blocks: a "Heading:" line
 * with the indented rows under it, or (title null) a paragraph of prose between blocks.
 */
function parse(text) {
  const lines = text.replace(/\s+$/, "").split("\n");
  const usage = lines.shift()?.replace(/^Usage: /, "") ?? "";
  const intro = [];
  const blocks = [];
  let previous = "";
  let skip = 0;
  for (const [i, line] of lines.entries()) {
    if (skip > 0) {
      skip--;
      continue;
    }
    // A heading ends with a colon and has indented rows under it; prose may end with a colon too.
    const end = (lines[i - 1] ?? "") === "" && /^\S/.test(line) ? headingEnd(lines, i) : -1;
    const heading = end >= 0 ? /^(\S.*):$/s.exec(lines.slice(i, end + 1).join(" ")) : null;
    if (heading) {
      blocks.push({ title: heading[1], lines: [] });
      skip = end - i;
      previous = "";
      continue;
    }
    if (blocks.length === 0) intro.push(line);
    else if (/^\S/.test(line) && previous === "") blocks.push({ title: null, lines: [line] });
    else blocks.at(-1).lines.push(line);
    previous = line.trim();
  }
  return { usage, intro: intro.join("\n").trim(), blocks };
}

/**
 * The last line of a heading starting at `i`, else -1: one or two unindented lines (a heading wrapped once),
 * the last ending in ":" above indented rows. A longer paragraph ending in ":" is prose introducing an example.
 */
function headingEnd(lines, i) {
  for (let j = i; j <= i + 1 && j < lines.length && /^\S/.test(lines[j]); j++) {
    if (lines[j].endsWith(":") && /^ {2}\S/.test(lines[j + 1] ?? "")) return j;
  }
  return -1;
}

/** "  -c, --config <file>   text" rows (continuations indented deeper) as tagged paragraphs. */
function tagged(lines) {
  const out = [];
  for (const line of lines) {
    const row = /^ {2}(\S.*?)(?: {2,}(\S.*))?$/.exec(line);
    if (row) {
      out.push(".TP", term(row[1]));
      if (row[2]) out.push(roff(row[2]));
    } else if (line.trim() !== "") {
      out.push(roff(line.trim()));
    }
  }
  return out;
}

function paragraphs(text) {
  return text
    .split(/\n\s*\n/)
    .filter((p) => p.trim() !== "")
    .flatMap((p) => [".PP", ...p.split("\n").flatMap(prose)]);
}

/** A prose line, or an indented line inside prose (a command to type) kept on its own line, unfilled. */
function prose(line) {
  return /^ {2}/.test(line) ? [".nf", roff(line), ".fi"] : [roff(line.trim())];
}

/** Rows kept as the help lays them out (config keys, examples, exit codes). */
function preformatted(lines) {
  const rows = lines.map((l) => l.replace(/^ {2}/, ""));
  while (rows.length > 0 && rows.at(-1).trim() === "") rows.pop();
  return [".PP", ".nf", ...rows.map((l) => (l.trim() === "" ? ".sp" : roff(l))), ".fi"];
}

const TAGGED = new Set(["Options", "Arguments", "Commands", "Global options", "Global Options"]);

function blockLines(block) {
  if (block.title === null) return paragraphs(block.lines.join("\n"));
  return TAGGED.has(block.title) ? tagged(block.lines) : preformatted(block.lines);
}

export function manPage(tool) {
  const dir = join(root, "packages", tool);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const bundle = join(dir, "dist", `${tool}.cjs`);
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run node scripts/build.mjs first`);
  const top = parse(help(bundle, []));
  const commands = top.blocks.find((b) => b.title === "Commands");
  const names = (commands?.lines ?? [])
    .map((l) => /^ {2}([a-z][\w-]*)/.exec(l)?.[1])
    .filter((name) => name && name !== "help" && name !== "completion");
  // Each subcommand's --help once (the synopsis and its section both read it): a node start per call.
  const subs = new Map(names.map((name) => [name, parse(help(bundle, [name]))]));
  const out = [
    `.TH ${tool.toUpperCase()} 1 "" "${tool} ${pkg.version}" "opsguard"`,
    ".SH NAME",
    `${roff(tool)} \\- ${roff(pkg.description)}`,
    ".SH SYNOPSIS",
    `.B ${roff(tool)}`,
    roff(top.usage.slice(tool.length + 1)),
    ...names.map((name) => `.br\n.B ${roff(tool)}\n${roff(subs.get(name).usage.slice(tool.length + 1))}`),
    ".SH DESCRIPTION",
    ...paragraphs(top.intro).slice(1),
  ];
  for (const block of top.blocks) {
    if (block.title !== null) out.push(`.SH ${roff(block.title.toUpperCase())}`);
    out.push(...blockLines(block));
    if (block.title !== "Commands") continue;
    for (const name of names) {
      const sub = subs.get(name);
      out.push(`.SS ${roff(`${tool} ${name}`)}`, ...paragraphs(sub.intro));
      for (const b of sub.blocks) {
        if (b.title !== null) out.push(".PP", `.I ${roff(b.title)}`);
        out.push(...blockLines(b));
      }
    }
  }
  out.push(
    ".SH FILES",
    ".TP",
    `.I /etc/opsguard/${tool}.yaml`,
    "the system-wide config (also .yml or .json); see the config keys above and the README",
    ".SH SEE ALSO",
    `${pkg.homepage.replace(/#.*/, "")}`,
  );
  return `${out.join("\n")}\n`;
}

/** Writes packages/<tool>/dist/<tool>.1; returns its path. */
export function writeManPage(tool) {
  const file = join(root, "packages", tool, "dist", `${tool}.1`);
  // By rename: the npm and Debian install tests make it at the same time, and one may be packing it.
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, manPage(tool));
  renameSync(temp, file);
  return file;
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const usage = `usage: node scripts/package/man.mjs [${TOOLS.join("|")}...]   (man pages in packages/<tool>/dist/<tool>.1)`;
  const { positionals } = parseCommandLine("man", usage, {}, ({ positionals }) => unknownTool(positionals, TOOLS));
  for (const tool of positionals.length > 0 ? positionals : TOOLS) {
    try {
      console.log(writeManPage(tool));
    } catch (error) {
      console.error(`package/man: ${error.message}`);
      process.exit(1);
    }
  }
}
