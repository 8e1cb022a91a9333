#!/usr/bin/env node
// Conformance for auditd-parse. It fails closed: a run that could not check something does not pass.
//   0. golden files: auditd-parse's own expected output for the project's own logs
//      (packages/auditd-parse/test/golden/*.log → *.ndjson), so an output change is caught without the corpus;
//   1. expected outputs shipped with the shared corpus (../shared/corpus/audit beside the repository):
//      laurel's record-*.json, go-libaudit's per-record goldens and its reassembler expectations;
//   2. --laurel: runs Debian's laurel offline over every corpus log and compares event by event.
//
// Usage: node scripts/conformance/auditd.mjs [--laurel] [--corpus DIR] [--known FILE] [--min-checks N]
//                                            [--allow-missing] [--update-golden] [--skip-golden]
//   --corpus DIR      the corpus (default: shared/corpus/audit beside the repository root, found with
//                     `git rev-parse`, never from the current directory; for a linked worktree also beside
//                     the main checkout)
//   --known FILE      accepted differences from go-libaudit, each with a reason (default auditd-known.json here)
//   --min-checks N    fewer checks than this fail the run (default 130; the corpus and the goldens give 138)
//   --allow-missing   outside CI only: a missing corpus or a missing laurel is a loud warning and exit 0
//                     instead of a failure (npm test passes it so a checkout without ../shared still runs
//                     the goldens); with CI=true it has no effect
//   --update-golden   rewrite the golden *.ndjson from the current bundle, then exit
//   --skip-golden     outside CI only: skip step 0 (vitest checks the goldens too, in golden.test.ts); this
//                     script's own tests use it to stay quick
// Environment: CI=true makes every "could not check" a failure; LAUREL=path runs that laurel binary
// (no apt-get install is attempted then).
// Exit: 0 all checks passed; 1 a check failed (a difference, too few checks, laurel wrote no output, a stale
// entry in the known list); 64 usage; 66 corpus missing or incomplete, or no bundle; 69 laurel unavailable.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { aptInstall } from "../apt.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const inCi = process.env.CI === "true";
const args = process.argv.slice(2);
const KNOWN_FLAGS = new Set(["--laurel", "--corpus", "--known", "--min-checks", "--allow-missing", "--update-golden", "--skip-golden"]);
const VALUE_FLAGS = new Set(["--corpus", "--known", "--min-checks"]);
for (let i = 0; i < args.length; i++) {
  if (!KNOWN_FLAGS.has(args[i])) usage(`unknown argument ${JSON.stringify(args[i])}`);
  if (VALUE_FLAGS.has(args[i]) && (++i >= args.length || args[i].startsWith("--"))) usage(`${args[i - 1]} needs a value`);
}
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const withLaurel = args.includes("--laurel");
const allowMissing = args.includes("--allow-missing") && !inCi;
const skipGolden = args.includes("--skip-golden") && !inCi;
const minChecks = Number(option("--min-checks") ?? 130);
if (!Number.isInteger(minChecks) || minChecks < 1) usage("--min-checks takes a whole number ≥ 1");

function usage(problem) {
  console.error(`conformance: ${problem} (usage: see the comment at the top of scripts/conformance/auditd.mjs)`);
  process.exit(64);
}

/** A run that cannot check something: a failure in CI and by default, a loud warning with --allow-missing. */
function cannotCheck(problem, code) {
  const banner = "!".repeat(78);
  console.error(`${banner}\nconformance: ${problem}\n${banner}`);
  if (allowMissing) {
    console.error("conformance: --allow-missing given (not CI): NOT a pass, only not a failure");
    return;
  }
  if (inCi) console.error("conformance: CI=true, so this fails the run");
  else console.error("conformance: failing; pass --allow-missing to only warn outside CI");
  process.exit(code);
}

/** The repository root from git (the script's own checkout, whatever the cwd), else the script's ../.. */
function repositoryRoots() {
  const r = spawnSync("git", ["rev-parse", "--show-toplevel", "--path-format=absolute", "--git-common-dir"], {
    cwd: here,
    encoding: "utf8",
  });
  if (r.status !== 0) return [resolve(here, "../..")];
  const [top, common] = r.stdout.trim().split("\n");
  // a linked worktree: its main checkout (the common .git's parent) has the shared folder beside it
  return [...new Set([top, dirname(common)])];
}

