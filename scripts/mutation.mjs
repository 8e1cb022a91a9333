#!/usr/bin/env node
// Mutation testing of the decision modules with StrykerJS, one module at a time, scoped to its own tests.
// Usage: node scripts/mutation.mjs MODULE... | --all | --changed REF | --ci   [--min-score N] [--force] [--budget S]
//   MODULE        a name from scripts/mutation-modules.mjs (run without arguments to list them)
//   --changed REF the modules whose source or tests differ from git REF
//   --ci          the modules whose source or tests differ from their checked-in baseline
//                 (scripts/mutation-baseline/MODULE.json, Stryker's incremental file): what `npm test` runs
//   --min-score N exit 1 when a module scores below N% (default 85)
//   --force       test every mutant again instead of reusing the baseline's results
//   --budget S    stop after S seconds of Stryker runs in all (default: none; --ci: 480)
// Runs are incremental: only mutants in changed code, or covered by changed tests, are tested again; the run
// updates the module's baseline, which is committed with the change.
// Prints per module: mutants, killed, survived, score and wall time, and every survivor with its place.
// A module names its code by anchors (scripts/mutation-anchors.mjs), resolved to line ranges before each run.
// Exit: 0 every module ran and reached the minimum; 1 a module below it, or not finished within the budget;
// 64 usage, or a module whose anchors no longer resolve (fix scripts/mutation-modules.mjs); 70 Stryker failed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { entryFile, resolveModule } from "./mutation-anchors.mjs";
import { MODULES } from "./mutation-modules.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const minScore = args.includes("--min-score") ? Number(args[args.indexOf("--min-score") + 1]) : 85;
const ci = args.includes("--ci");
const budgetSeconds = args.includes("--budget") ? Number(args[args.indexOf("--budget") + 1]) : ci ? 480 : Number.POSITIVE_INFINITY;
const VALUE_FLAGS = ["--min-score", "--budget", "--changed"];
if (!Number.isFinite(minScore)) usage("--min-score takes a number");
if (Number.isNaN(budgetSeconds) || budgetSeconds <= 0) usage("--budget takes a number of seconds");

function usage(problem) {
  console.error(`mutation: ${problem}\nmodules: ${Object.keys(MODULES).join(", ")}`);
  process.exit(64);
}

let names;
if (args.includes("--all")) names = Object.keys(MODULES);
else if (args.includes("--changed")) {
  const ref = args[args.indexOf("--changed") + 1];
  if (!ref) usage("--changed needs a git ref");
  // -z: names as they are, never C-quoted (a non-ASCII or otherwise odd name would match no module's file)
  const diff = spawnSync("git", ["diff", "--name-only", "-z", ref, "--"], { cwd: root, encoding: "utf8" });
  if (diff.status !== 0) usage(`git diff ${ref} failed: ${diff.stderr.trim()}`);
  const changed = new Set(diff.stdout.split("\0").filter(Boolean));
  names = Object.entries(MODULES)
    // an entry may name part of a file by anchors: the file is what a change touches
    .filter(([, m]) => [...m.mutate.map(entryFile), ...m.tests].some((f) => changed.has(f)))
    .map(([n]) => n);
  if (names.length === 0) {
    console.log(`mutation: no decision module changed since ${ref}`);
    process.exit(0);
  }
} else if (ci) {
  const unchecked = Object.keys(MODULES).filter((n) => !existsSync(baselinePath(n)));
  // said on every run, so a module without a baseline is never mistaken for one that passed
  if (unchecked.length > 0)
    console.log(`mutation: not checked (no baseline; run the module and commit scripts/mutation-baseline/): ${unchecked.join(", ")}`);
  names = Object.keys(MODULES).filter((n) => !unchecked.includes(n) && differsFromBaseline(n));
  if (names.length === 0) {
    console.log(`mutation: ${Object.keys(MODULES).length - unchecked.length} modules with a baseline, none changed since it`);
    process.exit(0);
  }
} else names = args.filter((a, i) => !a.startsWith("--") && !VALUE_FLAGS.includes(args[i - 1]));
if (!args.includes("--changed") && !ci && names.length === 0) usage("name a module, --all, --changed REF or --ci");
for (const n of names) if (!MODULES[n]) usage(`unknown module "${n}"`);
// an anchor that no longer resolves stops the run before Stryker starts, naming what to fix
for (const n of names) {
  try {
    const ranges = resolveModule(root, MODULES[n]).map((r) => r.pattern);
    console.log(`mutation: ${n}: ${ranges.join(", ")}`);
  } catch (error) {
    console.error(`mutation: module ${n}: ${error.message}`);
    process.exit(64);
  }
}

function baselinePath(name) {
  return join(root, "scripts/mutation-baseline", `${name}.json`);
}

