import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, userInfo } from "node:os";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import type { RedisLab, SlackSim } from "@opsguard/lab";
import { SLACK_SIM_TOKEN } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { marksFileOf } from "../src/file-store";
import { handleConnect } from "../src/notify";
import { markDisowned, placeKeys } from "../src/places";
import { createNotifier } from "../src/runtime";
import {
  CLI,
  type MarksLab,
  marksConfig,
  PLACES,
  runCli,
  runInProc,
  SECURITY,
  startMarksLab,
  storeSection,
  syslogServer,
  waitFor,
} from "./fixtures";

/**
 * `vpnnotify marks`: the operator's way to see the users' "not me" marks and to undo a "No" given by mistake (T64 N6),
 * with the state file and with Redis, under the writers' locks, never touching the histories.
 */

const DAY = 86_400_000;
let lab: MarksLab & { redis: RedisLab };
let dir: string;
let slack: SlackSim;
let redis: RedisLab;

beforeAll(async () => {
  lab = await startMarksLab({ prefix: "vpnnotify-marks-cmd-", users: ["alice", "bob"], redis: true, redisPassword: "lab-redis-pw-marks" });
  ({ dir, slack, redis } = lab);
});

afterAll(async () => {
  await lab?.stop();
});

/**
 * Alice logs in from home (London) on two days, and answers "No" to the second login by mistake; bob says "No" to a login from Paris.
 * Both "No"s are recorded the way serve records them (markDisowned through the store).
 */
