import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateRawSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { GzipDataError, gunzipMembers } from "../src/gzip-members";
import { runAuditdParse as run } from "./in-process";

/** gzip read as gzip(1) and zcat read it: members one after another, padding, trailing bytes, headers' optional parts. */

const BUNDLE = new URL("../dist/auditd-parse.cjs", import.meta.url).pathname;
const LOG = readFileSync(new URL("golden/exec.log", import.meta.url));
/** Enough lines that zlib's 64 KiB output chunks and the reader's pieces both cut them many times. */
const BIG = Buffer.concat(
  Array.from({ length: 3000 }, (_, i) =>
    Buffer.from(
      `type=SYSCALL msg=audit(1767225600.${String(i % 1000).padStart(3, "0")}:${i + 1}): arch=c000003e syscall=59 success=yes exit=0 pid=${i} comm="c${i}"\n`,
    ),
  ),
);

async function* pieces(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function gunzip(bytes: Buffer, size = 64 * 1024): Promise<{ out: Buffer; error?: GzipDataError | Error }> {
  const parts: Buffer[] = [];
  try {
    for await (const b of gunzipMembers(pieces(bytes, size)[Symbol.asyncIterator](), 64 * 1024)) parts.push(Buffer.from(b));
    return { out: Buffer.concat(parts) };
  } catch (error) {
    return { out: Buffer.concat(parts), error: error as Error };
  }
}

/** A member written by hand with every optional header part: FEXTRA, FNAME, FCOMMENT and FHCRC (RFC 1952 2.3.1). */
function fullHeaderMember(data: Buffer): Buffer {
  const head = Buffer.from([0x1f, 0x8b, 8, 4 | 8 | 16 | 2, 0, 0, 0, 0, 0, 3]);
  const extra = Buffer.from([4, 0, 0x41, 0x50, 0, 0]);
  const parts = [head, extra, Buffer.from("audit.log\0"), Buffer.from("rotated\0")];
  const hcrc = Buffer.alloc(2);
  hcrc.writeUInt16LE(crc32(Buffer.concat(parts)) & 0xffff);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([...parts, hcrc, deflateRawSync(data), trailer]);
}

describe("gzip members", () => {
  it("reads members one after another (`cat a.gz b.gz`), at every size of input piece", async () => {
    // 1 and 7 bytes put a member's end, its trailer and the next header across pieces; the member's length less
    // its trailer puts a deflate end exactly at a piece's end
    const small = Buffer.concat([gzipSync(LOG), fullHeaderMember(LOG)]);
    for (const size of [1, 7, gzipSync(LOG).length - 8]) {
      const r = await gunzip(small, size);
      expect([r.error, r.out.equals(Buffer.concat([LOG, LOG]))], `pieces of ${size}`).toEqual([undefined, true]);
    }
    const big = Buffer.concat([gzipSync(BIG), gzipSync(LOG), fullHeaderMember(BIG)]);
    for (const size of [4096, gzipSync(BIG).length - 8, gzipSync(BIG).length, 64 * 1024, big.length]) {
      const r = await gunzip(big, size);
      expect([r.error, r.out.equals(Buffer.concat([BIG, LOG, BIG]))], `pieces of ${size}`).toEqual([undefined, true]);
    }
  }, 60_000);

  it("ignores zero bytes after the last member (padding), as zcat does", async () => {
    const r = await gunzip(Buffer.concat([gzipSync(BIG), Buffer.alloc(1000)]), 333);
    expect([r.error, r.out.equals(BIG)]).toEqual([undefined, true]);
  });

  it("reads every line before other trailing bytes, then says how many it did not read (T28 #7: the last 64 KiB were lost)", async () => {
    for (const size of [5, 64 * 1024]) {
      const r = await gunzip(Buffer.concat([gzipSync(BIG), Buffer.from("garbage!"), Buffer.alloc(4)]), size);
      expect(r.out.equals(BIG), `pieces of ${size}`).toBe(true);
      expect([r.error?.constructor, (r.error as GzipDataError).kind, r.error?.message]).toEqual([
        GzipDataError,
        "trailing",
        "12 byte(s) after the end of its gzip data are not gzip, not read",
      ]);
    }
  });

  it("counts every byte after the gzip data when zero bytes come before other ones (T29 #1: 70,004 were said 4,792)", async () => {
    for (const [zeros, size] of [
      [2, 64 * 1024],
      [70_000, 64 * 1024],
      [131_074, 4096],
      [3, 1],
    ] as const) {
      const r = await gunzip(Buffer.concat([gzipSync(BIG), Buffer.alloc(zeros), Buffer.from("junk")]), size);
      expect([r.out.equals(BIG), r.error?.message], `${zeros} zeros, pieces of ${size}`).toEqual([
        true,
        `${zeros + 4} byte(s) after the end of its gzip data are not gzip, not read`,
      ]);
    }
  });

  it("ends with the input's own error when reading it fails inside a member, not waiting for data forever", async () => {
    const gz = gzipSync(BIG);
    async function* failing(): AsyncGenerator<Buffer> {
      yield gz.subarray(0, 1000);
      throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
    }
    const parts: Buffer[] = [];
    const read = (async () => {
      for await (const b of gunzipMembers(failing(), 64 * 1024)) parts.push(b);
    })();
    await expect(read).rejects.toMatchObject({ code: "EIO" });
  });

  it("tells a truncated member and a CRC that does not match from the data read before", async () => {
    const gz = gzipSync(BIG);
    const cut = await gunzip(gz.subarray(0, gz.length - 3));
    expect([(cut.error as GzipDataError).kind, cut.out.equals(BIG)]).toEqual(["truncated", true]);
    const midData = await gunzip(gz.subarray(0, gz.length >> 1));
    expect([(midData.error as GzipDataError).kind, midData.error?.message]).toEqual(["truncated", "the input ends inside a gzip member"]);
    expect(BIG.subarray(0, midData.out.length).equals(midData.out)).toBe(true);
    const badCrc = Buffer.from(gz);
    badCrc[badCrc.length - 8]! ^= 0xff;
    const crc = await gunzip(badCrc);
    expect([(crc.error as GzipDataError).kind, crc.error?.message]).toEqual(["corrupt", "a gzip member's CRC does not match its data"]);
    const header = await gunzip(gz.subarray(0, 6));
    expect((header.error as GzipDataError).kind).toBe("truncated");
  });
});

describe("T28 #7: a rotated log with bytes after its gzip data", () => {
  it("writes every event of the gzip data, warns with the count of bytes not read, and exits 65", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-gz-trailing-"));
    const file = join(dir, "audit.log.1.gz");
    const junk = Buffer.from([0x89, ...Buffer.from("junk appended after rotation\n")]);
    writeFileSync(file, Buffer.concat([gzipSync(BIG), junk]));
    const plain = await run(["-"], BIG);
    const r = await run([file]);
    expect(r.stdout).toBe(plain.stdout);
    expect(r.code).toBe(65);
    expect(r.stderr.split("\n")[0]).toBe(
      `auditd-parse: warn: ${file}: ${junk.length} byte(s) after the end of its gzip data are not gzip, not read (the ${BIG.length} bytes before it were read)`,
    );
    const piped = await run([], Buffer.concat([gzipSync(BIG), Buffer.from("junk")]));
    expect([piped.code, piped.stdout]).toEqual([65, plain.stdout]);
  });

  it("names a corrupt block in words, not zlib's code (T29 #3)", async () => {
    const stored = Buffer.from(gzipSync(LOG, { level: 0 }));
    stored[14]! ^= 0xff; // the first stored block's NLEN no longer LEN's complement (RFC 1951 3.2.4)
    const r = await run([], stored);
    expect([r.code, r.stdout, r.stderr.split("\n")[0]]).toEqual([
      66,
      "",
      "auditd-parse: -: corrupt gzip data: invalid stored block lengths (check the file or decompress it by hand)",
    ]);
  });
});

describe("T29 #4: -F on a gzip file", () => {
  it("refuses it in one line, exit 66 (was its compressed bytes read as one malformed line, then polled forever)", () => {
    const file = join(mkdtempSync(join(tmpdir(), "auditd-parse-gz-follow-")), "audit.log.1.gz");
    writeFileSync(file, gzipSync(LOG));
    const { NODE_OPTIONS: _workspaceConditions, ...env } = process.env;
    const r = spawnSync(process.execPath, [BUNDLE, "-F", file], { encoding: "utf8", env, timeout: 20_000 });
    expect([r.status, r.stdout, r.stderr]).toEqual([
      66,
      "",
      `auditd-parse: ${file} is gzip: --follow reads a plain log as it grows (read it without -F: auditd-parse ${file})\n`,
    ]);
  }, 30_000);
});
