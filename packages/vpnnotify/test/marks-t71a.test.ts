import { spawn, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import { type RedisLab, SLACK_SIM_TOKEN } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { marksFileOf } from "../src/file-store";
import { handleConnect } from "../src/notify";
import { markDisowned, placeKeys } from "../src/places";
import { createNotifier } from "../src/runtime";
import { BARE_NODE, collect, type MarksLab, marksConfig, PLACES, runInProc, startMarksLab, storeSection } from "./fixtures";

/**
 * Tester T71's findings N3, N4 and N10 on `vpnnotify marks`: a spool this user cannot read (fail closed for --remove,
 * a permission problem said as one, never "internal error", and never moved aside as corrupt by flush), a marks file
 * whose own owner is locked out by its mode (chmod, not "run it as that user"), and USER/PLACE checks.
 */

const DAY = 86_400_000;
const NOBODY = 65534;
let lab: MarksLab & { redis: RedisLab };
let dir: string;
let redis: RedisLab;

beforeAll(async () => {
  lab = await startMarksLab({ prefix: "vpnnotify-t71a-", users: ["alice"], redis: true, mode: 0o755 });
  ({ dir, redis } = lab);
});

afterAll(async () => {
  await lab?.stop();
});

/** Alice said "No" to a login from London (a mark of the address and its /24), made as serve makes it. */
async function aliceSaidNo(store: "file" | "redis") {
  const id = Math.random().toString(36).slice(2);
  const config = marksConfig(lab, id, storeSection(lab, id, store));
  const configFile = join(dir, `${id}.json`);
  writeFileSync(configFile, JSON.stringify(config), { mode: 0o644 });
  const n = createNotifier(
    configSchema.parse(config),
    new Logger({ tool: "vpnnotify", level: "error", stream: { write: () => true } as never }),
  );
  const t0 = Date.now() - 3 * DAY;
  await handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip: PLACES.london.ip, time: t0 }, n);
  await n.store.update("alice", (h) => markDisowned(h, placeKeys(n.geo.lookup(PLACES.london.ip)), t0, t0 + 60_000, n.policy));
  // A "No" of alice's to a login from Sydney, waiting in the spool to be marked (the store was down when it came).
  const entry = await n.spool.enqueue({
    event: { source: "openvpn", user: "alice", ip: PLACES.sydney.ip, time: t0 + DAY },
    geo: n.geo.lookup(PLACES.sydney.ip),
    decision: { notify: true, reason: "new-place", newPlace: true, newCountry: true, suspicious: false, keys: [] },
    sent: { dm: "1.1", security: "1.2" },
    disowned: { by: "U0ALICE", at: t0 + DAY + 60_000 },
  });
  await n.store.close();
  chmodSync(join(dir, id), 0o755);
  const marks = store === "file" ? marksFileOf(config.state.file as string) : undefined;
  const redisKey = `t${id}:disowned:alice`;
  const stored = () =>
    marks ? readFileSync(marks, "utf8") : spawnSync("redis-cli", ["-p", String(redis.port), "GET", redisKey], { encoding: "utf8" }).stdout;
  return {
    config,
    configFile,
    stateDir: join(dir, id),
    spool: config.spool.dir,
    entry: join(config.spool.dir, `${entry.id}.json`),
    marks,
    stored,
  };
}

/**
 * The CLI run as nobody (uid 65534), the way `sudo -u` would run it; not spawnSync: the Slack simulator answers from
 * this process.
 */
function asNobody(configFile: string, ...args: string[]) {
  return asUid(NOBODY, configFile, ...args);
}