async function mistakenNo(store: "file" | "redis") {
  const id = Math.random().toString(36).slice(2);
  const config = marksConfig(lab, id, storeSection(lab, id, store), { log: { file: join(dir, id, "vpnnotify.log") } });
  const configFile = join(dir, `${id}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  const n = createNotifier(
    configSchema.parse(config),
    new Logger({ tool: "vpnnotify", level: "error", stream: { write: () => true } as never }),
  );
  const t0 = Date.now() - 3 * DAY;
  const connect = (user: string, ip: string, time = Date.now()) => handleConnect({ kind: "connect", source: "openvpn", user, ip, time }, n);
  const no = (user: string, ip: string, login: number) =>
    n.store.update(user, (h) => markDisowned(h, placeKeys(n.geo.lookup(ip)), login, login + 60_000, n.policy));
  await connect("alice", PLACES.london.ip, t0 - DAY);
  await connect("alice", PLACES.london.ip, t0);
  await no("alice", PLACES.london.ip, t0);
  await connect("bob", PLACES.paris.ip, t0);
  await no("bob", PLACES.paris.ip, t0);
  const run = (...args: string[]) => runInProc(["--config", configFile, ...args], {});
  return {
    n,
    t0,
    connect,
    no,
    run,
    config,
    logFile: config.log.file,
    configFile,
    stateFile: join(dir, id, "state.json"),
    marks: marksFileOf(join(dir, id, "state.json")),
  };
}

/** redis-cli against the lab's server: synchronous, so a test can write between a transaction's read and its EXEC. */
function redisCli(...args: string[]) {
  return spawnSync("redis-cli", ["-p", String(redis.port), "--no-auth-warning", "-a", redis.password ?? "", ...args], { encoding: "utf8" });
}

describe.each(["file", "redis"] as const)("vpnnotify marks with the %s store", (store) => {
  it('lists every mark, text and --json: user, address or network, when the "No" came, the login it came from', async () => {
    const s = await mistakenNo(store);
    const text = await s.run("marks");
    expect([text.code, text.stderr]).toEqual([0, ""]);
    const no = new Date(s.t0 + 60_000).toISOString();
    const login = new Date(s.t0).toISOString();
    expect(text.stdout.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^alice  ${PLACES.london.ip}  no=${no}  login=${login}  expires=`)),
      expect.stringMatching(new RegExp(`^alice  ${PLACES.london.cidr}  no=${no}  login=${login} from ${PLACES.london.ip}  expires=`)),
      expect.stringMatching(/^bob {2}90\.100\.1\.2 {2}/),
      expect.stringMatching(/^bob {2}90\.100\.1\.0\/24 {2}/),
    ]);
    const json = await s.run("--json", "marks", "alice");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).marks).toEqual([
      expect.objectContaining({ user: "alice", place: PLACES.london.ip, kind: "address", answeredAt: no, login, expired: false }),
      expect.objectContaining({ user: "alice", place: PLACES.london.cidr, kind: "network", loginIp: PLACES.london.ip }),
    ]);
    await s.n.store.close();
  });

  it("--json: exactly the fields the README gives, loginIp and lastSeen only when known, store the store's name (T70 N4)", async () => {
    const s = await mistakenNo(store);
    // a login from the disowned address after the "No" (lastSeen on both marks), then the address mark gone: the
    // network mark's login has no address mark left to name it (no loginIp)
    const seen = Date.now() - DAY;
    await s.connect("alice", PLACES.london.ip, seen);
    await s.n.store.removeMarks("alice", (key) => key === `ip:${PLACES.london.ip}`);
    const r = await s.run("--json", "marks");
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const iso = (t: number) => new Date(t).toISOString();
    const year = 365 * DAY;
    const out = JSON.parse(r.stdout);
    expect(out).toEqual({
      marks: [
        {
          user: "alice",
          place: PLACES.london.cidr,
          kind: "network",
          answeredAt: iso(s.t0 + 60_000),
          login: iso(s.t0),
          lastSeen: iso(seen),
          expiresAt: iso(seen + year),
          expired: false,
        },
        ...[PLACES.paris.ip, "90.100.1.0/24"].map((place, i) => ({
          user: "bob",
          place,
          kind: i === 0 ? "address" : "network",
          answeredAt: iso(s.t0 + 60_000),
          login: iso(s.t0),
          loginIp: PLACES.paris.ip,
          expiresAt: iso(s.t0 + 60_000 + year),
          expired: false,
        })),
      ],
      pending: [],
      store: store === "file" ? `state file ${s.stateFile}` : `redis 127.0.0.1:${redis.port}`,
    });
    // the README's line names these keys, in this order, the optional ones marked
    const readme = readFileSync(join(import.meta.dirname, "../README.md"), "utf8");
    const line = /^prints `(\{"marks":.*\})`/m.exec(readme)?.[1];
    const keys = (text: string) => [...text.matchAll(/"(\w+)"(\??)(?=[,}\]:])/g)].map((m) => `${m[1]}${m[2]}`);
    expect(keys(line ?? "")).toEqual([
      "marks",
      ...["user", "place", "kind", "answeredAt", "login", "loginIp?", "lastSeen?", "expiresAt", "expired"],
      "pending",
      ...["user", "ip", "network", "answeredAt", "login"],
      "store",
    ]);
    await s.n.store.close();
  });

  it('--remove with the network in another form than stored undoes the mistaken "No": home is no longer escalated, bob keeps his', async () => {
    const s = await mistakenNo(store);
    const before = await s.connect("alice", PLACES.london.ip);
    expect(before).toMatchObject({ reason: "disowned-place", securityChannel: SECURITY });
    const history = store === "file" ? statSync(s.stateFile) : undefined;
    const r = await s.run("marks", "--remove", "Alice", "81.2.69.142/24");
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^removed  alice  ${PLACES.london.ip}  `)),
      expect.stringMatching(new RegExp(`^removed  alice  ${PLACES.london.cidr}  `)),
    ]);
    // a warning naming user, place, who ran it and when, for each mark; nothing posted to Slack
    const uid = process.getuid?.();
    for (const place of [PLACES.london.ip, PLACES.london.cidr]) {
      expect(r.stderr).toMatch(
        new RegExp(
          `^vpnnotify: warn: "not me" mark removed: .* user=alice place=${place.replace(/[./]/g, "\\$&")} by=.*\\(uid ${uid}\\).* at=\\d{4}-`,
          "m",
        ),
      );
    }
    const posts = slack.messages.length;
    expect((await s.run("marks", "alice")).stdout).toBe(`no "not me" marks for alice (${s.n.store.name})\n`);
    expect((await s.run("marks", "bob")).stdout).toContain("bob  90.100.1.2");
    expect(slack.messages.length).toBe(posts);
    // the histories were not rewritten (the same file, not one put in its place)
    if (history) expect(statSync(s.stateFile)).toMatchObject({ ino: history.ino, mtimeMs: history.mtimeMs });
    // home is a known place again: quiet, as before the mistaken "No"
    expect(await s.connect("alice", PLACES.london.ip)).toMatchObject({ verdict: "suppressed", reason: "known-place" });
    await s.n.store.close();
  });

  it('--remove of an address keeps its network\'s mark while another "No" stands on that network, and says why', async () => {
    const s = await mistakenNo(store);
    // alice's real "No": a login from the same /24 as home (a carrier's NAT, a shared office)
    const attacker = "81.2.69.200";
    await s.connect("alice", attacker, s.t0 + DAY);
    await s.no("alice", attacker, s.t0 + DAY);
    const r = await s.run("marks", "--remove", "alice", PLACES.london.ip);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean)).toEqual([
      expect.stringMatching(new RegExp(`^removed  alice  ${PLACES.london.ip}  `)),
      expect.stringMatching(
        new RegExp(
          `^kept  alice  ${PLACES.london.cidr}  .*  \\(another "No" stands on this network: ${attacker}; to remove it too: vpnnotify marks --remove alice ${PLACES.london.cidr}\\)$`,
        ),
      ),
    ]);
    expect(r.stderr).toMatch(new RegExp(`"not me" network mark kept: .* user=alice place=${PLACES.london.cidr.replace(/[./]/g, "\\$&")} `));
    // every login from the attacker's network is still escalated, not only from its one address
    expect(await s.connect("alice", "81.2.69.7")).toMatchObject({ reason: "disowned-place", securityChannel: SECURITY });
    const left = JSON.parse((await s.run("--json", "marks", "alice")).stdout).marks.map((m: { place: string }) => m.place);
    expect(left.sort()).toEqual([attacker, PLACES.london.cidr].sort());
    await s.n.store.close();
  });

  it('--remove of an address keeps a network mark that records another login\'s "No" whose address mark is gone', async () => {
    const s = await mistakenNo(store);
    // an earlier "No" in the same /24, whose address mark has gone (expired, or dropped for room) while the network's
    // mark lived on through later logins from the network: the network mark's login is that earlier one
    await s.no("alice", "81.2.69.200", s.t0 - DAY);
    await s.n.store.removeMarks("alice", (key) => key === "ip:81.2.69.200");
    const r = await s.run("marks", "--remove", "alice", PLACES.london.ip);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^kept  alice  ${PLACES.london.cidr}  .*  \\(its mark also records a "No" to an earlier login, of ${new Date(s.t0 - DAY).toISOString()}, whose address mark is no longer kept \\(removed before, expired, or dropped for room\\);`,
        "m",
      ),
    );
    expect(await s.connect("alice", "81.2.69.7")).toMatchObject({ reason: "disowned-place" });
    await s.n.store.close();
  });

  it("a removal is recorded in the configured log sink (log.file, as the worker logs), -q silencing only stderr", async () => {
    const s = await mistakenNo(store);
    const attacker = "81.2.69.200";
    await s.no("alice", attacker, s.t0 + DAY);
    const r = await s.run("-q", "marks", "--remove", "alice", PLACES.london.ip);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toMatch(/^removed {2}alice {2}81\.2\.69\.142 /);
    const logged = readFileSync(s.logFile, "utf8").split("\n").filter(Boolean);
    const uid = process.getuid?.();
    expect(logged).toEqual([
      expect.stringMatching(
        new RegExp(`^vpnnotify: warn: "not me" mark removed: .* user=alice place=81\\.2\\.69\\.142 by=.*\\(uid ${uid}\\).* at=\\d{4}-`),
      ),
      expect.stringMatching(/^vpnnotify: warn: "not me" network mark kept: .* user=alice place=81\.2\.69\.0\/24 because="another /),
    ]);
    await s.n.store.close();
  });

  it('a "No" still in the spool, not yet marked: listed as pending, and --remove says so (75) and how to remove it', async () => {
    const s = await mistakenNo(store);
    // alice's "No" to a login from Sydney came while the store was down: its alert went out, its mark is owed
    const login = s.t0 + DAY;
    const entry = await s.n.spool.enqueue({
      event: { source: "openvpn", user: "Alice", ip: PLACES.sydney.ip, time: login },
      geo: s.n.geo.lookup(PLACES.sydney.ip),
      decision: { notify: true, reason: "new-place", newPlace: true, newCountry: true, suspicious: false, keys: [] },
      sent: { dm: "1.1", security: "1.2" },
      disowned: { by: "U0ALICE", at: login + 60_000 },
    });
    const spooled = join(s.n.spool.dir, `${entry.id}.json`);
    const before = readFileSync(spooled, "utf8");
    const no = new Date(login + 60_000).toISOString();
    const pendingLine = `pending  alice  ${PLACES.sydney.ip}  no=${no}  login=${new Date(login).toISOString()}  (a "No" in the spool, not marked yet: the next flush marks ${PLACES.sydney.ip} and 1.128.3.0/24)`;
    const list = await s.run("marks", "alice");
    expect(list.code).toBe(0);
    expect(list.stdout.split("\n")).toContain(pendingLine);
    const json = JSON.parse((await s.run("--json", "marks", "alice", PLACES.sydney.ip)).stdout);
    expect(json).toMatchObject({ marks: [], pending: [{ user: "alice", ip: PLACES.sydney.ip, network: "1.128.3.0/24", answeredAt: no }] });
    const r = await s.run("marks", "--remove", "alice", PLACES.sydney.ip);
    expect(r.code).toBe(75);
    expect(r.stdout.split("\n")).toContain(pendingLine);
    expect(r.stderr).toContain(
      `a "No" of alice to a login from ${PLACES.sydney.ip} is still in the spool, not marked yet: nothing removed for it`,
    );
    expect(r.stderr).toContain(`run vpnnotify flush (it marks it), then vpnnotify marks --remove alice ${PLACES.sydney.ip} again`);
    // --json: a 75 with a result prints it (nothing removed, the "No" pending), as notify --json prints its decision (T71 N6)
    const inJson = await s.run("--json", "marks", "--remove", "alice", PLACES.sydney.ip);
    expect(inJson.code).toBe(75);
    expect(JSON.parse(inJson.stdout)).toMatchObject({ removed: [], pending: [{ user: "alice", ip: PLACES.sydney.ip, answeredAt: no }] });
    // the spool entry is left as it is, and flushing then removing works
    expect(readFileSync(spooled, "utf8")).toBe(before);
    expect((await s.run("flush")).code).toBe(0);
    const again = await s.run("marks", "--remove", "alice", PLACES.sydney.ip);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`removed  alice  ${PLACES.sydney.ip}  `);
    await s.n.store.close();
  });

  it("--remove USER removes all of that user's marks, and only theirs", async () => {
    const s = await mistakenNo(store);
    await s.no("alice", PLACES.sydney.ip, s.t0 + DAY);
    const r = await s.run("--json", "marks", "--remove", "alice");
    expect(r.code).toBe(0);
    expect(
      JSON.parse(r.stdout)
        .removed.map((m: { place: string }) => m.place)
        .sort(),
    ).toEqual([PLACES.london.ip, PLACES.london.cidr, PLACES.sydney.ip, "1.128.3.0/24"].sort());
    const left = JSON.parse((await s.run("--json", "marks")).stdout).marks.map((m: { user: string }) => m.user);
    expect(left).toEqual(["bob", "bob"]);
    await s.n.store.close();
  });

  it("no such mark: one line saying so and what the user has, exit 0 as status's nothing-to-do, nothing written", async () => {
    const s = await mistakenNo(store);
    const before = store === "file" ? readFileSync(s.marks, "utf8") : undefined;
    const r = await s.run("marks", "--remove", "alice", PLACES.paris.ip);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    expect(r.stdout).toBe(
      `nothing removed: alice has no "not me" mark at 90.100.1.2 (or its network 90.100.1.0/24) (${s.n.store.name}); their marks: ${PLACES.london.ip}, ${PLACES.london.cidr}\n`,
    );
    if (before !== undefined) expect(readFileSync(s.marks, "utf8")).toBe(before);
    const carol = await s.run("marks", "--remove", "carol");
    expect([carol.code, carol.stdout]).toEqual([0, `nothing removed: carol has no "not me" marks (${s.n.store.name})\n`]);
    expect((await s.run("marks", "carol")).stdout).toBe(`no "not me" marks for carol (${s.n.store.name})\n`);
    await s.n.store.close();
  });
});