const roots = repositoryRoots();
const root = roots[0];
const corpusCandidates = option("--corpus") ? [resolve(option("--corpus"))] : roots.map((r) => join(r, "../shared/corpus/audit"));
const corpus = corpusCandidates.find((c) => existsSync(c));
const bin = join(root, "packages/auditd-parse/dist/auditd-parse.cjs");
const goldenDir = join(root, "packages/auditd-parse/test/golden");
const knownFile = resolve(option("--known") ?? join(here, "auditd-known.json"));

if (!existsSync(bin)) {
  console.error(`conformance: ${bin} missing (build it: node scripts/build.mjs auditd-parse)`);
  process.exit(66);
}

let failures = 0;
let checks = 0;
const fail = (what) => {
  failures++;
  console.log(`  FAIL ${what}`);
};
const check = (ok, what) => {
  checks++;
  if (!ok) fail(what);
  return ok;
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** auditd-parse over one file → its stdout, or a failure (never a stack trace). */
function runOurs(file, extra = []) {
  const r = spawnSync(process.execPath, [bin, ...extra, file], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) {
    fail(`auditd-parse ${file} exited ${r.status}: ${r.stderr.trim().split("\n")[0]}`);
    return undefined;
  }
  return r;
}

/** auditd-parse's NDJSON → events; a line that is not JSON is a failure of auditd-parse, named as such. */
function parseOurs(file, stdout) {
  try {
    return stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  } catch (error) {
    fail(`auditd-parse ${file} wrote invalid JSON: ${error.message}`);
    return [];
  }
}

/** auditd-parse over one file → events (records as parsed JSON). */
function ours(file) {
  const r = runOurs(file, ["-q"]);
  return r ? parseOurs(file, r.stdout).filter((e) => e.id !== null) : [];
}

// ---- 0. golden files -----------------------------------------------------------------------------------
// The project's own logs and auditd-parse's output for them, kept in the repository like laurel's
// src/testdata: an output change shows up as a diff of a checked-in file, with or without the corpus.
const goldenArgs = ["--passwd", join(goldenDir, "passwd"), "--group", join(goldenDir, "group")];
const goldenLogs = readdirSync(goldenDir)
  .filter((f) => f.endsWith(".log"))
  .sort();
if (args.includes("--update-golden")) {
  for (const f of goldenLogs) {
    const r = runOurs(join(goldenDir, f), goldenArgs);
    if (r) writeFileSync(join(goldenDir, f.replace(/\.log$/, ".ndjson")), r.stdout);
    console.log(`${r ? "wrote" : "FAILED"} ${f.replace(/\.log$/, ".ndjson")}`);
  }
  process.exit(failures === 0 ? 0 : 1);
}
if (!skipGolden) console.log(`golden files (${goldenDir})`);
if (!skipGolden && !check(goldenLogs.length > 0, `no golden logs in ${goldenDir}`)) process.exit(1);
for (const f of skipGolden ? [] : goldenLogs) {
  const want = join(goldenDir, f.replace(/\.log$/, ".ndjson"));
  const r = runOurs(join(goldenDir, f), goldenArgs);
  if (!r) continue;
  if (!check(existsSync(want), `${f}: no ${basename(want)} (write it: --update-golden)`)) continue;
  const wanted = readFileSync(want, "utf8").split("\n");
  const got = r.stdout.split("\n");
  const line = got.findIndex((l, i) => l !== wanted[i]);
  if (
    check(
      line === -1 && got.length === wanted.length,
      `${f}: output differs from ${basename(want)} at line ${line + 1} (an intended change: --update-golden, and review the diff)`,
    )
  )
    console.log(`  ok   ${f}: ${got.filter(Boolean).length} events`);
}

// ---- the corpus ------------------------------------------------------------------------------------------
if (corpus === undefined) {
  cannotCheck(`corpus not found (looked in ${corpusCandidates.join(", ")}): the conformance against other parsers did NOT run`, 66);
  console.log(`\n${checks} checks, ${failures} failed (corpus missing: not checked)`);
  // with the goldens skipped too, nothing at all was checked: never a pass
  process.exit(failures === 0 && checks > 0 ? 0 : 1);
}
console.log(`corpus ${corpus}`);
const laurelDir = join(corpus, "laurel/src-testdata");
const auparseDir = join(corpus, "go-libaudit/auparse-testdata");
const reasmDir = join(corpus, "go-libaudit/reassembler-testdata");
const missingParts = [laurelDir, auparseDir, join(reasmDir, "EXPECTED.json")].filter((p) => !existsSync(p));
if (missingParts.length > 0) {
  // an empty or partial folder is never "nothing to check": it is the wrong folder or a broken copy
  console.error(`conformance: corpus ${corpus} is incomplete: missing ${missingParts.join(", ")}`);
  process.exit(66);
}
const filesIn = (dir, test) =>
  readdirSync(dir)
    .filter((f) => test(f) && statSync(join(dir, f)).isFile())
    .sort();

// ---- 1a. laurel's expected JSON ------------------------------------------------------------------------
const LAUREL_NON_RECORD_KEYS = new Set(["ID", "NODE", "PPID", "PARENT_INFO", "CONTAINER_INFO", "SCRIPT", "LABELS", "ENV"]);

/** laurel's `{ saddr_fam=inet laddr=1.2.3.4 lport=80 }` / `{fam=netlink …}` → comparable parts. */
function laurelSaddr(text) {
  if (typeof text !== "string") return undefined;
  const kv = Object.fromEntries([...text.matchAll(/([\w-]+)=([^\s}]+)/g)].map((m) => [m[1], m[2]]));
  const family = kv.saddr_fam ?? kv.fam;
  if (!family) return undefined;
  const out = { family: family === "local" ? "unix" : family };
  if (kv.laddr) out.address = kv.laddr;
  if (kv.lport) out.port = Number(kv.lport);
  if (kv.path) out.path = kv.path;
  return out;
}

