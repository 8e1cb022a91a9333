import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rotationOrder } from "../src/input";
import { serials, userCmd } from "./events-log";
import { runAuditdParse as run } from "./in-process";

/** T35 findings of the independent tester about inputs (N5, N6, N10, N12): what a user of the bin met. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "auditd-parse-t35-"));
}

/**
 * `sh -c script` with the CLI as "$1" (run by this node through tsx) and `args` after it. The data segment is
 * capped at 1 GiB (ulimit -d: Node's reserved address space is not counted, what it reads into memory is): a run
 * that reads a file without end then dies within seconds instead of taking the machine's memory.
 */
function shell(script: string, ...args: string[]) {
  return spawnSync("sh", ["-c", `ulimit -d 1048576; cli() { "$0" --import tsx "$CLI" "$@"; }; ${script}`, process.execPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, CLI, NO_COLOR: "1" },
    timeout: 60_000,
    killSignal: "SIGKILL",
  });
}

/**
 * One audit line compressed by each tool logrotate's compresscmd may name (made by xz 5.4, bzip2 1.0.8, zstd 1.5,
 * lz4 1.9 and pzstd, whose output starts with a skippable frame), and what the refusal says to run.
 */
const COMPRESSED = [
  {
    format: "xz",
    fix: "xz -dc",
    bytes:
      "/Td6WFoAAATm1rRGAgAhARYAAAB0L+Wj4ACJAHldADoeSkQDe0aiUZqRi3YSJp/tIE5KDrsSXWH2Op3772T/UIjFrn97bjZ/jpNgAWdMzrTJpTFUnOExHGwMod1KFnW1Uz3xX8myx+MiqaP0jdzsoFCbugIy0ylWbM1Pg/CtAVOTL5x+MHJDJv0TGUB96t/1tE/LfidhiAAAAAAAyRDjMnFB14gAAZUBigEAAPVGuDCxxGf7AgAAAAAEWVo=",
  },
  {
    format: "bzip2",
    fix: "bzip2 -dc",
    bytes:
      "QlpoOTFBWSZTWb75esoAAD9fgAgQUOHpkg4CGgC+p97gIAB1EUbUaDQAGgHqMjT1A1U9kyo/U2qbU9BAAaMRoyQSUqTQJHbhQYwyQLHLE21tAhfcQMPutWL779nn1ggK3wEWwZltwrcqSWgluaPPvjzkgZsvYpQhECTk0OORg4TQ6OXYqyByFZrZUs9KpwiSzZ/4u5IpwoSF98vWUA==",
  },
  {
    format: "zstd",
    fix: "zstd -dc",
    bytes:
      "KLUv/SSKvQMAkocaHVBtdcNGbFJLaCWiQmI5BrVjoB24leaQSMxskzIBAKWbGYv95ic1NXx/LKe5h2EiyMZOTmukp2NCZwknYWkKX8cSJfSNMEW9uVfqt8VU3/aSEShGVQdKFxWAbeO6o10aEA0jcVAszm8CAwMAWQldZbQHMAYo8zyP",
  },
  // pzstd: a skippable frame (its frame sizes) before the zstd frames
  { format: "zstd", fix: "zstd -dc", bytes: "UCpNGAQAAACEAAAAKLUv/QRYvQMAkocaHVBtdcNGbFJL" },
  {
    format: "lz4",
    fix: "lz4 -dc",
    bytes:
      "BCJNGGRAp4YAAADyDHR5cGU9VVNFUl9DTUQgbXNnPWF1ZGl0KDE3MAEA8ggxLjAwMDoxKTogcGlkPTEgdWlkPTAgYQcAUXNlcz0xNgDwMydjd2Q9Ii8iIGNtZD02QzczIGV4ZT0iL3Vzci9iaW4vc3VkbyIgdGVybWluYWw9cHRzLzAgcmVzPXN1Y2Nlc3MnCgAAAAAfFfeS",
  },
  // lz4 -l, the legacy format
  { format: "lz4", fix: "lz4 -dc", bytes: "AiFMGIYAAADyDHR5cGU9VQ==" },
] as const;