describe.each(["file", "redis"] as const)("marks an earlier build kept inside a history, with the %s store", (store) => {
  it("are listed, and --remove picking one is 75 with nothing changed, until the user's next login moves them out", async () => {
    const s = await mistakenNo(store);
    await s.connect("carol", PLACES.paris.ip, s.t0);
    const mark = { login: s.t0, answeredAt: s.t0 + 60_000 };
    const inside = { [`ip:${PLACES.paris.ip}`]: mark, "net:90.100.1.0/24": mark };
    // what a build of session 38 wrote: the marks inside carol's history, none in their own file or key
    const key = `${s.config.state.redis?.keyPrefix}user:carol`;
    if (store === "file") {
      const state = JSON.parse(readFileSync(s.stateFile, "utf8"));
      state.users.carol.disowned = inside;
      writeFileSync(s.stateFile, JSON.stringify(state));
    } else {
      const history = JSON.parse(redisCli("GET", key).stdout);
      expect(redisCli("SET", key, JSON.stringify({ ...history, disowned: inside })).stdout.trim()).toBe("OK");
    }
    const list = await s.run("marks", "carol");
    expect(list.stdout).toContain(`carol  ${PLACES.paris.ip}  `);
    const before = store === "file" ? readFileSync(s.stateFile, "utf8") : redisCli("GET", key).stdout;
    const r = await s.run("marks", "--remove", "carol", PLACES.paris.ip);
    expect([r.code, r.stdout]).toEqual([75, ""]);
    expect(r.stderr).toContain(
      `"carol"'s marks of ${PLACES.paris.ip}, 90.100.1.0/24 are kept inside their history, where an earlier build wrote them (before marks had their own file or key); this command never rewrites a history, so nothing was removed`,
    );
    expect(store === "file" ? readFileSync(s.stateFile, "utf8") : redisCli("GET", key).stdout).toBe(before);
    // carol's next login writes the history without them and the marks into their own file or key
    await s.connect("carol", PLACES.london.ip);
    const again = await s.run("marks", "--remove", "carol", "90.100.1.0/24");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`removed  carol  ${PLACES.paris.ip}  `);
    expect((await s.run("marks", "carol")).stdout).toBe(`no "not me" marks for carol (${s.n.store.name})\n`);
    await s.n.store.close();
  });
});

