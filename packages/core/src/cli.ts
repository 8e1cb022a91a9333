import type { ChalkInstance } from "chalk";
import { Command, CommanderError, Option } from "commander";
import { envPrefix } from "./config-file";
import { UsageError } from "./errors";
import { ExitCode, exitCodeHelpText } from "./exit";
import { helpWidth, wrapHelp } from "./help-text";
import { type IOStreams, systemIO } from "./iostreams";
import { type LogFormat, Logger, type LogLevel, type SyslogOptions, settleSyslog } from "./log";
import { exitQuietlyOnEpipe, keepDebuggerClosed, reportError } from "./report";
import { createStyle } from "./tty";

/** Commander's Command, for tools' command modules (commander is core's dependency, not theirs). */
export type { Command };

export interface ToolInfo {
  name: string;
  version: string;
  description: string;
  /** Exit codes this tool can return, for --help; all of them when omitted. */
  exitCodes?: ExitCode[];
  /** What an exit code means for this tool where the shared words say less (as its README's table says it). */
  exitCodeMeanings?: Partial<Record<ExitCode, string>>;
  /** Extra help text (config keys, examples) after the options. */
  helpAfter?: string;
  /**
   * --config's help when the tool does not search the usual places (authkeys reads /etc/opsguard only, sock-check
   * never searches for its policy); default: the search order every other tool follows.
   */
  configHelp?: string;
}

export interface GlobalOptions {
  config?: string;
  json: boolean;
  verbose: number;
  quiet: boolean;
  color: boolean;
  logFormat: LogFormat;
}

export interface CliContext {
  tool: string;
  opts: GlobalOptions;
  log: Logger;
  /** chalk that prints plain text unless stderr is a TTY and colour is allowed. */
  style: ChalkInstance;
  color: boolean;
  /** The run's streams: every command writes through these (redacted), never to process.stdout/stderr. */
  io: IOStreams;
  /**
   * When this run began, in ms since the process started: 0 for a bin (the process is the run, so a limit
   * counted from here includes the start-up its caller waited for), later for a run inside a longer-lived
   * process (in-process tests).
   */
  startedAtMs: number;
}

/** What one run of a program carries: its streams and the exit code its command's run function returned. */
interface RunState {
  io: IOStreams;
  exitCode: ExitCode;
  /** The command asked runCli to end the process once its output is flushed (endProcessAtExit). */
  endAtExit?: boolean;
  startedAtMs: number;
}
const runs = new WeakMap<Command, RunState>();

function stateOf(command: Command): RunState {
  const state = runs.get(rootOf(command));
  if (!state) throw new Error(`${rootOf(command).name()}: program not built with createProgram`);
  return state;
}

/** The streams of the run `command` belongs to. */
export function ioOf(command: Command): IOStreams {
  return stateOf(command).io;
}

/**
 * A command's run function: its typed options in, the exit code out (cli/cli's `runF`). Errors it throws
 * are mapped to exit codes in one place (reportError), as cli/cli's ghcmd does.
 */
export type RunFn<O> = (options: O, io: IOStreams) => Promise<ExitCode>;

/** Records the exit code a command's run function returned; executeCli returns it, runCli sets it. */
export function exitWith(command: Command, code: ExitCode): void {
  stateOf(command).exitCode = code;
}

/**
 * Asks runCli to end the process with process.exit once the exit code is set and the output flushed, as its `exit`
 * option does for a whole bin, for a command that must not die of a signal it handles in its last milliseconds: a
 * process that ends by itself closes its signal handlers first, while V8 and the heap are torn down, and a SIGHUP
 * then ends it by the default action (exit 129; auditd-parse's plugin in a logrotate or reconfigure storm, T60).
 */
export function endProcessAtExit(command: Command): void {
  stateOf(command).endAtExit = true;
}

/**
 * A commander program with the flags every opsguard tool shares, writing (help, usage errors, every
 * command's output) through `io`. Build a new one per run: it holds that run's exit code.
 */