/**
 * Compares our events with laurel's (expected files or a live run). Returns differences as strings;
 * `known` classifies the ones that are laurel limitations documented in the README.
 */
function compareWithLaurel(label, our, theirs) {
  const diffs = [];
  const group = (list, id) => {
    const m = new Map();
    for (const e of list) m.set(id(e), [...(m.get(id(e)) ?? []), e]);
    return m;
  };
  const ourById = group(our, (e) => e.id);
  const theirById = group(theirs, (e) => e.ID);
  for (const [id, list] of ourById) {
    if (!theirById.has(id))
      for (const e of list) diffs.push({ id, kind: "only-ours", what: `event only in auditd-parse (${e.types.join(",")})` });
  }
  for (const [id, theirList] of theirById) {
    const ourList = ourById.get(id) ?? [];
    if (ourList.length === 0) {
      diffs.push({ id, kind: "missing", what: "event missing in auditd-parse" });
      continue;
    }
    if (theirList.length > ourList.length) {
      const split = theirList.map((t) => recordTypes(t).join(",")).join(" | ");
      diffs.push({
        id,
        kind: "split",
        what: `laurel split it into ${theirList.length} events (${split}); auditd-parse: ${ourList.map((e) => e.types.join(",")).join(" | ")}`,
      });
      continue;
    }
    // same id more than once (a user-space record sharing a kernel event's stamp): pair by record types
    for (const t of theirList) {
      const types = recordTypes(t);
      const e = ourList.find((o) => same([...new Set(o.types)].sort(), types)) ?? ourList[0];
      compareEvent(id, e, t, types, diffs);
    }
  }
  checks++;
  if (diffs.length === 0) console.log(`  ok   ${label}: ${theirs.length} events`);
  return diffs;
}

function recordTypes(t) {
  return Object.keys(t)
    .filter((k) => !LAUREL_NON_RECORD_KEYS.has(k))
    .sort();
}

/** laurel writes bytes outside printable ASCII in argv as %xx. */
function unpercent(s) {
  return typeof s === "string" ? s.replace(/%([0-9a-f]{2})/g, (_, h) => String.fromCharCode(Number.parseInt(h, 16))) : s;
}

