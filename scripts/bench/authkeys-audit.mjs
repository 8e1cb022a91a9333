#!/usr/bin/env node
// `authkeys audit` over a directory of 10,000 more accounts (the lab's slapd with bulkUsers), against
// ldapsearch reading the same accounts page by page (StartTLS, bind, paged results of 500): the ratio says
// what authkeys adds to the directory's own cost; the target is the "within 5 s on this machine".
// Rounds alternate the two commands, so load on a shared machine hits both alike; medians and load printed.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { tsImport } from "tsx/esm/api";
import { median, printTable } from "./lib.mjs";

const runs = Number(process.env.RUNS ?? 5);
const root = new URL("../..", import.meta.url).pathname;
const bundle = join(root, "packages/authkeys/dist/authkeys.cjs");
if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run "node scripts/build.mjs authkeys" first`);
const lab = await tsImport(join(root, "packages/lab/src/index.ts"), import.meta.url);
const slapd = await lab.startSlapd({ bulkUsers: 10_000 });
try {
  const filter = "(objectClass=inetOrgPerson)";
  const config = join(slapd.dir, "audit.json");
  writeFileSync(config, JSON.stringify({ ldap: slapd.connection(), cache: { dir: join(slapd.dir, "cache") }, syslog: false }));
  const audit = [process.execPath, bundle, "audit", "--config", config, "--filter", filter, "--json"];
  const password = readFileSync(slapd.readerPasswordFile, "utf8").trim();
  const ldapsearch = [
    "/usr/bin/ldapsearch",
    "-x",
    "-ZZ",
    "-LLL",
    "-E",
    "pr=500/noprompt",
    "-H",
    slapd.url,
    "-D",
    slapd.readerDn,
    "-w",
    password,
    "-b",
    slapd.baseDn,
    filter,
    "sshPublicKey",
    "uid",
    "shadowExpire",
    "loginShell",
  ];
  const env = { PATH: "/usr/bin:/bin", LDAPTLS_CACERT: slapd.caFile, LDAPTLS_REQCERT: "demand" };
  const time = (argv, ok) => {
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { env, encoding: "utf8", maxBuffer: 256 << 20 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (!ok(r.status)) throw new Error(`${argv[1] ?? argv[0]} exited ${r.status}: ${r.stderr.trim()}`);
    return { ms, stdout: r.stdout };
  };
  const first = JSON.parse(time(audit, (s) => s === 0 || s === 1).stdout);
  const before = loadavg();
  const a = [];
  const l = [];
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ["a", "l"] : ["l", "a"];
    for (const which of order) {
      if (which === "a") a.push(time(audit, (s) => s === 0 || s === 1).ms);
      else l.push(time(ldapsearch, (s) => s === 0).ms);
    }
  }
  const after = loadavg();
  console.log(
    `authkeys audit benchmark: ${runs} interleaved rounds, ${first.users} accounts, ${first.keys} keys (Node ${process.version})`,
  );
  console.log(
    `load average (1/5/15 min): ${before.map((x) => x.toFixed(2)).join("/")} before, ${after.map((x) => x.toFixed(2)).join("/")} after`,
  );
  printTable([
    ["command", "median ms", "ratio / target"],
    ["ldapsearch -ZZ -E pr=500 (same accounts and attributes)", median(l).toFixed(0), "1.00 (baseline)"],
    ["authkeys audit --json", median(a).toFixed(0), `${(median(a) / median(l)).toFixed(2)} vs ldapsearch; target <= 5000 ms`],
  ]);
} finally {
  await slapd.stop();
}
