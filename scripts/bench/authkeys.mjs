#!/usr/bin/env node
// authkeys speed and memory, measured as ratios within one run against the lab's real slapd and sshd:
// - start-up + lookup: `authkeys <user>` (the built bundle, and the installed launcher with its V8 code
//   cache) against bare `node -e 0` and `ldapsearch` doing the same query (StartTLS, bind, one search),
//   every command as sshd runs it: as the AuthorizedKeysCommandUser, with a minimal environment;
// - scale: a directory with 10,000 more users, and a user with 50 keys, against the plain lookup;
// - a whole sshd login through authkeys against a login with a static authorized_keys file;
// - via agent: the same lookup answered by `authkeys agent` (started here as the command user), which
//   keeps its LDAP connection open, so the login process loads no TLS or LDAP code;
// - peak RSS of one lookup.
// RUNS=n rounds (default 20); OUTAGE_ROUNDS=n outage rounds (default 3); ONLY=outage runs the outage rows alone.
// The machine may be shared: every ratio is taken within one round (baseline and subject run back to
// back, in rotating order) and the median of those per-round ratios is reported with its spread
// (25th-75th percentile), next to the load average, so a burst of load hits both sides of a ratio alike.
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { tsImport } from "tsx/esm/api";
import { median, peakRssMb, printTable } from "./lib.mjs";