describe("vpnnotify marks: arguments", () => {
  it.each([
    [["--remove", "alice", "home"], '"home" is not an IP address or network'],
    [["--remove", "alice", "81.2.69.0/16"], '"81.2.69.0/16" is not a network vpnnotify marks: it keeps /24 networks for IPv4'],
    [["--remove", "alice", "81.2.69.0/x"], '"81.2.69.0/x" is not an IP address or network'],
    [["alice", "81.2.69.0/24\u001b[2J"], '"81.2.69.0/24\\u001b[2J" is not an IP address or network'],
    [["--remove"], "--remove needs USER"],
  ])("%j is a usage error (64) in one line, before any store is read", async (args, message) => {
    const r = await runInProc(["--config", join(dir, "none.json"), "marks", ...args], {});
    expect([r.code, r.stdout]).toEqual([64, ""]);
    expect(r.stderr.split("\n")[0]).toContain(message);
    expect(r.stderr).not.toContain("\u001b");
  });

  it("Redis down: 69 in one line naming it, as README and --help's exit codes say", async () => {
    const configFile = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(
      configFile,
      JSON.stringify({
        server: { name: "vpn-eu-1" },
        slack: { token: "env:TEST_SLACK_TOKEN" },
        securityChannel: SECURITY,
        directory: { emailDomain: "example.org" },
        state: { redis: { url: "redis://127.0.0.1:1/0" } },
        spool: { dir: join(dir, "spool-redis-down") },
      }),
    );
    for (const args of [["marks"], ["marks", "--remove", "alice"]]) {
      const r = await runInProc(["--config", configFile, ...args], {});
      expect([r.code, r.stdout]).toEqual([69, ""]);
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(/^vpnnotify: redis 127\.0\.0\.1:1 is unavailable: .*\(check state\.redis\)$/),
      ]);
    }
    // the table as one line: how it wraps is the terminal's width
    const help = (await runInProc(["--help"], {})).stdout.replace(/\s+/g, " ");
    expect(help).toMatch(/ 69 an alert that was due could not be sent .*?; marks: Redis down or unreachable 70 /);
  });

  it("a user name or a hand-edited key with control characters: 78, not marks (T71 N2), escaped in the one line", async () => {
    const s = await mistakenNo("file");
    const marks = JSON.parse(readFileSync(s.marks, "utf8"));
    const mark = { login: Date.now() - DAY, answeredAt: Date.now() - DAY };
    // keys a hand edit left: a user name with a line break and an escape, a place that is no address, one with an escape
    for (const [users, shown] of [
      [{ "eve\u001b[31m\nforged  1.2.3.4": marks.users.bob }, '"eve\\u001b[31m\\nforged  1.2.3.4" is not in its normal form'],
      [{ mallory: { "ip:1:2:3:4:5:6:7:8::9": mark } }, '"ip:1:2:3:4:5:6:7:8::9" is no address'],
      [{ mallory: { "net:\u001b[2J/24": mark } }, '"net:\\u001b[2J/24" is no address'],
    ] as const) {
      writeFileSync(s.marks, JSON.stringify({ ...marks, users: { ...marks.users, ...users } }));
      const r = await s.run("marks");
      expect([r.code, r.stdout]).toEqual([78, ""]);
      expect(r.stderr).not.toContain("\u001b");
      expect(r.stderr.split("\n").filter(Boolean)).toEqual([expect.stringContaining(shown)]);
    }
  });
});

