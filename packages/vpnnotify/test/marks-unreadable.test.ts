import { spawnSync } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Logger } from "@opsguard/core";
import { SLACK_SIM_TOKEN, type SlackSim } from "@opsguard/lab";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { configSchema } from "../src/config";
import { marksFileOf } from "../src/file-store";
import { handleConnect } from "../src/notify";
import { markDisowned, placeKeys } from "../src/places";
import { createNotifier } from "../src/runtime";
import { CLI, type MarksLab, marksConfig, PLACES, runInProc, SECURITY, startMarksLab, storeSection } from "./fixtures";

/**
 * The "not me" marks file (state.disowned.json) when it cannot be read: corrupt, a symbolic link planted there, too
 * large, or another user's. It is never set aside or replaced by an empty one (that forgot every "No", T66 P1): left
 * as it is, every login also reaches the security channel saying why, and `status` exits 78 naming it.
 */

const DAY = 86_400_000;
/** The marks file's cap as the README gives it (file-store.ts MAX_MARKS_FILE_BYTES). */
const MAX_MARKS_FILE_BYTES = 2 * 1024 * 1024;
let lab: MarksLab;
let dir: string;
let slack: SlackSim;

beforeAll(async () => {
  lab = await startMarksLab({ prefix: "vpnnotify-marks-", users: ["alice"], mode: 0o755 });
  ({ dir, slack } = lab);
});

afterAll(async () => {
  await lab?.stop();
});

beforeEach(() => {
  slack.messages.length = 0;
});

/**
 * A notifier whose alice logged in from London, then from Sydney, and said "No" to Sydney: the marks file holds
 * Sydney's address and /24, the history knows both places (Sydney's login was told, so it is a known place now).
 */