function compareEvent(id, e, t, theirTypes, diffs) {
  const ourTypes = [...new Set(e.types)].sort();
  if (!same(theirTypes, ourTypes)) diffs.push({ id, kind: "types", what: `record types ${ourTypes} vs laurel ${theirTypes}` });
  const recordCount = (k) => (Array.isArray(t[k]) ? t[k].length : 1);
  for (const k of theirTypes) {
    if (k === "EXECVE" || k === "PROCTITLE") continue;
    const n = e.types.filter((x) => x === k).length;
    if (n !== recordCount(k)) diffs.push({ id, kind: "count", what: `${k}: ${n} records vs laurel ${recordCount(k)}` });
  }
  for (const [name, mine, theirs] of [
    ["argv", e.argv, t.EXECVE?.ARGV],
    ["proctitle", e.proctitle, t.PROCTITLE?.ARGV],
  ]) {
    if (!theirs || same(mine, theirs)) continue;
    const kind = same(mine, theirs.map(unpercent)) ? "percent" : "value";
    diffs.push({ id, kind, what: `${name} ${JSON.stringify(mine)} vs laurel ${JSON.stringify(theirs)}` });
  }
  if (typeof t.SYSCALL?.SYSCALL === "string" && t.SYSCALL.SYSCALL !== e.syscall) {
    diffs.push({ id, kind: "value", what: `syscall ${e.syscall} vs laurel ${t.SYSCALL.SYSCALL}` });
  }
  const sa = [t.SOCKADDR].flat()[0];
  const theirSa = laurelSaddr(sa?.SADDR);
  if (theirSa && e.sockaddr) {
    const mine = { family: e.sockaddr.family };
    if (theirSa.address !== undefined) mine.address = e.sockaddr.address;
    if (theirSa.port !== undefined) mine.port = e.sockaddr.port;
    if (theirSa.path !== undefined) mine.path = e.sockaddr.path;
    if (!same(mine, theirSa))
      diffs.push({ id, kind: "value", what: `sockaddr ${JSON.stringify(mine)} vs laurel ${JSON.stringify(theirSa)}` });
  }
}

/** A corpus file that is not JSON is a broken corpus: one line naming it, exit 66 (never a stack trace). */
function readJson(file, lines = false) {
  try {
    const text = readFileSync(file, "utf8");
    return lines
      ? text
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l))
      : JSON.parse(text);
  } catch (error) {
    console.error(`conformance: cannot read ${file}: ${error.message} (a broken corpus copy? copy it again)`);
    process.exit(66);
  }
}
const readJsonLines = (file) => readJson(file, true);

console.log(`laurel expected outputs (${laurelDir})`);
for (const f of filesIn(laurelDir, (f) => /^record-.*\.json$/.test(f))) {
  const txt = join(laurelDir, f.replace(/\.json$/, ".txt"));
  if (!check(existsSync(txt), `${f}: its log ${basename(txt)} is missing`)) continue;
  const diffs = compareWithLaurel(f, ours(txt), readJsonLines(join(laurelDir, f)));
  for (const d of diffs) fail(`${f} ${d.id}: ${d.what}`);
}

// ---- 1b. go-libaudit per-record goldens ---------------------------------------------------------------
/** go-libaudit renames some fields; these are the ones with a different name but the same meaning. */
const GO_NAMES = { result: "res" };
/**
 * Value differences from go-libaudit that are accepted, each with a reason, in a checked-in file: anything
 * else fails, and an entry that no longer occurs fails too (so the list cannot hide a later change).
 */
