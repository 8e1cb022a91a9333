// vpnnotify under a reconnect storm (issue #26): STORM concurrent OpenVPN client-connect hooks
// (distinct users and places) through the installed Node launcher and through the POSIX sh hook
// (`vpnnotify sh-hook`), against the lab's slapd, redis-server and Slack simulator. Ratios within
// one run: the slowest hook of the storm against a single hook of its kind (median of quiet runs),
// and against the slowest of a storm of bare starts of its interpreter (`node -e 0`, `sh -c :`:
// the floor the machine sets). Also STORM hooks run one after another, as OpenVPN runs
// client-connect scripts that are not deferred. Counted at the Slack simulator: every alert
// delivered, none twice, and how long the last one took; the worker's peak RSS from its "worker
// done" line. Each storm also with Slack answering 429 (Retry-After) to chat.postMessage for 10 s.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, utimesSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { tsImport } from "tsx/esm/api";
import { median, printTable } from "./lib.mjs";

// The burst test's cast and sites (packages/vpnnotify/test/storm.ts): the test checks what this measures.
const cast = await tsImport(new URL("../../packages/vpnnotify/test/storm.ts", import.meta.url).pathname, import.meta.url);
const user = cast.stormUser;
const slackId = cast.stormSlackId;
export const seedStormUsers = cast.seedStormUsers;

