import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { escapeControlChars } from "@opsguard/core/text";
import { LAB_COMPONENTS, LAB_TOOL_CONFIGS } from "./components";
import { startLab } from "./lab";

const HELP = `Usage: pnpm lab [--only NAME,...] [--json]

Starts the opsguard lab on loopback only, on free ports, under a temp dir:
${LAB_COMPONENTS.map((c) => `  - ${c.name}`).join("\n")}
prints what runs where, a ready config file per tool (authkeys, deputize, vpnnotify, sock-check) with
the command that tries it against the lab, and stops everything on Ctrl-C or SIGTERM.

  --only NAME,...  start only these components
  --json           print {dir, sections, configFiles, tryCommands} as JSON on stdout
  -h, --help       show this help

Exit codes: 0 stopped cleanly, 1 a component failed to start, 64 bad flag or unknown component.`;

/** `pnpm lab`: starts the lab, prints what runs where, stops on a signal; the exit code (main.ts runs it). */
export async function runLabCli(argv: readonly string[], io: IOStreams): Promise<ExitCode> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (error) {
    io.stderr.write(`lab: ${escapeControlChars((error as Error).message)} (see pnpm lab --help)\n`);
    return 64;
  }
  if (args.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const only = args.only?.split(",").map((s) => s.trim());
  const unknown = only?.filter((name) => !LAB_COMPONENTS.some((c) => c.name === name)) ?? [];
  if (unknown.length > 0) {
    io.stderr.write(
      `lab: unknown component ${escapeControlChars(unknown.join(", "))} (known: ${LAB_COMPONENTS.map((c) => c.name).join(", ")})\n`,
    );
    return 64;
  }
  // Listening before the start: a Ctrl-C while slapd is still starting stops the lab once it is up, files removed.
  const stopRequested = new Promise<void>((resolve) => {
    // on, not once: Ctrl-C reaches us twice (from the terminal and relayed by tsx), and a signal with no
    // listener left would kill the lab halfway through stopping.
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => resolve());
    whenLauncherDies(resolve);
  });
  const startedAt = Date.now();
  io.stderr.write("lab: starting...\n");
  let lab: Awaited<ReturnType<typeof startLab>>;
  try {
    lab = await startLab({ components: LAB_COMPONENTS.filter((c) => !only || only.includes(c.name)), tools: LAB_TOOL_CONFIGS });
  } catch (error) {
    io.stderr.write(`lab: could not start: ${(error as Error).message}\n`);
    return 1;
  }
  io.stderr.write(`lab: up in ${((Date.now() - startedAt) / 1000).toFixed(1)} s\n`);
  if (args.json) {
    io.stdout.write(
      `${JSON.stringify({ dir: lab.dir, sections: lab.sections, configFiles: lab.configFiles, tryCommands: lab.tryCommands }, null, 2)}\n`,
    );
  } else {
    const lines = [...lab.components.values()].flatMap((c) => c.describe());
    lines.push("", `lab dir         ${lab.dir}`, `config sections ${lab.dir}/lab.yaml`);
    if (Object.keys(lab.configFiles).length > 0)
      lines.push("", "Ready configs, and the command that tries each tool against the lab (from the repo root, after pnpm build):");
    for (const [tool, path] of Object.entries(lab.configFiles)) {
      lines.push(`  ${tool.padEnd(14)}${path}`);
      const command = lab.tryCommands[tool];
      if (command) lines.push(`  ${"".padEnd(14)}$ ${command}`);
    }
    lines.push(`  ${"auditd-parse".padEnd(14)}needs no service: $ node packages/auditd-parse/dist/auditd-parse.cjs --help`);
    lines.push("", "Ctrl-C stops the lab and removes its files.");
    io.stdout.write(`${lines.join("\n")}\n`);
  }
  await stopRequested;
  io.stderr.write("lab: stopping...\n");
  await lab.stop();
  return 0;
}

/**
 * pnpm (and the corepack wrapper) die on SIGTERM without passing it on, which would leave the lab
 * running orphaned: stop when any process that launched us is gone.
 */
function whenLauncherDies(stop: () => void): void {
  const launchers: number[] = [];
  for (let pid = process.ppid; pid > 1 && launchers.length < 16; ) {
    launchers.push(pid);
    const stat = readProcStat(pid);
    if (!stat) break;
    // Field 4 of /proc/PID/stat, counted after the ")" that ends the command name (which may hold spaces).
    pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  }
  const timer = setInterval(() => {
    if (launchers.some((pid) => !isAlive(pid))) {
      clearInterval(timer);
      stop();
    }
  }, 500);
  timer.unref();
}

/** A zombie (dead, not yet reaped by its parent) counts as gone. */
function isAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat[stat.lastIndexOf(")") + 2] !== "Z";
}

function readProcStat(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
}

function parse(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: { only: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", short: "h", default: false } },
    strict: true,
    allowPositionals: false,
  }).values;
}