function loadKnown(file, section, keyField, key) {
  let list;
  try {
    list = JSON.parse(readFileSync(file, "utf8"))[section] ?? [];
  } catch (error) {
    console.error(`conformance: cannot read the known-differences file ${file}: ${error.message}`);
    process.exit(66);
  }
  const known = new Map();
  for (const [i, k] of (Array.isArray(list) ? list : [undefined]).entries()) {
    if (typeof k?.reason !== "string" || k.reason.trim() === "" || typeof k[keyField] !== "string") {
      console.error(`conformance: ${file}: ${section}[${i}] needs "${keyField}" and a non-empty "reason"`);
      process.exit(66);
    }
    known.set(key(k), { ...k, seen: false });
  }
  return known;
}
const knownGo = loadKnown(knownFile, "goLibaudit", "where", (k) => `${k.where} ${JSON.stringify(k.ours)} vs ${JSON.stringify(k.theirs)}`);
const knownNoEvents = loadKnown(knownFile, "laurelNoEvents", "file", (k) => k.file);
const staleKnown = (known) => {
  for (const [key, k] of known) if (!k.seen) fail(`${basename(knownFile)} lists a difference that no longer occurs: ${key} — remove it`);
};
const acceptedGo = [];
console.log(`go-libaudit per-record goldens (${auparseDir})`);
for (const f of filesIn(auparseDir, (f) => f.endsWith(".log.golden"))) {
  const golden = readJson(join(auparseDir, f));
  const events = ours(join(auparseDir, f.replace(/\.golden$/, "")));
  const records = [];
  for (const e of events) for (const r of e.records) records.push({ serial: e.serial, ...r });
  let compared = 0;
  let matched = 0;
  const before = failures;
  for (const g of golden) {
    if (g === null) continue; // a line go-libaudit itself could not parse
    const type = g.record_type.toUpperCase();
    const r = records.find((x) => x.serial === g.sequence && x.type === type);
    if (!check(r !== undefined, `${f}: record ${type} serial ${g.sequence} missing`)) continue;
    for (const [key, value] of Object.entries(g.data ?? {})) {
      const k = GO_NAMES[key] ?? key;
      if (!(k in r.fields) || typeof value !== "string") continue;
      compared++;
      const mine = [r.fields[k], r.raw?.[k]].filter((v) => typeof v === "string");
      if (mine.includes(value) || (value === "unset" && mine.includes("4294967295"))) {
        matched++;
        continue;
      }
      const where = `${f} ${type}:${g.sequence} ${k}`;
      const entry = knownGo.get(`${where} ${JSON.stringify(mine[0])} vs ${JSON.stringify(value)}`);
      if (entry) {
        entry.seen = true;
        acceptedGo.push(`${where}: ${JSON.stringify(mine[0])} vs go-libaudit ${JSON.stringify(value)} (${entry.reason})`);
      } else {
        fail(`${where}: ${JSON.stringify(mine)} vs go-libaudit ${JSON.stringify(value)} (not in ${basename(knownFile)})`);
      }
    }
  }
  checks++;
  if (failures === before) console.log(`  ok   ${f}: ${golden.length} records, ${matched}/${compared} shared fields equal`);
}
staleKnown(knownGo);

// ---- 1c. go-libaudit reassembler expectations ---------------------------------------------------------
console.log(`go-libaudit reassembler expectations (${reasmDir})`);
const expected = readJson(join(reasmDir, "EXPECTED.json"));
for (const [file, want] of Object.entries(expected)) {
  if (file.startsWith("_")) continue;
  const r = runOurs(join(reasmDir, file), ["-v"]);
  if (!r) continue;
  const events = parseOurs(file, r.stdout);
  const got = events.map((e) => [e.serial, e.records.length]);
  // go-libaudit counts every serial gap: that is our "skipped" (our "lost" counts gaps in a contiguous stream only)
  const lost = Number(/(\d+) serials skipped/.exec(r.stderr)?.[1] ?? -1);
  const ok = check(same(got, want.events), `${file}: events ${JSON.stringify(got)} vs ${JSON.stringify(want.events)}`);
  const okLost = check(lost === want.dropped, `${file}: lost ${lost} vs ${want.dropped}`);
  if (ok && okLost) console.log(`  ok   ${file}: ${got.length} events, ${lost} serials skipped`);
}

// ---- 2. live laurel ----------------------------------------------------------------------------------
/** Differences that come from laurel 0.5.1 itself (documented in packages/auditd-parse/README.md). */
const KNOWN_LAUREL = {
  "only-ours":
    "laurel emitted no event for these records (it drops lines it cannot parse, such as the old `user pid=… msg='PAM: …'` form, and events still open at end of input)",
  split: "laurel splits an event whose records arrive interleaved with, or after, other events' records",
  percent: "laurel writes control bytes in argv/proctitle as %xx; auditd-parse decodes them",
};

