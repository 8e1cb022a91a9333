import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { UnavailableError } from "../src/errors";
import type { Logger } from "../src/log";
import { Spool } from "../src/spool";
import { withLock } from "../src/state";

let root: string;
let n = 0;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "core-spool-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function spool(options: { maxAttempts?: number; backoffMs?: number } = {}) {
  return new Spool({
    dir: join(root, `spool-${++n}`, "q"),
    payload: z.object({ text: z.string() }),
    maxAttempts: 3,
    backoffMs: 0,
    ...options,
  });
}

describe("Spool", () => {
  it("keeps each message in its own private file until it is delivered", async () => {
    const s = spool();
    const entry = await s.add({ text: "hello" }, Date.now() - 1);
    expect(statSync(s.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(s.dir, `${entry.id}.json`)).mode & 0o777).toBe(0o600);
    const seen: string[] = [];
    const result = await s.drain(async (e) => void seen.push(e.payload.text), { leaseUntil: () => Date.now() + 1000 });
    expect(result).toEqual({ busy: false, delivered: 1, failed: 0, gaveUp: 0 });
    expect(seen).toEqual(["hello"]);
    expect(await s.status()).toEqual({ pending: 0, dead: 0 });
  });

  it("leaves alone what another process is delivering (its lease) and what is backing off, unless forced", async () => {
    const s = spool({ backoffMs: 60_000 });
    await s.add({ text: "leased" }, Date.now() + 60_000);
    const failing = await s.add({ text: "backing off" }, Date.now() - 1);
    await s.fail(failing, "Slack said no");
    const seen: string[] = [];
    const deliver = async (e: { payload: { text: string } }) => void seen.push(e.payload.text);
    await s.drain(deliver, { leaseUntil: () => Date.now() + 1000 });
    expect(seen).toEqual([]);
    expect(await s.status()).toMatchObject({ pending: 2, lastError: "Slack said no" });
    await s.drain(deliver, { leaseUntil: () => Date.now() + 1000, force: true });
    expect(seen).toEqual(["backing off"]);
  });

  it("counts attempts, backs off, and after maxAttempts moves the message to dead/", async () => {
    const s = spool({ maxAttempts: 3 });
    await s.add({ text: "doomed" }, Date.now() - 1);
    const fail = async () => {
      throw new UnavailableError("Slack is down");
    };
    expect(await s.drain(fail, { leaseUntil: () => Date.now() })).toMatchObject({ failed: 1, gaveUp: 0 });
    expect((await s.list())[0]).toMatchObject({ attempts: 2, lastError: "Slack is down" });
    expect(await s.drain(fail, { leaseUntil: () => Date.now() })).toMatchObject({ failed: 1, gaveUp: 1 });
    expect(await s.status()).toMatchObject({ pending: 0, dead: 1 });
    expect(await s.drain(fail, { leaseUntil: () => Date.now() })).toMatchObject({ failed: 0 });
  });

  it("status tells when the last error happened (the failure), not when its attempt started", async () => {
    const s = spool({ maxAttempts: 5 });
    await s.enqueue({ text: "slow failure" });
    await s.drain(
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        throw new UnavailableError("timed out");
      },
      { leaseUntil: () => Date.now() + 60_000 },
    );
    const status = await s.status();
    expect(status.lastError).toBe("timed out");
    expect((status.lastErrorAt ?? 0) - (status.lastAttemptAt ?? 0)).toBeGreaterThanOrEqual(250);
  });

  it("one drainer at a time: a second one returns busy without touching anything", async () => {
    const s = spool();
    await s.add({ text: "once" }, Date.now() - 1);
    const result = await withLock(join(s.dir, "drain"), () => s.drain(async () => {}, { leaseUntil: () => Date.now() }));
    expect(result.busy).toBe(true);
    expect((await s.status()).pending).toBe(1);
  });

  it("moves an unreadable file to dead/ and goes on with the rest", async () => {
    const s = spool();
    await s.add({ text: "good" }, Date.now() - 1);
    writeFileSync(join(s.dir, "1000-deadbeef.json"), '{"id": "trunc');
    const seen: string[] = [];
    await s.drain(async (e) => void seen.push(e.payload.text), { leaseUntil: () => Date.now() });
    expect(seen).toEqual(["good"]);
    expect(readdirSync(join(s.dir, "dead"))).toEqual(["1000-deadbeef.json.corrupt"]);
    expect(await s.status()).toMatchObject({ pending: 0, dead: 0, unreadable: 1 });
  });

  it("a FIFO, a directory, a symlink, a stranger's or group-writable file never block: counted by status, moved to dead/ by a drain", async () => {
    const warnings: string[] = [];
    const log = { warn: (m: string, f?: object) => void warnings.push(`${m} ${JSON.stringify(f)}`) } as unknown as Logger;
    const s = new Spool({
      dir: join(root, `spool-${++n}`, "q"),
      payload: z.object({ text: z.string() }),
      maxAttempts: 3,
      backoffMs: 0,
      log,
    });
    await s.add({ text: "good" }, Date.now() - 1);
    const entry = (id: string) =>
      JSON.stringify({ id, createdAt: 1, attempts: 0, leaseUntil: 0, nextAttemptAt: 0, payload: { text: "forged" } });
    expect(spawnSync("mkfifo", [join(s.dir, "1000-00000001.json")]).status).toBe(0);
    mkdirSync(join(s.dir, "1000-00000002.json"));
    symlinkSync("/etc/hostname", join(s.dir, "1000-00000003.json"));
    writeFileSync(join(s.dir, "1000-00000004.json"), entry("1000-00000004"), { mode: 0o600 });
    chownSync(join(s.dir, "1000-00000004.json"), 65534, 65534);
    writeFileSync(join(s.dir, "1000-00000005.json"), entry("1000-00000005"));
    chmodSync(join(s.dir, "1000-00000005.json"), 0o664);
    expect(await s.status()).toMatchObject({ pending: 1, unreadable: 5 });
    const seen: string[] = [];
    await s.drain(async (e) => void seen.push(e.payload.text), { leaseUntil: () => Date.now() });
    expect(seen).toEqual(["good"]);
    expect(readdirSync(join(s.dir, "dead")).sort()).toEqual([1, 2, 3, 4, 5].map((i) => `1000-0000000${i}.json.corrupt`));
    expect(warnings.join("\n")).toMatch(/not a regular file[\s\S]*symbolic link[\s\S]*owned by uid 65534[\s\S]*mode 664/);
  });

  it("JSON that parses but is malformed (negative attempts, a path for an id, an infinite lease) goes to dead/, never waits forever", async () => {
    const s = spool();
    const base = { createdAt: 1, attempts: 0, leaseUntil: 0, nextAttemptAt: 0, payload: { text: "x" } };
    mkdirSync(s.dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(s.dir, "1000-0000000a.json"), JSON.stringify({ ...base, id: "1000-0000000a", attempts: -5 }), { mode: 0o600 });
    writeFileSync(join(s.dir, "1000-0000000b.json"), JSON.stringify({ ...base, id: "../../etc/passwd" }), { mode: 0o600 });
    writeFileSync(
      join(s.dir, "1000-0000000c.json"),
      `{"id":"1000-0000000c","createdAt":1,"attempts":0,"leaseUntil":9e999,"nextAttemptAt":0,"payload":{"text":"x"}}`,
      {
        mode: 0o600,
      },
    );
    writeFileSync(join(s.dir, "1000-0000000d.json"), JSON.stringify({ ...base, id: "1000-0000000e" }), { mode: 0o600 });
    expect(await s.status()).toMatchObject({ pending: 0, unreadable: 4 });
    await s.drain(async () => {}, { leaseUntil: () => Date.now() });
    expect(readdirSync(join(s.dir, "dead"))).toHaveLength(4);
    // Kept in dead/ as *.corrupt, they stay unreadable entries, never alerts given up on (T30 #5).
    expect(await s.status()).toMatchObject({ pending: 0, dead: 0, unreadable: 4 });
  });

  it("status only looks: an unreadable file is counted, not moved", async () => {
    const s = spool();
    await s.add({ text: "good" }, Date.now() - 1);
    writeFileSync(join(s.dir, "1000-deadbeef.json"), '{"id": "trunc');
    expect(await s.status()).toMatchObject({ pending: 1, dead: 0, unreadable: 1 });
    expect(readdirSync(s.dir)).toContain("1000-deadbeef.json");
  });

  it("a queued entry has no error to tell yet; drain works `concurrency` at once, higher ranks first", async () => {
    const s = spool();
    for (const text of ["late-1", "fresh-1", "late-2", "fresh-2", "fresh-3"]) await s.enqueue({ text });
    expect(await s.status()).toMatchObject({ pending: 5 });
    expect((await s.status()).lastError).toBeUndefined();
    const order: string[] = [];
    let running = 0;
    let peak = 0;
    const result = await s.drain(
      async (e) => {
        running++;
        peak = Math.max(peak, running);
        order.push(e.payload.text);
        await new Promise((r) => setTimeout(r, 20));
        running--;
      },
      { leaseUntil: () => Date.now() + 1000, concurrency: 2, rank: (e) => (e.payload.text.startsWith("fresh") ? 1 : 0) },
    );
    expect(result).toMatchObject({ delivered: 5, failed: 0 });
    expect(peak).toBe(2);
    // Every fresh one was started before any late one.
    expect(order.slice(0, 3).sort()).toEqual(["fresh-1", "fresh-2", "fresh-3"]);
  });

  it("work() holds the drain lock while it waits, picks up what is queued meanwhile, and ends when idle", async () => {
    const s = spool();
    await s.enqueue({ text: "first" });
    const seen: string[] = [];
    const working = s.work(async (e) => void seen.push(e.payload.text), { leaseUntil: () => Date.now() + 1000, idleMs: 300, pollMs: 10 });
    await new Promise((r) => setTimeout(r, 100));
    // Idle, it still holds the lock (a hook sees it alive); a message queued now is delivered by it.
    expect(readdirSync(s.dir)).toContain("drain.lock");
    await s.enqueue({ text: "second" });
    expect(await working).toMatchObject({ busy: false, delivered: 2 });
    expect(seen).toEqual(["first", "second"]);
    expect(await s.hasDue()).toBe(false);
    expect(readdirSync(s.dir).filter((f) => f.endsWith(".lock"))).toEqual([]);
  });
});
