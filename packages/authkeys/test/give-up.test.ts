import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type BlackholeServer, type SlapdLab, startBlackholeServer, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleLookup, requireBundle, writeConfig } from "./harness";

// Issue 15, black-box findings 3 and 4: under load a login process may get the CPU only after its
// deadline. What bounds it is the time since the process started (sshd's clock), not since its modules
// loaded; the first moment it runs past that, it answers from the fresh cache (outage rules) or refuses
// (75), and never goes on to wait for LDAP. Starvation is made exact here with SIGSTOP/SIGCONT.

let lab: SlapdLab;
let hole: BlackholeServer;
let preload: string;
const DEADLINE_MS = 1000;
/** ldap.deadlineMs + the give-up's grace (lookup-command's WATCHDOG_GRACE_MS), from the process start. */
const GIVE_UP_MS = DEADLINE_MS + 2000;

beforeAll(async () => {
  requireBundle();
  lab = await startSlapd();
  hole = await startBlackholeServer();
  // Loaded before anything else: the process stops itself at its very start, as a starved one waits.
  preload = join(lab.dir, "stop-at-start.cjs");
  writeFileSync(preload, 'process.kill(process.pid, "SIGSTOP");\n');
});
afterAll(async () => {
  await hole?.stop();
  await lab?.stop();
});

let n = 0;
/** Two configs over one cache directory: the real slapd, and the blackhole (accepts, never answers). */
function configs(): { online: string; blackholed: string } {
  n++;
  const base = {
    ldap: { ...lab.connection(), deadlineMs: DEADLINE_MS, connectTimeoutMs: DEADLINE_MS },
    cache: { dir: join(lab.dir, `give-up-${n}`) },
    syslog: false,
  };
  const online = join(lab.dir, `give-up-${n}-online.json`);
  const blackholed = join(lab.dir, `give-up-${n}-blackholed.json`);
  writeConfig(online, base);
  writeConfig(blackholed, { ...base, ldap: { ...base.ldap, urls: [hole.url] } });
  return { online, blackholed };
}

const aliceKeys = () => lab.users.alice.keys.map((k) => k.publicKey);

function lookup(
  config: string,
  user: string,
  nodeArgs: string[] = [],
  command: "lookup" | "principals" = "lookup",
): ChildProcess & { result: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [...nodeArgs, requireBundle(), "--config", config, command, "--", user], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const result = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return Object.assign(child, { result });
}

/** Resolves once `ready()` holds, checking every 10 ms; fails naming `what` after 15 s. */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const stopped = (pid: number) => /^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Fills alice's cache from the real slapd. */
function cacheAlice(online: string): void {
  const r = bundleLookup(online, "alice");
  expect(r.status, r.stderr).toBe(0);
}

describe("a login process starved past its deadline (SIGSTOP, then SIGCONT)", () => {
  it("stopped from its start past the hard limit: serves the fresh cache at once, without asking any server", async () => {
    const { online, blackholed } = configs();
    cacheAlice(online);
    const before = hole.connections();
    const started = Date.now();
    const child = lookup(blackholed, "alice", ["--require", preload]);
    await until(() => child.pid !== undefined && stopped(child.pid), "the lookup to stop itself");
    await sleep(GIVE_UP_MS + 300 - (Date.now() - started));
    child.kill("SIGCONT");
    const resumed = Date.now();
    const r = await child.result;
    console.info(`starved lookup: exit ${r.code} ${Date.now() - resumed} ms after SIGCONT, ${Date.now() - started} ms after spawn`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(aliceKeys());
    expect(r.stderr).toMatch(/serving cached keys/);
    expect(r.stderr).toMatch(/lookup user=alice result=keys keys=3 source=cache/);
    // It did not go on to wait for LDAP: the blackhole never saw it.
    expect(hole.connections()).toBe(before);
  });

  it("stopped while waiting for LDAP past the hard give-up: serves the fresh cache, not exit 75", async () => {
    const { online, blackholed } = configs();
    cacheAlice(online);
    const r = await stoppedWhileWaiting(blackholed);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(aliceKeys());
    expect(r.stderr).toMatch(/lookup user=alice result=keys keys=3 source=cache/);
    expect(r.stderr).not.toMatch(/no keys printed/);
  });

  it("the same without fresh cached keys: exit 75 with one line saying so, nothing on stdout", async () => {
    const { blackholed } = configs();
    const r = await stoppedWhileWaiting(blackholed);
    expect(r).toMatchObject({ code: 75, stdout: "" });
    expect(r.stderr).toMatch(/^authkeys: gave up after \d+ ms \(no fresh cached keys; no keys printed\)$/m);
  });
});

describe("authkeys principals under the same hard give-up", () => {
  it("stopped while waiting for LDAP past it: serves the fresh cached memberships (alice's principals), not exit 75", async () => {
    const { online, blackholed } = configs();
    const fill = spawnSync(process.execPath, [requireBundle(), "--config", online, "principals", "--", "alice"], {
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(fill.status, fill.stderr).toBe(0);
    const r = await stoppedWhileWaiting(blackholed, "principals");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("alice\n");
    expect(r.stderr).toMatch(/serving cached group memberships for principals/);
    expect(r.stderr).toMatch(/principals user=alice result=principals principals=1 source=cache/);
  });

  it("without fresh cached memberships: exit 75 with one line saying so, nothing on stdout", async () => {
    const { blackholed } = configs();
    const r = await stoppedWhileWaiting(blackholed, "principals");
    expect(r).toMatchObject({ code: 75, stdout: "" });
    expect(r.stderr).toMatch(/^authkeys: gave up after \d+ ms \(no fresh cached group memberships; no principals printed\)$/m);
  });
});

/**
 * alice's lookup against the blackholed config, stopped (SIGSTOP) once it has connected and resumed past the hard
 * give-up: what it did then.
 */
async function stoppedWhileWaiting(
  config: string,
  command: "lookup" | "principals" = "lookup",
): Promise<Awaited<ReturnType<typeof lookup>["result"]>> {
  const before = hole.connections();
  const started = Date.now();
  const child = lookup(config, "alice", [], command);
  await until(() => hole.connections() > before, "the lookup to connect to the blackholed server");
  child.kill("SIGSTOP");
  await sleep(GIVE_UP_MS + 1500 - (Date.now() - started));
  child.kill("SIGCONT");
  const resumed = Date.now();
  const r = await child.result;
  console.info(`starved lookup: exit ${r.code} ${Date.now() - resumed} ms after SIGCONT, ${Date.now() - started} ms after spawn`);
  return r;
}
