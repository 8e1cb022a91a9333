#!/usr/bin/env node
// Applies each mutant a run left standing to the source, one at a time, and runs the module's own test files
// on it, as a person checking a survivor by hand would: the check for "Stryker said survived, but is it?" (a
// static mutant whose test file failed to load counts as survived, see the README's mutation section).
// Usage: node scripts/mutation-by-hand.mjs MODULE [--report FILE] [--line N] [--test FILE]
//   --report FILE  Stryker's JSON report to read (default reports/mutation/MODULE.json, else the baseline)
//   --line N       only the mutants on line N
//   --test FILE    run this test file instead of the module's (which one kills it)
// The source file is restored after each mutant, also on Ctrl-C. Prints one line per mutant: killed (the
// tests fail) or survives. Exit: 0 done; 64 usage.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MODULES } from "./mutation-modules.mjs";

const root = join(fileURLToPath(import.meta.url), "../..");
const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const name = args.find((a, i) => !a.startsWith("--") && !["--report", "--line", "--test"].includes(args[i - 1]));
if (!name || !MODULES[name]) {
  console.error(`mutation-by-hand: name a module: ${Object.keys(MODULES).join(", ")}`);
  process.exit(64);
}
const reportFile =
  option("--report") ??
  [join(root, "reports/mutation", `${name}.json`), join(root, "scripts/mutation-baseline", `${name}.json`)].find((f) => existsSync(f));
if (!reportFile) {
  console.error(`mutation-by-hand: no report for ${name}: run node scripts/mutation.mjs ${name} first`);
  process.exit(64);
}
const onlyLine = option("--line") === undefined ? undefined : Number(option("--line"));
if (onlyLine !== undefined && !Number.isInteger(onlyLine)) {
  console.error("mutation-by-hand: --line takes a line number");
  process.exit(64);
}
let report;
try {
  report = JSON.parse(readFileSync(reportFile, "utf8"));
  if (typeof report?.files !== "object" || report.files === null) throw new Error("no files in it");
} catch (error) {
  console.error(`mutation-by-hand: ${reportFile} is not a Stryker JSON report (${error.message.split("\n")[0]})`);
  process.exit(64);
}

let restore;
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
]) {
  process.once(signal, () => {
    restore?.();
    process.exit(code);
  });
}

for (const [file, { mutants }] of Object.entries(report.files)) {
  const path = join(root, file);
  const original = readFileSync(path, "utf8");
  // a report of another version of the file would put each mutant in the wrong place
  if (report.files[file].source !== undefined && report.files[file].source !== original) {
    console.log(`skipped  ${file}: changed since the report was made; run node scripts/mutation.mjs ${name} again`);
    continue;
  }
  // the report's locations (mutation-testing-report-schema): 1-based lines and columns
  const lineStarts = [0];
  for (let i = 0; i < original.length; i++) if (original[i] === "\n") lineStarts.push(i + 1);
  const offset = ({ line, column }) => lineStarts[line - 1] + column - 1;
  for (const m of mutants) {
    if (m.status !== "Survived" && m.status !== "NoCoverage") continue;
    if (onlyLine !== undefined && m.location.start.line !== onlyLine) continue;
    const mutated = original.slice(0, offset(m.location.start)) + m.replacement + original.slice(offset(m.location.end));
    restore = () => writeFileSync(path, original);
    writeFileSync(path, mutated);
    let run;
    try {
      run = spawnSync(
        process.execPath,
        [join(root, "node_modules/vitest/vitest.mjs"), "run", ...(option("--test") ? [option("--test")] : MODULES[name].tests)],
        {
          cwd: root,
          encoding: "utf8",
          env: { ...process.env, CI: "" },
        },
      );
    } finally {
      restore();
      restore = undefined;
    }
    const verdict = run.status === 0 ? "survives" : "killed";
    console.log(`${verdict.padEnd(8)} ${file}:${m.location.start.line} ${m.mutatorName}: ${JSON.stringify(m.replacement)} (${m.status})`);
  }
}
