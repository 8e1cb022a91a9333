import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { createReadStream, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IoError } from "@opsguard/core/errors";
import { testIO } from "@opsguard/core/iostreams";
import { describe, expect, it } from "vitest";
import { Output } from "../src/output";
import { tickStdout } from "./tick-stdout";

describe("Output", () => {
  it("queues many writes behind a slow reader in order, without a listener per write", async () => {
    const fifo = join(mkdtempSync(join(tmpdir(), "auditd-parse-out-")), "fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on("warning", onWarning);
    try {
      const reader = createReadStream(fifo);
      reader.pause();
      const chunks: Buffer[] = [];
      reader.on("data", (c) => chunks.push(c as Buffer));
      const ended = new Promise<void>((resolve) => reader.on("end", () => resolve()));
      const output = new Output(fifo, testIO().io.stdout);
      // each line is longer than the 128 KiB buffer, so every one is a write of its own: 20 writes in flight
      const lines = Array.from({ length: 20 }, (_, i) => String.fromCharCode(97 + i).repeat(400_000));
      for (const line of lines) void output.line(line);
      // the writes are queued behind a reader that has the FIFO open and reads nothing yet
      await once(reader, "ready");
      reader.resume();
      await output.close();
      await ended;
      // a warning is emitted on a later tick than the listener that caused it
      await new Promise(setImmediate);
      expect(Buffer.concat(chunks).toString()).toBe(lines.map((l) => `${l}\n`).join(""));
      expect(warnings.map((w) => w.name)).toEqual([]);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("keeps a line longer than its buffer in its place among the lines around it", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "auditd-parse-out-")), "out.json");
    const output = new Output(file, testIO().io.stdout);
    const long = `{"commands":"${"x".repeat(2_000_000)}"}`;
    // not awaited in between, as a caller writing a burst of lines does not
    void output.line("[");
    void output.line(long);
    void output.line("]");
    await output.close();
    expect(readFileSync(file, "utf8")).toBe(`[\n${long}\n]\n`);
  });
});

describe("Output.bytes", () => {
  it("hands a long line back to its caller before the wait it returns is over, and a short one at once", async () => {
    // sessions --json writes its lines into one buffer it takes back (LineBuffer): the next line, after the wait,
    // must not need a new buffer, nor write over one the stream still holds (issue 23, round 22). A stdout on a
    // file writes at once and says so a tick later (Node's SyncWriteStream): the wait was over before that
    const written: Buffer[] = [];
    const output = new Output(undefined, tickStdout(written));
    const events: string[] = [];
    const short = Buffer.from("[1]\n");
    expect(output.bytes(short, () => events.push("short back"))).toBeUndefined();
    expect(events).toEqual(["short back"]);
    const long = Buffer.from(`${"x".repeat(300_000)}\n`);
    await output.bytes(long, () => events.push("long back"));
    events.push("wait over");
    await output.close();
    expect(events).toEqual(["short back", "long back", "wait over"]);
    expect(Buffer.concat(written).toString()).toBe(`[1]\n${"x".repeat(300_000)}\n`);
  });
});

describe("Output on a stdout that fails", () => {
  /** A run's stdout whose writes fail with `code` after asking the caller to wait: a full disk behind a pipe. */
  function failingStdout(code: string) {
    const io = testIO().io;
    return Object.assign(Object.create(io.stdout) as typeof io.stdout, {
      writeBytes(_data: Uint8Array, done?: (error?: Error | null) => void) {
        setImmediate(() => done?.(Object.assign(new Error(`${code}: write failed`), { code })));
        return false;
      },
      // a stream that failed never drains
      drain: () => new Promise<void>(() => {}),
    });
  }

  it("throws the write error as an IoError (exit 74, one line naming stdout) instead of waiting for a drain that never comes", async () => {
    const output = new Output(undefined, failingStdout("ENOSPC"));
    for (let i = 0; i < 3; i++) output.line("x".repeat(300_000));
    const failure = await output.close().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(IoError);
    expect([(failure as IoError).exitCode, (failure as IoError).message]).toEqual([
      74,
      "cannot write standard output: ENOSPC: write failed",
    ]);
    // and every later write says so too: nothing is taken as written
    await expect(output.flush()).rejects.toBeInstanceOf(IoError);
  });
});

describe("Output.reopen while a write waits for its drain (T60)", () => {
  it("goes on: the wait ends with the old file's end, not only its drain, which an ended stream never emits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-parse-hup-drain-"));
    const path = join(dir, "out.json");
    const output = new Output(path, testIO().io.stdout);
    // a line longer than the stream's 16 KiB high-water mark: its write returns false, so the flush waits for a drain
    const waiting = output.line("a".repeat(200_000));
    expect(waiting).toBeDefined();
    // SIGHUP at that moment: the old stream is ended while the flush still waits on it
    await output.reopen(() => {});
    const settled = await Promise.race([
      (waiting as Promise<void>).then(() => "written"),
      new Promise((resolve) => setTimeout(() => resolve("still waiting after 5 s"), 5000)),
    ]);
    expect(settled).toBe("written");
    void output.line("b");
    await output.close();
    expect(readFileSync(path, "utf8")).toBe(`${"a".repeat(200_000)}\nb\n`);
  });
});
