import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { corpusLogs } from "./ausearch-diff";

/**
 * Fuzz of the whole CLI: corpus lines (and the project's own samples) mutated — bytes flipped, invalid UTF-8,
 * huge numbers, quotes/braces/0x1d/NUL inserted, keys repeated, stamps swapped, lines cut — plus 5 MB lines.
 * Whatever the input: exit 0, every stdout line valid JSON and schema-valid, peak RSS bounded. Seeded: a
 * failure names its seed. A short run here; AUDITD_FUZZ_LINES=200000 AUDITD_FUZZ_SEED=n for a long one.
 */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const SEED = Number(process.env.AUDITD_FUZZ_SEED ?? 16);
const LINES = Number(process.env.AUDITD_FUZZ_LINES ?? 4000);
/** Peak RSS allowed, MB: node + tsx (the test runs the source) + the 4 MiB line cap's buffers. */
const MAX_RSS_MB = 400;

const SAMPLES = [
  'type=SYSCALL msg=audit(1700000001.000:12): arch=c000003e syscall=59 success=yes exit=0 a0=55d a1=55e a2=55f a3=0 items=2 ppid=900 pid=901 auid=1000 uid=1000 gid=1000 euid=1000 ses=7 tty=pts0 comm="cat" exe="/usr/bin/cat" subj=unconfined_u:unconfined_r:unconfined_t:s0 key="exec"',
  'type=EXECVE msg=audit(1700000001.000:12): argc=3 a0="cat" a1=6D79206E6F7465732E747874 a2_len=4 a2[0]=6162 a2[1]=6364',
  'type=CWD msg=audit(1700000001.000:12): cwd="/home/alice"',
  'type=PATH msg=audit(1700000001.000:12): item=0 name="/usr/bin/cat" inode=12 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0',
  "type=PROCTITLE msg=audit(1700000001.000:12): proctitle=636174006D79206E6F7465732E747874",
  "type=EOE msg=audit(1700000001.000:12):",
  "type=SOCKADDR msg=audit(1700000002.000:13): saddr=020001BB5DB8D8220000000000000000\x1dSADDR={ saddr_fam=inet laddr=93.184.216.34 lport=443 }",
  'type=USER_LOGIN msg=audit(1700000000.000:10): pid=900 uid=0 auid=1000 ses=7 msg=\'op=login id=1000 exe="/usr/sbin/sshd" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success\'\x1dUID="root" AUID="alice" ID="alice"',
  'type=AVC msg=audit(1700000003.000:14): avc:  denied  { read write } for  pid=5 comm="x" name="f" scontext=a:b:c:s0 tcontext=d:e:f:s0 tclass=file permissive=0',
  'type=USER_AVC msg=audit(1700000003.000:16): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0 msg=\'avc:  denied  { start } for auid=1000 uid=0 gid=0 path="/usr/lib/systemd/system/foo.service" cmdline="" scontext=system_u:system_r:init_t:s0 tcontext=system_u:object_r:systemd_unit_file_t:s0 tclass=service permissive=1  exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?\'',
  'node=web1 type=CONFIG_CHANGE msg=audit(1700000004.000:15): auid=0 ses=1 op="add_rule" key=(null) list=4 res=1',
];

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n) as number;
  };
}

const INVALID_UTF8 = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf], [0x80]];
const HUGE = [
  "99999999999999999999999",
  "18446744073709551616",
  "4294967296",
  "-1",
  "1e400",
  "253402300800",
  "9007199254740993",
  "0000000000000000001",
];
const NOISE = ["'", '"', "{", "}", "\x1d", "\0", "(", ")", "=", " ", "\r", ",", "msg='", "\x1b[2J", "%ff", "\\"];

