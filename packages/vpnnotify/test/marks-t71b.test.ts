import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { Logger, Secret } from "@opsguard/core";
import type { RedisLab } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startAnswerServer } from "../src/answers";
import { configSchema } from "../src/config";
import { marksFileOf } from "../src/file-store";
import { handleConnect } from "../src/notify";
import { markDisowned, placeKeys } from "../src/places";
import { createNotifier } from "../src/runtime";
import { type MarksLab, marksConfig, PLACES, runInProc, SECURITY, startMarksLab, storeSection } from "./fixtures";

/**
 * Tester T71's findings N1, N2 and N11 on the "not me" marks: a signed "No" whose button value vpnnotify never wrote
 * is refused by serve (no mark, no escalation); marks keyed so that no login or command can reach them are refused as
 * "not marks" (78, fail closed); the network mark kept after two "No"s in one /24 were removed says what it holds.
 */

const SIGNING_SECRET = "lab-signing-secret-t71b-0123456789";
const DAY = 86_400_000;
let lab: MarksLab & { redis: RedisLab };

beforeAll(async () => {
  process.env.TEST_SIGNING_SECRET = SIGNING_SECRET;
  lab = await startMarksLab({ prefix: "vpnnotify-t71b-", users: ["alice", "bob"], redis: true, redisPassword: "lab-redis-pw-t71b" });
});

afterAll(async () => {
  await lab?.stop();
});

beforeEach(() => {
  lab.slack.up();
  lab.slack.messages.length = 0;
});

/** A config (file or Redis store) on disk, and a notifier on it whose log lines are kept. */
function setup(store: "file" | "redis") {
  const id = Math.random().toString(36).slice(2);
  const prefix = `t${id}:`;
  const config = marksConfig(lab, id, storeSection(lab, id, store), {
    answers: { signingSecret: "env:TEST_SIGNING_SECRET", listen: "127.0.0.1:0" },
  });
  const configFile = join(lab.dir, `${id}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  const lines: string[] = [];
  const stream = { write: (line: string) => lines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  const n = createNotifier(configSchema.parse(config), new Logger({ tool: "vpnnotify", level: "info", stream }));
  const run = (...args: string[]) => runInProc(["--config", configFile, ...args], {});
  const connect = (user: string, ip: string, time = Date.now()) => handleConnect({ kind: "connect", source: "openvpn", user, ip, time }, n);
  return { n, lines, run, connect, prefix, marksFile: marksFileOf(join(lab.dir, id, "state.json")) };
}

/** redis-cli against the lab's server. */
function redisCli(...args: string[]) {
  return spawnSync("redis-cli", ["-p", String(lab.redis.port), "--no-auth-warning", "-a", lab.redis.password ?? "", ...args], {
    encoding: "utf8",
  });
}

/** A block_actions request, signed as Slack signs it, for a click on `actionId` whose button carries `value`. */
function click(value: string, actionId = "vpnnotify_no", user = "U0ALICE", now = Date.now()) {
  const payload = {
    type: "block_actions",
    user: { id: user, username: "alice", team_id: "T0LAB" },
    actions: [{ type: "button", block_id: "vpnnotify_answer", action_id: actionId, value, action_ts: "1.2" }],
  };
  const body = `payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const timestamp = String(Math.floor(now / 1000));
  return {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": `v0=${createHmac("sha256", SIGNING_SECRET).update(`v0:${timestamp}:${body}`).digest("hex")}`,
    },
    body,
  };
}

/** A log line's reason= value, as the logger quoted it (JSON). */
function reasonOf(line: string): string | undefined {
  const quoted = /reason=("(?:[^"\\]|\\.)*")/.exec(line)?.[1];
  return quoted === undefined ? undefined : (JSON.parse(quoted) as string);
}

/** The "No" button's value of the last DM to alice. */
function noButtonValue(): Record<string, unknown> {
  const dm = lab.slack.messagesTo("U0ALICE").at(-1);
  const elements = (dm?.blocks?.[1] as { elements: { action_id: string; value: string }[] } | undefined)?.elements ?? [];
  const value = elements.find((e) => e.action_id === "vpnnotify_no")?.value;
  if (!value) throw new Error("the DM has no No button");
  return JSON.parse(value) as Record<string, unknown>;
}

