// vpnnotify under a reconnect storm (issue #26): STORM concurrent OpenVPN client-connect hooks
// (distinct users and places) through the installed launcher, against the lab's slapd, redis-server
// and Slack simulator. Ratios within one run: the slowest hook of the storm against a single hook
// (median of quiet runs), and against the slowest `node -e 0` of a storm of bare Node starts (the
// floor the machine sets). Counted at the Slack simulator: every alert delivered, none twice, and
// how long the last one took; the worker's peak RSS from its "worker done" line. Then the same
// storm with Slack answering 429 (Retry-After) to chat.postMessage for its first 10 s.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { median, printTable } from "./lib.mjs";

const pad = (i) => String(i).padStart(3, "0");
const user = (i) => `storm${pad(i)}`;
const slackId = (i) => `U0STORM${pad(i)}`;

export async function seedStormUsers({ slapd, slack, count }) {
  for (let i = 0; i < count; i++) {
    const uid = user(i);
    await slapd.addEntry(`uid=${uid},ou=people,${slapd.baseDn}`, {
      objectClass: ["inetOrgPerson", "opsguardChatAccount"],
      uid,
      cn: uid,
      sn: "Storm",
      mail: `${uid}@opsguard.test`,
      slackName: uid,
      slackId: slackId(i),
    });
    slack.addUser({ id: slackId(i), name: uid, email: `${uid}@opsguard.test` });
  }
}

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

export async function runStorm({ dir, launcher, slapd, redis, slack, token, count, runs }) {
  let site = 0;
  /** A fresh site (Redis prefix, spool, log): every login of a storm is a first login. */
  const newSite = () => {
    site++;
    const root = join(dir, `storm-${site}`);
    const spool = join(root, "spool");
    // As after the first login a worker made it: the hooks queue logins without loading the bundle.
    mkdirSync(spool, { recursive: true, mode: 0o700 });
    const log = join(root, "worker.log");
    const config = join(root, "vpnnotify.json");
    writeFileSync(
      config,
      JSON.stringify({
        server: { name: "vpn-storm" },
        slack: { token: "env:BENCH_SLACK_TOKEN", baseUrl: slack.apiUrl },
        securityChannel: "C0SECURITY",
        directory: { ldap: slapd.connection(), slackIdAttribute: "slackId" },
        state: { file: join(root, "state.json"), redis: { url: redis.url, keyPrefix: `storm${site}:` } },
        spool: { dir: spool, idleSeconds: 2 },
        deadlineMs: 3_000,
        log: { file: log },
      }),
    );
    const text = () => (existsSync(log) ? readFileSync(log, "utf8") : "");
    return { root, spool, config, text };
  };
  const hookEnv = (s, i, tag) => {
    const deferred = join(s.root, `acf-${tag}-${i}`);
    writeFileSync(deferred, "");
    return {
      PATH: "/usr/bin:/bin",
      VPNNOTIFY_CONFIG: s.config,
      BENCH_SLACK_TOKEN: token,
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

  /** One storm: every hook at once; then, counted at the simulator, when the last alert arrived. */
  const storm = async (rateLimitMs) => {
    const s = newSite();
    slack.messages.length = 0;
    if (rateLimitMs) slack.rateLimitFor(rateLimitMs, "chat.postMessage");
    const load = loadavg()[0];
    const started = Date.now();
    const hookMs = await Promise.all(Array.from({ length: count }, (_, i) => timedSpawn([launcher], hookEnv(s, i, "storm"))));
    let lastAlertMs;
    while (slack.messages.length < count && Date.now() - started < 120_000) await sleep(20);
    if (slack.messages.length >= count) lastAlertMs = Date.now() - started;
    await settle(s, 60_000);
    slack.up();
    const perUser = Array.from({ length: count }, (_, i) => slack.messagesTo(slackId(i)).length);
    const workers = workerDone(s);
    return {
      slowest: Math.max(...hookMs),
      medianHook: median(hookMs),
      lastAlertMs,
      delivered: perUser.filter((n) => n >= 1).length,
      twice: perUser.filter((n) => n > 1).length,
      workers: workers.length,
      peakRss: Math.max(...workers.map((m) => Number(m[2]))),
      load,
    };
  };

  // A single hook on a quiet machine, the worker started by it included: the baseline.
  const quiet = newSite();
  const single = [];
  for (let i = 0; i < 11; i++) {
    const ms = await timedSpawn([launcher], hookEnv(quiet, i, "single"));
    await settle(quiet, 30_000);
    if (i > 0) single.push(ms);
    // The next hook starts its own worker again.
    while (existsSync(join(quiet.spool, "drain.lock"))) await sleep(50);
  }
  const singleMs = median(single);
  // The floor: the same number of bare Node starts at once.
  const floors = [];
  for (let r = 0; r < runs; r++) {
    floors.push(Math.max(...(await Promise.all(Array.from({ length: count }, () => timedSpawn([process.execPath, "-e", "0"], {}))))));
  }

  const results = [];
  const limited = [];
  for (let r = 0; r < runs; r++) {
    results.push(await storm(0));
    limited.push(await storm(10_000));
  }
  const fmt = (ms) => (ms === undefined ? "not all" : (ms / 1000).toFixed(1));
  console.log(`\nreconnect storm: ${count} client-connect hooks at once (installed launcher), ${runs} run(s), Node ${process.version}`);
  console.log(`single hook (median of 10, its worker started by it): ${singleMs.toFixed(1)} ms`);
  const rows = [
    [
      "run",
      "Slack",
      "load avg",
      "slowest hook ms",
      "x single",
      "x node storm",
      "median hook ms",
      "all alerts in s",
      "delivered",
      "twice",
      "workers",
      "worker peak RSS MiB",
    ],
  ];
  const row = (label, slackNote, r, floor) => [
    label,
    slackNote,
    r.load.toFixed(1),
    r.slowest.toFixed(0),
    (r.slowest / singleMs).toFixed(1),
    (r.slowest / floor).toFixed(2),
    r.medianHook.toFixed(0),
    fmt(r.lastAlertMs),
    `${r.delivered}/${count}`,
    r.twice,
    r.workers,
    r.peakRss,
  ];
  for (const [i, r] of results.entries()) rows.push(row(String(i + 1), "healthy", r, floors[i]));
  for (const [i, r] of limited.entries()) rows.push(row(String(i + 1), "429 first 10 s", r, floors[i]));
  const med = (list, key) => median(list.map((r) => r[key] ?? Number.POSITIVE_INFINITY));
  const medianRow = (slackNote, list) => [
    "median",
    slackNote,
    med(list, "load").toFixed(1),
    med(list, "slowest").toFixed(0),
    (med(list, "slowest") / singleMs).toFixed(1),
    (med(list, "slowest") / median(floors)).toFixed(2),
    med(list, "medianHook").toFixed(0),
    fmt(med(list, "lastAlertMs")),
    "",
    "",
    "",
    med(list, "peakRss"),
  ];
  rows.push(medianRow("healthy", results), medianRow("429 first 10 s", limited));
  printTable(rows);
  console.log(`slowest of ${count} concurrent "node -e 0" (the machine's floor): ${floors.map((f) => f.toFixed(0)).join(", ")} ms`);
  const bad = [...results, ...limited].filter(
    (r) => r.delivered < count || r.twice > 0 || r.lastAlertMs === undefined || r.lastAlertMs > 60_000,
  );
  if (bad.length > 0) throw new Error(`${bad.length} storm run(s) lost, repeated or were late with alerts (see the table)`);
}