function mutate(line: Buffer, pick: (n: number) => number, stamps: string[]): Buffer {
  let b = line;
  for (let k = 1 + pick(3); k > 0; k--) {
    const at = pick(b.length + 1);
    switch (pick(8)) {
      case 0: {
        const copy = Buffer.from(b);
        if (copy.length > 0) copy[pick(copy.length)] = pick(256);
        b = copy;
        break;
      }
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(INVALID_UTF8[pick(INVALID_UTF8.length)]!), b.subarray(at)]);
        break;
      case 2: {
        const text = b.toString("latin1");
        const runs = [...text.matchAll(/\d+/g)];
        if (runs.length === 0) break;
        const run = runs[pick(runs.length)]!;
        b = Buffer.from(text.slice(0, run.index) + HUGE[pick(HUGE.length)] + text.slice(run.index! + run[0].length), "latin1");
        break;
      }
      case 3:
        b = b.subarray(0, at);
        break;
      case 4: {
        const text = b.toString("latin1");
        const pairs = [...text.matchAll(/ [a-z_]+=\S+/g)];
        if (pairs.length > 0) b = Buffer.from(text + pairs[pick(pairs.length)]![0], "latin1");
        break;
      }
      case 5:
        b = Buffer.concat([b.subarray(0, at), Buffer.from(NOISE[pick(NOISE.length)]!, "latin1"), b.subarray(at)]);
        break;
      case 6:
        b = Buffer.from(b.toString("latin1").replace(/audit\([^)]*\)/, `audit(${stamps[pick(stamps.length)]})`), "latin1");
        break;
      default:
        // hex of a random length and case where a value was
        b = Buffer.from(b.toString("latin1").replace(/="[^"]*"/, `=${"A0b1C2d3".repeat(pick(5))}${pick(2) ? "F" : ""}`), "latin1");
    }
  }
  return b;
}

function corpusLines(): Buffer[] {
  const dir = join(new URL("../../../..", import.meta.url).pathname, "shared/corpus/audit");
  const alt = "/work/shared/corpus/audit";
  const root = existsSync(dir) ? dir : existsSync(alt) ? alt : undefined;
  if (root === undefined) return [];
  const lines: Buffer[] = [];
  for (const file of corpusLogs(root)) {
    const bytes = readFileSync(file);
    let start = 0;
    for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
      if (nl > start) lines.push(bytes.subarray(start, nl));
      start = nl + 1;
    }
  }
  return lines;
}

/** Runs the CLI on a file: exit code, stdout, stderr and peak RSS (VmHWM, polled from /proc). */
function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; rssMb: number }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    let rssKb = 0;
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) rssKb = Math.max(rssKb, Number(m[1]));
      } catch {
        // exited between polls
      }
    }, 20);
    child.on("close", (code) => {
      clearInterval(poll);
      resolve({ code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), rssMb: rssKb / 1024 });
    });
  });
}

describe("fuzz: mutated real logs, invalid UTF-8, huge numbers, 5 MB lines", () => {
  it(`seed ${SEED}, ${LINES} lines: exit 0, valid NDJSON, schema-valid events, bounded RSS`, { timeout: 600_000 }, async () => {
    const pick = rng(SEED);
    const base = [...SAMPLES.map((l) => Buffer.from(l, "latin1")), ...corpusLines()];
    const stamps = base.map((l) => /audit\(([^)]*)\)/.exec(l.toString("latin1"))?.[1]).filter((s): s is string => s !== undefined);
    const lines: Buffer[] = [];
    for (let i = 0; i < LINES; i++) lines.push(mutate(base[pick(base.length)]!, pick, stamps));
    // runaway lines: one 5 MB hex argument (cut at 4 MiB), one of a million tiny pairs, one of invalid UTF-8
    lines.splice(pick(lines.length), 0, Buffer.from(`type=EXECVE msg=audit(1700000009.000:99): argc=1 a0=${"41".repeat(2_500_000)}`));
    lines.splice(pick(lines.length), 0, Buffer.from(`type=PATH msg=audit(1700000009.000:100): ${"a=1 ".repeat(1_250_000)}`));
    lines.splice(pick(lines.length), 0, Buffer.alloc(5_000_000, 0xff));
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-fuzz-"));
    const file = join(dir, "fuzz.log");
    writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));

    const r = await runCli([file]);
    const why = `seed ${SEED} (re-run: AUDITD_FUZZ_SEED=${SEED}), input ${file}`;
    expect(r.code, `${why}: ${r.stderr.slice(0, 2000)}`).toBe(0);
    expect(r.stderr, why).not.toMatch(/internal error|\n\s+at /);
    expect(r.rssMb, why).toBeLessThan(MAX_RSS_MB);

    const schema = JSON.parse(readFileSync(new URL("../schema/event.schema.json", import.meta.url), "utf8"));
    const ajv = new Ajv2020({ strict: false, allErrors: false });
    addFormats(ajv);
    const valid = ajv.compile(schema);
    const out = r.stdout.split("\n");
    expect(out.pop(), why).toBe("");
    let events = 0;
    for (const line of out) {
      const event = JSON.parse(line);
      if (!valid(event)) throw new Error(`${why}: schema: ${ajv.errorsText(valid.errors)} in ${line.slice(0, 500)}`);
      events++;
    }
    // nothing lost: every input line is in a record or an unparsed event
    expect(events, why).toBeGreaterThan(LINES / 10);
  });
});