export function createProgram(info: ToolInfo, io: IOStreams = systemIO()): Command {
  const program = new Command(info.name)
    .description(info.description)
    .version(info.version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show this help")
    .option("-c, --config <file>", info.configHelp ?? `config file (default: ${configSearchHelp(info.name)})`)
    .option("--json", "machine-readable JSON on stdout", false)
    .option("-v, --verbose", "more detail on stderr (-vv for debug)", (_v: string, prev: number) => prev + 1, 0)
    .option("-q, --quiet", "print only errors on stderr", false)
    .option("--no-color", "no colour or spinners, even on a TTY")
    .addOption(new Option("--log-format <format>", "format of log lines on stderr").choices(["human", "json"]).default("human"))
    .exitOverride()
    // Subcommands inherit this: their help lists the flags that work everywhere (--config, --json ...) too, but
    // not twice: a program option a subcommand defines itself (auditd-parse's filters) is listed under its own.
    .configureHelp({
      showGlobalOptions: true,
      visibleGlobalOptions: (cmd: Command) => {
        const own = new Set(cmd.options.map((o) => o.name()));
        const global: Option[] = [];
        for (let up = cmd.parent; up; up = up.parent) global.push(...up.options.filter((o) => !o.hidden && !own.has(o.name())));
        return global;
      },
    })
    .configureOutput({
      // Help (commander's rows and the tools' own text) and --version: wrapped to the terminal, 80 when piped.
      writeOut: (s) => io.stdout.write(wrapHelp(s, helpWidth(io.stdout))),
      getOutHelpWidth: () => helpWidth(io.stdout),
      writeErr: (s) => io.stderr.write(s),
      // Usage errors look like every other error: one line, the tool's name, and where to look.
      outputError: (text, write) =>
        write(
          `${info.name}: ${text
            .replace(/^error: /, "")
            .trim()
            .replace(/\s*\n\s*/g, " ")} (see ${info.name} --help)\n`,
        ),
    });
  // A word that names no command reaches the default command as its operand: one taking none would call it an
  // extra argument of a command the user never typed ("too many arguments for 'run'", T30 #6a). Said as commander
  // says it for a program without a default command.
  program.hook("preSubcommand", (parent, sub) => {
    const [word] = parent.args;
    if (word !== undefined && !word.startsWith("-") && word !== sub.name() && sub.registeredArguments.length === 0)
      parent.error(`error: unknown command '${word}'`, { code: "commander.unknownCommand" });
  });
  const after = [info.helpAfter, exitCodeHelpText(info.exitCodes, info.exitCodeMeanings)].filter(Boolean).join("\n\n");
  program.addHelpText("after", `\n${after}`);
  runs.set(program, { io, exitCode: ExitCode.OK, startedAtMs: 0 });
  return program;
}

/** The config search order, in words short enough to wrap in a help column (no brace expansions). */
export function configSearchHelp(tool: string): string {
  return `$${envPrefix(tool)}_CONFIG, else the first of ./.${tool}rc, ./.${tool}rc.json|.yaml|.yml, then ${tool}.json|.yaml|.yml in $XDG_CONFIG_HOME/opsguard, ~/.config/opsguard, /etc/opsguard`;
}

export interface ContextOptions {
  /** Level when neither --verbose nor --quiet is given; quiet tools default to warn. */
  defaultLevel?: LogLevel;
  syslog?: SyslogOptions;
  /** Send log lines only to syslog (sshd's AuthorizedKeysCommand stderr goes nowhere useful). */
  stderr?: boolean;
}

/**
 * The output format of a command with --format beside the global --json, which means --format json. Both, naming
 * another format, ask for two outputs: a usage error, rather than one silently dropped (`--json --format csv`
 * printed JSON into a file the user asked to be CSV).
 */
export function formatOrJson<F extends string>(command: Command, format: F): F | "json" {
  const json = command.optsWithGlobals<GlobalOptions>().json === true;
  if (json && command.getOptionValueSource("format") === "cli" && format !== "json") {
    throw new UsageError(`--json and --format ${format} ask for two outputs`, { hint: "give one of them" });
  }
  return json ? "json" : format;
}

export function cliContext(command: Command, options: ContextOptions = {}): CliContext {
  const root = rootOf(command);
  const opts = command.optsWithGlobals<GlobalOptions>();
  const level: LogLevel = opts.quiet
    ? "error"
    : opts.verbose >= 2
      ? "debug"
      : opts.verbose === 1
        ? "info"
        : (options.defaultLevel ?? "warn");
  const io = ioOf(command);
  const color = io.colorEnabled(io.stderr, opts.color);
  const log = new Logger({
    tool: root.name(),
    level,
    format: opts.logFormat,
    ...(options.syslog ? { syslog: options.syslog } : {}),
    ...(options.stderr === undefined ? {} : { stderr: options.stderr }),
    stream: io.stderr,
  });
  return { tool: root.name(), opts, log, style: createStyle(color), color, io, startedAtMs: stateOf(command).startedAtMs };
}

function rootOf(command: Command): Command {
  let c = command;
  while (c.parent) c = c.parent;
  return c;
}

/**
 * Parses argv, runs the chosen command and returns its exit code; any error becomes one line on the run's
 * stderr and the documented exit code. Sets nothing global: in-process tests call this.
 */
export async function executeCli(program: Command, argv: readonly string[], run: { startedAtMs?: number } = {}): Promise<ExitCode> {
  const state = stateOf(program);
  state.startedAtMs = run.startedAtMs ?? 0;
  try {
    await program.parseAsync(argv as string[]);
    return state.exitCode;
  } catch (error) {
    return cliError(program, error, state.io);
  } finally {
    state.io.flush();
  }
}

/**
 * A bin's entry (its main.ts): runs the program on the process's arguments and is the one place that sets
 * process.exitCode. A closed stdout (`| head`, sshd hanging up) is not an error, unless the run's IOStreams say its
 * stdout must reach its reader (systemIO's stdoutRequired): then it is exit 74 with one line.
 */
export async function runCli(program: Command, argv: readonly string[] = process.argv, options: RunCliOptions = {}): Promise<ExitCode> {
  exitQuietlyOnEpipe(program.name(), stateOf(program).io.stdoutRequired);
  keepDebuggerClosed();
  const ran = await executeCli(program, argv);
  const code = options.settle ? options.settle(ran) : ran;
  const { io } = stateOf(program);
  io.flush();
  process.exitCode = code;
  if (options.exit || stateOf(program).endAtExit) {
    // Ending the process at once would drop a failed write's report (stdout on a full disk: exit 74, not 0)
    // and a syslog that could not be reached (its lines then belong on stderr).
    await settleSyslog();
    await io.written(EXIT_FLUSH_MS);
    process.exit(code);
  }
  return code;
}

/** How long an `exit` run waits for its output to be written before it ends anyway (a reader that never reads). */
const EXIT_FLUSH_MS = 1000;

export interface RunCliOptions {
  /** The last word on the exit code (vpnnotify: a usage error under a VPN server still lets the client in). */
  settle?: (code: ExitCode) => ExitCode;
  /**
   * End the process once the exit code is set and the output flushed, instead of when nothing keeps the event
   * loop alive. Only for a bin whose work may be cut off by a deadline while calls with longer timeouts of their
   * own are still in flight (vpnnotify's hooks): everything else closes what it opened and ends by itself. The
   * one place a tool's process is ended this way, so command code never calls process.exit.
   */
  exit?: boolean;
}

function cliError(program: Command, error: unknown, io: IOStreams): ExitCode {
  if (error instanceof CommanderError) {
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.code === "commander.help")
      return ExitCode.OK;
    return ExitCode.USAGE;
  }
  const opts = program.opts<GlobalOptions>();
  return reportError(program.name(), error, { logFormat: opts.logFormat, verbose: opts.verbose, stream: io.stderr });
}