describe("vpnnotify marks: marks that cannot be read are a 78 naming them, and nothing changes", () => {
  it.each([
    ["corrupt", (marks: string) => writeFileSync(marks, "{"), "is not valid JSON"],
    [
      "a symbolic link",
      (marks: string) => {
        writeFileSync(`${marks}.elsewhere`, JSON.stringify({ version: 1, users: {} }));
        unlinkSync(marks);
        symlinkSync(`${marks}.elsewhere`, marks);
      },
      "is a symbolic link",
    ],
    [
      "too large",
      (marks: string) => writeFileSync(marks, `${readFileSync(marks, "utf8")}${" ".repeat(2 * 1024 * 1024)}`),
      "bytes, over the",
    ],
  ])("the marks file %s", async (_what, spoil, problem) => {
    const s = await mistakenNo("file");
    spoil(s.marks);
    const before = readFileSync(s.marks);
    for (const args of [["marks"], ["marks", "--remove", "alice"], ["marks", "--remove", "alice", PLACES.london.ip]]) {
      const r = await s.run(...args);
      expect([r.code, r.stdout], args.join(" ")).toEqual([78, ""]);
      expect(r.stderr).toContain(`the "not me" marks could not be read: ${s.marks} `);
      expect(r.stderr).toContain(problem);
      expect(r.stderr).toContain("restore it from a backup");
    }
    // compared as bytes: the 2 MiB file would take vitest's deep equality seconds
    expect(readFileSync(s.marks).equals(before)).toBe(true);
  });

  it("a Redis marks key that is not marks: 78 naming the key and its DEL, the key left as it is", async () => {
    const s = await mistakenNo("redis");
    const key = `${s.config.state.redis?.keyPrefix}disowned:alice`;
    expect(redisCli("SET", key, "garbage{").stdout.trim()).toBe("OK");
    for (const args of [["marks"], ["marks", "--remove", "alice"]]) {
      const r = await s.run(...args);
      expect([r.code, r.stdout]).toEqual([78, ""]);
      expect(r.stderr).toContain(`the "not me" marks could not be read: the Redis key ${key} is not valid JSON`);
      expect(r.stderr).toContain(`DEL ${key}`);
    }
    expect(redisCli("GET", key).stdout.trim()).toBe("garbage{");
    await s.n.store.close();
  });

  it("a Redis marks key over 2 MiB: 78 in the words the marks file over it gets, the key left as it is (T70 N3)", async () => {
    const s = await mistakenNo("redis");
    const key = `${s.config.state.redis?.keyPrefix}disowned:alice`;
    // alice's marks, still valid JSON, padded past the cap (as the marks file test pads the file)
    const size = 2 * 1024 * 1024 + 100;
    const marks = redisCli("GET", key).stdout.trim();
    // -x: the padding on stdin, too long for an argument
    const append = spawnSync(
      "redis-cli",
      ["-p", String(redis.port), "--no-auth-warning", "-a", redis.password ?? "", "-x", "APPEND", key],
      {
        input: " ".repeat(size - Buffer.byteLength(marks)),
        encoding: "utf8",
      },
    );
    expect(append.stdout.trim()).toBe(String(size));
    for (const args of [["marks"], ["marks", "alice"], ["marks", "--remove", "alice"], ["marks", "--remove", "alice", PLACES.london.ip]]) {
      const r = await s.run(...args);
      expect([r.code, r.stdout], args.join(" ")).toEqual([78, ""]);
      expect(r.stderr.trim().split("\n")).toEqual([
        `vpnnotify: the "not me" marks could not be read: the Redis key ${key} is ${size} bytes, over the 2097152 a marks value may have (restore it (vpnnotify leaves it as it is); to drop this user's every "No" on purpose: DEL ${key})`,
      ]);
    }
    expect(redisCli("STRLEN", key).stdout.trim()).toBe(String(size));
    expect(redisCli("GETRANGE", key, "0", String(Buffer.byteLength(marks) - 1)).stdout.trim()).toBe(marks);
    await s.n.store.close();
  });
});

