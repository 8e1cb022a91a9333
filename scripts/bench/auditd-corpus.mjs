// Benchmark logs assembled from every sample log of the shared corpus (laurel's and go-libaudit's test
// records), so every record shape the conformance suite knows is in the benchmark in proportion. The corpus
// is read at run time from shared/corpus/audit beside the repository (never copied into it); each event is
// re-stamped with a new serial and time, and the corpus is repeated until the log has the size asked for.
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const GS = "\x1d";
/** `node=… ` prefix, then anything up to the stamp (a syslog-wrapped line has its own prefix). */
const STAMP = /audit\((\d+)\.(\d+):(\d+)\)/;

/**
 * shared/corpus/audit beside the repository root; for a linked worktree also beside the main checkout (as
 * scripts/conformance/auditd.mjs finds it). Undefined when there is none.
 */
export function corpusDir() {
  const r = spawnSync("git", ["rev-parse", "--show-toplevel", "--path-format=absolute", "--git-common-dir"], {
    cwd: here,
    encoding: "utf8",
  });
  const roots =
    r.status === 0
      ? r.stdout
          .trim()
          .split("\n")
          .map((p, i) => (i === 0 ? p : dirname(p)))
      : [resolve(here, "../..")];
  for (const root of roots) {
    const dir = join(root, "..", "shared", "corpus", "audit");
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/** Every sample log (`*.log`, `*.txt`) under dir, in a stable order; expected outputs are not logs. */
function sampleLogs(dir) {
  const files = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sampleLogs(path));
    else if (/\.(log|txt)$/.test(name)) files.push(path);
  }
  return files;
}

/** The corpus's audit lines, file by file (lines without an audit stamp, such as a README, left out). */
function corpusLines(dir) {
  return sampleLogs(dir).map((file) =>
    readFileSync(file, "latin1")
      .split("\n")
      .map((line) => line.replace(/\r$/, ""))
      .filter((line) => STAMP.test(line)),
  );
}

// ENRICHED names auditd would add (log_format=ENRICHED): uid/gid fields by name, arch and a few syscalls
const ID_FIELDS = new Set(["uid", "auid", "euid", "suid", "fsuid", "ouid", "gid", "egid", "sgid", "fsgid", "ogid", "obj_uid", "obj_gid"]);
const NAMES = new Map([
  ["0", "root"],
  ["1000", "alice"],
  ["1001", "bob"],
  ["4294967295", "unset"],
]);
const ARCHES = new Map([
  ["c000003e", "x86_64"],
  ["40000003", "i386"],
  ["c00000b7", "aarch64"],
]);
const SYSCALLS = new Map([
  ["59", "execve"],
  ["42", "connect"],
  ["43", "accept"],
  ["49", "bind"],
  ["2", "open"],
  ["257", "openat"],
  ["56", "clone"],
  ["62", "kill"],
  ["101", "ptrace"],
]);

/**
 * The ENRICHED part auditd appends to a raw record (after 0x1d, UPPERCASE names): the names of its uid/gid
 * fields, ARCH and SYSCALL. A record already ENRICHED, or with nothing to name, is left as it is.
 */
function enrich(line) {
  if (line.includes(GS)) return line;
  const parts = [];
  for (const m of line.matchAll(/ ([a-z_]+)=([^ ]+)/g)) {
    const [, key, value] = m;
    if (ID_FIELDS.has(key) && /^\d+$/.test(value)) parts.push(`${key.toUpperCase()}="${NAMES.get(value) ?? `user${value}`}"`);
    else if (key === "arch" && ARCHES.has(value)) parts.push(`ARCH=${ARCHES.get(value)}`);
    else if (key === "syscall" && SYSCALLS.has(value)) parts.push(`SYSCALL=${SYSCALLS.get(value)}`);
  }
  return parts.length === 0 ? line : `${line}${GS}${parts.join(" ")}`;
}

/**
 * Writes a log of about `mb` MiB: the corpus over and over, each of its events (node and stamp) given a new
 * serial and a time 10 ms after the one before, records in their original order (interleaving and events
 * without EOE included). With `enriched`, every raw record gets the ENRICHED part auditd would add.
 */
export async function corpusLog(path, mb, { enriched = false, dir = corpusDir() } = {}) {
  if (dir === undefined) throw new Error("shared/corpus/audit is not beside the repository: the corpus benchmark log needs it");
  const files = corpusLines(dir);
  const out = createWriteStream(path);
  const limit = mb * 1048576;
  let written = 0;
  // serials count per node, as each host's kernel counts its own
  const serials = new Map();
  let ms = 1_760_000_000_000;
  let batch = [];
  const flush = async () => {
    // latin1 both ways: the corpus's bytes go out exactly as read, UTF-8 or not
    if (!out.write(`${batch.join("\n")}\n`, "latin1")) await once(out, "drain");
    batch = [];
  };
  while (written < limit) {
    for (const lines of files) {
      // per file: the same original event (node + stamp) keeps one new stamp
      const stamps = new Map();
      for (const line of lines) {
        const m = STAMP.exec(line);
        const node = /^node=(\S+) /.exec(line)?.[1] ?? "";
        const key = `${node} ${m[0]}`;
        let stamp = stamps.get(key);
        if (stamp === undefined) {
          ms += 10;
          const serial = (serials.get(node) ?? 1000) + 1;
          serials.set(node, serial);
          stamp = `audit(${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial})`;
          stamps.set(key, stamp);
        }
        const restamped = line.replace(STAMP, stamp);
        const record = enriched ? enrich(restamped) : restamped;
        batch.push(record);
        written += Buffer.byteLength(record, "latin1") + 1;
        if (batch.length >= 4096) await flush();
      }
      if (written >= limit) break;
    }
  }
  await flush();
  out.end();
  await once(out, "finish");
}

/**
 * The grouping's worst case: 7 nodes writing records under one stamp, never an EOE, to about `mb` MiB. Every
 * record joins one of 7 events that never complete by themselves; auditd-parse must write them in bounded
 * parts (README: Events) rather than hold the whole input.
 */
export async function sameStampLog(path, mb) {
  const out = createWriteStream(path);
  const limit = mb * 1048576;
  let written = 0;
  for (let item = 0; written < limit; item++) {
    const lines = [];
    for (let node = 0; node < 7; node++)
      lines.push(
        `node=host${node} type=PATH msg=audit(1760000000.000:1): item=${item} name="/usr/lib/x86_64-linux-gnu/lib${item}.so" inode=${item} dev=fd:01 mode=0100644 ouid=0 ogid=0 nametype=NORMAL`,
      );
    const text = `${lines.join("\n")}\n`;
    written += text.length;
    if (!out.write(text)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}
