import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ensurePrivateDir,
  IoError,
  JsonStateFile,
  Logger,
  PermissionError,
  randomHex,
  readJsonFile,
  TempFailError,
  withLock,
  writeFileAtomic,
} from "../src/index";
import { bundleFixture } from "./fixtures/bundle";
import { startZombie } from "./zombie";

let child = "";
let root = "";

beforeAll(async () => {
  child = await bundleFixture(join(import.meta.dirname, "fixtures/state-child.ts"));
  root = mkdtempSync(join(tmpdir(), "opsguard-state-"));
});

afterAll(() => {
  rmSync(dirname(child), { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
});

function fresh(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { mode: 0o700 });
  return dir;
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { log: new Logger({ tool: "test", level: "debug", stream }), lines };
}

function run(args: string[]): ChildProcess {
  return spawn(process.execPath, [child, ...args], { stdio: ["ignore", "pipe", "pipe"] });
}

function exited(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => proc.on("exit", (code) => resolve(code)));
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("randomHex", () => {
  it("is the one random-name helper: 2 hex digits a byte, different each call", () => {
    expect(randomHex(4)).toMatch(/^[0-9a-f]{8}$/);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(Array.from({ length: 20 }, () => randomHex(8))).size).toBe(20);
  });
});

describe("writeFileAtomic", () => {
  it("writes a 0600 file and replaces it whole", async () => {
    const file = join(fresh("write"), "a.json");
    await writeFileAtomic(file, "first");
    expect(mode(file)).toBe(0o600);
    await writeFileAtomic(file, "second");
    expect(readFileSync(file, "utf8")).toBe("second");
    expect(readdirSync(join(root, "write"))).toEqual(["a.json"]);
  });

  it("never leaves a half-written file when the writer is killed mid-write", async () => {
    const dir = fresh("kill");
    const file = join(dir, "state.json");
    for (const delayMs of [3, 8, 13, 19, 26, 34, 43, 52, 61, 75]) {
      const proc = run(["write-loop", file]);
      await new Promise<void>((resolve) => proc.stdout?.once("data", () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      proc.kill("SIGKILL");
      await exited(proc);
      const doc = JSON.parse(readFileSync(file, "utf8")) as { seq: number; pad: string };
      expect(doc.pad.length).toBe(100_000 + (doc.seq % 7) * 50_000);
    }
    expect(mode(file)).toBe(0o600);
  });
});

describe("JsonStateFile", () => {
  const schema = z.object({ count: z.number(), writers: z.array(z.number()) });

  it("serialises updates from several processes without losing any", async () => {
    const file = join(fresh("concurrent"), "counter.json");
    const procs = Array.from({ length: 4 }, () => run(["increment", file, "25"]));
    const codes = await Promise.all(procs.map(exited));
    expect(codes).toEqual([0, 0, 0, 0]);
    const state = schema.parse(JSON.parse(readFileSync(file, "utf8")));
    expect(state.count).toBe(100);
    expect(new Set(state.writers).size).toBe(4);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it("moves a corrupt file aside, warns, and continues from empty state", async () => {
    const dir = fresh("corrupt");
    const file = join(dir, "users.json");
    writeFileSync(file, '{"count": 3, "writ', { mode: 0o600 });
    const { log, lines } = capture();
    const state = new JsonStateFile({ path: file, validate: schema, empty: () => ({ count: 0, writers: [] }), log });
    expect(await state.load()).toEqual({ count: 0, writers: [] });
    const aside = readdirSync(dir).filter((f) => f.startsWith("users.json.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0] ?? ""), "utf8")).toBe('{"count": 3, "writ');
    expect(lines.join("\n")).toMatch(/warn: state file is corrupt.*users\.json/);
    expect(await state.update((s) => ({ ...s, count: s.count + 1 }))).toEqual({ count: 1, writers: [] });
  });

  it("reads a corrupt file as empty while another process holds the lock, leaving it for the holder", async () => {
    const file = join(fresh("corrupt-locked"), "s.json");
    writeFileSync(file, "{broken");
    const { log, lines } = capture();
    const state = new JsonStateFile({
      path: file,
      validate: schema,
      empty: () => ({ count: 0, writers: [] }),
      log,
      lock: { timeoutMs: 100 },
    });
    await withLock(file, async () => {
      expect(await state.load()).toEqual({ count: 0, writers: [] });
    });
    expect(readFileSync(file, "utf8")).toBe("{broken");
    expect(lines.join("\n")).toContain("corrupt and locked");
  });

  it("sets aside a FIFO planted as the state file instead of waiting on it for ever", async () => {
    const dir = fresh("fifo-state");
    const file = join(dir, "s.json");
    expect(spawnSync("mkfifo", [file]).status).toBe(0);
    const { log, lines } = capture();
    const state = new JsonStateFile({ path: file, validate: schema, empty: () => ({ count: 0, writers: [] }), log });
    expect(await state.load()).toEqual({ count: 0, writers: [] });
    expect(lines.join("\n")).toMatch(/warn: state file is corrupt.*not a regular file/);
    expect(await state.update((s) => ({ ...s, count: 1 }))).toEqual({ count: 1, writers: [] });
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ count: 1, writers: [] });
  });

  it("treats a file that fails validation as corrupt", async () => {
    const dir = fresh("invalid");
    const file = join(dir, "s.json");
    writeFileSync(file, JSON.stringify({ count: "three" }));
    const { log, lines } = capture();
    expect(await readJsonFile(file, { validate: schema, log })).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    expect(lines.join("\n")).toContain("count: ");
  });

  it("refuses to write state that fails validation and keeps the old file", async () => {
    const file = join(fresh("refuse"), "s.json");
    const state = new JsonStateFile({ path: file, validate: schema, empty: () => ({ count: 0, writers: [] }) });
    await state.update((s) => ({ ...s, count: 5 }));
    await expect(state.update(() => ({ count: "x" }) as unknown as z.infer<typeof schema>)).rejects.toThrow(IoError);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ count: 5, writers: [] });
  });

  it("does not rewrite the file when an update changes nothing", async () => {
    const file = join(fresh("unchanged"), "s.json");
    const state = new JsonStateFile({ path: file, validate: schema, empty: () => ({ count: 0, writers: [] }) });
    await state.update((s) => ({ ...s, count: 1 }));
    const before = statSync(file).ino;
    await state.update((s) => s);
    expect(statSync(file).ino).toBe(before);
  });

  it("sweeps temp files left by writers that were killed, but not a live writer's", async () => {
    const dir = fresh("orphans");
    const file = join(dir, "s.json");
    const gone = spawn(process.execPath, ["-e", ""]);
    await exited(gone);
    writeFileSync(join(dir, `.s.json.${gone.pid}.0badf00d.tmp`), '{"count": 1, "wri');
    writeFileSync(join(dir, `.s.json.${process.pid}.0000beef.tmp`), "in progress");
    writeFileSync(join(dir, `.other.json.${gone.pid}.0badf00d.tmp`), "not ours");
    const state = new JsonStateFile({ path: file, validate: schema, empty: () => ({ count: 0, writers: [] }) });
    await state.update((s) => ({ ...s, count: 1 }));
    expect(readdirSync(dir).sort()).toEqual([`.other.json.${gone.pid}.0badf00d.tmp`, `.s.json.${process.pid}.0000beef.tmp`, "s.json"]);
  });

  it("creates its directory 0700", async () => {
    const dir = join(root, "made", "deeper");
    const state = new JsonStateFile({ path: join(dir, "s.json"), validate: schema, empty: () => ({ count: 0, writers: [] }) });
    await state.update((s) => ({ ...s, count: 1 }));
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, "s.json"))).toBe(0o600);
  });
});

