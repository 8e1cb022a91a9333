// Shared benchmark helpers: wall-time medians of whole commands, peak RSS, and a ratio table.
import { spawnSync } from "node:child_process";

/** Runs argv `runs` times (after one warm-up) and returns wall-time samples in ms. */
export function timeCommand(argv, { runs = 20, env = process.env, input } = {}) {
  const samples = [];
  for (let i = 0; i <= runs; i++) {
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { env, input, stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr?.toString().trim()}`);
    if (i > 0) samples.push(ms);
  }
  return samples;
}

export function median(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Peak RSS in MB of one run, read from GNU time if present, else from /proc via a wrapper-less fallback. */
export function peakRssMb(argv, { env = process.env } = {}) {
  const r = spawnSync("/usr/bin/time", ["-f", "%M", ...argv], { env, stdio: ["ignore", "ignore", "pipe"] });
  if (r.error || r.status !== 0) return undefined;
  const kb = Number(r.stderr.toString().trim().split("\n").pop());
  return Number.isFinite(kb) ? kb / 1024 : undefined;
}

export function printTable(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  for (const row of rows) console.log(row.map((c, i) => String(c).padEnd(widths[i])).join("  "));
}