/** Whether a module's source or test files differ from the text its baseline was made from. */
function differsFromBaseline(name) {
  let baseline;
  try {
    baseline = JSON.parse(readFileSync(baselinePath(name), "utf8"));
  } catch (error) {
    console.error(
      `mutation: scripts/mutation-baseline/${name}.json cannot be read (${error.message.split("\n")[0]}): run node scripts/mutation.mjs --force ${name} and commit it`,
    );
    process.exit(1);
  }
  const { mutate, tests } = MODULES[name];
  // a file gone since (renamed, deleted) differs: the run then says what is missing
  const same = (recorded, file) => existsSync(join(root, file)) && recorded?.[file]?.source === readFileSync(join(root, file), "utf8");
  return !(mutate.every((e) => same(baseline.files, entryFile(e))) && tests.every((f) => same(baseline.testFiles, f)));
}

/** Stryker on one module, in its own process group so the budget can stop it and its workers. */
function stryker(name, seconds) {
  const extra = args.includes("--force") ? ["--force"] : [];
  const child = spawn(
    process.execPath,
    [join(root, "node_modules/@stryker-mutator/core/bin/stryker.js"), "run", "stryker.config.mjs", ...extra],
    {
      cwd: root,
      stdio: "inherit",
      env: { ...process.env, MUTATION_MODULE: name },
      detached: true,
    },
  );
  let timedOut = false;
  const timer = Number.isFinite(seconds)
    ? setTimeout(() => {
        timedOut = true;
        process.kill(-child.pid, "SIGTERM");
      }, seconds * 1000)
    : undefined;
  // its own group does not get the terminal's Ctrl-C: pass it on
  const stop = (signal) => {
    process.kill(-child.pid, "SIGTERM");
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", stop).once("SIGTERM", stop);
  return new Promise((resolve) => {
    child.on("exit", (code) => {
      clearTimeout(timer);
      process.off("SIGINT", stop).off("SIGTERM", stop);
      resolve({ status: code, timedOut });
    });
  });
}

const rows = [];
let below = false;
let spent = 0;
const unfinished = [];
for (const name of names) {
  if (spent >= budgetSeconds) {
    unfinished.push(name);
    continue;
  }
  const started = process.hrtime.bigint();
  const run = await stryker(name, budgetSeconds - spent);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  spent += seconds;
  if (run.timedOut) {
    unfinished.push(name);
    continue;
  }
  if (run.status !== 0) {
    console.error(`mutation: Stryker failed on ${name} (exit ${run.status})`);
    process.exit(70);
  }
  const report = JSON.parse(readFileSync(join(root, "reports/mutation", `${name}.json`), "utf8"));
  const count = {};
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const m of mutants) {
      count[m.status] = (count[m.status] ?? 0) + 1;
      // Stryker's vitest runner scores a mutant whose test file threw while loading (a static mutant reached
      // by top-level code) "survived" with no test completed: say so, it is likely killed (check it by hand:
      // scripts/mutation-by-hand.mjs)
      const note = m.status === "Survived" && m.testsCompleted === 0 ? ", no test completed" : "";
      if (m.status === "Survived" || m.status === "NoCoverage")
        survivors.push(`${file}:${m.location.start.line} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? "")} (${m.status}${note})`);
    }
  }
  const caught = (count.Killed ?? 0) + (count.Timeout ?? 0);
  const valid = caught + (count.Survived ?? 0) + (count.NoCoverage ?? 0);
  const score = valid === 0 ? 0 : (100 * caught) / valid;
  if (score < minScore) below = true;
  rows.push({ name, count, score, seconds, survivors });
}

if (rows.length > 0) {
  console.log("\n| module | mutants | killed | timeout | survived | no coverage | compile errors | score | wall time |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const { name, count, score, seconds } of rows) {
    const total = Object.values(count).reduce((a, b) => a + b, 0);
    const c = (k) => count[k] ?? 0;
    console.log(
      `| ${name} | ${total} | ${c("Killed")} | ${c("Timeout")} | ${c("Survived")} | ${c("NoCoverage")} | ${c("CompileError")} | ${score.toFixed(1)}% | ${Math.round(seconds)} s |`,
    );
  }
}
for (const { name, survivors } of rows) {
  if (survivors.length === 0) continue;
  console.log(`\nsurvivors in ${name}:`);
  for (const s of survivors) console.log(`  ${s}`);
}
if (below) console.log(`\nmutation: a module scored below ${minScore}%`);
if (unfinished.length > 0)
  console.log(
    `\nmutation: not finished within ${budgetSeconds} s: ${unfinished.join(", ")}; run node scripts/mutation.mjs ${unfinished.join(" ")} and commit scripts/mutation-baseline/`,
  );
process.exit(below || unfinished.length > 0 ? 1 : 0);