describe("ensurePrivateDir", () => {
  it("tightens a group/other-writable directory it owns, with a warning", async () => {
    const dir = join(root, "loose");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const { log, lines } = capture();
    await ensurePrivateDir(dir, { log });
    expect(mode(dir)).toBe(0o700);
    expect(lines.join("\n")).toContain("was=777");
  });

  it("refuses a loose directory when told not to fix it", async () => {
    const dir = join(root, "loose-refused");
    mkdirSync(dir);
    chmodSync(dir, 0o775);
    await expect(ensurePrivateDir(dir, { fix: false })).rejects.toThrow(PermissionError);
    await expect(ensurePrivateDir(dir, { fix: false })).rejects.toMatchObject({ hint: `chmod 700 ${dir}` });
  });

  it.skipIf(process.getuid?.() !== 0)("refuses a directory owned by another user", async () => {
    const dir = join(root, "foreign");
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 4321, 4321);
    await expect(ensurePrivateDir(dir)).rejects.toThrow(/owned by uid 4321/);
  });

  it("refuses a symbolic link, whose owner would decide where the state goes", async () => {
    const real = join(root, "real-dir");
    mkdirSync(real, { mode: 0o700 });
    symlinkSync(real, join(root, "linked-dir"));
    await expect(ensurePrivateDir(join(root, "linked-dir"))).rejects.toThrow(/is a symbolic link/);
  });

  it("refuses a path that is not a directory", async () => {
    const path = join(root, "plain-file");
    writeFileSync(path, "");
    await expect(ensurePrivateDir(path)).rejects.toThrow(IoError);
  });
});