const runs = Number(process.env.RUNS ?? 20);
const outageRounds = Number(process.env.OUTAGE_ROUNDS ?? 3);
const root = new URL("../..", import.meta.url).pathname;
const bundle = join(root, "packages/authkeys/dist/authkeys.cjs");
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run "node scripts/build.mjs authkeys" first`);
if (process.getuid?.() !== 0) throw new Error("run as root: the launcher is installed root-owned and sshd switches users");

const lab = await tsImport(join(root, "packages/lab/src/index.ts"), import.meta.url);
const { sshLogin } = await tsImport(join(root, "packages/authkeys/test/harness.ts"), import.meta.url);

// ONLY=outage: just the outage rows (a quick re-measure when the machine is quiet for a moment).
if (process.env.ONLY === "outage") {
  const l = await lab.startSlapd();
  try {
    const before = loadavg();
    const outage = await blackholedLogins(l);
    console.log(`authkeys outage rows, ${outageRounds} rounds; load average ${loadText(before)} before, ${loadText(loadavg())} after`);
    printTable([["command", "median ms", "ratio"], ...outageRows(outage)]);
  } finally {
    await l.stop();
  }
  process.exit(0);
}

const small = await lab.startSlapd();
const big = await lab.startSlapd({ bulkUsers: 10_000 });
const cleanups = [() => small.stop(), () => big.stop()];
try {
  await addFiftyKeyUser(big);
  // The real launcher: `authkeys install --config` into a root-owned prefix, code cache warmed by a lookup.
  const installed = lab.installAuthkeys(small);
  cleanups.push(() => installed.remove());
  // Its own install, so its config has its own install-time validation, as the small directory's has.
  const bigInstalled = lab.installAuthkeys(big);
  cleanups.push(() => bigInstalled.remove());

  const viaAgent = await startAgent(small);
  cleanups.push(() => viaAgent.stop());

  const env = { PATH: "/usr/bin:/bin", LDAPTLS_CACERT: join(installed.dir, "ca.pem"), LDAPTLS_REQCERT: "demand" };
  // The command user owns the key cache, so a lookup refreshes it as under sshd (as root it could not).
  const asCommandUser = (argv) => ["setpriv", `--reuid=${lab.AUTHKEYS_UID}`, `--regid=${lab.AUTHKEYS_UID}`, "--clear-groups", ...argv];
  const launcher = join(installed.dir, "authkeys");
  // The same install as it ran a login before the login bundle: the full bundle from its code cache.
  const fullLauncher = join(installed.dir, "authkeys-full-bundle");
  const launcherText = readFileSync(launcher, "utf8").split("\n");
  launcherText.splice(2, 0, "globalThis.__authkeysFullBundle = true;");
  writeFileSync(fullLauncher, launcherText.join("\n"), { mode: 0o755 });
  const agentLookup = [viaAgent.installed.bin, "--config", viaAgent.installed.configFile, "alice"];
  const check = spawnSync(agentLookup[0], agentLookup.slice(1), { env, encoding: "utf8", uid: lab.AUTHKEYS_UID, gid: lab.AUTHKEYS_UID });
  if (!/source=agent:ldap/.test(check.stderr)) throw new Error(`the agent did not answer: ${check.stderr.trim()}`);
  const loadBefore = loadavg();
  const [node, lookup, agent, plain, ldapsearch, bigLookup, fifty, full] = timeInterleaved(
    [
      [process.execPath, "-e", "0"],
      [launcher, "--config", installed.configFile, "alice"],
      agentLookup,
      [process.execPath, bundle, "--config", installed.configFile, "alice"],
      ldapsearchArgv(small, "alice"),
      [bigInstalled.bin, "--config", bigInstalled.configFile, "alice"],
      [bigInstalled.bin, "--config", bigInstalled.configFile, "fifty"],
      [fullLauncher, "--config", installed.configFile, "alice"],
    ],
    env,
  );
  const rss = medianRss(asCommandUser([launcher, "--config", installed.configFile, "alice"]), env);
  const rssFull = medianRss(asCommandUser([fullLauncher, "--config", installed.configFile, "alice"]), env);
  const rssPlain = medianRss(asCommandUser([process.execPath, bundle, "--config", installed.configFile, "alice"]), env);

  const logins = await loginRatio(installed, small, viaAgent.installed);
  const outage = await blackholedLogins(small);

  // CPU time (user + system) of the same commands, which a loaded machine distorts far less than wall time.
  const [nodeCpu, lookupCpu, agentCpu, fullCpu] = cpuInterleaved(
    [
      [process.execPath, "-e", "0"],
      [launcher, "--config", installed.configFile, "alice"],
      agentLookup,
      [fullLauncher, "--config", installed.configFile, "alice"],
    ],
    env,
  );
  const loadAfter = loadavg();
  console.log(
    `authkeys benchmark: ${runs} interleaved rounds, median wall time and median of per-round ratios [25th-75th percentile] (Node ${process.version})`,
  );
  console.log(`load average (1/5/15 min): ${loadText(loadBefore)} before, ${loadText(loadAfter)} after the timed rounds`);
  printTable([
    ["command", "median ms", "ratio"],
    ["node -e 0", node.ms.toFixed(1), "1.00 (baseline)"],
    ["authkeys alice (installed launcher + code cache)", lookup.ms.toFixed(1), `${ratioText(lookup)} vs node -e 0 (target <= 1.8)`],
    ["authkeys alice via agent (installed launcher)", agent.ms.toFixed(1), `${ratioText(agent)} vs node -e 0 (target <= 1.2)`],
    ["same, full bundle instead of the login bundle", full.ms.toFixed(1), `${ratioText(full)} vs node -e 0`],
    ["node dist/authkeys.cjs alice (bundle, no code cache)", plain.ms.toFixed(1), `${ratioText(plain)} vs node -e 0`],
    ["ldapsearch -ZZ (same query)", ldapsearch.ms.toFixed(1), `authkeys/ldapsearch = ${(lookup.ms / ldapsearch.ms).toFixed(2)}`],
    ["authkeys alice, directory + 10,000 users", bigLookup.ms.toFixed(1), `${(bigLookup.ms / lookup.ms).toFixed(2)} vs small directory`],
    ["authkeys fifty (50 keys), directory + 10,000 users", fifty.ms.toFixed(1), `${(fifty.ms / lookup.ms).toFixed(2)} vs alice (3 keys)`],
    ["sshd login via authkeys", logins.command.ms.toFixed(1), `${ratioText(logins.command)} vs static authorized_keys (target <= 1.8)`],
    ["sshd login via authkeys + agent", logins.agent.ms.toFixed(1), `${ratioText(logins.agent)} vs static authorized_keys (target <= 1.5)`],
    ["sshd login, static authorized_keys", logins.file.ms.toFixed(1), "1.00"],
    ...outageRows(outage),
  ]);
  console.log(`CPU time (user + system), median over ${runs} interleaved rounds, same commands:`);
  printTable([
    ["command", "median CPU ms", "ratio"],
    ["node -e 0", nodeCpu.ms.toFixed(1), "1.00 (baseline)"],
    ["authkeys alice (installed launcher + code cache)", lookupCpu.ms.toFixed(1), `${ratioText(lookupCpu)} vs node -e 0`],
    ["authkeys alice via agent (installed launcher)", agentCpu.ms.toFixed(1), `${ratioText(agentCpu)} vs node -e 0`],
    ["same, full bundle instead of the login bundle", fullCpu.ms.toFixed(1), `${ratioText(fullCpu)} vs node -e 0`],
  ]);
  console.log(
    `peak RSS of one lookup (median of 5): ${rss?.toFixed(1) ?? "n/a"} MB installed, ${rssFull?.toFixed(1) ?? "n/a"} MB with the full bundle, ${rssPlain?.toFixed(1) ?? "n/a"} MB bundle without code cache (target <= 48 MB)`,
  );
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

/** "1.52 [1.40-1.71]": the median ratio and the spread of the per-round ratios. */
function ratioText({ ratios }) {
  return `${median(ratios).toFixed(2)} [${quantile(ratios, 0.25).toFixed(2)}-${quantile(ratios, 0.75).toFixed(2)}]`;
}

function quantile(samples, q) {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function loadText(load) {
  return load.map((l) => l.toFixed(2)).join("/");
}

/** Peak RSS varies a little with what the allocator gets: the median of five runs. */
function medianRss(argv, env) {
  const samples = Array.from({ length: 5 }, () => peakRssMb(argv, { env })).filter((mb) => mb !== undefined);
  return samples.length > 0 ? median(samples) : undefined;
}

function outageRows(outage) {
  return [
    ["whole ssh login (OpenSSH client), slapd up", outage.normal.toFixed(1), "baseline of the two rows below (same round)"],
    [
      `whole ssh login, cached user, ${outage.servers} servers blackholed`,
      outage.cached.ms.toFixed(1),
      `${signed((outage.cached.over - outage.deadlineMs) / 1000)} s over baseline + ${outage.deadlineMs} ms deadline (target <= 1 s; rounds ${spread(outage.cached.overs, outage.deadlineMs)})`,
    ],
    [
      `ssh refusal, uncached user, ${outage.servers} servers blackholed`,
      outage.refused.ms.toFixed(1),
      `${signed((outage.refused.over - outage.deadlineMs) / 1000)} s over baseline + ${outage.deadlineMs} ms deadline (target <= 1 s; rounds ${spread(outage.refused.overs, outage.deadlineMs)})`,
    ],
  ];
}

/** The lowest and highest per-round figure, as the row prints its median: "-0.41..+0.12 s". */
function spread(overs, deadlineMs) {
  const xs = overs.map((o) => (o - deadlineMs) / 1000);
  return `${signed(Math.min(...xs))}..${signed(Math.max(...xs))} s`;
}

function signed(x) {
  return `${x >= 0 ? "+" : ""}${x.toFixed(2)}`;
}

/**
 * The worst case of an outage: every server accepts TCP and never answers, and no lookup has failed
 * recently (the remembered failures are removed before each login). A whole login with OpenSSH's client,
 * which asks first and then signs, so sshd runs the command twice; the refusal of a user never cached.
 * Two installs share one key cache, each with its config validated at install as on a real host: one
 * with slapd (it keeps alice's cached keys fresh), one with only blackholed servers.
 */
async function blackholedLogins(l) {
  const holes = await Promise.all([1, 2, 3, 4].map(() => lab.startBlackholeServer()));
  const normal = lab.installAuthkeys(l);
  // authkeys' own defaults (the lab's connection carries core's longer ones).
  const timeouts = { connectTimeoutMs: 1000, timeoutMs: 1500, deadlineMs: 2500 };
  const outage = lab.installAuthkeys(l, {
    ldap: {
      ...l.connection(),
      caFile: join(normal.dir, "ca.pem"),
      bindPassword: `file:${join(normal.dir, "reader.password")}`,
      ...timeouts,
      urls: holes.map((h) => h.url),
    },
    cache: { dir: normal.cacheDir },
  });
  const users = ["alice", "bob"].map((name) => ({ name, uid: l.users[name].uidNumber }));
  const sshdFor = (installed) =>
    lab.startSshd({
      users: [...users, { name: "authkeys", uid: lab.AUTHKEYS_UID, home: installed.dir }],
      authorizedKeysCommand: installed.command,
    });
  const [up, down] = await Promise.all([sshdFor(normal), sshdFor(outage)]);
  const key = (user) => l.users[user].keys.find((k) => k.type === "ed25519").privateKeyFile;
  const login = async (sshd, user) => {
    rmSync(join(normal.cacheDir, ".servers.json"), { force: true });
    const started = process.hrtime.bigint();
    const code = await new Promise((resolve) => {
      const args = ["-F", "/dev/null", "-p", String(sshd.port), "-i", key(user), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"];
      args.push("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", `${user}@127.0.0.1`, "true");
      spawn("ssh", args, { stdio: "ignore" }).once("exit", resolve);
    });
    return { ok: code === 0, ms: Number(process.hrtime.bigint() - started) / 1e6 };
  };
  try {
    // Each round: the login with slapd up (what sshd and the ssh client cost by themselves at that
    // moment; it also refreshes alice's cached keys), then with every server blackholed the cached
    // login and the refusal; the overhead is taken within the round. The first round is a warm-up.
    const normalMs = [];
    const cached = [];
    const refused = [];
    for (let i = 0; i <= outageRounds; i++) {
      const n = await login(up, "alice");
      if (!n.ok) throw new Error("alice could not log in with slapd up");
      const a = await login(down, "alice");
      if (!a.ok) throw new Error("the cached login was refused with LDAP blackholed");
      const b = await login(down, "bob");
      if (b.ok) throw new Error("bob, never cached, logged in with LDAP blackholed");
      if (i === 0) continue;
      normalMs.push(n.ms);
      cached.push({ ms: a.ms, over: a.ms - n.ms });
      refused.push({ ms: b.ms, over: b.ms - n.ms });
    }
    return {
      servers: holes.length,
      deadlineMs: timeouts.deadlineMs,
      normal: median(normalMs),
      cached: { ms: median(cached.map((c) => c.ms)), over: median(cached.map((c) => c.over)), overs: cached.map((c) => c.over) },
      refused: { ms: median(refused.map((r) => r.ms)), over: median(refused.map((r) => r.over)), overs: refused.map((r) => r.over) },
    };
  } finally {
    await Promise.all([up.stop(), down.stop()]);
    outage.remove();
    normal.remove();
    await Promise.all(holes.map((h) => h.stop()));
  }
}

/** Its own install with agent.socket set, and `authkeys agent` running as the command user until stop(). */
async function startAgent(l) {
  const runDir = mkdtempSync("/run/opsguard-bench-agent-");
  chownSync(runDir, lab.AUTHKEYS_UID, lab.AUTHKEYS_UID);
  const socket = join(runDir, "agent.sock");
  const installed = lab.installAuthkeys(l, { agent: { socket } });
  const argv = ["--config", installed.configFile, "agent"];
  const child = spawn(installed.bin, argv, { stdio: ["ignore", "ignore", "inherit"], uid: lab.AUTHKEYS_UID, gid: lab.AUTHKEYS_UID });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    installed,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      installed.remove();
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/**
 * Each command's median wall time and its ratios to the first command (the baseline) in the same round.
 * Run in turns (A B C, B C A, …) rather than in blocks, and each in a rotating position, so a burst of
 * load on a shared machine hits every command alike and no command always follows the same one.
 */
function timeInterleaved(commands, env) {
  const samples = commands.map(() => []);
  for (let i = 0; i <= runs; i++) {
    const round = commands.map((_, j) => (j + i) % commands.length);
    round.forEach((j) => {
      const argv = commands[j];
      const start = process.hrtime.bigint();
      const r = spawnSync(argv[0], argv.slice(1), {
        env,
        stdio: ["ignore", "ignore", "pipe"],
        uid: lab.AUTHKEYS_UID,
        gid: lab.AUTHKEYS_UID,
      });
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (r.status !== 0) throw new Error(`${argv.join(" ")} exited ${r.status}: ${r.stderr?.toString().trim()}`);
      if (i > 0) samples[j].push(ms);
    });
  }
  return samples.map((own) => ({ ms: median(own), ratios: own.map((ms, i) => ms / samples[0][i]) }));
}

/**
 * As timeInterleaved, but the CPU time each command used (user + system, from bash's `times`, which
 * reads getrusage for its children to the microsecond and prints milliseconds).
 */
function cpuInterleaved(commands, env) {
  const samples = commands.map(() => []);
  const script = '"$@" >/dev/null 2>&1; status=$?; times; exit $status';
  for (let i = 0; i <= runs; i++) {
    for (const k of commands.keys()) {
      const j = (k + i) % commands.length;
      const r = spawnSync("/bin/bash", ["-c", script, "bash", ...commands[j]], {
        env,
        encoding: "utf8",
        uid: lab.AUTHKEYS_UID,
        gid: lab.AUTHKEYS_UID,
      });
      if (r.status !== 0) throw new Error(`${commands[j].join(" ")} exited ${r.status}`);
      // The second line is the children's: "0m0.021s 0m0.008s".
      const seconds = [...(r.stdout.trim().split("\n").pop() ?? "").matchAll(/(\d+)m([\d.]+)s/g)].map(
        (m) => Number(m[1]) * 60 + Number(m[2]),
      );
      if (seconds.length !== 2) throw new Error(`unexpected output of times: ${r.stdout}`);
      if (i > 0) samples[j].push((seconds[0] + seconds[1]) * 1000);
    }
  }
  return samples.map((own) => ({ ms: median(own), ratios: own.map((ms, i) => ms / samples[0][i]) }));
}

function ldapsearchArgv(l, user) {
  const password = readFileSync(l.readerPasswordFile, "utf8").trim();
  const filter = `(&(objectClass=posixAccount)(uid=${user}))`;
  return [
    "/usr/bin/ldapsearch",
    "-x",
    "-ZZ",
    "-LLL",
    "-H",
    l.url,
    "-D",
    l.readerDn,
    "-w",
    password,
    "-b",
    l.baseDn,
    filter,
    "sshPublicKey",
  ];
}

/** A user with 50 ed25519 keys, as a team's shared break-glass account might have. */
async function addFiftyKeyUser(l) {
  const keys = Array.from({ length: 50 }, (_, i) => {
    const der = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "der" });
    const blob = Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(der.subarray(der.length - 32))]);
    return `ssh-ed25519 ${blob.toString("base64")} key${i}@fifty`;
  });
  await l.addEntry(`uid=fifty,${l.peopleDn}`, {
    objectClass: ["inetOrgPerson", "posixAccount", "ldapPublicKey"],
    uid: "fifty",
    cn: "Fifty Keys",
    sn: "Keys",
    uidNumber: "30050",
    gidNumber: "30050",
    homeDirectory: "/home/fifty",
    sshPublicKey: keys,
  });
}

function sshString(buf) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
}

/** Median wall time of N publickey logins with a real client: through authkeys, with its agent, and through a static file. */
async function loginRatio(installed, l, agentInstalled) {
  const alice = l.users.alice;
  const key = alice.keys.find((k) => k.type === "ed25519");
  const keysDir = mkdtempSync("/run/opsguard-bench-keys-");
  chmodSync(keysDir, 0o755);
  const staticFile = join(keysDir, "authorized_keys");
  writeFileSync(staticFile, `${key.publicKey}\n`, { mode: 0o644 });
  const users = [
    { name: "alice", uid: alice.uidNumber },
    { name: "authkeys", uid: lab.AUTHKEYS_UID, home: installed.dir },
  ];
  const viaCommand = await lab.startSshd({
    users,
    authorizedKeysCommand: {
      path: join(installed.dir, "authkeys"),
      args: `--config ${installed.configFile} lookup -- %u %f`,
      user: "authkeys",
    },
  });
  const viaAgent = await lab.startSshd({
    users,
    authorizedKeysCommand: { path: agentInstalled.bin, args: `--config ${agentInstalled.configFile} lookup -- %u %f`, user: "authkeys" },
  });
  const viaFile = await lab.startSshd({ users, authorizedKeysFile: staticFile });
  try {
    // In turns, in rotating order, as timeInterleaved: each ratio compares logins moments apart.
    const servers = { file: viaFile.port, command: viaCommand.port, agent: viaAgent.port };
    const names = Object.keys(servers);
    const samples = { file: [], command: [], agent: [] };
    for (let i = 0; i <= runs; i++) {
      for (const k of names.keys()) {
        const name = names[(k + i) % names.length];
        const r = await sshLogin(servers[name], "alice", key.privateKeyFile);
        if (!r.ok) throw new Error(`login through ${name} was refused`);
        if (i > 0) samples[name].push(r.ms);
      }
    }
    const row = (name) => ({ ms: median(samples[name]), ratios: samples[name].map((ms, i) => ms / samples.file[i]) });
    return { command: row("command"), agent: row("agent"), file: row("file") };
  } finally {
    await viaCommand.stop();
    await viaAgent.stop();
    await viaFile.stop();
    rmSync(keysDir, { recursive: true, force: true });
  }
}
