#!/usr/bin/env node
// Conformance for auditd-parse against real logs from other parsers' test suites (../shared/corpus/audit):
//   1. expected outputs shipped with the corpus: laurel's record-*.json, go-libaudit's per-record goldens
//      and its reassembler expectations (events, record counts, lost events);
//   2. --laurel: runs Debian's laurel offline over every log (enrichment from /proc off) and compares
//      event by event: same events, same records, same argv/proctitle/syscall names/sockaddr.
// Usage: node scripts/conformance/auditd.mjs [--laurel] [--corpus DIR]
// Exit: 0 all checks passed, 1 a difference that is not a documented laurel limitation, 66 no bundle.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { aptInstall } from "../apt.mjs";

const root = new URL("../..", import.meta.url).pathname;
const args = process.argv.slice(2);
const corpus = args.includes("--corpus") ? args[args.indexOf("--corpus") + 1] : join(root, "../shared/corpus/audit");
const withLaurel = args.includes("--laurel");
const bin = join(root, "packages/auditd-parse/dist/auditd-parse.cjs");

if (!existsSync(corpus)) {
  console.log(`conformance: corpus ${corpus} not found — skipped`);
  process.exit(0);
}
if (!existsSync(bin)) {
  console.error(`conformance: ${bin} missing (build it: node scripts/build.mjs auditd-parse)`);
  process.exit(66);
}

let failures = 0;
let checks = 0;
const notes = [];
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