async function asUid(
  uid: number,
  configFile: string,
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn("setpriv", [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", ...BARE_NODE, "--config", configFile, ...args], {
    cwd: join(import.meta.dirname, "../../.."),
    env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", NO_COLOR: "1", TEST_SLACK_TOKEN: SLACK_SIM_TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const { code, stdout, stderr } = await collect(child, args, 30_000);
  return { status: code, stdout, stderr };
}

describe.runIf(process.getuid?.() === 0)("a spool this user cannot read (T71 N3)", () => {
  it("Redis: marks --remove by a user who cannot read the spool (root's, 0700) is 78 naming its owner, nothing removed", async () => {
    const s = await aliceSaidNo("redis");
    chmodSync(s.spool, 0o700);
    const before = s.stored();
    expect(before).toContain(`ip:${PLACES.london.ip}`);
    const r = await asNobody(s.configFile, "marks", "--remove", "alice");
    expect([r.status, r.stdout]).toEqual([78, ""]);
    expect(r.stderr.trim().split("\n")).toEqual([
      `vpnnotify: the spool directory ${s.spool} cannot be read by nobody (uid ${NOBODY}): it belongs to root (uid 0), the user vpnnotify runs as, mode 0700; a "No" waiting there to be marked cannot be seen (run it as that user: sudo -u root vpnnotify --config ${s.configFile} marks …)`,
    ]);
    // a uid with no name is named by its uid alone
    const unnamed = await asUid(4242, s.configFile, "marks", "--remove", "alice");
    expect([unnamed.status, unnamed.stdout]).toEqual([78, ""]);
    expect(unnamed.stderr).toContain(`${s.spool} cannot be read by uid 4242: it belongs to root (uid 0)`);
    expect(s.stored()).toBe(before);
    // Listing only reads: the marks are shown, the spool's problem said as what it is (no "internal error").
    const list = await asNobody(s.configFile, "marks", "alice");
    expect(list.status).toBe(0);
    expect(list.stdout).toContain(`alice  ${PLACES.london.ip}  no=`);
    expect(list.stderr).toContain(
      `cannot be read by nobody (uid ${NOBODY}): it belongs to root (uid 0), the user vpnnotify runs as, mode 0700`,
    );
    expect(list.stderr).not.toContain("internal error");
  });

  it("an entry in the spool that is root's (0600): marks --remove is 78 naming it and the chown, nothing removed", async () => {
    const s = await aliceSaidNo("file");
    // the hooks' user (nobody) owns the state and the spool; a hook run as root left an entry (a pending "No") there
    expect(spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, s.stateDir]).status).toBe(0);
    chownSync(s.entry, 0, 0);
    chmodSync(s.entry, 0o600);
    const before = s.stored();
    const r = await asNobody(s.configFile, "marks", "--remove", "alice", PLACES.london.ip);
    expect([r.status, r.stdout]).toEqual([78, ""]);
    expect(r.stderr.trim().split("\n")).toEqual([
      `vpnnotify: the spool entry ${s.entry} cannot be read by nobody (uid ${NOBODY}): it belongs to root (uid 0), mode 0600; it may hold a "No" not marked yet: nothing removed (give it to the spool's owner (as root): chown nobody ${s.entry} && chmod 600 ${s.entry})`,
    ]);
    expect(s.stored()).toBe(before);
  });

  it("flush leaves an entry it cannot read where it is (not dead/*.corrupt), says why and the fix, and exits 69; status counts it", async () => {
    const s = await aliceSaidNo("file");
    expect(spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, s.stateDir]).status).toBe(0);
    chownSync(s.entry, 0, 0);
    chmodSync(s.entry, 0o600);
    const r = await asNobody(s.configFile, "flush");
    expect(r.stderr).not.toContain("internal error");
    expect(r.stderr).toContain(
      `vpnnotify: warn: spooled message cannot be read by this user (a permission problem, not a corrupt file): left in the spool, not sent file=${s.entry} problem="cannot be read by nobody (uid ${NOBODY}): it belongs to root (uid 0), mode 0600" fix="give it to the spool's owner (as root): chown nobody ${s.entry} && chmod 600 ${s.entry}"`,
    );
    expect(r.stderr).toContain("error: alerts in the spool that this user cannot read (their owner or mode) are not sent");
    expect(r.status).toBe(69);
    expect(existsSync(s.entry)).toBe(true);
    expect(existsSync(join(s.spool, "dead")) ? readdirSync(join(s.spool, "dead")) : []).toEqual([]);
    const status = await asNobody(s.configFile, "status");
    expect(status.status).toBe(0);
    expect(status.stdout).toContain("cannot read: 1 (never sent while this user cannot read them; left in the spool)");
    expect(status.stdout).not.toContain("unreadable:");
    // given back as told, the "No" is read and marked by the next flush
    chownSync(s.entry, NOBODY, NOBODY);
    const again = await asNobody(s.configFile, "flush");
    expect([again.status, again.stderr]).toEqual([0, expect.not.stringContaining("cannot be read")]);
    expect(existsSync(s.entry)).toBe(false);
    expect(s.stored()).toContain(`ip:${PLACES.sydney.ip}`);
  });
});

