import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
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
import { join } from "node:path";
import { Writable } from "node:stream";
import { Logger, Spool } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spoolJobSchema } from "../src/alert";
import { parseHookEnv } from "../src/event";
import { type ShHookOptions, writeShHook } from "../src/sh-hook";
import { waitFor, zombieDrainLock } from "./fixtures";

/**
 * The POSIX sh client-connect hook (issue #26), run by /bin/sh (dash) and bash as OpenVPN runs it:
 * what it queues is read back through the spool's own schema, so a hostile value has to survive
 * sh, JSON and the worker's parser unchanged. The Node hook it hands over to is a stub that
 * records its calls; the burst test runs it against the real worker and services.
 */

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-sh-"));
  chmodSync(dir, 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Site {
  root: string;
  spool: string;
  script: string;
  calls: string;
  options: ShHookOptions;
}

/** A config, its spool, a stub Node hook that appends its argv and queue flag to `calls`, and the script made from them. */
function site(over: Partial<ShHookOptions> = {}, spoolMode = 0o700): Site {
  const root = join(dir, `site-${++n}`);
  const spool = join(root, "spool");
  mkdirSync(spool, { recursive: true, mode: spoolMode });
  chmodSync(root, 0o755);
  chmodSync(spool, spoolMode);
  const config = join(root, "vpnnotify.json");
  writeFileSync(config, "{}\n");
  // The config older than the script made from it (the script hands over to Node otherwise).
  utimesSync(config, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
  const calls = join(root, "calls");
  const stub = join(root, "node-hook");
  writeFileSync(stub, `#!/bin/sh\nprintf '%s queued=%s\\n' "$*" "\${VPNNOTIFY_QUEUED-}" >>'${calls}'\nexit 0\n`, { mode: 0o755 });
  const options: ShHookOptions = { config, spool, reject: false, deadlineMs: 2000, nodeHook: [stub], ...over };
  const script = writeShHook(root, "vpnnotify-connect", options);
  return { root, spool, script, calls, options };
}

/** A drain lock naming this (live) process: the hook must then start no worker. */
function holdDrainLock(spool: string): void {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  writeFileSync(join(spool, "drain.lock"), JSON.stringify({ pid: process.pid, start, host: hostname(), token: "t", time: Date.now() }));
}

function hook(
  s: Site,
  env: Record<string, string>,
  options: { shell?: string; args?: string[]; wrap?: string } = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // `wrap`: a sh prefix setting variables Node cannot pass (bytes that are not UTF-8).
    const argv = options.wrap
      ? ["/bin/sh", "-c", `${options.wrap} exec ${options.shell ?? ""} "$0" "$@"`, s.script, ...(options.args ?? [])]
      : [options.shell ?? s.script, ...(options.shell ? [s.script] : []), ...(options.args ?? [])];
    const child = spawn(argv[0] as string, argv.slice(1), {
      env: { PATH: "/usr/bin:/bin", ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

// No empty lines: a call is never one, and the stub's file is empty between its creation and its write.
const calls = (s: Site) => (existsSync(s.calls) ? readFileSync(s.calls, "utf8").split("\n").filter(Boolean) : []);
const entryFiles = (s: Site) => readdirSync(s.spool).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f));
const spoolOf = (s: Site) => new Spool({ dir: s.spool, payload: spoolJobSchema, maxAttempts: 3, backoffMs: 1000 });

const HOSTILE = [
  'quote" back\\slash',
  "new\nline\r\ttab\u0001\u001f\u007f",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion the hook must not perform
  "$(touch /tmp/vpnnotify-sh-pwned) `touch /tmp/vpnnotify-sh-pwned` ${IFS} $HOME * ?",
  "'single' \"double\"",
  "Ünïcødé 日本語 🔑 \u202eevil",
  "-rf --wait",
  "%s%n%d \\u0041",
  "x".repeat(4000),
];

describe("the sh client-connect hook", () => {
  it("passes sh -n and shellcheck", () => {
    const s = site({ nodeHook: ["/usr/bin/node", "/opt/it's here/vpnnotify.cjs"] });
    expect(spawnSync("sh", ["-n", s.script]).status).toBe(0);
    const check = spawnSync("shellcheck", ["--shell=sh", "--severity=warning", s.script], { encoding: "utf8" });
    expect(check.error, "shellcheck is missing: node scripts/setup.mjs installs it").toBeUndefined();
    expect(check.stdout).toBe("");
    expect(check.status).toBe(0);
  });

  for (const shell of ["/bin/sh", "/bin/bash"]) {
    it(`${shell}: hostile names round-trip byte for byte into the entry the worker reads, and never run`, async () => {
      const s = site({ reject: true });
      holdDrainLock(s.spool);
      rmSync("/tmp/vpnnotify-sh-pwned", { force: true });
      const deferred = join(s.root, "acf");
      for (const [i, value] of HOSTILE.entries()) {
        writeFileSync(deferred, "");
        const env = {
          script_type: "client-connect",
          username: value,
          common_name: `cn ${value}`,
          trusted_ip: `81.2.69.${i + 1}`,
          trusted_port: "51413",
          ifconfig_pool_remote_ip: "10.8.0.6",
          time_unix: String(Math.floor(Date.now() / 1000)),
          client_connect_deferred_file: deferred,
        };
        const before = entryFiles(s);
        const result = await hook(s, env, { shell });
        expect(result).toEqual({ code: 0, stderr: "" });
        // onFailure reject: OpenVPN is told to wait for the worker's verdict.
        expect(readFileSync(deferred, "utf8")).toBe("2");
        const added = entryFiles(s).filter((f) => !before.includes(f));
        expect(added).toHaveLength(1);
        const raw = JSON.parse(readFileSync(join(s.spool, added[0] as string), "utf8"));
        expect(raw.payload.openvpn).toEqual(env);
        expect(readdirSync(s.spool).filter((f) => f.endsWith(".tmp"))).toEqual([]);
        // Read back through the spool as the worker does: the login the Node hook would have queued.
        const entry = (await spoolOf(s).list()).find((e) => `${e.id}.json` === added[0]);
        // now = when the hook queued it, as the worker reads it back (a time_unix a day or more from that is not taken)
        const { deferredFile, ...login } = parseHookEnv(env, raw.payload.at)?.event ?? {};
        expect(entry?.payload).toEqual({ login, answer: { file: deferredFile, by: expect.any(Number) } });
        expect(entry?.createdAt).toBe(raw.payload.at);
        expect((entry?.payload as { answer?: { by: number } } | undefined)?.answer?.by).toBe(raw.createdAt + 2000);
      }
      expect(existsSync("/tmp/vpnnotify-sh-pwned")).toBe(false);
      // A live worker holds the drain lock: no hook started another.
      expect(calls(s)).toEqual([]);
    });
  }

  it("bytes that are not UTF-8 reach the worker as Node's own environment would decode them", async () => {
    const s = site();
    holdDrainLock(s.spool);
    const wrap = `username=$(printf 'a\\377\\300b'); export username;`;
    expect((await hook(s, { script_type: "client-connect", trusted_ip: "81.2.69.1" }, { wrap })).code).toBe(0);
    const seen = spawnSync("/bin/sh", ["-c", `${wrap} exec "${process.execPath}" -e 'process.stdout.write(process.env.username)'`], {
      encoding: "utf8",
    }).stdout;
    const [entry] = await spoolOf(s).list();
    expect((entry?.payload as { login?: { user: string } } | undefined)?.login?.user).toBe(seen);
    expect(seen).toBe("a\ufffd\ufffdb");
  });

  it("a queued environment that is no login (a user name of Unicode spaces only) moves to dead/ with a line naming the problem", async () => {
    const s = site();
    holdDrainLock(s.spool);
    // sh sees a non-space byte; JavaScript's trim (the Node hook's parser) sees no user at all.
    expect((await hook(s, { script_type: "client-connect", common_name: "\u00a0\u2003", trusted_ip: "81.2.69.1" })).code).toBe(0);
    const [name] = entryFiles(s);
    let text = "";
    const stream = new Writable({
      write(chunk, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const log = new Logger({ tool: "vpnnotify", level: "info", stream });
    const spool = new Spool({ dir: s.spool, payload: spoolJobSchema, maxAttempts: 3, backoffMs: 1000, log });
    expect(await spool.list()).toEqual([]);
    expect(readdirSync(join(s.spool, "dead"))).toEqual([`${name}.corrupt`]);
    expect(text).toContain("OpenVPN gave neither username nor common_name");
  });

  it("queues a plain client-connect with a 0600 file, answers 1 (onFailure accept) and starts one worker for a burst", async () => {
    const s = site();
    const deferred = join(s.root, "acf");
    writeFileSync(deferred, "");
    const env = (i: number) => ({
      script_type: "client-connect",
      common_name: `user${i}`,
      trusted_ip: `81.2.69.${i + 1}`,
      client_connect_deferred_file: deferred,
    });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => hook(s, env(i), { args: ["/tmp/openvpn_cc_dynamic.tmp"] })));
    expect(results.every((r) => r.code === 0 && r.stderr === "")).toBe(true);
    expect(readFileSync(deferred, "utf8")).toBe("1");
    const files = entryFiles(s);
    expect(files).toHaveLength(10);
    for (const f of files) expect(statSync(join(s.spool, f)).mode & 0o777).toBe(0o600);
    const entries = await spoolOf(s).list();
    expect(entries.map((e) => (e.payload as { login: { user: string } }).login.user).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `user${i}`).sort(),
    );
    // The stub "worker" exits at once and never takes the drain lock: worker.starting (fresh) kept the rest from starting another.
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(s)).toEqual(["/tmp/openvpn_cc_dynamic.tmp queued=1"]);
    expect(existsSync(join(s.spool, "worker.starting"))).toBe(true);
  });

  it("onFailure reject: writes its 2 before the login is in the spool, so a worker that answers it at once is not undone (T50 N6)", async () => {
    const s = site({ reject: true });
    holdDrainLock(s.spool);
    const deferred = join(s.root, "acf");
    writeFileSync(deferred, "");
    // sync(1) on PATH plays a running worker: the hook syncs its entry once it is in the spool, and a worker may take
    // and answer it from that moment (its verdict "1": Slack is accepting posts)
    const bin = join(s.root, "bin");
    mkdirSync(bin);
    const seen = join(s.root, "seen");
    writeFileSync(join(bin, "sync"), `#!/bin/sh\ncat '${deferred}' >'${seen}'\nprintf 1 >'${deferred}'\n`, { mode: 0o755 });
    const env = { PATH: `${bin}:/usr/bin:/bin`, script_type: "client-connect", common_name: "alice", trusted_ip: "81.2.69.1" };
    const result = await hook(s, { ...env, client_connect_deferred_file: deferred });
    expect(result).toEqual({ code: 0, stderr: "" });
    // "2" was there when the login reached the spool, and the worker's "1" stands
    expect([readFileSync(seen, "utf8"), readFileSync(deferred, "utf8")]).toEqual(["2", "1"]);
    expect(entryFiles(s)).toHaveLength(1);
  });

  it("an empty worker.starting is another hook's claim being written: no second worker (a burst on a loaded machine started two)", async () => {
    const s = site();
    writeFileSync(join(s.spool, "worker.starting"), "");
    expect((await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" })).code).toBe(0);
    expect(entryFiles(s)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(s)).toEqual([]);
  });

  it("a worker.starting left for more than 10 s by a worker that died starting is taken over", async () => {
    const s = site();
    writeFileSync(join(s.spool, "worker.starting"), `${Date.now() - 11_000}\n`);
    expect((await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" })).code).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(s)).toEqual([" queued=1"]);
  });

  it("a worker.starting dated a minute ahead (the clock stepped back since) is stale: taken over", async () => {
    const s = site();
    writeFileSync(join(s.spool, "worker.starting"), `${Date.now() + 60_000}\n`);
    expect((await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" })).code).toBe(0);
    await waitFor(() => calls(s).length > 0, 5_000, "the worker's start");
    expect(calls(s)).toEqual([" queued=1"]);
  });

  for (const [what, claim] of [
    ["an empty worker.starting 5 min old (a full disk, or a hook killed between creating and writing it)", ""],
    ["a worker.starting whose time is 5 min old", `${Date.now() - 300_000}\n`],
  ] as const) {
    it(`${what} is taken over by exactly one of 10 racing hooks, and the next hooks start no other`, async () => {
      const s = site();
      const marker = join(s.spool, "worker.starting");
      writeFileSync(marker, claim);
      utimesSync(marker, new Date(Date.now() - 300_000), new Date(Date.now() - 300_000));
      const login = (i: number) => ({ script_type: "client-connect", common_name: `u${i}`, trusted_ip: `81.2.69.${i + 1}` });
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => hook(s, login(i))));
      expect(results.filter((r) => r.code !== 0 || r.stderr !== "")).toEqual([]);
      await waitFor(() => calls(s).length > 0, 5_000, "the worker's start");
      // The claim is fresh now (the stub worker never takes the drain lock): two later hooks leave it be.
      for (const i of [10, 11]) expect(await hook(s, login(i))).toEqual({ code: 0, stderr: "" });
      await new Promise((r) => setTimeout(r, 300));
      expect(calls(s)).toEqual([" queued=1"]);
      expect(entryFiles(s)).toHaveLength(12);
      expect(Number(readFileSync(marker, "utf8"))).toBeGreaterThan(Date.now() - 60_000);
    });
  }

  for (const [what, plant] of [
    [
      "a takeover token left 11 s ago by a hook killed before it replaced the stale claim",
      (spool: string) => {
        const old = Date.now() - 300_000;
        writeFileSync(join(spool, "worker.starting"), `${old}\n`);
        return `.worker.starting.${old}.taken`;
      },
    ],
    [
      "the junk token of a dangling-symlink claim taken over 11 s ago, and a dangling symlink again",
      (spool: string) => {
        symlinkSync(join(spool, "nowhere"), join(spool, "worker.starting"));
        return ".worker.starting.junk.taken";
      },
    ],
  ] as const) {
    it(`${what}: exactly one of 10 racing hooks starts the worker (r18 finding 3); while under 10 s old, none`, async () => {
      const s = site();
      const token = join(s.spool, plant(s.spool));
      writeFileSync(token, "");
      const login = (i: number) => ({ script_type: "client-connect", common_name: `u${i}`, trusted_ip: `81.2.69.${i + 1}` });
      // Fresh, it is another hook's takeover under way: left to that hook.
      expect(await hook(s, login(0))).toEqual({ code: 0, stderr: "" });
      await new Promise((r) => setTimeout(r, 300));
      expect(calls(s)).toEqual([]);
      utimesSync(token, new Date(Date.now() - 11_000), new Date(Date.now() - 11_000));
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => hook(s, login(i + 1))));
      expect(results.filter((r) => r.code !== 0 || r.stderr !== "")).toEqual([]);
      await waitFor(() => calls(s).length > 0, 5_000, "the worker's start");
      await new Promise((r) => setTimeout(r, 300));
      expect(calls(s)).toEqual([" queued=1"]);
      expect(existsSync(`${token}2`)).toBe(true);
      expect(Number(readFileSync(join(s.spool, "worker.starting"), "utf8"))).toBeGreaterThan(Date.now() - 60_000);
    });
  }

  it("all nine takeover tokens left over (files or directories, an hour old): one line names them and the fix; no worker (r18b finding 4)", async () => {
    const s = site();
    const old = Date.now() - 3_600_000;
    writeFileSync(join(s.spool, "worker.starting"), `${old}\n`);
    const token = join(s.spool, `.worker.starting.${old}.taken`);
    for (const n of ["", "2", "3", "4", "5", "6", "7", "8", "9"]) {
      if (n === "" || Number(n) % 2 === 1) writeFileSync(`${token}${n}`, "");
      else mkdirSync(`${token}${n}`);
      utimesSync(`${token}${n}`, new Date(old), new Date(old));
    }
    const result = await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" });
    expect(result).toEqual({
      code: 0,
      stderr: `vpnnotify: error: the takeover tokens ${token} … ${token}9 are all left over, so no hook can start a worker (this login waits in the spool); run vpnnotify flush as the spool's owner (it removes them and delivers what waits)\n`,
    });
    expect(entryFiles(s)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(s)).toEqual([]);
  });

  it("a worker.starting directory: an empty one is removed and the worker started; one with files is named on stderr (r18 finding 4)", async () => {
    const login = { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" };
    const empty = site();
    mkdirSync(join(empty.spool, "worker.starting"));
    expect(await hook(empty, login)).toEqual({ code: 0, stderr: "" });
    await waitFor(() => calls(empty).length > 0, 5_000, "the worker's start");
    expect(statSync(join(empty.spool, "worker.starting")).isFile()).toBe(true);
    const full = site();
    mkdirSync(join(full.spool, "worker.starting"));
    writeFileSync(join(full.spool, "worker.starting", "x"), "");
    const result = await hook(full, login);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `vpnnotify: error: ${full.spool}/worker.starting is a directory with files in it, not a start claim: no worker was started (this login waits in the spool); remove it: rm -r -- ${full.spool}/worker.starting\n`,
    );
    expect(entryFiles(full)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(full)).toEqual([]);
  });

  it("a stale claim taken over while this hook looked (gone when read, a new one by its next look) is left be: no second worker", async () => {
    const s = site();
    const marker = join(s.spool, "worker.starting");
    writeFileSync(marker, "");
    utimesSync(marker, new Date(Date.now() - 300_000), new Date(Date.now() - 300_000));
    // date(1) on PATH plays the other hook at this hook's two looks at the claim's time: the first finds
    // it removed (taken over), the second finds the new claim it wrote.
    const bin = join(s.root, "bin");
    mkdirSync(bin);
    const looks = join(s.root, "looks");
    writeFileSync(
      join(bin, "date"),
      `#!/bin/sh\nif [ "$1" = -r ]; then\n  echo >>'${looks}'\n  case $(wc -l <'${looks}') in\n    1) rm -f "$2"; exit 1 ;;\n    2) /usr/bin/date +%s%3N >"$2" ;;\n  esac\nfi\nexec /usr/bin/date "$@"\n`,
      { mode: 0o755 },
    );
    const result = await hook(s, {
      PATH: `${bin}:/usr/bin:/bin`,
      script_type: "client-connect",
      common_name: "a",
      trusted_ip: "81.2.69.1",
    });
    expect(result).toEqual({ code: 0, stderr: "" });
    expect(readFileSync(looks, "utf8")).toBe("\n\n");
    expect(entryFiles(s)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(s)).toEqual([]);
    expect(readdirSync(s.spool).filter((f) => f.endsWith(".taken"))).toEqual([]);
  });

  // The full disk is a tmpfs mounted in a user namespace; where the host forbids those, say so and skip.
  const namespaces = spawnSync("unshare", ["-Urm", "true"]).status === 0;
  if (!namespaces) console.warn("sh-hook.test: unshare -Urm is not permitted here: the disk-full case is skipped");
  it.skipIf(!namespaces)(
    "a disk full while the claim is written: the claim is taken back, one line says so, the login stays queued",
    async () => {
      const s = site();
      // A 2-page tmpfs over the spool, one page taken: the login's entry gets the last page, the claim none.
      // Run as OpenVPN would, in a mount namespace of its own (unprivileged: user namespaces).
      const inside = [
        `mount -t tmpfs -o size=8k,mode=700 tmpfs "$1"`,
        `head -c 4096 /dev/zero >"$1/filler"`,
        `"$2" 2>"$3"`,
        `echo "exit=$?"`,
        `ls -A "$1"`,
      ].join("; ");
      const stderr = join(s.root, "stderr");
      const r = spawnSync("unshare", ["-Urm", "sh", "-c", inside, "sh", s.spool, s.script, stderr], {
        env: { PATH: "/usr/bin:/bin", script_type: "client-connect", common_name: "alice", trusted_ip: "81.2.69.1" },
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      const listing = r.stdout.trim().split("\n");
      expect(listing[0]).toBe("exit=0");
      // The entry is there, the empty claim is not (it would have kept every later hook from starting a worker).
      expect(listing.slice(1).filter((f) => /^\d+-[0-9a-f]{8}\.json$/.test(f))).toHaveLength(1);
      expect(listing).not.toContain("worker.starting");
      expect(readFileSync(stderr, "utf8")).toBe(
        `vpnnotify: error: cannot write ${s.spool}/worker.starting (the spool's file system is full or not writable): this login is queued, but no worker was started; free space there (the next login or vpnnotify flush then delivers it)\n`,
      );
      expect(calls(s)).toEqual([]);
    },
  );

  it("a drain lock naming a zombie (a worker killed, never reaped) is no worker: the hook starts one", async () => {
    const s = site();
    const zombie = await zombieDrainLock(s.spool);
    try {
      expect((await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" })).code).toBe(0);
      await waitFor(() => calls(s).length > 0, 5_000, "the worker's start");
      expect(calls(s)).toEqual([" queued=1"]);
    } finally {
      zombie.end();
    }
  });

  it("FIFOs planted as drain.lock and worker.starting never hold up the hook: it queues and starts the worker", async () => {
    const s = site();
    for (const name of ["drain.lock", "worker.starting"]) expect(spawnSync("mkfifo", [join(s.spool, name)]).status).toBe(0);
    const result = await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" });
    expect(result).toEqual({ code: 0, stderr: "" });
    expect(entryFiles(s)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls(s)).toEqual([" queued=1"]);
    expect(statSync(join(s.spool, "worker.starting")).isFile()).toBe(true);
  });

  it("a spool it cannot write: says so on stderr and hands the login to the Node hook (which handles it alone), never losing it", async () => {
    // Root writes anywhere: the hook runs as nobody, as OpenVPN's scripts usually do, with root's spool.
    const s = site({}, 0o755);
    const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
    if (!asNobody.length) chmodSync(s.spool, 0o555);
    const run = (script: string) =>
      spawnSync(asNobody[0] ?? script, [...asNobody.slice(1), ...(asNobody.length ? [script] : [])], {
        env: { PATH: "/usr/bin:/bin", script_type: "client-connect", common_name: "alice", trusted_ip: "81.2.69.1" },
        encoding: "utf8",
      });
    chmodSync(s.root, 0o777);
    const result = run(s.script);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe(`vpnnotify: warn: no write permission on the spool ${s.spool}; the Node hook handles this login alone\n`);
    expect(calls(s)).toEqual([" queued="]);
    expect(readdirSync(s.spool)).toEqual([]);

    // Nothing can take the login: one error line; only onFailure reject may refuse the client (exit 69).
    for (const reject of [false, true]) {
      const gone = site({ reject, nodeHook: [join(dir, "no-such-node-hook")] }, 0o755);
      chmodSync(gone.root, 0o777);
      const r = run(gone.script);
      expect(r.stderr).toContain(`the Node hook handles this login alone\nvpnnotify: error: failed reason="cannot run the Node hook`);
      expect(r.stderr).toContain("so this login is NOT notified");
      expect(r.status).toBe(reject ? 69 : 0);
    }
  });

  it("hands everything but a plain client-connect to the Node hook, untouched", async () => {
    const s = site();
    const base = { common_name: "alice", trusted_ip: "81.2.69.1" };
    await hook(s, { ...base, script_type: "client-disconnect" });
    await hook(s, { ...base, script_type: "user-pass-verify" }, { args: ["/tmp/creds"] });
    await hook(s, { ...base, script_type: "client-connect" }, { args: ["--wait"] });
    await hook(s, { ...base, script_type: "client-connect" }, { args: ["a", "b"] });
    await hook(s, { ...base, script_type: "client-connect", VPNNOTIFY_CONFIG: "/elsewhere.json" });
    await hook(s, { script_type: "client-connect", common_name: "  ", trusted_ip: "81.2.69.1" });
    await hook(s, { script_type: "client-connect", username: "\u0001", common_name: " \u001b\t", trusted_ip: "81.2.69.1" });
    await hook(s, { script_type: "client-connect", common_name: "alice" });
    await hook(s, { PLUTO_VERB: "up-client", PLUTO_PEER: "81.2.69.1", PLUTO_PEER_ID: "alice" });
    expect(calls(s)).toEqual([
      " queued=",
      "/tmp/creds queued=",
      "--wait queued=",
      "a b queued=",
      " queued=",
      " queued=",
      " queued=",
      " queued=",
      " queued=",
    ]);
    expect(entryFiles(s)).toEqual([]);
  });

  it("a config with a nanosecond mtime: the script is dated exactly as it, so logins stay on the sh path", async () => {
    const s = site();
    holdDrainLock(s.spool);
    expect(spawnSync("touch", ["-d", "2026-12-05 03:45:01.123456789", s.options.config]).status).toBe(0);
    writeShHook(s.root, "vpnnotify-connect", s.options);
    expect(statSync(s.script, { bigint: true }).mtimeNs).toBe(statSync(s.options.config, { bigint: true }).mtimeNs);
    for (const shell of ["/bin/sh", "/bin/bash"]) {
      const result = await hook(s, { script_type: "client-connect", common_name: "alice", trusted_ip: "81.2.69.1" }, { shell });
      expect(result).toEqual({ code: 0, stderr: "" });
    }
    expect(entryFiles(s)).toHaveLength(2);
    expect(calls(s)).toEqual([]);
  });

  it("every hand-over to the Node hook names the config the script was made from (not in the default place)", async () => {
    const s = site();
    // The stub records the config it is told about: without one, the Node hook would read /etc/opsguard's.
    writeFileSync(
      s.options.nodeHook[0] as string,
      `#!/bin/sh\nprintf '%s config=%s\\n' "$*" "\${VPNNOTIFY_CONFIG-unset}" >>'${s.calls}'\nexit 0\n`,
    );
    const login = { script_type: "client-connect", common_name: "alice", trusted_ip: "81.2.69.1" };
    const want = ` config=${s.options.config}`;
    // Stale config.
    const { atime, mtime } = statSync(s.options.config);
    utimesSync(s.options.config, atime, new Date(mtime.getTime() + 120_000));
    await hook(s, login);
    expect(calls(s)).toEqual([want]);
    writeShHook(s.root, "vpnnotify-connect", s.options);
    // Spool missing.
    rmSync(s.spool, { recursive: true });
    await hook(s, login);
    expect(calls(s)).toEqual([want, want]);
    // Unwritable spool: a directory nobody can create files in, root included (/proc).
    symlinkSync("/proc/self/fdinfo", s.spool);
    const unwritable = await hook(s, login);
    expect(unwritable.stderr).toContain("the Node hook handles this login alone");
    expect(calls(s)).toEqual([want, want, want]);
    // Another config named by OpenVPN's environment is handed on as it is.
    await hook(s, { ...login, VPNNOTIFY_CONFIG: "/elsewhere.json" });
    expect(calls(s).at(-1)).toBe(" config=/elsewhere.json");
  });

  for (const shell of ["/bin/sh", "/bin/bash"]) {
    it(`${shell}: junk in worker.starting (a leading 0, 20 digits) is stale, never a shell error that disconnects`, async () => {
      for (const junk of ["0999", "99999999999999999999", "08", "-5", "1e3"]) {
        const s = site();
        writeFileSync(join(s.spool, "worker.starting"), `${junk}\n`);
        const result = await hook(s, { script_type: "client-connect", common_name: "a", trusted_ip: "81.2.69.1" }, { shell });
        expect(result, junk).toEqual({ code: 0, stderr: "" });
        expect(entryFiles(s)).toHaveLength(1);
        await waitFor(() => calls(s).length > 0, 5_000, "the worker start");
        expect(calls(s), junk).toEqual([" queued=1"]);
      }
    });
  }

  it("after the config was edited, hands over to the Node hook and says to re-run install", async () => {
    const s = site();
    writeFileSync(s.options.config, '{"onFailure":"reject"}\n');
    const result = await hook(s, { script_type: "client-connect", common_name: "alice", trusted_ip: "81.2.69.1" });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(
      `vpnnotify: warn: ${s.options.config} changed after ${s.script} was written: the Node hook runs instead (re-run vpnnotify install)\n`,
    );
    expect(calls(s)).toEqual([" queued="]);
    expect(entryFiles(s)).toEqual([]);
  });
});
