import type { Command } from "commander";
import { executeCli } from "../src/cli";
import type { IOStreams } from "../src/iostreams";
import { testIO } from "../src/iostreams";

export interface InProcessRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface InProcessOptions {
  /** The environment the run sees (process.env is this for the run's length, as a spawned bin's would be). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  stdoutTTY?: boolean;
  stderrTTY?: boolean;
  stdin?: NodeJS.ReadableStream;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs a tool's program in this process, as `tool ...args` would run from a shell: its exit code and every byte
 * it wrote to stdout and stderr (after redaction). Domain code still reads process.env and the working
 * directory, so both are swapped for the run and restored after; runs are serialised for that reason.
 */
export function runInProcess(
  build: (io: IOStreams) => Command,
  args: readonly string[],
  options: InProcessOptions = {},
): Promise<InProcessRun> {
  const run = queue.then(async () => {
    const env = options.env ?? process.env;
    const t = testIO({
      env,
      ...(options.stdoutTTY === undefined ? {} : { stdoutTTY: options.stdoutTTY }),
      ...(options.stderrTTY === undefined ? {} : { stderrTTY: options.stderrTTY }),
      ...(options.stdin ? { stdin: options.stdin } : {}),
    });
    const savedEnv = { ...process.env };
    const savedCwd = process.cwd();
    if (options.env) replaceEnv(options.env);
    if (options.cwd) process.chdir(options.cwd);
    try {
      const program = build(t.io);
      // the run begins now, as a spawned bin's process would: limits counted from the start count from here
      const code = await executeCli(program, ["node", program.name(), ...args], { startedAtMs: process.uptime() * 1000 });
      return { code, stdout: t.stdout(), stderr: t.stderr() };
    } finally {
      process.chdir(savedCwd);
      replaceEnv(savedEnv);
    }
  });
  queue = run.catch(() => {});
  return run;
}

function replaceEnv(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key];
  for (const [key, value] of Object.entries(env)) if (value !== undefined) process.env[key] = value;
}