describe("who ran marks --remove, in the record", () => {
  it("a hostile SUDO_USER (an escape, a line break, kilobytes) is escaped and cut: one line per mark on stderr and in log.file, one syslog message each (T70 N1)", async () => {
    const s = await mistakenNo("file");
    const syslog = await syslogServer();
    try {
      // what anyone running it without sudo may set: a forged line after a line break, and enough text that logger(1)
      // (1 KiB a message) made the rest of the warning syslog messages of their own
      const forged = 'vpnnotify: warn: "not me" mark removed: forged by=root';
      const hostile = `bob\u001b[31m\n${forged} ${"x".repeat(4_000)}`;
      const r = await runCli(["--config", s.configFile, "marks", "--remove", "alice", PLACES.london.ip], {
        PATH: syslog.path,
        SUDO_USER: hostile,
        TEST_SLACK_TOKEN: SLACK_SIM_TOKEN,
      });
      expect(r.code, r.stderr).toBe(0);
      const uid = process.getuid?.();
      // its first 64 characters, escaped; then, as the logger writes any value with spaces or quotes, JSON-quoted
      const kept = Array.from(hostile).slice(0, 64).join("").replace("\u001b", "\\x1b").replace("\n", "\\n");
      const by = `by=${JSON.stringify(`${userInfo().username} (uid ${uid}), SUDO_USER=${kept}… (cut: ${Array.from(hostile).length} characters)`)}`;
      const record = (place: string) =>
        `vpnnotify: warn: "not me" mark removed: logins from there are no longer escalated for it user=alice place=${place} ${by} at=`;
      for (const lines of [r.stderr, readFileSync(s.logFile, "utf8")].map((text) => text.split("\n").filter(Boolean))) {
        expect(lines).toHaveLength(2);
        expect(lines[0]?.startsWith(record(PLACES.london.ip)), lines[0]).toBe(true);
        expect(lines[1]?.startsWith(record(PLACES.london.cidr)), lines[1]).toBe(true);
        expect(lines.join("\n")).not.toContain("\u001b");
      }
      // syslog: the two warnings, each one message ending with its time (none split, none starting with the value's text)
      const mine = await waitFor(
        () => {
          const found = syslog.lines.filter((l) => l.includes(" vpnnotify "));
          return found.length >= 2 ? found : undefined;
        },
        10_000,
        "the syslog messages",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(syslog.lines.filter((l) => l.includes(" vpnnotify ")).length).toBe(2);
      for (const [i, place] of [PLACES.london.ip, PLACES.london.cidr].entries()) {
        expect(mine[i]).toContain(
          `"not me" mark removed: logins from there are no longer escalated for it user=alice place=${place} ${by} at=`,
        );
        expect(mine[i]).toMatch(/ at=\d{4}-\d\d-\d\dT[\d:.]+Z$/);
      }
    } finally {
      await syslog.close();
    }
  }, 60_000);
});

describe("vpnnotify marks --remove waiting on the state file's locks", () => {
  it("held by another live process: 75 after 15 s in all for both locks, whatever deadlineMs says, nothing changed (T70 N5)", async () => {
    const s = await mistakenNo("file");
    // a site whose hooks may take a minute: no reason for the operator's wait to double to 30 s
    const configFile = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(configFile, JSON.stringify({ ...s.config, deadlineMs: 60_000 }));
    // a live process (this one: its pid and start time, as a worker's lock names them) holds both locks; the state
    // file's is let go after 5 s, the marks file's is not
    const stat = readFileSync("/proc/self/stat", "utf8");
    const holder = JSON.stringify({
      pid: process.pid,
      start: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19],
      host: hostname(),
      token: "t",
      time: Date.now(),
    });
    writeFileSync(`${s.stateFile}.lock`, holder);
    writeFileSync(`${s.marks}.lock`, holder);
    const letGo = setTimeout(() => rmSync(`${s.stateFile}.lock`), 5_000);
    const before = readFileSync(s.marks, "utf8");
    try {
      const r = await runInProc(["--config", configFile, "marks", "--remove", "alice"], {});
      expect([r.code, r.stdout]).toEqual([75, ""]);
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(
          new RegExp(
            `^vpnnotify: ${s.marks.replace(/[.]/g, "\\.")}\\.lock is held by process ${process.pid}; gave up after \\d+ ms \\(retry later`,
          ),
        ),
      ]);
      // 15 s from the start of the wait, not 5 s + 30 s
      expect(r.ms).toBeGreaterThanOrEqual(14_500);
      expect(r.ms).toBeLessThan(20_000);
      expect(readFileSync(s.marks, "utf8")).toBe(before);
    } finally {
      clearTimeout(letGo);
      rmSync(`${s.stateFile}.lock`, { force: true });
      rmSync(`${s.marks}.lock`, { force: true });
    }
    // let go: the same command removes them
    expect((await runInProc(["--config", configFile, "marks", "--remove", "alice"], {})).code).toBe(0);
  }, 50_000);
});