async function disownedSydney() {
  const id = Math.random().toString(36).slice(2);
  const config = marksConfig(lab, id, storeSection(lab, id, "file"));
  const configFile = join(dir, `${id}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  const lines: string[] = [];
  const stream = { write: (line: string) => lines.push(line.trimEnd()) } as unknown as NodeJS.WritableStream;
  const n = createNotifier(configSchema.parse(config), new Logger({ tool: "vpnnotify", level: "info", stream }));
  const t0 = Date.now() - 3 * DAY;
  const connect = (ip: string, time = Date.now()) => handleConnect({ kind: "connect", source: "openvpn", user: "alice", ip, time }, n);
  await connect(PLACES.london.ip, t0);
  await connect(PLACES.sydney.ip, t0 + DAY);
  const marks = marksFileOf(config.state.file);
  const mark = { login: t0 + DAY, answeredAt: t0 + DAY + 60_000 };
  writeFileSync(marks, JSON.stringify({ version: 1, users: { alice: { [`ip:${PLACES.sydney.ip}`]: mark, "net:1.128.0.0/24": mark } } }));
  return { n, lines, connect, marks, configFile, stateDir: join(dir, id) };
}

/** Logins from the disowned /24 and from home (a known place, quiet otherwise) both reach security, with the one reason. */
async function expectFailClosed(s: Awaited<ReturnType<typeof disownedSydney>>, problem: string) {
  const reason = `the 'not me' marks could not be read: ${s.marks} ${problem}`;
  for (const ip of ["1.128.0.77", PLACES.london.ip]) {
    const outcome = await s.connect(ip);
    expect(outcome, ip).toMatchObject({ securityChannel: SECURITY });
    expect(outcome.flags.join("; "), ip).toContain(reason);
    expect(slack.messagesTo(SECURITY).at(-1)?.text, ip).toContain(reason);
  }
  // said once a process (each login's security post carries it), not twice a login (T68 #3)
  expect(s.lines.filter((l) => l.startsWith(`vpnnotify: error: the "not me" marks could not be read: ${s.marks} ${problem}`))).toHaveLength(
    1,
  );
  // never moved aside, never replaced by an empty one
  expect(readdirSync(s.stateDir).filter((f) => f.includes("corrupt"))).toEqual([]);
  const status = await runInProc(["--config", s.configFile, "status"], {});
  expect([status.code, status.stdout]).toEqual([78, ""]);
  expect(status.stderr).toContain(`the "not me" marks could not be read: ${s.marks} ${problem}`);
}

describe('"not me" marks that cannot be read fail closed (T66 P1, P2, P3)', () => {
  it("a corrupt marks file is left as it is, and the disowned place is escalated once it is restored", async () => {
    const s = await disownedSydney();
    const good = readFileSync(s.marks);
    const cut = good.subarray(0, 40);
    writeFileSync(s.marks, cut);
    await expectFailClosed(s, "is not valid JSON");
    expect(readFileSync(s.marks)).toEqual(cut);
    writeFileSync(s.marks, good);
    expect(await s.connect("1.128.0.78")).toMatchObject({ verdict: "escalated", reason: "disowned-place" });
  });

  it('a "No" answered while the marks file is corrupt is not marked (it would replace the file): the store says so, the file stays as it was', async () => {
    const s = await disownedSydney();
    writeFileSync(s.marks, "{");
    const geoOf = s.n.geo.lookup(PLACES.paris.ip);
    const marking = s.n.store.update("alice", (h) => markDisowned(h, placeKeys(geoOf), Date.now() - 60_000, Date.now(), s.n.policy));
    await expect(marking).rejects.toThrow(`the "not me" marks could not be read: ${s.marks} is not valid JSON`);
    expect(readFileSync(s.marks, "utf8")).toBe("{");
  });

  it("a symbolic link planted as the marks file is refused, not followed, and left in place", async () => {
    const s = await disownedSydney();
    const elsewhere = join(s.stateDir, "elsewhere.json");
    writeFileSync(elsewhere, JSON.stringify({ version: 1, users: {} }));
    unlinkSync(s.marks);
    symlinkSync(elsewhere, s.marks);
    await expectFailClosed(s, "is a symbolic link");
    expect(readFileSync(elsewhere, "utf8")).toBe(JSON.stringify({ version: 1, users: {} }));
  });

  it(`a marks file over ${MAX_MARKS_FILE_BYTES} bytes is not read (a login's deadline is not spent on it): unreadable, left as it is`, async () => {
    const s = await disownedSydney();
    const valid = readFileSync(s.marks, "utf8");
    // valid marks, padded past the cap: the size alone makes it unusable
    writeFileSync(s.marks, valid + " ".repeat(MAX_MARKS_FILE_BYTES));
    await expectFailClosed(s, `is ${valid.length + MAX_MARKS_FILE_BYTES} bytes, over the ${MAX_MARKS_FILE_BYTES}`);
  });

  it.runIf(process.getuid?.() === 0)(
    "a marks file the hooks' user cannot read (root's, 0600): status as that user exits 78 naming the file and its fix (T66 P2)",
    async () => {
      const s = await disownedSydney();
      chmodSync(s.stateDir, 0o755);
      chmodSync(join(s.stateDir, "state.json"), 0o644);
      chmodSync(s.marks, 0o600);
      // the spool is the hooks' user's (status checks it first); only the marks file is root's
      expect(spawnSync("chown", ["-R", "65534:65534", join(s.stateDir, "spool")]).status).toBe(0);
      const node = [process.execPath, "--conditions=@opsguard/source", "--import", "tsx", CLI, "--config", s.configFile, "status"];
      const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...node], {
        cwd: join(import.meta.dirname, "../../.."),
        env: { PATH: "/usr/bin:/bin", HOME: "/nonexistent", NO_COLOR: "1", TEST_SLACK_TOKEN: SLACK_SIM_TOKEN },
        encoding: "utf8",
        timeout: 20_000,
      });
      expect([r.status, r.stdout]).toEqual([78, ""]);
      expect(r.stderr).toContain(
        `the "not me" marks could not be read: ${s.marks} cannot be read by uid 65534, the user vpnnotify runs as (permission denied)`,
      );
      expect(r.stderr).toContain(`chown 65534 ${s.marks} && chmod 600 ${s.marks}`);
    },
  );
});
