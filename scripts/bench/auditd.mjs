#!/usr/bin/env node
// auditd-parse throughput and memory, as ratios within one run against laurel, on three ~100 MiB logs:
//   (a) the generated mix (packages/auditd-parse/scripts/gen-log.mjs: execve/connect/file/PAM events);
//   (b) the corpus mix: every sample log of ../shared/corpus/audit (laurel's and go-libaudit's test records),
//       each event re-stamped, repeated to size (auditd-corpus.mjs), so every record shape the conformance
//       suite knows is in it in proportion;
//   (c) the ENRICHED variant of (b).
// Each command runs RUNS times (default 5), interleaved with the others (a round runs each once), so a load
// spike from other work on the shared machine hits them alike. Ratios are taken within a round, then the
// median and the spread (min-max) over the rounds are printed, with the load average around each log.
// Targets (issue 23): >= 2.5x laurel's wall time with its translations on, >= 2x per CPU second; peak RSS
// <= 64 MB and flat in input size (a 200 MiB log no higher than the 100 MiB one); `sessions` within 1.3x the
// plain parse (CPU), its RSS <= 96 MB; `detect` with all built-in rules at >= 0.7x the parse's throughput
// (issue 24, per CPU second). Also printed: the share of records read on the text (slow) path.
// laurel runs twice: with its translations on (arch, syscall, sockaddr, uid/gid names: the closest it comes
// to auditd-parse's full interpretation, so the targets are judged against it) and with them off (its
// default, since it expects auditd's log_format=ENRICHED to have done them), which is less work than ours.
// Env: AUDITD_BENCH_MB (default 100), RUNS (default 5), LOGS (default "a,b,c"), FLAT=0 to skip the 200 MiB
// runs, AUSEARCH=1 to time `ausearch -i` too (slow: ~30 s a run); LOGS=a,b,c,d adds (d), the grouping's worst case:
// 7 nodes writing under one stamp without EOE (auditd-parse alone, its memory judged). t:SHAPE in LOGS adds an
// independent tester's log (scripts/bench/testers/gen.py SHAPE, Python 3; "testers" adds all seven), judged alike.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { generateLog } from "../../packages/auditd-parse/scripts/gen-log.mjs";
import { aptInstall } from "../apt.mjs";
import { corpusDir, corpusLog, sameStampLog } from "./auditd-corpus.mjs";
import { median, printTable } from "./lib.mjs";

const root = new URL("../..", import.meta.url).pathname;
// Run as npm's bin runs: the file itself, whose first lines start node with the package's start flags
// (package.json opsguard.nodeFlags, scripts/build.mjs); `node <bundle>` would run it without them.
const bundle = join(root, "packages/auditd-parse/dist/auditd-parse.cjs");
const mb = Number(process.env.AUDITD_BENCH_MB ?? 100);
const runs = Number(process.env.RUNS ?? 5);
const TESTER_SHAPES = ["corpus16", "mixed", "longargv", "manypath", "interleaved16", "avc", "sessions"];
const logs = (process.env.LOGS ?? "a,b,c").split(",").flatMap((k) => (k === "testers" ? TESTER_SHAPES.map((s) => `t:${s}`) : [k]));
const withFlat = process.env.FLAT !== "0";
const withAusearch = process.env.AUSEARCH === "1";

if (!existsSync(bundle)) {
  console.error(`${bundle} is missing: run "node scripts/build.mjs auditd-parse" first`);
  process.exit(66);
}
if (!existsSync("/usr/bin/time")) {
  console.error("GNU time is needed for peak RSS: apt-get install time");
  process.exit(69);
}
if (logs.some((k) => k === "b" || k === "c" || k.startsWith("t:")) && corpusDir() === undefined) {
  console.error("the corpus logs (b, c, t:*) need shared/corpus/audit beside the repository: LOGS=a runs the generated one alone");
  process.exit(66);
}
if (logs.some((k) => k.startsWith("t:")) && spawnSync("python3", ["--version"]).status !== 0) {
  console.error("the testers' logs (t:SHAPE) are made by scripts/bench/testers/gen.py: install python3");
  process.exit(69);
}

/** A tester's log of `size` MiB (gen.py reads the corpus from ../shared beside the checkout, as corpusLog does). */
function testerLog(shape, path, size) {
  const r = spawnSync("python3", [join(root, "scripts/bench/testers/gen.py"), shape, String(size), path], {
    encoding: "utf8",
    env: { ...process.env, AUDIT_CORPUS: corpusDir() },
  });
  if (r.status !== 0) throw new Error(`gen.py ${shape} failed: ${(r.stderr || String(r.error)).trim().slice(-500)}`);
}