/** Wall time of one process from spawn to exit, without blocking this process (the simulator answers meanwhile). */
function timedSpawn(argv, env) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr}`));
      else resolve(ms);
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function runStorm({ dir, bundle, launcher, slapd, redis, slack, token, count, runs }) {
  let site = 0;
  /** A fresh site (Redis prefix, spool, log, sh hook): every login of a storm is a first login. */
  const newSite = () => {
    site++;
    const { root, spool, config, text } = cast.stormSite(
      join(dir, `storm-${site}`),
      { slapd, redis, slack },
      {
        spoolExists: true,
        deadlineMs: 3_000,
        spool: { idleSeconds: 2 },
      },
    );
    // Dated before the script made from it, as install leaves them.
    utimesSync(config, new Date(Date.now() - 5_000), new Date(Date.now() - 5_000));
    const sh = join(root, "vpnnotify-connect");
    const made = spawnSync(process.execPath, [bundle, "--config", config, "sh-hook", "--node-hook", launcher], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(`vpnnotify sh-hook failed: ${made.stderr}`);
    writeFileSync(sh, made.stdout, { mode: 0o755 });
    return { root, spool, config, text, hook: { node: launcher, sh } };
  };
  const hookEnv = (s, i, tag) => {
    const deferred = join(s.root, `acf-${tag}-${i}`);
    writeFileSync(deferred, "");
    return {
      PATH: "/usr/bin:/bin",
      VPNNOTIFY_CONFIG: s.config,
      [cast.STORM_TOKEN_ENV]: token,
      script_type: "client-connect",
      common_name: user(i),
      trusted_ip: `81.${2 + (i % 50)}.${i}.${1 + (i % 200)}`,
      trusted_port: "51413",
      ifconfig_pool_remote_ip: "10.8.0.6",
      time_unix: String(Math.floor(Date.now() / 1000)),
      client_connect_deferred_file: deferred,
    };
  };
  const workerDone = (s) => [...s.text().matchAll(/worker done delivered=(\d+).* peakRssMiB=(\d+)/g)];
  /** Until the site's worker has finished (no drain lock, a "worker done" line). */
  const settle = async (s, limitMs) => {
    const until = Date.now() + limitMs;
    while (existsSync(join(s.spool, "drain.lock")) || workerDone(s).length === 0) {
      if (Date.now() > until) throw new Error(`the worker of ${s.root} did not finish within ${limitMs} ms`);
      await sleep(50);
    }
  };
  /** Counted at the simulator once the hooks returned: the last alert's arrival, repeats, workers. */
  const outcome = async (s, started) => {
    let lastAlertMs;
    while (slack.messages.length < count && Date.now() - started < 120_000) await sleep(20);
    if (slack.messages.length >= count) lastAlertMs = Date.now() - started;
    await settle(s, 60_000);
    slack.up();
    const perUser = Array.from({ length: count }, (_, i) => slack.messagesTo(slackId(i)).length);
    const workers = workerDone(s);
    return {
      lastAlertMs,
      delivered: perUser.filter((n) => n >= 1).length,
      twice: perUser.filter((n) => n > 1).length,
      workers: workers.length,
      peakRss: Math.max(...workers.map((m) => Number(m[2]))),
    };
  };

  /** One storm of `kind` hooks: every hook at once. */
  const storm = async (kind, rateLimitMs) => {
    const s = newSite();
    slack.messages.length = 0;
    if (rateLimitMs) slack.rateLimitFor(rateLimitMs, "chat.postMessage");
    const load = loadavg()[0];
    const started = Date.now();
    const hookMs = await Promise.all(Array.from({ length: count }, (_, i) => timedSpawn([s.hook[kind]], hookEnv(s, i, "storm"))));
    return { slowest: Math.max(...hookMs), medianHook: median(hookMs), load, ...(await outcome(s, started)) };
  };

  /** `count` hooks one after another, as OpenVPN runs client-connect scripts (its worker drains meanwhile). */
  const serial = async (kind) => {
    const s = newSite();
    slack.messages.length = 0;
    const started = Date.now();
    const hookMs = [];
    for (let i = 0; i < count; i++) hookMs.push(await timedSpawn([s.hook[kind]], hookEnv(s, i, "serial")));
    const totalMs = Date.now() - started;
    const sorted = [...hookMs].sort((a, b) => a - b);
    return { totalMs, slowest: sorted[sorted.length - 1], p95: sorted[Math.floor(sorted.length * 0.95)], ...(await outcome(s, started)) };
  };

  const kinds = ["node", "sh"];
  const label = { node: "Node launcher", sh: "sh hook" };
  // A single hook on a quiet machine, the worker started by it included: the baseline of its kind.
  const single = {};
  for (const kind of kinds) {
    const quiet = newSite();
    const samples = [];
    for (let i = 0; i < 11; i++) {
      const told = slack.messagesTo(slackId(i)).length;
      const ms = await timedSpawn([quiet.hook[kind]], hookEnv(quiet, i, "single"));
      // The hook returns before its worker holds the drain lock, so "no lock" alone does not mean
      // done: wait for this login's DM (the singles' users are the storm's first ones, so a DM
      // arriving after the storm's reset counted as a repeat) and then for its worker to exit.
      const until = Date.now() + 30_000;
      while (slack.messagesTo(slackId(i)).length === told) {
        if (Date.now() > until) throw new Error(`the single ${kind} hook's alert for ${user(i)} did not arrive within 30 s`);
        await sleep(20);
      }
      await settle(quiet, 30_000);
      if (i > 0) samples.push(ms);
    }
    // Each single login alerted exactly once, before the storms count anything.
    const repeated = Array.from({ length: 11 }, (_, i) => slack.messagesTo(slackId(i)).length).filter((n) => n !== 1);
    if (repeated.length > 0) throw new Error(`the single ${kind} hooks' logins were not each alerted once`);
    slack.messages.length = 0;
    single[kind] = median(samples);
  }
  // The floor: the same number of bare starts of each interpreter at once.
  const bare = { node: [process.execPath, "-e", "0"], sh: ["/bin/sh", "-c", ":"] };
  const floors = { node: [], sh: [] };
  for (let r = 0; r < runs; r++) {
    for (const kind of kinds)
      floors[kind].push(Math.max(...(await Promise.all(Array.from({ length: count }, () => timedSpawn(bare[kind], {}))))));
  }

  const results = [];
  for (let r = 0; r < runs; r++) {
    for (const kind of kinds) {
      results.push({ kind, slackNote: "healthy", run: r, ...(await storm(kind, 0)) });
      results.push({ kind, slackNote: "429 first 10 s", run: r, ...(await storm(kind, 10_000)) });
    }
  }
  const serials = [];
  for (const kind of kinds) serials.push({ kind, ...(await serial(kind)) });

  const fmt = (ms) => (ms === undefined ? "not all" : (ms / 1000).toFixed(1));
  console.log(`\nreconnect storm: ${count} client-connect hooks at once, ${runs} run(s), Node ${process.version}`);
  for (const kind of kinds) console.log(`single ${label[kind]} (median of 10, its worker started by it): ${single[kind].toFixed(1)} ms`);
  for (const kind of kinds) {
    console.log(
      `slowest of ${count} concurrent "${bare[kind].join(" ")}" (the floor): ${floors[kind].map((f) => f.toFixed(0)).join(", ")} ms`,
    );
  }
  const rows = [
    [
      "hook",
      "Slack",
      "run",
      "load avg",
      "slowest hook ms",
      "x single",
      "x bare storm",
      "median hook ms",
      "all alerts in s",
      "delivered",
      "twice",
      "workers",
      "worker peak RSS MiB",
    ],
  ];
  for (const r of results) {
    rows.push([
      label[r.kind],
      r.slackNote,
      r.run + 1,
      r.load.toFixed(1),
      r.slowest.toFixed(0),
      (r.slowest / single[r.kind]).toFixed(1),
      (r.slowest / floors[r.kind][r.run]).toFixed(2),
      r.medianHook.toFixed(0),
      fmt(r.lastAlertMs),
      `${r.delivered}/${count}`,
      r.twice,
      r.workers,
      r.peakRss,
    ]);
  }
  printTable(rows);
  console.log(`\n${count} client-connect hooks one after another (OpenVPN without deferred client-connect runs them serially):`);
  const serialRows = [
    [
      "hook",
      "total s",
      "per hook ms",
      "p95 hook ms",
      "slowest hook ms",
      "x single",
      "all alerts in s",
      "delivered",
      "twice",
      "workers",
      "worker peak RSS MiB",
    ],
  ];
  for (const r of serials) {
    serialRows.push([
      label[r.kind],
      fmt(r.totalMs),
      (r.totalMs / count).toFixed(1),
      r.p95.toFixed(0),
      r.slowest.toFixed(0),
      (r.slowest / single[r.kind]).toFixed(1),
      fmt(r.lastAlertMs),
      `${r.delivered}/${count}`,
      r.twice,
      r.workers,
      r.peakRss,
    ]);
  }
  printTable(serialRows);
  // The 60 s target is the storm's; one after another, the last login is only queued when the last hook ran.
  const bad = [
    ...results.filter((r) => r.lastAlertMs === undefined || r.lastAlertMs > 60_000),
    ...[...results, ...serials].filter((r) => r.delivered < count || r.twice > 0),
  ];
  if (bad.length > 0) throw new Error(`${bad.length} storm run(s) lost, repeated or were late with alerts (see the table)`);
}
