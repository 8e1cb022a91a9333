#!/usr/bin/env node
// `npm run check`: lint, typecheck, build, the test suite and the auditd conformance, in that order, stopping
// at the first failure with its exit code. Prints each step's wall time and the total, so a slower suite
// shows up in every run's log (the figures are for reading, never asserted: the machine is shared), and the
// ten slowest test files, so the file that grew is named (the suite's budget is 15 minutes).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TIMES_FILE } from "./vitest/file-times.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules/.bin", name);
const STEPS = [
  ["lint", bin("biome"), ["check", "."]],
  ["typecheck", bin("tsc"), ["-p", "tsconfig.json"]],
  ["build", process.execPath, ["scripts/build.mjs"]],
  ["test", bin("vitest"), ["run", "--reporter=default", "--reporter=./scripts/vitest/file-times.mjs"]],
  // --allow-missing: a checkout without ../shared only warns; with CI=true it fails (see the script)
  ["conformance", process.execPath, ["scripts/conformance/auditd.mjs", "--laurel", "--allow-missing"]],
];

const times = [];
const timesFile = join(root, TIMES_FILE);
// an earlier run's figures must not pass for this run's
rmSync(timesFile, { force: true });

/** The slowest test files of this run, when the test step got far enough to write them. */
function slowestFiles(count = 10) {
  if (!existsSync(timesFile)) return;
  const files = JSON.parse(readFileSync(timesFile, "utf8")).sort((a, b) => b.seconds - a.seconds);
  console.log(`\nslowest ${Math.min(count, files.length)} of ${files.length} test files:`);
  for (const { file, seconds, state } of files.slice(0, count))
    console.log(`${seconds.toFixed(1).padStart(7)} s  ${file}${state === "passed" ? "" : ` (${state})`}`);
}

const report = () => {
  slowestFiles();
  const total = times.reduce((sum, [, s]) => sum + s, 0);
  console.log(`\ncheck wall time: ${times.map(([n, s]) => `${n} ${s.toFixed(1)} s`).join(", ")}; total ${total.toFixed(1)} s`);
};
for (const [name, cmd, args] of STEPS) {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  times.push([name, Number(process.hrtime.bigint() - started) / 1e9]);
  if (r.status !== 0) {
    report();
    console.error(`check: ${name} failed (exit ${r.status ?? r.signal ?? r.error?.message})`);
    process.exit(r.status || 1);
  }
}
report();
