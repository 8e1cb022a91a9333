import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LdapClient, Logger, Secret } from "@opsguard/core";
import { connectRedis, withRedisLease } from "@opsguard/core/redis";
import { PagerDutySim, type RedisLab, SLACK_SIM_TOKEN, SlackSim, type SlapdLab, startRedis, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDeputize } from "../src/build";
import { configSchema } from "../src/config";
import { formatDiff } from "../src/format";
import { withRunLease } from "../src/lease";
import { runOnce } from "../src/run";

/**
 * deputize on two hosts against the real slapd and a real redis-server: each host has its own state
 * dir; the Redis lease makes their runs take turns, and the channel's history (messages marked with
 * metadata) tells a host that the hand-off it is about to post is already there.
 */

const CHANNEL = "C0ONCALL";
let lab: SlapdLab;
let redis: RedisLab;
let admin: LdapClient;
const pd = new PagerDutySim();
const slack = new SlackSim();
const env = { PD_TOKEN: pd.token, SLACK_TOKEN: SLACK_SIM_TOKEN, REDIS_PASSWORD: "lab-deputize-lease" };
let dir = "";
const warnings: string[] = [];
const log = new Logger({
  tool: "deputize",
  level: "warn",
  stream: { write: (s: string) => warnings.push(s) } as unknown as NodeJS.WritableStream,
});

function onCall(...who: string[]): void {
  const now = Date.now();
  const schedule = pd.schedules[0];
  if (schedule)
    schedule.shifts = who.map((p) => ({
      userId: `PU${p.toUpperCase()}`,
      start: new Date(now - 3_600_000),
      end: new Date(now + 3_600_000),
    }));
}

function config(host: string, overrides: Record<string, unknown> = {}) {
  return configSchema.parse({
    sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE"] }],
    ldap: lab.connection({ bindDn: lab.serviceDn, bindPassword: lab.servicePasswordFile }),
    sinks: [
      { type: "ldap-group", name: "ldap:oncall", group: lab.groups.oncall, peopleBase: lab.peopleDn },
      { type: "slack", name: "slack", token: "env:SLACK_TOKEN", baseUrl: slack.apiUrl, channel: CHANNEL },
    ],
    lease: { redis: { url: redis.url, password: "env:REDIS_PASSWORD", ttlSeconds: 10, waitSeconds: 20 } },
    stateDir: join(dir, host),
    retries: 0,
    timeoutMs: 3000,
    ...overrides,
  });
}

/** One host's cron run, as `deputize run` does it (lock file aside): the lease around the pass, DMs remembered in Redis. */
async function host(name: string, overrides: Record<string, unknown> = {}) {
  const c = config(name, overrides);
  const dep = buildDeputize(c, { env, log });
  try {
    return await withRunLease(c, { log, env }, (shared) => runOnce(dep, { dryRun: false, log, ...shared }));
  } finally {
    await dep.close();
  }
}

const LEASE = "opsguard:deputize:lease";
const BUNDLE = new URL("../dist/deputize.cjs", import.meta.url).pathname;
const adminRedis = () =>
  connectRedis({
    url: redis.url,
    password: new Secret(env.REDIS_PASSWORD, "test"),
    connectTimeoutMs: 2000,
    commandTimeoutMs: 8000,
    key: "test",
  });

const posts = () => slack.messagesTo(CHANNEL).map((m) => m.text ?? "");
async function members(): Promise<string[]> {
  const entry = await admin.read(lab.groups.oncall, ["member"]);
  return (entry?.get("member") ?? []).map((v) => /^uid=([^,]+)/.exec(v)?.[1] ?? v).sort();
}

