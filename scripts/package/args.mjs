// Command-line parsing shared by scripts/package/*.mjs, with node:util's parseArgs: --help prints the usage,
// an unknown flag or a flag without its value is refused (exit 64) instead of being taken as a tool or a
// folder (`npm.mjs --help` once wrote its tarballs into ./--help).
import { parseArgs } from "node:util";

/**
 * The parsed flags and positionals of process.argv, or an exit: 0 after --help (usage on stdout), 64 with
 * one line on stderr for anything parseArgs refuses or `check` returns as a problem.
 */
export function parseCommandLine(name, usage, options, check = () => undefined) {
  let parsed;
  try {
    parsed = parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
  } catch (error) {
    usageError(name, usage, error.message);
  }
  if (parsed.values.help) {
    console.log(usage);
    process.exit(0);
  }
  const problem = check(parsed);
  if (problem) usageError(name, usage, problem);
  return parsed;
}

function usageError(name, usage, problem) {
  console.error(`package/${name}: ${problem.split("\n")[0].replace(/\. To specify .*$/, "")}\n${usage}`);
  process.exit(64);
}

/** The usage problem with a list of tool names, if any. */
export function unknownTool(names, tools) {
  const unknown = names.find((t) => !tools.includes(t));
  return unknown === undefined ? undefined : `unknown tool ${JSON.stringify(unknown)}; one of ${tools.join(", ")}`;
}