describe("serve: a signed answer whose button value vpnnotify never wrote is refused, nothing marked (T71 N1)", () => {
  it("an ip that is no one address, an empty user, a login time far ahead or no time: 400, a warning, no mark, no escalation", async () => {
    const s = setup("file");
    await s.connect("alice", PLACES.london.ip, Date.now() - DAY);
    const good = noButtonValue();
    const server = await startAnswerServer(s.n, {
      signingSecret: new Secret(SIGNING_SECRET, "test"),
      host: "127.0.0.1",
      port: 0,
      path: "/slack/actions",
    });
    const securityBefore = lab.slack.messagesTo(SECURITY).length;
    try {
      const bad: [Record<string, unknown>, string][] = [
        [{ ip: "not-an-ip" }, 'its ip "not-an-ip" is not one IP address'],
        [{ ip: "0.0.0.0/0" }, 'its ip "0.0.0.0/0" is not one IP address'],
        [{ ip: "fe80::%eth0" }, 'its ip "fe80::%eth0" is not one IP address'],
        [{ u: "" }, 'its user "" is empty (or only spaces or control characters)'],
        [{ u: " \t " }, 'its user " \\t " is empty (or only spaces or control characters)'],
        [{ u: "al\uFFFDce" }, 'its user "al\uFFFDce" is not valid UTF-8 (or holds U+FFFD, what such bytes decode to)'],
        [{ t: 99_999_999_999_999 }, "its login time 5138-11-16T09:46:39.999Z is more than a day ahead of this host's clock"],
        [{ t: 1e300 }, "its login time 1e+300 is not a time"],
      ];
      for (const [change, problem] of bad) {
        const value = JSON.stringify({ ...good, ...change });
        for (const action of ["vpnnotify_no", "vpnnotify_yes"]) {
          const r = await fetch(`${server.url}`, click(value, action));
          expect([r.status, await r.text()], value).toEqual([
            400,
            `this answer could not be recorded: the button's value is not one vpnnotify wrote: ${problem}`,
          ]);
          const line = s.lines.at(-1) ?? "";
          const said = action === "vpnnotify_no" ? "NOT me" : "me";
          expect(line, value).toMatch(
            new RegExp(
              `^vpnnotify: warn: refused an answer \\(it was ${said}\\): this answer could not be recorded reason="the button's value is not one vpnnotify wrote: its .* slackUser=U0ALICE from=\\S+$`,
            ),
          );
          expect(reasonOf(line), value).toBe(`the button's value is not one vpnnotify wrote: ${problem}`);
        }
      }
      // a control character in the value is escaped in the one warning line (no forged line, no terminal escape)
      const forged = JSON.stringify({ ...good, ip: "1.2.3.4\u001b[2J\nvpnnotify: answer: it was me" });
      expect((await fetch(server.url, click(forged))).status).toBe(400);
      expect(reasonOf(s.lines.at(-1) ?? "")).toContain('its ip "1.2.3.4\\u001b[2J\\nvpnnotify: answer: it was me" is not one IP address');
      expect(s.lines.at(-1)).not.toMatch(/[\u001b\n]/);

      // nothing was marked, spooled or escalated from any of them
      expect(existsSync(s.marksFile)).toBe(false);
      expect(await s.n.spool.status()).toMatchObject({ pending: 0 });
      expect(lab.slack.messagesTo(SECURITY)).toHaveLength(securityBefore);
      const list = await s.run("marks");
      expect([list.code, list.stdout]).toEqual([0, `no "not me" marks (state file ${s.marksFile.replace(".disowned", "")})\n`]);

      // the button vpnnotify wrote still works exactly as before: 200, escalated, both marks written
      const r = await fetch(server.url, click(JSON.stringify(good)));
      expect(r.status).toBe(200);
      const until = Date.now() + 5_000;
      while (lab.slack.messagesTo(SECURITY).length === securityBefore && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(lab.slack.messagesTo(SECURITY).at(-1)?.text).toContain("Why: the user answered that this login was NOT them");
      const after = await s.run("marks");
      expect(after.code).toBe(0);
      expect(after.stdout.split("\n").filter(Boolean)).toEqual([
        expect.stringMatching(new RegExp(`^alice  ${PLACES.london.ip}  no=`)),
        expect.stringMatching(new RegExp(`^alice  ${PLACES.london.cidr.replace(/\./g, "\\.")}  no=`)),
      ]);
    } finally {
      await server.close();
      await s.n.store.close();
    }
  });
});

describe('marks keyed so that no login or command can reach them are refused as "not marks" (T71 N2)', () => {
  const mark = () => ({ login: Date.now() - DAY, answeredAt: Date.now() - DAY + 60_000 });

  it.each([
    ["Alice", "net:81.2.69.0/24", 'the user "Alice" is not in its normal form "alice"', 'move its marks under "alice"', true],
    ["", "ip:81.2.69.7", 'the user "" is empty', "remove that user's marks", false],
    ["alice", "ip:999.2.69.50", 'the place "ip:999.2.69.50" is no address', "correct that place", true],
    ["alice", "net:0.0.0.0/0", 'the place "net:0.0.0.0/0" is no address', "correct that place", true],
    ["alice", "net:NaN::/56", 'the place "net:NaN::/56" is no address', "correct that place", true],
    ["bob", "ip:999.2.69.50", 'the place "ip:999.2.69.50" is no address', "correct that place", false],
  ])(
    "the state file's marks under %j at %s: marks and status 78 naming the key and its fix; the logins it could be alice's fail closed",
    async (user, place, problem, fix, alices) => {
      const s = setup("file");
      await s.connect("alice", PLACES.london.ip, Date.now() - 2 * DAY);
      const kept = { [place]: mark() };
      writeFileSync(s.marksFile, JSON.stringify({ version: 1, users: { alice: {}, [user]: kept } }));
      for (const args of [["marks"], ["marks", "alice"], ["marks", "--remove", "alice"], ["status"]]) {
        const r = await s.run(...args);
        expect([r.code, r.stdout], args.join(" ")).toEqual([78, ""]);
        const lines = r.stderr.split("\n").filter(Boolean);
        expect(lines, args.join(" ")).toHaveLength(1);
        expect(lines[0]).toContain(`the "not me" marks could not be read: ${s.marksFile} is not a marks file (${problem}`);
        expect(lines[0]).toContain(fix);
      }
      // alice's home, a known place otherwise quiet: told to the security channel when the key is (or would be) hers,
      // quiet when it cannot be (another user's place, a user no login has): it matches no login of hers
      const login = await s.connect("alice", PLACES.london.ip);
      if (alices) {
        expect(login).toMatchObject({ securityChannel: SECURITY });
        expect(login.flags.join("; ")).toContain(`the 'not me' marks could not be read: ${s.marksFile} is not a marks file (${problem}`);
      } else expect(login).toMatchObject({ verdict: "suppressed", reason: "known-place" });
      // the key is left as it is (a quiet login rewrites the file for alice's own marks, never dropping another's)
      expect(JSON.parse(readFileSync(s.marksFile, "utf8")).users[user]).toEqual(kept);
      await s.n.store.close();
    },
  );

  it("Redis: a disowned: key under a name not in normal form is 78 for marks, naming the key and the RENAME", async () => {
    const s = setup("redis");
    const key = `${s.prefix}disowned:Bob`;
    const value = JSON.stringify({ "ip:1.2.3.4": mark() });
    expect(redisCli("set", key, value).stdout.trim()).toBe("OK");
    const r = await s.run("marks");
    expect([r.code, r.stdout]).toEqual([78, ""]);
    expect(r.stderr.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(
        new RegExp(
          `the "not me" marks could not be read: the Redis key ${key} holds marks no login can reach \\(the user "Bob" is not in its normal form "bob".*RENAME ${key} ${s.prefix}disowned:bob when that key does not exist yet`,
        ),
      ),
    ]);
    expect(redisCli("get", key).stdout.trim()).toBe(value);
    await s.n.store.close();
  });

  it("Redis: a place no login can match in bob's key is 78 for marks bob, and bob's logins fail closed", async () => {
    const s = setup("redis");
    await s.connect("bob", PLACES.paris.ip, Date.now() - 2 * DAY);
    const key = `${s.prefix}disowned:bob`;
    const value = JSON.stringify({ "ip:999.2.69.50": mark() });
    expect(redisCli("set", key, value).stdout.trim()).toBe("OK");
    for (const args of [["marks"], ["marks", "bob"], ["marks", "--remove", "bob"]]) {
      const r = await s.run(...args);
      expect([r.code, r.stdout], args.join(" ")).toEqual([78, ""]);
      expect(r.stderr).toContain(`the Redis key ${key} holds no marks (the place "ip:999.2.69.50" is no address`);
      expect(r.stderr).toContain(`DEL ${key}`);
    }
    const login = await s.connect("bob", PLACES.paris.ip);
    expect(login).toMatchObject({ securityChannel: SECURITY });
    expect(login.flags.join("; ")).toContain(`the Redis key ${key} holds no marks (the place "ip:999.2.69.50"`);
    expect(redisCli("get", key).stdout.trim()).toBe(value);
    await s.n.store.close();
  });
});