describe("N12: an xz, bzip2, zstd or lz4 log is an input that cannot be read, known by its first bytes", () => {
  it("one line naming the file, the format and the command that reads it; 66 alone, 65 beside a log that was read", async () => {
    const dir = tempDir();
    const plain = join(dir, "audit.log");
    writeFileSync(plain, `${userCmd(1)}\n`);
    for (const [i, { format, fix, bytes }] of COMPRESSED.entries()) {
      // named as logrotate's compresscmd leaves it, and with no suffix at all: the content decides
      for (const name of [`audit.log.${i + 1}.${format}`, `audit.log.${i + 1}`]) {
        const file = join(dir, name);
        writeFileSync(file, Buffer.from(bytes, "base64"));
        const said = `${file} is ${format}-compressed; auditd-parse reads plain and gzip logs (decompress it: ${fix} ${file} | auditd-parse)`;
        // read as one "unparsed" garbage line before, exit 0
        const alone = await run([file]);
        expect([alone.code, alone.stdout, alone.stderr], name).toEqual([66, "", `auditd-parse: ${said}\n`]);
        const both = await run([file, plain]);
        expect([both.code, serials(both.stdout), both.stderr.split("\n")[0]], name).toEqual([
          65,
          [1],
          `auditd-parse: warn: ${said}, skipped`,
        ]);
      }
    }
  });

  it("stdin, detect and -F say it too: detect does not pass over a log it never read", async () => {
    const dir = tempDir();
    const xz = join(dir, "audit.log-20240101");
    writeFileSync(xz, Buffer.from(COMPRESSED[0].bytes, "base64"));
    const piped = await run([], Buffer.from(COMPRESSED[1].bytes, "base64"));
    expect([piped.code, piped.stderr]).toEqual([
      66,
      "auditd-parse: stdin is bzip2-compressed; auditd-parse reads plain and gzip logs (decompress it: bzip2 -dc FILE | auditd-parse)\n",
    ]);
    const detect = await run(["detect", xz]);
    expect([detect.code, detect.stderr]).toEqual([66, expect.stringContaining(`${xz} is xz-compressed`)]);
    const followed = await run(["-F", xz]);
    expect([followed.code, followed.stderr]).toEqual([66, expect.stringContaining(`${xz} is xz-compressed`)]);
  });

  it("a log whose first line only starts like one of those magics is read as a log", async () => {
    const dir = tempDir();
    // "BZh9" alone is no bzip2 stream: its block magic (the digits of pi) must follow
    const file = join(dir, "audit.log");
    writeFileSync(file, `BZh9 ${userCmd(1)}\n${userCmd(2)}\n`);
    const r = await run([file]);
    expect([r.code, serials(r.stdout).slice(-1)]).toEqual([0, [2]]);
  });
});

describe("N5: logrotate dateformat names with dashes or a dot are read oldest first, before the live log", () => {
  it("`audit.log*` with dateformat -%Y-%m-%d or .%Y-%m-%d gives a timeline that never goes backwards", async () => {
    for (const [older, newer] of [
      ["audit.log-2024-01-01", "audit.log-2024-01-02"],
      ["audit.log.2024-01-01", "audit.log.2024-01-02"],
    ]) {
      const dir = join(tempDir(), "rot");
      mkdirSync(dir);
      const lines = (from: number) => `${[from, from + 1, from + 2].map(userCmd).join("\n")}\n`;
      writeFileSync(join(dir, older!), lines(1));
      writeFileSync(join(dir, newer!), lines(4));
      writeFileSync(join(dir, "audit.log"), lines(7));
      // a shell's glob order: the live file first
      const r = await run(["audit.log", older!, newer!].map((f) => join(dir, f)));
      expect([r.code, r.stderr, serials(r.stdout)], older).toEqual([0, "", [1, 2, 3, 4, 5, 6, 7, 8, 9]]);
    }
  });

  it("every date form by its date and time, whatever its separators; auditd's .N stay numbers", () => {
    expect(
      rotationOrder([
        "audit.log",
        "audit.log-2024-01-02-12",
        "audit.log.20240102",
        "audit.log-2024-01-01.gz",
        "audit.log.1",
        "audit.log-20240101-1704110400",
        "audit.log-20240101-1704067200",
        "audit.log_2024-01-01T13:00:00",
        "audit.log.2024-01-03",
        "audit.log.10",
      ]),
    ).toEqual([
      "audit.log.10",
      "audit.log.1",
      "audit.log-2024-01-01.gz",
      "audit.log-20240101-1704067200",
      "audit.log-20240101-1704110400",
      "audit.log_2024-01-01T13:00:00",
      "audit.log.20240102",
      "audit.log-2024-01-02-12",
      "audit.log.2024-01-03",
      "audit.log",
    ]);
  });
});