/** auditd-parse over one file → events (records as parsed JSON). */
function ours(file, extra = []) {
  const r = spawnSync(process.execPath, [bin, "-q", ...extra, file], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`auditd-parse ${file} exited ${r.status}: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.id !== null);
}

// ---- 1a. laurel's expected JSON ------------------------------------------------------------------------
const laurelDir = join(corpus, "laurel/src-testdata");
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

function readJsonLines(file) {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

if (existsSync(laurelDir)) {
  console.log(`laurel expected outputs (${laurelDir})`);
  for (const f of readdirSync(laurelDir)
    .filter((f) => /^record-.*\.json$/.test(f))
    .sort()) {
    const txt = join(laurelDir, f.replace(/\.json$/, ".txt"));
    if (!existsSync(txt)) continue;
    const diffs = compareWithLaurel(f, ours(txt), readJsonLines(join(laurelDir, f)));
    for (const d of diffs) fail(`${f} ${d.id}: ${d.what}`);
  }
}

// ---- 1b. go-libaudit per-record goldens ---------------------------------------------------------------
const goldenDir = join(corpus, "go-libaudit/auparse-testdata");
/** go-libaudit renames some fields; these are the ones with a different name but the same meaning. */
const GO_NAMES = { result: "res" };
if (existsSync(goldenDir)) {
  console.log(`go-libaudit per-record goldens (${goldenDir})`);
  for (const f of readdirSync(goldenDir)
    .filter((f) => f.endsWith(".log.golden"))
    .sort()) {
    const golden = JSON.parse(readFileSync(join(goldenDir, f), "utf8"));
    const events = ours(join(goldenDir, f.replace(/\.golden$/, "")));
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
        if (mine.includes(value) || (value === "unset" && mine.includes("4294967295"))) matched++;
        else notes.push(`${f} ${type}:${g.sequence} ${k}: ${JSON.stringify(mine)} vs go-libaudit ${JSON.stringify(value)}`);
      }
    }
    if (failures === before) console.log(`  ok   ${f}: ${golden.length} records, ${matched}/${compared} shared fields equal`);
  }
}

// ---- 1c. go-libaudit reassembler expectations ---------------------------------------------------------
const reasmDir = join(corpus, "go-libaudit/reassembler-testdata");
if (existsSync(join(reasmDir, "EXPECTED.json"))) {
  console.log(`go-libaudit reassembler expectations (${reasmDir})`);
  const expected = JSON.parse(readFileSync(join(reasmDir, "EXPECTED.json"), "utf8"));
  for (const [file, want] of Object.entries(expected)) {
    if (file.startsWith("_")) continue;
    const r = spawnSync(process.execPath, [bin, "-v", join(reasmDir, file)], { encoding: "utf8" });
    const events = r.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const got = events.map((e) => [e.serial, e.records.length]);
    // go-libaudit counts every serial gap: that is our "skipped" (our "lost" counts gaps in a contiguous stream only)
    const lost = Number(/(\d+) serials skipped/.exec(r.stderr)?.[1] ?? -1);
    const ok = check(same(got, want.events), `${file}: events ${JSON.stringify(got)} vs ${JSON.stringify(want.events)}`);
    const okLost = check(lost === want.dropped, `${file}: lost ${lost} vs ${want.dropped}`);
    if (ok && okLost) console.log(`  ok   ${file}: ${got.length} events, ${lost} serials skipped`);
  }
}

// ---- 2. live laurel ----------------------------------------------------------------------------------
/** Differences that come from laurel 0.5.1 itself (documented in packages/auditd-parse/README.md). */
const KNOWN_LAUREL = {
  "only-ours":
    "laurel emitted no event for these records (it drops lines it cannot parse, such as the old `user pid=… msg='PAM: …'` form, and events still open at end of input)",
  split: "laurel splits an event whose records arrive interleaved with, or after, other events' records",
  percent: "laurel writes control bytes in argv/proctitle as %xx; auditd-parse decodes them",
};

function knownLaurelLimitation(d) {
  return KNOWN_LAUREL[d.kind];
}

function ensureLaurel() {
  if (spawnSync("laurel", ["--version"]).status === 0) return true;
  if (process.getuid?.() !== 0) {
    console.log("laurel is not installed: run as root to install it, or: apt-get install laurel");
    return false;
  }
  return aptInstall(["laurel"]);
}

/** Runs laurel over a file offline: stdin in, its JSON log in a temp dir, no /proc enrichment. */
export function runLaurel(file, dir) {
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
  const r = spawnSync("sh", ["-c", `exec laurel -c "${config}" < "${file}"`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`laurel failed on ${file}: ${r.stderr.trim()}`);
  return join(dir, "out.log");
}

if (withLaurel) {
  console.log("live laurel comparison");
  if (ensureLaurel()) {
    const dir = mkdtempSync(join(tmpdir(), "auditd-conformance-"));
    const files = [];
    if (existsSync(laurelDir)) for (const f of readdirSync(laurelDir)) if (f.endsWith(".txt")) files.push(join(laurelDir, f));
    if (existsSync(goldenDir)) for (const f of readdirSync(goldenDir)) if (f.endsWith(".log")) files.push(join(goldenDir, f));
    if (existsSync(reasmDir)) for (const f of readdirSync(reasmDir)) if (f.endsWith(".log")) files.push(join(reasmDir, f));
    const known = new Map();
    for (const file of files.sort()) {
      const out = runLaurel(file, dir);
      const theirs = existsSync(out) ? readJsonLines(out) : [];
      const diffs = compareWithLaurel(basename(file), ours(file), theirs);
      for (const d of diffs) {
        const why = knownLaurelLimitation(d);
        if (why) known.set(why, [...(known.get(why) ?? []), `${basename(file)} ${d.id}: ${d.what}`]);
        else fail(`${basename(file)} ${d.id}: ${d.what}`);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    for (const [why, list] of known) {
      console.log(`  known laurel difference (${why}): ${list.length}`);
      for (const l of list) console.log(`    ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`);
    }
  } else {
    notes.push("live laurel comparison skipped: laurel not installed");
  }
}

if (notes.length) {
  console.log(`\nfield differences from go-libaudit's normalisation (not failures): ${notes.length}`);
  for (const n of notes.slice(0, 40)) console.log(`  ${n}`);
}
console.log(`\n${checks} checks, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);
