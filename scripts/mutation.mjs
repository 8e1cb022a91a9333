#!/usr/bin/env node
// Mutation testing of the decision modules with StrykerJS, one module at a time, scoped to its own tests.
// Usage: node scripts/mutation.mjs MODULE... | --all | --changed REF   [--min-score N]
//   MODULE        a name from scripts/mutation-modules.mjs (run without arguments to list them)
//   --changed REF the modules whose source or tests differ from git REF (what CI would run for a change)
//   --min-score N exit 1 when a module scores below N% (default 85)
// Prints per module: mutants, killed, survived, score and wall time, and every survivor with its place.
// Exit: 0 every module ran and reached the minimum; 1 a module below it; 64 usage; 70 Stryker failed.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MODULES } from "./mutation-modules.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const minScore = args.includes("--min-score") ? Number(args[args.indexOf("--min-score") + 1]) : 85;

function usage(problem) {
  console.error(`mutation: ${problem}\nmodules: ${Object.keys(MODULES).join(", ")}`);
  process.exit(64);
}

let names;
if (args.includes("--all")) names = Object.keys(MODULES);
else if (args.includes("--changed")) {
  const ref = args[args.indexOf("--changed") + 1];
  if (!ref) usage("--changed needs a git ref");
  const diff = spawnSync("git", ["diff", "--name-only", ref, "--"], { cwd: root, encoding: "utf8" });
  if (diff.status !== 0) usage(`git diff ${ref} failed: ${diff.stderr.trim()}`);
  const changed = new Set(diff.stdout.split("\n").filter(Boolean));
  names = Object.entries(MODULES)
    // a mutate entry may name lines (file.ts:51-135): the file is what a change touches
    .filter(([, m]) => [...m.mutate.map((f) => f.replace(/:\d+-\d+$/, "")), ...m.tests].some((f) => changed.has(f)))
    .map(([n]) => n);
  if (names.length === 0) {
    console.log(`mutation: no decision module changed since ${ref}`);
    process.exit(0);
  }
} else names = args.filter((a, i) => !a.startsWith("--") && args[i - 1] !== "--min-score");
if (!Number.isFinite(minScore)) usage("--min-score takes a number");
if (!args.includes("--changed") && names.length === 0) usage("name a module, --all or --changed REF");
for (const n of names) if (!MODULES[n]) usage(`unknown module "${n}"`);

const rows = [];
let below = false;
for (const name of names) {
  const started = process.hrtime.bigint();
  const run = spawnSync(process.execPath, [join(root, "node_modules/@stryker-mutator/core/bin/stryker.js"), "run", "stryker.config.mjs"], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, MUTATION_MODULE: name },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
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
      if (m.status === "Survived" || m.status === "NoCoverage")
        survivors.push(`${file}:${m.location.start.line} ${m.mutatorName}: ${JSON.stringify(m.replacement ?? "")} (${m.status})`);
    }
  }
  const caught = (count.Killed ?? 0) + (count.Timeout ?? 0);
  const valid = caught + (count.Survived ?? 0) + (count.NoCoverage ?? 0);
  const score = valid === 0 ? 0 : (100 * caught) / valid;
  if (score < minScore) below = true;
  rows.push({ name, count, score, seconds, survivors });
}

console.log("\n| module | mutants | killed | timeout | survived | no coverage | compile errors | score | wall time |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const { name, count, score, seconds } of rows) {
  const total = Object.values(count).reduce((a, b) => a + b, 0);
  const c = (k) => count[k] ?? 0;
  console.log(
    `| ${name} | ${total} | ${c("Killed")} | ${c("Timeout")} | ${c("Survived")} | ${c("NoCoverage")} | ${c("CompileError")} | ${score.toFixed(1)}% | ${Math.round(seconds)} s |`,
  );
}
for (const { name, survivors } of rows) {
  if (survivors.length === 0) continue;
  console.log(`\nsurvivors in ${name}:`);
  for (const s of survivors) console.log(`  ${s}`);
}
if (below) console.log(`\nmutation: a module scored below ${minScore}%`);
process.exit(below ? 1 : 0);