const laurel = process.env.LAUREL || "laurel";
function laurelAvailable() {
  const works = () => spawnSync(laurel, ["--version"]).status === 0;
  if (works()) return true;
  // an explicit LAUREL names the binary to test: installing another one would test something else
  if (process.env.LAUREL || process.getuid?.() !== 0) return false;
  return aptInstall(["laurel"]) && works();
}

/**
 * Runs laurel over a file offline: stdin in, its JSON log in a temp dir, no /proc enrichment. Returns its
 * events ([] when it wrote no log), or undefined (a failure) when laurel itself failed.
 */
function runLaurel(file, dir) {
  const config = join(dir, "laurel.toml");
  rmSync(join(dir, "out.log"), { force: true });
  writeFileSync(
    config,
    `directory = "${dir}"
user = "${process.getuid?.() === 0 ? "root" : ""}"
statusreport-period = 0
[auditlog]
file = "out.log"
size = 100000000000
generations = 2
[transform]
execve-argv = [ "array" ]
[translate]
universal = false
user-db = false
[enrich]
pid = false
execve-env = []
container = false
script = false
`,
  );
  const input = openSync(file, "r");
  try {
    const r = spawnSync(laurel, ["-c", config], { stdio: [input, "ignore", "pipe"], encoding: "utf8" });
    if (r.status !== 0) {
      fail(`laurel failed on ${basename(file)} (exit ${r.status}): ${(r.stderr ?? r.error?.message ?? "").trim().split("\n")[0]}`);
      return undefined;
    }
  } finally {
    closeSync(input);
  }
  const out = join(dir, "out.log");
  return existsSync(out) ? readJsonLines(out) : [];
}

if (withLaurel) {
  console.log("live laurel comparison");
  if (laurelAvailable()) {
    const dir = mkdtempSync(join(tmpdir(), "auditd-conformance-"));
    const files = [
      ...filesIn(laurelDir, (f) => f.endsWith(".txt")).map((f) => join(laurelDir, f)),
      ...filesIn(auparseDir, (f) => f.endsWith(".log")).map((f) => join(auparseDir, f)),
      ...filesIn(reasmDir, (f) => f.endsWith(".log")).map((f) => join(reasmDir, f)),
    ];
    const known = new Map();
    for (const file of files.sort()) {
      const our = ours(file);
      const theirs = runLaurel(file, dir);
      if (theirs === undefined) continue;
      // laurel must have said something before any difference can be blamed on laurel
      if (our.length > 0 && theirs.length === 0) {
        const entry = knownNoEvents.get(basename(file));
        if (entry) {
          entry.seen = true;
          console.log(`  known: laurel writes no event for ${basename(file)} (${entry.reason})`);
        } else fail(`${basename(file)}: laurel wrote no events (${our.length} from auditd-parse): nothing was compared`);
        continue;
      }
      const diffs = compareWithLaurel(basename(file), our, theirs);
      for (const d of diffs) {
        const why = KNOWN_LAUREL[d.kind];
        if (why) known.set(why, [...(known.get(why) ?? []), `${basename(file)} ${d.id}: ${d.what}`]);
        else fail(`${basename(file)} ${d.id}: ${d.what}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    staleKnown(knownNoEvents);
    for (const [why, list] of known) {
      console.log(`  known laurel difference (${why}): ${list.length}`);
      for (const l of list) console.log(`    ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`);
    }
  } else {
    cannotCheck(`laurel (${laurel}) is not available: the live laurel comparison did NOT run (apt-get install laurel)`, 69);
  }
}

if (acceptedGo.length) {
  console.log(`\naccepted differences from go-libaudit (${basename(knownFile)}): ${acceptedGo.length}`);
  for (const n of acceptedGo) console.log(`  ${n}`);
}
check(checks >= minChecks, `only ${checks} checks ran, fewer than the minimum ${minChecks}: the corpus is smaller than expected`);
console.log(`\n${checks} checks, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