describe("withLock", () => {
  it("gives up after the timeout while a live process holds the lock", async () => {
    const file = join(fresh("held"), "s.json");
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: "x", time: Date.now() }));
    const error = await withLock(file, () => "never", { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TempFailError);
    expect(String((error as Error).message)).toContain(`process ${process.pid}`);
    expect(existsSync(`${file}.lock`)).toBe(true);
  });

  it("breaks a lock left by a dead process", async () => {
    const file = join(fresh("dead"), "s.json");
    const gone = spawn(process.execPath, ["-e", ""]);
    await exited(gone);
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: gone.pid, host: hostname(), token: "old", time: Date.now() }));
    expect(await withLock(file, () => "ran", { timeoutMs: 200 })).toBe("ran");
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it("breaking a dead holder's lock sweeps the temp file it died leaving (killed between write and rename), for any writer of the file: only writeFileAtomic's names of a dead pid, never through a symlink (T71 N9)", async () => {
    const dir = fresh("dead-writer");
    const file = join(dir, "marks.json");
    writeFileSync(file, "{}\n");
    const gone = spawn(process.execPath, ["-e", ""]);
    await exited(gone);
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: gone.pid, host: hostname(), token: "old", time: Date.now() }));
    writeFileSync(join(dir, `.marks.json.${gone.pid}.0badf00d.tmp`), '{"users":{"kim"');
    writeFileSync(join(dir, `.marks.json.${process.pid}.0000beef.tmp`), "a live writer's");
    writeFileSync(join(dir, `.marks.json.${gone.pid}.tmp`), "not writeFileAtomic's name");
    const target = join(fresh("dead-writer-target"), "kept");
    writeFileSync(target, "someone else's file");
    symlinkSync(target, join(dir, `.marks.json.${gone.pid}.5ca1ab1e.tmp`));
    mkdirSync(join(dir, `.marks.json.${gone.pid}.d1d1d1d1.tmp`));
    expect(await withLock(file, () => readdirSync(dir).sort(), { timeoutMs: 200 })).toEqual(
      [
        `.marks.json.${gone.pid}.5ca1ab1e.tmp`,
        `.marks.json.${gone.pid}.d1d1d1d1.tmp`,
        `.marks.json.${gone.pid}.tmp`,
        `.marks.json.${process.pid}.0000beef.tmp`,
        "marks.json",
        "marks.json.lock",
      ].sort(),
    );
    expect(readFileSync(target, "utf8")).toBe("someone else's file");
    expect(readFileSync(file, "utf8")).toBe("{}\n");
  });

  it("breaks a lock held by a zombie (killed, not reaped yet: a container's PID 1 may never reap it)", async () => {
    const file = join(fresh("zombie"), "s.json");
    const zombie = await startZombie();
    try {
      const { pid, start } = zombie;
      writeFileSync(`${file}.lock`, JSON.stringify({ pid, start, host: hostname(), token: "zombie", time: Date.now() }));
      expect(await withLock(file, () => "ran", { timeoutMs: 0 })).toBe("ran");
    } finally {
      zombie.end();
    }
  });

  it("breaks a lock whose pid now belongs to a younger process", async () => {
    const file = join(fresh("reused"), "s.json");
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, start: "1", host: hostname(), token: "old", time: 0 }));
    expect(await withLock(file, () => "ran", { timeoutMs: 200 })).toBe("ran");
  });

  it("never breaks a live holder's lock, however old", async () => {
    const file = join(fresh("long-held"), "s.json");
    // events, not sleeps: the holder says when it holds the lock, and lets go only when told
    let held = () => {};
    let letGo = () => {};
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    const release = withLock(file, () => {
      held();
      return new Promise<void>((resolve) => {
        letGo = resolve;
      });
    });
    await holding;
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(`${file}.lock`, hourAgo, hourAgo);
    await expect(withLock(file, () => "stole it", { timeoutMs: 150, staleMs: 1_000 })).rejects.toThrow(TempFailError);
    letGo();
    await release;
    expect(await withLock(file, () => "after", { timeoutMs: 150 })).toBe("after");
  });

  it("breaks a lock from another host only when it is older than staleMs", async () => {
    const file = join(fresh("other-host"), "s.json");
    writeFileSync(`${file}.lock`, JSON.stringify({ pid: 1, host: "elsewhere.example.com", token: "remote", time: 0 }));
    await expect(withLock(file, () => "early", { timeoutMs: 100, staleMs: 60_000 })).rejects.toThrow(
      /process 1 on elsewhere\.example\.com/,
    );
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(`${file}.lock`, hourAgo, hourAgo);
    expect(await withLock(file, () => "ran", { timeoutMs: 100, staleMs: 60_000 })).toBe("ran");
  });

  it("breaks a FIFO or a symlink planted as the lock file (no lock of ours) instead of hanging on it", async () => {
    const fifo = join(fresh("fifo-lock"), "s.json");
    expect(spawnSync("mkfifo", [`${fifo}.lock`]).status).toBe(0);
    expect(await withLock(fifo, () => "ran", { timeoutMs: 1_000 })).toBe("ran");
    expect(existsSync(`${fifo}.lock`)).toBe(false);
    const linked = join(fresh("symlink-lock"), "s.json");
    const elsewhere = join(fresh("symlink-target"), "held");
    writeFileSync(elsewhere, JSON.stringify({ pid: process.pid, host: hostname(), token: "x", time: Date.now() }));
    symlinkSync(elsewhere, `${linked}.lock`);
    expect(await withLock(linked, () => "ran", { timeoutMs: 1_000 })).toBe("ran");
    expect(existsSync(`${linked}.lock`)).toBe(false);
    expect(existsSync(elsewhere)).toBe(true);
  });

  it("breaks an empty lock file a few seconds old (its creator could not write it: a full disk), not a fresh one", async () => {
    const file = join(fresh("empty-lock"), "s.json");
    writeFileSync(`${file}.lock`, "");
    // Fresh: being written by its creator right now, so it holds, even with a long staleMs.
    await expect(withLock(file, () => "early", { timeoutMs: 50, staleMs: 60_000 })).rejects.toThrow(TempFailError);
    const tenSecondsAgo = new Date(Date.now() - 10_000);
    utimesSync(`${file}.lock`, tenSecondsAgo, tenSecondsAgo);
    expect(await withLock(file, () => "ran", { timeoutMs: 0, staleMs: 60_000 })).toBe("ran");
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it("releases the lock when the function throws", async () => {
    const file = join(fresh("throws"), "s.json");
    await expect(
      withLock(file, () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(await withLock(file, () => 1, { timeoutMs: 100 })).toBe(1);
  });
});
