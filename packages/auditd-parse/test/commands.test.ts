import { type Command, createProgram, executeCli, type RunFn } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import { testIO } from "@opsguard/core/iostreams";
import { describe, expect, it } from "vitest";
import { newDetectCommand } from "../src/commands/detect";
import type { ParseFlags } from "../src/commands/flags";
import { newNetCommand } from "../src/commands/net";
import { newParseCommand } from "../src/commands/parse";
import { newPluginCommand } from "../src/commands/plugin";
import { newReportCommand } from "../src/commands/report";
import { newSessionsCommand } from "../src/commands/sessions";

// Issue #21's command shape: each constructor takes the run function (cli/cli's runF), so a test sees the typed
// options a command line becomes, and the exit code the run returns is the program's, with nothing else run.
type Captured = { files?: string[]; flags: ParseFlags };

async function capture<O extends Captured>(
  add: (program: Command, runF: RunFn<O>) => unknown,
  args: string[],
  code: ExitCode = ExitCode.OK,
): Promise<{ exit: ExitCode; options: O | undefined; stdout: string }> {
  const t = testIO();
  const program = createProgram({ name: "auditd-parse", version: "0", description: "test" }, t.io);
  let options: O | undefined;
  add(program, async (o) => {
    options = o;
    return code;
  });
  const exit = await executeCli(program, ["node", "auditd-parse", ...args]);
  return { exit, options, stdout: t.stdout() };
}

describe("auditd-parse commands take their run function", () => {
  it("the default parse: files and the filters as a typed list, the program's flags included", async () => {
    const r = await capture(newParseCommand, ["--key", "a,b", "--key", "c", "--format", "text", "-F", "x.log"]);
    expect(r.exit).toBe(ExitCode.OK);
    expect(r.options?.files).toEqual(["x.log"]);
    expect(r.options?.flags).toMatchObject({ key: ["a", "b", "c"], format: "text", follow: true, fromEnd: false, strict: false });
  });

  it("each subcommand hands its own options over, and its run's exit code is the program's", async () => {
    const cases: [string, () => ReturnType<typeof capture>, Partial<ParseFlags>][] = [
      ["sessions", () => capture(newSessionsCommand, ["sessions", "--user", "alice", "a.log"], ExitCode.FAILED), { user: ["alice"] }],
      ["net", () => capture(newNetCommand, ["net", "--since", "1d"], ExitCode.FAILED), { since: "1d" }],
      ["report", () => capture(newReportCommand, ["report", "--top", "5"], ExitCode.FAILED), { top: "5" }],
      [
        "detect",
        () => capture(newDetectCommand, ["detect", "--fail-level", "high", "--list-rules"], ExitCode.FAILED),
        { failLevel: "high", listRules: true },
      ],
      [
        "plugin",
        () => capture(newPluginCommand, ["plugin", "--detect", "-o", "out.json"], ExitCode.FAILED),
        { detect: true, output: "out.json" },
      ],
    ];
    for (const [name, run, flags] of cases) {
      const r = await run();
      expect([r.exit, r.options?.flags], name).toEqual([ExitCode.FAILED, expect.objectContaining(flags)]);
    }
  });

  it("a usage error never reaches the run function", async () => {
    const r = await capture(newReportCommand, ["report", "--no-such-flag"]);
    expect([r.exit, r.options]).toEqual([ExitCode.USAGE, undefined]);
  });
});