describe.each(["file", "redis"] as const)('two "No"s in one /24, both addresses removed, with the %s store (T71 N11)', (store) => {
  it("the kept network mark's reason names the login it records, and says that address mark is no longer kept", async () => {
    const s = setup(store);
    const t0 = Date.now() - 3 * DAY;
    const no = (ip: string, login: number) =>
      s.n.store.update("alice", (h) => markDisowned(h, placeKeys(s.n.geo.lookup(ip)), login, login + 60_000, s.n.policy));
    await no("81.2.69.142", t0);
    await no("81.2.69.200", t0 + DAY);
    const first = await s.run("marks", "--remove", "alice", "81.2.69.142");
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^kept {2}alice {2}81\.2\.69\.0\/24 .*\(another "No" stands on this network: 81\.2\.69\.200;/m);
    const second = await s.run("marks", "--remove", "alice", "81.2.69.200");
    expect(second.code).toBe(0);
    const login = new Date(t0).toISOString();
    // the kept row shows that login, and the reason says the same login, without calling it another one that stands
    expect(second.stdout.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(/^removed {2}alice {2}81\.2\.69\.200 /),
      `kept  alice  81.2.69.0/24  no=${new Date(t0 + DAY + 60_000).toISOString()}  login=${login}  expires=${new Date(t0 + DAY + 60_000 + 365 * DAY).toISOString()}  (its mark also records a "No" to an earlier login, of ${login}, whose address mark is no longer kept (removed before, expired, or dropped for room); to remove it too: vpnnotify marks --remove alice 81.2.69.0/24)`,
    ]);
    // still fails closed: a login from the network is escalated until the network is removed too
    expect(await s.connect("alice", "81.2.69.7")).toMatchObject({ reason: "disowned-place" });
    const third = await s.run("marks", "--remove", "alice", "81.2.69.0/24");
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/^removed {2}alice {2}81\.2\.69\.0\/24 /);
    await s.n.store.close();
  });
});

