#!/usr/bin/env node
// auditd-parse detect throughput with all built-in rules (SigmaHQ's 53 auditd rules) against the parser
// alone on the same generated log, as a ratio within one run (target: detect >= 0.7x parse-only MiB/s).
// Both run the built bundle with output to /dev/null, RUNS times interleaved (default 3); ratios are taken
// within a round, then their median and spread are printed, with the load average (a shared machine).
// Kept apart from auditd.mjs (laurel/ausearch comparisons) so each can change on its own.
// Env: AUDITD_BENCH_MB (default 100), RUNS (default 3).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { generateLog } from "../../packages/auditd-parse/scripts/gen-log.mjs";
import { median, printTable } from "./lib.mjs";

const root = new URL("../..", import.meta.url).pathname;
const bundle = join(root, "packages/auditd-parse/dist/auditd-parse.cjs");
const mb = Number(process.env.AUDITD_BENCH_MB ?? 100);
const runs = Number(process.env.RUNS ?? 3);

if (!existsSync(bundle)) {
  console.error(`${bundle} is missing: run "node scripts/build.mjs auditd-parse" first`);
  process.exit(66);
}

/** One run: wall seconds, CPU seconds and peak RSS MB from GNU time, or wall time alone without it. */
function measure(argv) {
  const time = existsSync("/usr/bin/time");
  const started = process.hrtime.bigint();
  const shell = `exec ${time ? '/usr/bin/time -f "%e %U %S %M" ' : ""}${argv.map((a) => `'${a}'`).join(" ")} > /dev/null`;
  const r = spawnSync("sh", ["-c", shell], { encoding: "utf8", maxBuffer: 1 << 26 });
  const wall = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${argv.join(" ")} failed (exit ${r.status}): ${r.stderr.trim().slice(-500)}`);
  if (!time) return { secs: wall, cpu: Number.NaN, rssMb: Number.NaN };
  const [secs, user, sys, kb] = (r.stderr.trim().split("\n").pop() ?? "").split(" ").map(Number);
  return { secs, cpu: user + sys, rssMb: kb / 1024 };
}

const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "auditd-detect-bench-"));
try {
  const log = join(dir, "audit.log");
  console.log(`generating a ${mb} MiB log in ${dir} …`);
  await generateLog(log, mb);
  const tools = [
    { name: "auditd-parse (parse only, NDJSON)", argv: [process.execPath, bundle, log] },
    { name: "auditd-parse detect (53 rules)", argv: [process.execPath, bundle, "detect", "--json", log] },
  ];
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
  const loadBefore = load();
  const samples = tools.map(() => []);
  for (let i = 0; i < runs; i++)
    tools.forEach((t, k) => {
      samples[k].push(measure(t.argv));
    });
  const spread = (xs) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
  const [parse, detect] = samples;
  const wall = parse.map((m, i) => m.secs / detect[i].secs);
  const cpu = parse.map((m, i) => m.cpu / detect[i].cpu);
  printTable([
    ["tool", "MiB/s (median)", "CPU s (median, min-max)", "peak RSS MB"],
    ...tools.map((t, k) => [
      t.name,
      (mb / median(samples[k].map((m) => m.secs))).toFixed(1),
      spread(samples[k].map((m) => m.cpu)),
      Math.max(...samples[k].map((m) => m.rssMb)).toFixed(0),
    ]),
  ]);
  // wall time swings with other work on a shared machine; CPU time shows the work itself
  console.log(`load average ${loadBefore} before, ${load()} after; ${runs} rounds`);
  console.log(
    `detect throughput ${spread(wall)}x parse-only (wall), ${spread(cpu)}x per CPU second (median, min-max): ${median(cpu) >= 0.7 ? "meets" : "MISSES"} the 0.7x target`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