beforeAll(async () => {
  [lab, redis] = await Promise.all([startSlapd(), startRedis({ password: env.REDIS_PASSWORD })]);
  admin = lab.adminClient();
  await Promise.all([pd.start(), slack.start()]);
  dir = mkdtempSync(join(tmpdir(), "deputize-hosts-"));
  for (const name of ["alice", "bob", "carol", "dave"]) {
    pd.addUser({ id: `PU${name.toUpperCase()}`, name, email: lab.users[name as "alice"].mail });
    slack.addUser({ id: `U0${name.toUpperCase()}`, name, email: lab.users[name as "alice"].mail });
  }
  slack.addChannel({ id: CHANNEL, name: "oncall", topic: "Runbook: <https://wiki.example/oncall>" });
  pd.addSchedule({ id: "PSRE001", name: "SRE", shifts: [] });
  pd.addEscalationPolicy({ id: "PEP0001", name: "SRE", rules: [{ schedules: ["PSRE001"] }] });
});
afterAll(async () => {
  await admin?.close();
  await Promise.all([lab?.stop(), redis?.stop(), pd.stop(), slack.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

describe("two hosts with a Redis lease", () => {
  it("started at the same moment, they take turns: the group is set once and exactly one hand-off is posted", async () => {
    onCall("alice");
    const [a, b] = await Promise.all([host("a"), host("b")]);
    expect(await members()).toEqual(["alice"]);
    expect(posts()).toHaveLength(1);
    expect(posts()[0]).toMatch(/<@U0ALICE>/);
    // One of them did the work; the other found it done.
    expect([a.sinks[1]?.status, b.sinks[1]?.status].sort()).toEqual(["changed", "unchanged"]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
  });

  it("a host whose own records are stale finds the other's hand-off in the channel history and posts nothing", async () => {
    onCall("carol");
    await host("b");
    expect(posts()).toHaveLength(2);
    // Host a last announced alice, host b carol; now dave: a posts, b (stale: it thinks carol) must not.
    onCall("dave");
    await host("a");
    await host("b");
    const dave = posts().filter((p) => p.includes("<@U0DAVE>"));
    expect(dave).toHaveLength(1);
    expect(await members()).toEqual(["dave"]);
  });

  it("a hand-off whose answer was lost (Slack stored it) is not posted again on the next run", async () => {
    onCall("bob");
    slack.loseAnswers("chat.postMessage", 1);
    const lost = await host("a", { timeoutMs: 1000 });
    expect(lost.exitCode).toBe(2);
    expect(posts().filter((p) => p.includes("<@U0BOB>"))).toHaveLength(1);
    const next = await host("a");
    expect(next.exitCode).toBe(0);
    expect(next.sinks[1]?.parts).toEqual([{ part: "message", status: "already-posted", reason: expect.stringMatching(/already posted/) }]);
    // Said as "already posted", not as a change ("~ message …").
    const out = formatDiff(next, false);
    expect(out).toMatch(/= message: already posted/);
    expect(out).not.toMatch(/~ message/);
    expect(posts().filter((p) => p.includes("<@U0BOB>"))).toHaveLength(1);
  });

  it("a hand-off marker posted by someone else (forged metadata) does not stop the real hand-off", async () => {
    onCall("carol");
    await host("a");
    onCall("alice");
    // Anyone in the channel can attach deputize's metadata; only this bot's own messages count (auth.test).
    const set = createHash("sha256").update(lab.users.alice.mail).digest("hex").slice(0, 16);
    const marker = { event_type: "deputize_handoff", event_payload: { sink: "slack", set } };
    slack.postAs({ user: "U0MALLORY" }, CHANNEL, "On-call hand-off: nobody is on call", marker);
    slack.postAs({ user: "U0OTHERAPP", bot_id: "B0OTHER01" }, CHANNEL, "On-call hand-off: nobody is on call", marker);
    const before = posts().filter((p) => p.includes("on call now: <@U0ALICE>")).length;
    const report = await host("a");
    expect(report.exitCode).toBe(0);
    expect(report.sinks[1]?.parts?.find((p) => p.part === "message")).toEqual({ part: "message", status: "applied" });
    expect(posts().filter((p) => p.includes("on call now: <@U0ALICE>"))).toHaveLength(before + 1);
  });

  it("the lease lost while the history answer was slow (deleted, then taken by host b): nothing posted, exit 75, posted next run", async () => {
    onCall("bob");
    await host("a");
    onCall("dave");
    const count = () => posts().filter((p) => p.includes("on call now: <@U0DAVE>")).length;
    const before = count();
    const other = await adminRedis();
    const histories = slack.callsTo("conversations.history").length;
    // Held, not slowed: the fence before the post comes only after the history answer, so only after the
    // lease changed hands. With a fixed delay a loaded machine could hand it over after the fence had passed.
    const release = slack.hold("conversations.history");
    const running = host("a", { lookAhead: { hours: 4, dm: true } });
    try {
      await slack.untilRequest(() => slack.callsTo("conversations.history").length > histories, "host a's history read");
      // Host a is waiting for its history answer: its lease goes, host b takes it.
      await other.del(LEASE);
      await other.set(LEASE, "host-b:1:00000000000000aa", "PX", 10_000);
      release();
      const report = await running;
      expect(report.exitCode).toBe(75);
      expect(report.sinks[1]?.parts?.find((p) => p.part === "message")).toMatchObject({
        status: "failed",
        reason: expect.stringMatching(/lease .* no longer held/),
      });
      expect(report.dms).toBeUndefined();
    } finally {
      release();
      await other.del(LEASE);
      other.disconnect();
    }
    expect(count()).toBe(before);
    const next = await host("a");
    expect(next.exitCode).toBe(0);
    expect(count()).toBe(before + 1);
  });

  it("Redis paused while a host is about to post: its fence times out, nothing posted, exit 75 (not 70)", async () => {
    onCall("carol");
    await host("a");
    onCall("alice", "bob");
    const count = () => posts().filter((p) => p.includes("on call now: <@U0ALICE>, <@U0BOB>")).length;
    const before = count();
    const other = await adminRedis();
    const histories = slack.callsTo("conversations.history").length;
    const lost = warnings.length;
    // The history answer is held while Redis is paused, so the fence that follows it (a Lua script: it
    // waits while Redis is paused, https://redis.io/docs/latest/commands/client-pause/) meets the pause.
    const release = slack.hold("conversations.history");
    const running = host("a", { lookAhead: { hours: 4, dm: true } });
    try {
      await slack.untilRequest(() => slack.callsTo("conversations.history").length > histories, "host a's history read");
      // Paused until the host has given up on Redis (its 3 s command timeout), not for a guessed time: a
      // pause that ended first would let a late fence pass. 20 s only bounds it should the test fail.
      await other.call("CLIENT", "PAUSE", "20000", "WRITE");
      release();
      await expect.poll(() => warnings.slice(lost).join(""), { timeout: 15_000 }).toMatch(/the lease .* was lost while running/);
      // Unpaused now, so the run can hand its lease back before it returns.
      await other.call("CLIENT", "UNPAUSE");
      const report = await running;
      expect(report.exitCode).toBe(75);
      expect(report.sinks[1]?.parts?.find((p) => p.part === "message")).toMatchObject({
        status: "failed",
        reason: expect.stringMatching(/lease .* no longer held/),
      });
    } finally {
      release();
      await other.call("CLIENT", "UNPAUSE");
      other.disconnect();
    }
    expect(count()).toBe(before);
  });

  it("a look-ahead DM is sent once for the pair: the second host finds it in Redis", async () => {
    onCall("dave");
    const schedule = pd.schedules[0];
    const start = new Date(Date.now() + 2 * 3_600_000);
    schedule?.shifts.push({ userId: "PUCAROL", start, end: new Date(start.getTime() + 3_600_000) });
    const dm = { lookAhead: { hours: 4, dm: true } };
    const [a, b] = await Promise.all([host("a", dm), host("b", dm)]);
    expect(slack.messagesTo("U0CAROL")).toHaveLength(1);
    expect([...(a.dms ?? []), ...(b.dms ?? [])]).toEqual([expect.objectContaining({ person: lab.users.carol.mail, status: "sent" })]);
    await host("a", dm);
    expect(slack.messagesTo("U0CAROL")).toHaveLength(1);
  });

  it("a webhook hand-off is delivered once for the pair, and a failed delivery is not recorded as delivered (T56 F14)", async () => {
    const bodies: Array<{ added: string[]; removed: string[] }> = [];
    let failing = false;
    const server: Server = createServer((req, res) => {
      let text = "";
      req.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      req.on("end", () => {
        if (!failing) bodies.push(JSON.parse(text));
        res.writeHead(failing ? 503 : 204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const hook = { sinks: [{ type: "webhook", name: "hook", url }] };
      onCall("alice");
      await host("a", hook);
      await host("b", hook);
      onCall("bob");
      // The hosts one after the other, each with its own state dir: only the first delivers the hand-off.
      const a = await host("a", hook);
      const b = await host("b", hook);
      expect(bodies.map((x) => [x.added, x.removed])).toEqual([
        [[lab.users.alice.mail], []],
        [[lab.users.bob.mail], [lab.users.alice.mail]],
      ]);
      expect([a.sinks[0]?.status, b.sinks[0]?.status]).toEqual(["changed", "unchanged"]);
      // The receiver refuses the next hand-off: neither host records it, so the other host delivers it.
      onCall("carol");
      failing = true;
      expect((await host("a", hook)).sinks[0]?.status).toBe("failed");
      failing = false;
      expect((await host("b", hook)).sinks[0]?.status).toBe("changed");
      expect((await host("a", hook)).sinks[0]?.status).toBe("unchanged");
      expect(bodies.map((x) => x.added)).toEqual([[lab.users.alice.mail], [lab.users.bob.mail], [lab.users.carol.mail]]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a host that missed a shift posts the hand-off back to the set it last saw: the pair's record, not its own (T59 N6)", async () => {
    onCall("dave");
    await host("a");
    await host("b");
    // Carol's shift: only host a runs (b is down, or its run exited 75).
    onCall("carol");
    await host("a");
    expect(posts().at(-1)).toMatch(/on call now: <@U0CAROL>/);
    // Back to dave, only host b alive: its own record still says dave, the channel says carol.
    onCall("dave");
    const b = await host("b");
    expect(b.exitCode).toBe(0);
    expect(posts().at(-1)).toBe("On-call hand-off: on call now: <@U0DAVE> (off duty: <@U0CAROL>)");
    // Delivered once: host a, back up, finds it announced.
    const count = posts().length;
    await host("a");
    await host("b");
    expect(posts()).toHaveLength(count);
  });

  it("a Slack hand-off that failed on one host is posted by the other, and recorded for the pair only once Slack took it (T59 N6)", async () => {
    onCall("alice", "bob");
    const handoffs = () => posts().filter((p) => p.startsWith("On-call hand-off: on call now: <@U0ALICE>, <@U0BOB>"));
    slack.fault({ status: 200, body: { ok: false, error: "fatal_error" } }, { path: "/api/chat.postMessage", times: 1 });
    const a = await host("a");
    expect(a.sinks[1]?.parts?.find((p) => p.part === "message")).toMatchObject({ part: "message", status: "failed" });
    expect(handoffs()).toHaveLength(0);
    const b = await host("b");
    expect(b.sinks[1]?.parts?.find((p) => p.part === "message")).toEqual({ part: "message", status: "applied" });
    expect(handoffs()).toHaveLength(1);
    // Host a's pending copy is found in the channel, not posted again.
    await host("a");
    expect(handoffs()).toHaveLength(1);
  });

  it("SIGTERM mid-run hands the lease back at once (the other host need not wait for the TTL)", async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs deputize" first`);
    onCall("carol");
    const file = join(dir, "sigterm.json");
    writeFileSync(
      file,
      JSON.stringify({
        sources: [{ type: "pagerduty", token: "env:PD_TOKEN", baseUrl: pd.url, schedules: ["SRE"] }],
        sinks: [{ type: "slack", name: "slack", token: "env:SLACK_TOKEN", baseUrl: slack.apiUrl, channel: CHANNEL }],
        lease: { redis: { url: redis.url, password: "env:REDIS_PASSWORD", ttlSeconds: 60, waitSeconds: 5 } },
        stateDir: join(dir, "sigterm-state"),
        retries: 0,
        timeoutMs: 10_000,
      }),
    );
    const other = await adminRedis();
    const calls = slack.requests.length;
    slack.slow(8_000);
    const child = spawn(process.execPath, [BUNDLE, "--config", file, "run"], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      // The run holds the lease and waits for Slack.
      await expect.poll(() => slack.requests.length, { timeout: 10_000 }).toBeGreaterThan(calls);
      expect(await other.pttl(LEASE)).toBeGreaterThan(30_000);
      child.kill("SIGTERM");
      expect(await exited).toBe(143);
      expect(stderr).toMatch(/interrupted by SIGTERM/);
      expect(await other.exists(LEASE)).toBe(0);
    } finally {
      child.kill("SIGKILL");
      slack.slow(0);
      other.disconnect();
    }
  });

  it("a lease held past waitSeconds is exit 75 and nothing is written; Redis down is exit 69", async () => {
    onCall("alice");
    const writes = slack.writes().length;
    const other = await connectRedis({
      url: redis.url,
      password: new Secret(env.REDIS_PASSWORD, "test"),
      connectTimeoutMs: 2000,
      commandTimeoutMs: 2000,
      key: "test",
    });
    let release: () => void = () => {};
    const holding = withRedisLease(
      other,
      { key: "opsguard:deputize:lease", ttlMs: 10_000, waitMs: 0, owner: "host-z" },
      () => new Promise<void>((r) => (release = r)),
    );
    await expect.poll(() => other.exists("opsguard:deputize:lease")).toBe(1);
    const refused = await host("a", { lease: { redis: { url: redis.url, password: "env:REDIS_PASSWORD", waitSeconds: 0 } } }).catch(
      (e: Error) => e,
    );
    expect(refused).toMatchObject({ exitCode: 75, message: expect.stringMatching(/held by host-z/) });
    release();
    await holding;
    other.disconnect();
    await redis.stopServer();
    try {
      const down = await host("a").catch((e: Error) => e);
      expect(down).toMatchObject({ exitCode: 69 });
    } finally {
      await redis.startServer();
    }
    expect(slack.writes().length).toBe(writes);
  });
});
