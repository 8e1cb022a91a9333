#!/usr/bin/env node
// vpnnotify's added latency to a VPN connect, as ratios within one run against bare `node -e 0`:
// the OpenVPN client-connect hook (deferred, as OpenVPN 2.5+ offers it) with every login a new place,
// so each detached worker really looks up LDAP, updates Redis and posts to a Slack that takes 2 s to
// answer. Workers run between the timed samples, never during them, so they do not steal the CPU.
// Also: the synchronous --wait path with healthy services and with a hung Slack (bounded by deadlineMs).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tsImport } from "tsx/esm/api";
import { median, printTable } from "./lib.mjs";
import { runStorm, seedStormUsers } from "./vpnnotify-storm.mjs";

const runs = Number(process.env.RUNS ?? 20);
// STORM=0 skips the reconnect storm; STORM_ONLY=1 runs only it; STORM_RUNS storms of each kind.
const stormSize = Number(process.env.STORM ?? 200);
const stormRuns = Number(process.env.STORM_RUNS ?? 1);
const stormOnly = process.env.STORM_ONLY === "1";
const root = new URL("../..", import.meta.url).pathname;
const bundle = join(root, "packages/vpnnotify/dist/vpnnotify.cjs");
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run "node scripts/build.mjs vpnnotify" first`);

const lab = await tsImport(join(root, "packages/lab/src/index.ts"), import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "vpnnotify-bench-"));
const [slapd, redis] = await Promise.all([lab.startSlapd(), lab.startRedis()]);
const slack = new lab.SlackSim();
slack.addChannel({ id: "C0SECURITY", name: "security-alerts" });
for (const user of Object.values(slapd.users)) slack.addUser({ id: user.slackId, name: user.uid, email: user.mail });
await slack.start();

try {
  const install = spawnSync(process.execPath, [bundle, "install", "--prefix", join(dir, "lib")], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`vpnnotify install failed: ${install.stderr}`);
  const launcher = join(dir, "lib/vpnnotify");
  const logFile = join(dir, "worker.log");
  const config = join(dir, "vpnnotify.json");
  writeFileSync(
    config,
    JSON.stringify({
      server: { name: "vpn-bench" },
      slack: { token: "env:BENCH_SLACK_TOKEN", baseUrl: slack.apiUrl },
      securityChannel: "C0SECURITY",
      directory: { ldap: slapd.connection(), slackIdAttribute: "slackId" },
      state: { redis: { url: redis.url } },
      spool: { dir: join(dir, "spool") },
      policy: { knownBy: ["ip"] },
      deadlineMs: 3_000,
      log: { file: logFile },
    }),
  );
  if (stormSize > 0) {
    await seedStormUsers({ slapd, slack, count: stormSize });
    await runStorm({ dir, bundle, launcher, slapd, redis, slack, token: lab.SLACK_SIM_TOKEN, count: stormSize, runs: stormRuns });
  }
  if (!stormOnly) {
    const baseEnv = { PATH: "/usr/bin:/bin", VPNNOTIFY_CONFIG: config, BENCH_SLACK_TOKEN: lab.SLACK_SIM_TOKEN };
    let login = 0;
    const connectEnv = () => {
      login++;
      const deferred = join(dir, `acf-${login}`);
      writeFileSync(deferred, "");
      return {
        ...baseEnv,
        script_type: "client-connect",
        common_name: "alice",
        trusted_ip: `81.2.${login >> 8}.${login & 255}`,
        trusted_port: "51413",
        ifconfig_pool_remote_ip: "10.8.0.6",
        time_unix: String(Math.floor(Date.now() / 1000)),
        client_connect_deferred_file: deferred,
      };
    };
    // A worker's decision lines only: a worker also reports the spool ("undelivered alerts" and the
    // like), and counting those would start the next sample while the current worker still runs.
    const decision = / (notified|suppressed|escalated|failed) user=/;
    const decisionLines = () =>
      existsSync(logFile)
        ? readFileSync(logFile, "utf8")
            .split("\n")
            .filter((l) => decision.test(l))
        : [];
    const loggedLines = () => decisionLines().length;
    const timed = (argv, env) => {
      const start = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr}`);
      return ms;
    };
    /** Like timed(), without blocking this process: the lab's Slack simulator must answer meanwhile. */
    const timedAsync = (argv, env) =>
      new Promise((resolve, reject) => {
        const start = process.hrtime.bigint();
        const child = spawn(argv[0], argv.slice(1), { env, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (c) => {
          stderr += c;
        });
        child.on("close", (code) => {
          const ms = Number(process.hrtime.bigint() - start) / 1e6;
          if (code !== 0) reject(new Error(`${argv.join(" ")} exited ${code}: ${stderr}`));
          else resolve({ ms, stderr });
        });
      });
    /** Waits (untimed) until the detached worker of the last hook run has logged its decision. */
    const settle = async (before) => {
      const until = Date.now() + 15_000;
      while (loggedLines() <= before) {
        if (Date.now() > until) throw new Error("a detached worker did not log its decision within 15 s");
        await new Promise((r) => setTimeout(r, 20));
      }
      // The worker still closes its connections and hands its line to syslog: let it exit first.
      await new Promise((r) => setTimeout(r, 300));
    };

    slack.slow(1_500);
    const samples = { node: [], bundle: [], launcher: [] };
    for (let i = 0; i <= runs; i++) {
      const node = timed([process.execPath, "-e", "0"], baseEnv);
      let before = loggedLines();
      const viaBundle = timed([process.execPath, bundle], connectEnv());
      await settle(before);
      before = loggedLines();
      const viaLauncher = timed([launcher], connectEnv());
      await settle(before);
      if (i === 0) continue;
      samples.node.push(node);
      samples.bundle.push(viaBundle);
      samples.launcher.push(viaLauncher);
    }
    const lines = decisionLines();
    const others = lines.filter((l) => !/ notified user=alice /.test(l));

    slack.slow(0);
    const waitHealthy = [];
    for (let i = 0; i <= Math.min(runs, 10); i++) {
      const { ms, stderr } = await timedAsync([launcher, "--wait"], connectEnv());
      if (!/ notified user=alice /.test(stderr)) throw new Error(`--wait did not notify: ${stderr}`);
      if (i > 0) waitHealthy.push(ms);
    }
    slack.fault({ hang: true }, { times: 1_000 });
    const waitHung = [];
    for (let i = 0; i < 3; i++) waitHung.push((await timedAsync([launcher, "--wait"], connectEnv())).ms);
    slack.up();

    const node = median(samples.node);
    const row = (name, ms, note) => [name, ms.toFixed(1), note];
    console.log(`vpnnotify benchmark: median wall time over ${runs} runs each (Node ${process.version})`);
    console.log(`each connect is a new place; its worker queried LDAP, updated Redis and posted to a Slack answering in 1.5 s`);
    printTable([
      ["command", "median ms", "ratio"],
      row("node -e 0", node, "1.00 (baseline)"),
      row(
        "client-connect hook, installed launcher (bundle not loaded)",
        median(samples.launcher),
        `${(median(samples.launcher) / node).toFixed(2)} vs node -e 0 (target <= 1.3)`,
      ),
      row(
        "client-connect hook, node dist/vpnnotify.cjs",
        median(samples.bundle),
        `${(median(samples.bundle) / node).toFixed(2)} vs node -e 0`,
      ),
      row(
        "--wait, healthy Slack/LDAP/Redis (whole job, launcher)",
        median(waitHealthy),
        `${(median(waitHealthy) / node).toFixed(2)} vs node -e 0`,
      ),
      row("--wait, Slack hangs (deadlineMs 3000)", median(waitHung), `${(median(waitHung) / 3000).toFixed(2)} of the deadline`),
    ]);
    console.log(`worker decisions logged: ${lines.length} (${others.length === 0 ? "all notified" : `${others.length} not notified`})`);
    // The figures are printed either way; a worker that did not notify still fails the run.
    if (others.length > 0) throw new Error(`expected every worker to notify, got:\n${others.slice(0, 5).join("\n")}`);
  }
} finally {
  await slack.stop();
  await Promise.all([slapd.stop(), redis.stop()]);
  rmSync(dir, { recursive: true, force: true });
}