describe("N10: the same file given again as stdin is read once, with the one warning", () => {
  it("`f - < f`, `f /dev/stdin < f`, `- f < f`: one copy's events, no word of an out-of-order log", () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, `${[1, 2, 3].map(userCmd).join("\n")}\n`);
    for (const [script, said] of [
      ['cli "$1" - < "$1"', `stdin (-) is the same file as ${log}: read once`],
      ['cli "$1" /dev/stdin < "$1"', `stdin (/dev/stdin) is the same file as ${log}: read once`],
      ['cli "$1" /proc/self/fd/0 < "$1"', `stdin (/proc/self/fd/0) is the same file as ${log}: read once`],
      ['cli - "$1" < "$1"', `${log} is the same file as stdin (-): read once`],
    ] as const) {
      const r = shell(script, log);
      expect([r.status, serials(r.stdout), r.stderr], script).toEqual([0, [1, 2, 3], `auditd-parse: warn: ${said}\n`]);
    }
    // stdin from another file, or a pipe, is read as well
    writeFileSync(join(dir, "other.log"), `${userCmd(4)}\n`);
    const other = shell('cli "$1" - < "$2"', log, join(dir, "other.log"));
    expect([other.status, serials(other.stdout), other.stderr]).toEqual([0, [1, 2, 3, 4], ""]);
    const piped = shell('cat "$2" | cli "$1" -', log, join(dir, "other.log"));
    expect([piped.status, serials(piped.stdout), piped.stderr]).toEqual([0, [1, 2, 3, 4], ""]);
  }, 120_000);
});

describe("N6: a passwd, group, config or rule file that states size 0 but reads without end is refused at its bound", () => {
  it("/proc/self/pagemap by --passwd, --group, --config, $AUDITD_PARSE_CONFIG or --rules: one line, no run out of memory", () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, `${userCmd(1)}\n`);
    const config = join(dir, "config.yaml");
    writeFileSync(config, "passwd: /proc/self/pagemap\n");
    const pagemap = "/proc/self/pagemap";
    const over = (limit: number) => `is over the ${limit}-byte limit (it reads on past the size it states)`;
    for (const [script, status, line] of [
      ['cli --passwd /proc/self/pagemap "$1"', 78, `passwd file ${pagemap} ${over(16 << 20)}`],
      ['cli --group /proc/self/pagemap "$1"', 78, `group file ${pagemap} ${over(16 << 20)}`],
      ['cli --config "$2" "$1"', 78, `passwd file ${pagemap} ${over(16 << 20)}`],
      // core's config refusal words its own line (the size is what was read before the bound stopped it)
      ['cli --config /proc/self/pagemap "$1"', 78, "is more than 1048576 bytes, over the 1048576-byte (1 MiB) limit"],
      ['AUDITD_PARSE_CONFIG=/proc/self/pagemap cli "$1"', 78, "is more than 1048576 bytes, over the 1048576-byte (1 MiB) limit"],
      // its only rule file unread: no rule to run
      ['cli detect --rules /proc/self/pagemap "$1"', 66, `rule file ${pagemap} ${over(16 << 20)}: its rules are not run`],
    ] as const) {
      const r = shell(script, log, config);
      expect([r.status, r.stderr], script).toEqual([status, expect.stringContaining(line)]);
    }
  }, 180_000);
});
