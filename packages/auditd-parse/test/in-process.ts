import { Readable } from "node:stream";
import { type InProcessRun, runInProcess } from "../../core/test/run-in-process";
import { createAuditdParseProgram } from "../src/cli";

/**
 * `auditd-parse ...args` run in this process (issue #21) with `input` on its stdin (empty when none, as a
 * spawned run with nothing piped in): its exit code and every byte it wrote to stdout and stderr. Runs about
 * process (signals, a real stdout that fails, -F, the plugin's stdin) still spawn the program.
 */
export function runAuditdParse(args: string[], input?: string | Buffer, env: NodeJS.ProcessEnv = process.env): Promise<InProcessRun> {
  const stdin = Readable.from(input === undefined || input.length === 0 ? [] : [Buffer.from(input)]);
  return runInProcess(createAuditdParseProgram, args, { env: { ...env, NO_COLOR: "1" }, stdin });
}