/** laurel (Debian package) and ausearch (package auditd): installed with apt-get when root and missing. */
function ensure(command, pkg) {
  if (spawnSync("sh", ["-c", `command -v ${command}`]).status === 0 || existsSync(`/usr/sbin/${command}`)) return true;
  if (process.getuid?.() !== 0) {
    console.log(`${command} is missing: apt-get install ${pkg} (as root), then re-run`);
    return false;
  }
  return aptInstall([pkg]);
}

/**
 * One run under GNU time: wall seconds, CPU seconds (user + system), peak RSS (MB), and auditd-parse's -v
 * summary line when it printed one; stdin from a file when given.
 */
function measure(argv, stdinFile) {
  const shell = `exec /usr/bin/time -f "%e %U %S %M" ${argv.map((a) => `'${a}'`).join(" ")}${stdinFile ? ` < '${stdinFile}'` : ""} > /dev/null`;
  const r = spawnSync("sh", ["-c", shell], { encoding: "utf8", maxBuffer: 1 << 26 });
  const lines = r.stderr.trim().split("\n");
  const [secs, user, sys, kb] = (lines.pop() ?? "").split(" ").map(Number);
  if (r.status !== 0 || !Number.isFinite(secs) || !Number.isFinite(kb))
    throw new Error(`${argv.join(" ")} failed: ${r.stderr.trim().slice(-500)}`);
  return { secs, cpu: user + sys, rssMb: kb / 1024, summary: lines.find((l) => / records read on the text path/.test(l)) };
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const spread = (xs, digits = 2) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;

const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "auditd-bench-"));
try {
  const laurelOk = ensure("laurel", "laurel");
  const ausearchOk = withAusearch && ensure("ausearch", "auditd");
  // laurel reads the audisp stream on stdin and writes its JSON log into a directory; /proc enrichment off
  const laurelConfig = (translate) => {
    const path = join(dir, `laurel-${translate}.toml`);
    writeFileSync(
      path,
      `directory = "${dir}"\nuser = "${process.getuid?.() === 0 ? "root" : ""}"\nstatusreport-period = 0\n[auditlog]\nfile = "laurel.json"\nsize = 100000000000\ngenerations = 2\n[transform]\nexecve-argv = [ "array" ]\n[translate]\nuniversal = ${translate}\nuser-db = ${translate}\n[enrich]\npid = false\nexecve-env = []\ncontainer = false\nscript = false\n`,
    );
    return path;
  };
  const clearLaurel = () => rmSync(join(dir, "laurel.json"), { force: true });
  const LOGS = {
    a: { label: "(a) generated", make: (path, size) => generateLog(path, size) },
    b: { label: "(b) corpus", make: (path, size) => corpusLog(path, size) },
    c: { label: "(c) corpus ENRICHED", make: (path, size) => corpusLog(path, size, { enriched: true }) },
    // the grouping's worst case (opt-in: LOGS=a,b,c,d): auditd-parse alone, its memory judged
    d: { label: "(d) 7 nodes, one stamp, no EOE", make: sameStampLog, alone: true },
  };
  // the independent testers' logs (scripts/bench/testers/README.md), made by their own generator
  for (const shape of TESTER_SHAPES) {
    LOGS[`t:${shape}`] = { label: `testers' ${shape}`, make: (path, size) => testerLog(shape, path, size) };
  }

  const rows = [["log", "tool", "MiB/s (median, min-max)", "vs laurel", "CPU s", "per CPU s vs laurel", "peak RSS MB"]];
  const verdicts = [];
  const judge = (text, ok) => verdicts.push(`${text} ${ok ? "MET" : "MISSED"}`);
  for (const key of logs) {
    const { label, make, alone } = LOGS[key] ?? {};
    if (label === undefined)
      throw new Error(`LOGS: unknown log ${key} (a, b, c, d, testers or t:SHAPE, SHAPE one of ${TESTER_SHAPES.join(", ")})`);
    const file = join(dir, `${key}.log`);
    console.log(`${label}: generating ${mb} MiB in ${dir} …`);
    await make(file, mb);
    const mib = statSync(file).size / 1048576;
    const tools = [
      { name: "auditd-parse", argv: [bundle, "-v", file] },
      { name: "auditd-parse sessions", argv: [bundle, "sessions", "-q", file] },
      // all 53 built-in SigmaHQ rules; exit 1 would mean a --fail-level match, which is not asked for here
      { name: "auditd-parse detect", argv: [bundle, "detect", "-q", "--json", file] },
    ];
    if (laurelOk && !alone) {
      tools.push({ name: "laurel", argv: ["laurel", "-c", laurelConfig(true)], stdin: file, before: clearLaurel });
      tools.push({ name: "laurel, no translation", argv: ["laurel", "-c", laurelConfig(false)], stdin: file, before: clearLaurel });
    }
    if (ausearchOk && !alone) tools.push({ name: "ausearch -i", argv: ["ausearch", "-i", "-if", file] });
    const loadBefore = load();
    const samples = tools.map(() => []);
    for (let i = 0; i < runs; i++) {
      tools.forEach(({ argv, stdin, before }, t) => {
        before?.();
        samples[t].push(measure(argv, stdin));
      });
    }
    const loadAfter = load();
    const at = (name) => samples[tools.findIndex((t) => t.name === name)];
    const ours = at("auditd-parse");
    const laurel = at("laurel");
    // ratios within each round, then their median and spread
    const ratios = (of, field) => of.map((m, i) => laurel[i][field] / m[field]);
    tools.forEach(({ name }, t) => {
      const s = samples[t];
      rows.push([
        label,
        name,
        spread(
          s.map((m) => mib / m.secs),
          1,
        ),
        laurel ? `${spread(ratios(s, "secs"))}x` : "-",
        spread(s.map((m) => m.cpu)),
        laurel ? `${spread(ratios(s, "cpu"))}x` : "-",
        Math.max(...s.map((m) => m.rssMb)).toFixed(0),
      ]);
    });
    const rss = Math.max(...ours.map((m) => m.rssMb));
    const summary = ours[0].summary ?? "";
    const records = Number(/(\d+) records,/.exec(summary)?.[1]);
    const slow = Number(/(\d+) records read on the text path/.exec(summary)?.[1]);
    verdicts.push(`${label}: load average ${loadBefore} before, ${loadAfter} after; ${runs} rounds`);
    verdicts.push(`${label}: records read on the text (slow) path: ${slow} of ${records} (${((100 * slow) / records).toFixed(2)}%)`);
    if (laurel) {
      const wall = median(ratios(ours, "secs"));
      const cpu = median(ratios(ours, "cpu"));
      judge(`${label}: throughput ${wall.toFixed(2)}x laurel, median (target >= 2.5x)`, wall >= 2.5);
      judge(`${label}: throughput per CPU second ${cpu.toFixed(2)}x laurel, median (target >= 2x)`, cpu >= 2);
      const plain = at("laurel, no translation");
      verdicts.push(
        `${label}: (for reference) ${median(plain.map((m, i) => m.secs / ours[i].secs)).toFixed(2)}x, per CPU second ${median(plain.map((m, i) => m.cpu / ours[i].cpu)).toFixed(2)}x laurel with no translation (less work than auditd-parse does)`,
      );
    }
    judge(`${label}: peak RSS ${rss.toFixed(1)} MB, the highest of the runs (target <= 64)`, rss <= 64);
    const sessions = at("auditd-parse sessions");
    const sessionsCpu = median(sessions.map((m, i) => m.cpu / ours[i].cpu));
    const sessionsRss = Math.max(...sessions.map((m) => m.rssMb));
    judge(
      `${label}: sessions ${sessionsCpu.toFixed(2)}x the plain parse's CPU, median (wall ${median(sessions.map((m, i) => m.secs / ours[i].secs)).toFixed(2)}x) (target <= 1.3x)`,
      sessionsCpu <= 1.3,
    );
    judge(`${label}: sessions peak RSS ${sessionsRss.toFixed(0)} MB (target <= 96)`, sessionsRss <= 96);
    // issue 24: detect with all rules at >= 0.7x the parse-only throughput; CPU is the work itself on a shared machine
    const detect = at("auditd-parse detect");
    const detectCpu = median(detect.map((m, i) => ours[i].cpu / m.cpu));
    judge(
      `${label}: detect (53 rules) ${detectCpu.toFixed(2)}x the parse's throughput per CPU second, median (wall ${median(detect.map((m, i) => ours[i].secs / m.secs)).toFixed(2)}x) (target >= 0.7x)`,
      detectCpu >= 0.7,
    );
    if (withFlat) {
      // the same log at twice the size: peak RSS must not grow with the input
      const big = join(dir, `${key}-2x.log`);
      await make(big, 2 * mb);
      rmSync(file);
      // As many runs as at 100 MiB, median against median: one run's peak RSS varies by about 1 MB between runs of
      // the same command (session 22: 60.1 in one run at 200 MiB against 59.1, the median of two at 100), so a single
      // run against a median judged that noise, not growth. 1 MB of slack stays for what is left of it.
      const twiceRuns = ours.map(() => measure([bundle, "-q", big]).rssMb);
      rmSync(big);
      const twice = median(twiceRuns);
      const usual = median(ours.map((m) => m.rssMb));
      judge(
        `${label}: peak RSS at ${2 * mb} MiB ${twice.toFixed(1)} MB (median of ${twiceRuns.length}: ${twiceRuns.map((r) => r.toFixed(1)).join(", ")}) against ${usual.toFixed(1)} MB (median) at ${mb} MiB (flat: no higher, 1 MB slack)`,
        twice <= usual + 1,
      );
    } else {
      rmSync(file);
    }
  }
  console.log("");
  printTable(rows);
  console.log("");
  for (const v of verdicts) console.log(v);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