describe("a marks --remove killed between writing its temp file and renaming it (T71 N9)", () => {
  it("the next run, breaking the dead writer's locks, removes its temp file; a live writer's and other files stay", async () => {
    const s = setup("file");
    const login = Date.now() - DAY;
    await s.n.store.update("alice", (h) => markDisowned(h, placeKeys(s.n.geo.lookup("81.2.69.142")), login, login + 60_000, s.n.policy));
    // What SIGKILL left: both writers' locks naming the dead process, and its temp file beside the marks file.
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    const dir = dirname(s.marksFile);
    for (const file of [join(dir, "state.json"), s.marksFile]) {
      writeFileSync(`${file}.lock`, JSON.stringify({ pid: gone, host: hostname(), token: "killed", time: Date.now() }));
    }
    const orphan = join(dir, `.state.disowned.json.${gone}.00506d17.tmp`);
    writeFileSync(orphan, '{"version":1,"users":{"alice":{}}}\n', { mode: 0o600 });
    const live = join(dir, `.state.disowned.json.${process.pid}.0000beef.tmp`);
    writeFileSync(live, "a live writer's", { mode: 0o600 });
    const r = await s.run("marks", "--remove", "alice", "81.2.69.142");
    expect([r.code, r.stdout]).toEqual([0, expect.stringMatching(/^removed {2}alice {2}81\.2\.69\.142 /)]);
    expect(existsSync(orphan)).toBe(false);
    expect(readFileSync(live, "utf8")).toBe("a live writer's");
    expect(JSON.parse(readFileSync(s.marksFile, "utf8"))).toEqual({ version: 1, users: {} });
    await s.n.store.close();
  });
});

describe("--json marks that fails prints nothing on stdout: one line on stderr and the exit code, as every opsguard command whose work could not be done (T71 N6)", () => {
  it('64, 78 and 69: stdout empty, one stderr line; a --remove with a "No" still pending (75) prints its document', async () => {
    const s = setup("file");
    const usage = await s.run("--json", "marks", "nobody", "1.1.1.300");
    expect([usage.code, usage.stdout, usage.stderr.split("\n").filter(Boolean).length]).toEqual([64, "", 1]);
    mkdirSync(dirname(s.marksFile), { recursive: true });
    writeFileSync(s.marksFile, "{not json", { mode: 0o600 });
    const unreadable = await s.run("--json", "marks");
    expect([unreadable.code, unreadable.stdout]).toEqual([78, ""]);
    expect(unreadable.stderr).toMatch(/^vpnnotify: .*state\.disowned\.json/);
    // Redis down: a closed port
    const id = Math.random().toString(36).slice(2);
    const down = join(lab.dir, `${id}-down.json`);
    writeFileSync(
      down,
      JSON.stringify(marksConfig(lab, id, { redis: { url: "redis://127.0.0.1:1/0", connectTimeoutMs: 300, commandTimeoutMs: 300 } })),
    );
    const unavailable = await runInProc(["--config", down, "--json", "marks", "--remove", "bob"], {});
    expect([unavailable.code, unavailable.stdout]).toEqual([69, ""]);
    expect(unavailable.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    await s.n.store.close();
  });
});
