#!/usr/bin/env node
// auditd-parse detect throughput with all built-in rules (SigmaHQ's 53 auditd rules) against the parser
// alone on the same generated log, as a ratio within one run (target: detect >= 0.7x parse-only MiB/s).
// Both run the built bundle with output to /dev/null, RUNS times interleaved (default 3), fastest counts.
// Kept apart from auditd.mjs (laurel/ausearch comparisons) so each can change on its own.
// Env: AUDITD_BENCH_MB (default 100), RUNS (default 3).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateLog } from "../../packages/auditd-parse/scripts/gen-log.mjs";
import { printTable } from "./lib.mjs";

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
  const best = tools.map(() => undefined);
  for (let i = 0; i < runs; i++) {
    tools.forEach((t, k) => {
      const m = measure(t.argv);
      const b = best[k];
      best[k] = b ? { secs: Math.min(b.secs, m.secs), cpu: Math.min(b.cpu, m.cpu), rssMb: Math.max(b.rssMb, m.rssMb) } : m;
    });
  }
  const base = best[0];
  printTable([
    ["tool", "MiB/s", "vs parse", "CPU s", "peak RSS MB"],
    ...tools.map((t, k) => [
      t.name,
      (mb / best[k].secs).toFixed(1),
      `${(base.secs / best[k].secs).toFixed(2)}x`,
      best[k].cpu.toFixed(2),
      best[k].rssMb.toFixed(0),
    ]),
  ]);
  const ratio = base.secs / best[1].secs;
  const cpu = base.cpu / best[1].cpu;
  // wall time swings with other work on a shared machine; CPU time shows the work itself
  console.log(
    `detect throughput ${ratio.toFixed(2)}x parse-only (wall), ${cpu.toFixed(2)}x per CPU second: ${ratio >= 0.7 ? "meets" : "MISSES"} the 0.7x target`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
