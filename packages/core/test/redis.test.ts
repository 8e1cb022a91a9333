import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
// The lab depends on core, so core's tests reach the real redis-server through the lab's source.
import { type RedisLab, startRedis } from "../../lab/src/redis";
import { ConfigError, TempFailError, UnavailableError } from "../src/errors";
import { Logger } from "../src/log";
import { connectRedis, LeaseLostError, parseRedisUrl, withRedisLease } from "../src/redis";
import { Secret } from "../src/secret";

let lab: RedisLab;
const clients: Array<{ disconnect(): void }> = [];

async function client(password = lab.password) {
  const redis = await connectRedis({
    url: lab.url,
    password: password === undefined ? undefined : new Secret(password, "test"),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 2000,
    key: "lease.redis",
  });
  clients.push(redis);
  return redis;
}

beforeAll(async () => {
  lab = await startRedis({ password: "lab-lease-pw" });
});
afterAll(async () => {
  for (const c of clients) c.disconnect();
  await lab?.stop();
});

describe("Redis lease (SET NX PX, compare-and-delete)", () => {
  it("two holders never overlap: the second waits until the first released", async () => {
    const [a, b] = await Promise.all([client(), client()]);
    const events: string[] = [];
    const hold = (redis: typeof a, name: string) =>
      withRedisLease(redis, { key: "t:overlap", ttlMs: 5000, waitMs: 5000 }, async () => {
        events.push(`${name} in`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        events.push(`${name} out`);
      });
    await Promise.all([hold(a, "A"), hold(b, "B")]);
    expect(events.join(" ")).toMatch(/^(A in A out B in B out|B in B out A in A out)$/);
    expect(await a.exists("t:overlap")).toBe(0);
  });

  it("gives up after waitMs with exit 75 naming the holder, and never deletes a lease it does not hold", async () => {
    const [a, b] = await Promise.all([client(), client()]);
    let release: () => void = () => {};
    const held = withRedisLease(
      a,
      { key: "t:busy", ttlMs: 5000, waitMs: 100, owner: "host-a:1" },
      () => new Promise<void>((r) => (release = r)),
    );
    await expect.poll(() => a.exists("t:busy")).toBe(1);
    const refused = await withRedisLease(b, { key: "t:busy", ttlMs: 5000, waitMs: 200 }, async () => "ran").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TempFailError);
    expect((refused as Error).message).toMatch(/held by host-a:1; gave up after 200 ms/);
    // A's lease expires and C takes it; A's release must leave C's lease alone.
    await a.set("t:busy", "host-c:3:0123456789abcdef", "PX", 5000);
    release();
    await held;
    expect(await a.get("t:busy")).toBe("host-c:3:0123456789abcdef");
  });

  it("renews the lease while the work runs longer than its TTL, and says so when it is lost", async () => {
    const a = await client();
    const lost: string[] = [];
    await withRedisLease(a, { key: "t:renew", ttlMs: 300, waitMs: 0, onLost: (r) => lost.push(r) }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(await a.exists("t:renew")).toBe(1);
      await a.set("t:renew", "someone-else");
      await expect.poll(() => lost.length, { timeout: 2000 }).toBe(1);
    });
    expect(lost[0]).toMatch(/lost while running: it expired and may have been taken by another host/);
  });

  it("confirm() is a fence: it extends the lease while held, and refuses (exit 75) once the key is gone or taken", async () => {
    const a = await client();
    await withRedisLease(a, { key: "t:fence", ttlMs: 5000, waitMs: 0 }, async (lease) => {
      await a.pexpire("t:fence", 100);
      await lease.confirm();
      // Extended back to the full TTL, not the 100 ms just set.
      expect(await a.pttl("t:fence")).toBeGreaterThan(1000);
      await a.set("t:fence", "host-b:1:00000000000000aa");
      const refused = await lease.confirm().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(LeaseLostError);
      expect(refused).toMatchObject({
        exitCode: 75,
        message: expect.stringMatching(/no longer held by this run \(it is now held by host-b:1\)/),
      });
      // Once lost, always lost: even if the key came back.
      await expect(lease.confirm()).rejects.toBeInstanceOf(LeaseLostError);
    });
    expect(await a.get("t:fence")).toBe("host-b:1:00000000000000aa");
  });

  it("a lease key without expiry is named as such; a database the server does not have is refused", async () => {
    const a = await client();
    await a.set("t:forever", "someone");
    const refused = await withRedisLease(a, { key: "t:forever", ttlMs: 5000, waitMs: 0 }, async () => "ran").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TempFailError);
    expect(refused).toMatchObject({
      message: expect.stringMatching(/t:forever is held by someone and has no expiry/),
      hint: expect.stringMatching(/delete the key t:forever/),
    });
    const db = connectRedis({
      url: lab.url.replace(/\/\d*$/, "/99"),
      password: new Secret(lab.password ?? "", "test"),
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      key: "lease.redis",
    });
    await expect(db).rejects.toMatchObject({ exitCode: 78, message: expect.stringMatching(/lease.redis.url: .* refused database 99/) });
  });

  it("rediss:// to an IP verifies the certificate without an IP as TLS servername (no DEP0123 warning)", async () => {
    const tls = await startRedis({ password: "lab-lease-tls", tls: true });
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(w.code ?? w.message);
    process.on("warning", onWarning);
    try {
      const options = {
        url: tls.url,
        password: new Secret("lab-lease-tls", "test"),
        connectTimeoutMs: 3000,
        commandTimeoutMs: 3000,
        key: "lease.redis",
      };
      const redis = await connectRedis({ ...options, caFile: tls.caFile });
      clients.push(redis);
      expect(await redis.ping()).toBe("PONG");
      // Still verified: without the CA the server's certificate is refused.
      await expect(connectRedis(options)).rejects.toBeInstanceOf(UnavailableError);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain("DEP0123");
    } finally {
      process.off("warning", onWarning);
      await tls.stop();
    }
  });

  it("ioredis' note that a password was not needed goes through the tool's logger (JSON, -q), not bare to stderr (T59 N3)", async () => {
    const open = await startRedis();
    const warn = vi.spyOn(console, "warn");
    try {
      const connect = (log: Logger) =>
        connectRedis({
          url: open.url,
          password: new Secret("not-needed", "test"),
          connectTimeoutMs: 2000,
          commandTimeoutMs: 2000,
          key: "lease.redis",
          log,
        });
      const lines: string[] = [];
      const stream = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
      clients.push(await connect(new Logger({ tool: "deputize", level: "warn", format: "json", stream })));
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        expect.objectContaining({
          level: "warn",
          msg: expect.stringMatching(
            /^lease\.redis: redis 127\.0\.0\.1:\d+: This Redis server's `default` user does not require a password, but a password was supplied$/,
          ),
        }),
      ]);
      // -q (level error): not printed at all.
      const quiet: string[] = [];
      const silent = { write: (s: string) => quiet.push(s) } as unknown as NodeJS.WritableStream;
      clients.push(await connect(new Logger({ tool: "deputize", level: "error", stream: silent })));
      expect(quiet).toEqual([]);
      expect(warn).not.toHaveBeenCalled();
      // Put back once connected: console.warn is ioredis' business no longer.
      expect(console.warn).toBe(warn);
    } finally {
      warn.mockRestore();
      await open.stop();
    }
  });

  it("a wrong password is a config error, a stopped server unavailable, a bad URL a config error", async () => {
    await expect(client("wrong")).rejects.toBeInstanceOf(ConfigError);
    expect(() => parseRedisUrl("redis://u:p@h:1/0", "lease.redis")).toThrow(/lease.redis.url must not carry credentials/);
    expect(() => parseRedisUrl("http://h", "lease.redis")).toThrow(ConfigError);
    await lab.stopServer();
    try {
      await expect(client()).rejects.toBeInstanceOf(UnavailableError);
    } finally {
      await lab.startServer();
    }
  });
});