describe('a "No" recorded while a mark is being removed is kept', () => {
  it("state file: the removal decides under the writers' locks, and a mark written before it took them is kept", async () => {
    const s = await mistakenNo("file");
    const paris = `ip:${PLACES.paris.ip}`;
    const seen: boolean[] = [];
    const { removed } = await s.n.store.removeMarks("alice", (key) => {
      if (seen.length === 0) {
        // another process's writer records alice's "No" to a login from Paris just after this read
        const marks = JSON.parse(readFileSync(s.marks, "utf8"));
        marks.users.alice[paris] = { login: s.t0 + DAY, answeredAt: s.t0 + DAY + 1 };
        writeFileSync(s.marks, JSON.stringify(marks));
      }
      // the locks a writer takes (the state file's, then the marks file's) are held while a mark is picked
      seen.push(existsSync(`${s.stateFile}.lock`) && existsSync(`${s.marks}.lock`));
      return key === `ip:${PLACES.london.ip}`;
    });
    expect(Object.keys(removed)).toEqual([`ip:${PLACES.london.ip}`]);
    expect(seen).toContain(true);
    const left = JSON.parse(readFileSync(s.marks, "utf8")).users.alice;
    expect(Object.keys(left).sort()).toEqual([`net:${PLACES.london.cidr}`, paris].sort());
  });

  it('Redis: another server\'s "No" between the read and the write makes the removal read again, and both stand', async () => {
    const s = await mistakenNo("redis");
    const key = `${s.config.state.redis?.keyPrefix}disowned:alice`;
    const paris = `ip:${PLACES.paris.ip}`;
    let calls = 0;
    const { removed } = await s.n.store.removeMarks("alice", (k) => {
      if (calls++ === 0) {
        // synchronously, so it lands between this round's GET and its EXEC: another server's transaction
        const now = JSON.parse(redisCli("GET", key).stdout);
        now[paris] = { login: s.t0 + DAY, answeredAt: s.t0 + DAY + 1 };
        const set = redisCli("SET", key, JSON.stringify(now));
        expect(set.stdout.trim()).toBe("OK");
      }
      return k === `ip:${PLACES.london.ip}`;
    });
    expect(Object.keys(removed)).toEqual([`ip:${PLACES.london.ip}`]);
    const left = (await s.n.store.listMarks("alice")).get("alice") ?? {};
    expect(Object.keys(left).sort()).toEqual([`net:${PLACES.london.cidr}`, paris].sort());
    await s.n.store.close();
  });
});

