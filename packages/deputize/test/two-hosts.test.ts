import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type LdapClient, Logger, Secret } from "@opsguard/core";
import { connectRedis, withRedisLease } from "@opsguard/core/redis";
import { PagerDutySim, type RedisLab, SLACK_SIM_TOKEN, SlackSim, type SlapdLab, startRedis, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDeputize } from "../src/build";
import { configSchema } from "../src/config";
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
    expect(next.sinks[1]?.parts).toEqual([{ part: "message", status: "applied" }]);
    expect(posts().filter((p) => p.includes("<@U0BOB>"))).toHaveLength(1);
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
