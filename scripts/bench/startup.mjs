#!/usr/bin/env node
// Start-up cost of every bundled bin (`--version`, `--help`) against bare `node -e 0`, in one run.
import { existsSync } from "node:fs";
import { median, printTable, timeCommand } from "./lib.mjs";

const runs = Number(process.env.RUNS ?? 20);
// A minimal environment, as sshd and OpenVPN give their hooks: NODE_EXTRA_CA_CERTS and the like cost every start.
const env = { PATH: "/usr/local/bin:/usr/bin:/bin" };
const tools = ["authkeys", "deputize", "vpnnotify", "sock-check", "auditd-parse"];
const baseline = median(timeCommand([process.execPath, "-e", "0"], { runs, env }));
const rows = [
  ["command", "median ms", "ratio vs node -e 0"],
  ["node -e 0", baseline.toFixed(1), "1.00"],
];
for (const tool of tools) {
  const bin = `packages/${tool}/dist/${tool}.cjs`;
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run the build first`);
  for (const flag of ["--version", "--help"]) {
    const ms = median(timeCommand([process.execPath, bin, flag], { runs, env }));
    rows.push([`${tool} ${flag}`, ms.toFixed(1), (ms / baseline).toFixed(2)]);
  }
}
console.log(`median wall time over ${runs} runs each (Node ${process.version})`);
printTable(rows);