describe.runIf(process.getuid?.() === 0)("a marks file its own owner may not use (T71 N4)", () => {
  it("mode 000 (marks) and 0400 (--remove): 78 with the chmod, not a user to run as who already runs it", async () => {
    const s = await aliceSaidNo("file");
    expect(spawnSync("chown", ["-R", `${NOBODY}:${NOBODY}`, s.stateDir]).status).toBe(0);
    const marks = s.marks as string;
    const before = s.stored();
    for (const [mode, args, can] of [
      [0o000, ["marks"], "read"],
      [0o400, ["marks", "--remove", "alice"], "read and written"],
    ] as const) {
      chmodSync(marks, mode);
      const r = await asNobody(s.configFile, ...args);
      expect([r.status, r.stdout], args.join(" ")).toEqual([78, ""]);
      expect(r.stderr.trim().split("\n")).toEqual([
        `vpnnotify: ${marks} cannot be ${can} by its owner nobody (uid ${NOBODY}): its mode is ${mode.toString(8).padStart(4, "0")} (give its owner access back: chmod 600 ${marks})`,
      ]);
    }
    chmodSync(marks, 0o600);
    expect(s.stored()).toBe(before);
    // and the fix works
    expect((await asNobody(s.configFile, "marks", "--remove", "alice", PLACES.london.ip)).status).toBe(0);
  });
});

describe("marks USER and PLACE checked as notify checks them (T71 N10)", () => {
  it("a USER that is not valid UTF-8 (U+FFFD once decoded) is 64 with notify --user's reason, list and --remove", async () => {
    const s = await aliceSaidNo("file");
    const before = s.stored();
    for (const args of [
      ["marks", "\uFFFDalice"],
      ["marks", "--remove", "\uFFFDalice"],
    ]) {
      const r = await runInProc(["--config", s.configFile, ...args], {});
      expect([r.code, r.stdout], args.join(" ")).toEqual([64, ""]);
      expect(r.stderr.trim().split("\n")).toEqual([
        "vpnnotify: USER is not valid UTF-8 (or holds U+FFFD, what such bytes decode to) (pass the VPN user's name in UTF-8, as the directory spells it)",
      ]);
    }
    // the bytes as a shell passes them: \xff is not UTF-8
    const node = [...BARE_NODE, "--config", s.configFile];
    const sh = spawnSync("sh", ["-c", `exec "$@" marks "$(printf '\\377alice')"`, "sh", ...node], {
      cwd: join(import.meta.dirname, "../../.."),
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      timeout: 30_000,
    });
    expect([sh.status, sh.stdout]).toEqual([64, ""]);
    expect(sh.stderr).toContain("USER is not valid UTF-8");
    expect(s.stored()).toBe(before);
  });

  it("an IPv6 PLACE with a %zone is refused (64) as an IPv4 one is", async () => {
    const s = await aliceSaidNo("file");
    for (const place of ["2a00:1450:4009:81f::200e%eth0", "81.2.69.50%eth0", "fe80::1%25eth0"]) {
      for (const args of [
        ["marks", "alice", place],
        ["marks", "--remove", "alice", place],
      ]) {
        const r = await runInProc(["--config", s.configFile, ...args], {});
        expect([r.code, r.stdout], args.join(" ")).toEqual([64, ""]);
        expect(r.stderr).toContain(`"${place}" is not an IP address or network`);
      }
    }
  });

  it("a 100,000-character USER is never echoed whole: cut, with its length", async () => {
    const s = await aliceSaidNo("file");
    for (const user of ["1".repeat(100_000), "a b ".repeat(25_000)]) {
      const r = await runInProc(["--config", s.configFile, "marks", user], {});
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBeLessThan(600);
      expect(r.stdout).toContain(`… (cut: ${user.trim().length} characters)`);
      const rm = await runInProc(["--config", s.configFile, "marks", "--remove", user], {});
      expect(rm.code).toBe(0);
      expect(rm.stdout.length).toBeLessThan(600);
      expect(rm.stdout).toMatch(/^nothing removed: .*… \(cut: \d+ characters\) has no "not me" marks/);
    }
  });
});