describe.runIf(process.getuid?.() === 0)("vpnnotify marks run as the wrong user", () => {
  it("another user's state: 78 in one line naming its owner and the command to run instead, nothing changed", async () => {
    const s = await mistakenNo("file");
    // the state is root's (the hooks' user here), 0700; the config is readable by all
    chmodSync(join(s.stateFile, ".."), 0o700);
    chmodSync(join(s.stateFile, "../.."), 0o755);
    chmodSync(join(dir), 0o755);
    const configFile = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(configFile, JSON.stringify(s.config), { mode: 0o644 });
    const before = readFileSync(s.marks, "utf8");
    for (const args of [["marks"], ["marks", "--remove", "alice"]]) {
      const node = [process.execPath, "--conditions=@opsguard/source", "--import", "tsx", CLI, "--config", configFile, ...args];
      const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...node], {
        cwd: join(import.meta.dirname, "../../.."),
        env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", NO_COLOR: "1", TEST_SLACK_TOKEN: SLACK_SIM_TOKEN },
        encoding: "utf8",
        timeout: 20_000,
      });
      expect([r.status, r.stdout], args.join(" ")).toEqual([78, ""]);
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(
          new RegExp(
            `^vpnnotify: ${join(s.stateFile, "..").replace(/[.]/g, "\\.")} cannot be read.* by .*\\(uid 65534\\): it belongs to root \\(uid 0\\).*\\(run it as that user: sudo -u root vpnnotify --config ${configFile.replace(/[.]/g, "\\.")} marks …\\)$`,
          ),
        ),
      ]);
    }
    expect(readFileSync(s.marks, "utf8")).toBe(before);
  });

  it("a marks file another user (root) owns in the hooks' user's state: the chown that gives it back, not a user to run as", async () => {
    const s = await mistakenNo("file");
    const state = join(s.stateFile, "..");
    // the hooks' user (nobody here) owns the state; root restored the marks file, 0600 root's
    chmodSync(join(state, ".."), 0o755);
    chmodSync(dir, 0o755);
    chownSync(state, 65534, 65534);
    chownSync(s.stateFile, 65534, 65534);
    chmodSync(s.marks, 0o600);
    const configFile = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(configFile, JSON.stringify(s.config), { mode: 0o644 });
    const before = readFileSync(s.marks, "utf8");
    const asNobody = (...args: string[]) =>
      spawnSync(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          process.execPath,
          "--conditions=@opsguard/source",
          "--import",
          "tsx",
          CLI,
          "--config",
          configFile,
          ...args,
        ],
        {
          cwd: join(import.meta.dirname, "../../.."),
          env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", NO_COLOR: "1", TEST_SLACK_TOKEN: SLACK_SIM_TOKEN },
          encoding: "utf8",
          timeout: 20_000,
        },
      );
    const fix = `chown nobody ${s.marks} && chmod 600 ${s.marks}`;
    for (const args of [["marks"], ["marks", "--remove", "alice"]]) {
      const r = asNobody(...args);
      expect([r.status, r.stdout], args.join(" ")).toEqual([78, ""]);
      expect(r.stderr).toContain(`${s.marks} belongs to root (uid 0), not to nobody (uid 65534), who owns the state directory`);
      expect(r.stderr).toContain(fix);
      expect(r.stderr).not.toContain("sudo -u root");
    }
    // root, told to run it as nobody, is also told of the file nobody cannot use
    const asRoot = await s.run("marks", "--remove", "alice");
    expect(asRoot.code).toBe(78);
    expect(asRoot.stderr).toContain(fix);
    expect(readFileSync(s.marks, "utf8")).toBe(before);
    // a directory at the marks file's name: named as such
    rmSync(s.marks);
    mkdirSync(s.marks, { mode: 0o700 });
    const r = asNobody("marks", "--remove", "alice");
    expect([r.status, r.stdout]).toEqual([78, ""]);
    expect(r.stderr).toContain(`${s.marks} is a directory, not a marks file`);
    expect(r.stderr).not.toContain("sudo -u root");
  });

  it("--remove as root on the hooks' user's state is refused (the marks file would become root's), listing is not", async () => {
    const s = await mistakenNo("file");
    chownSync(join(s.stateFile, ".."), 65534, 65534);
    const before = readFileSync(s.marks, "utf8");
    const r = await s.run("marks", "--remove", "alice");
    expect([r.code, r.stdout]).toEqual([78, ""]);
    expect(r.stderr).toContain(
      "belongs to nobody (uid 65534), the user vpnnotify runs as; as root, marks --remove would leave a marks file that user cannot read",
    );
    expect(r.stderr).toContain("sudo -u nobody vpnnotify --config");
    expect(readFileSync(s.marks, "utf8")).toBe(before);
    expect((await s.run("marks", "alice")).code).toBe(0);
  });
});
