#!/usr/bin/env node
// Start-up cost of every tool (`--version`, `--help`) in the three forms it ships in, against bare `node -e 0`,
// in one run: the bundle run by node (npm install -g), the bundle behind core's code-cache launcher (what each
// tool's `install` command puts in place), and the standalone executable (Node SEA with a code cache, what the
// Debian packages carry; built by scripts/package/sea.mjs if missing or older than the bundle).
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tsImport } from "tsx/esm/api";
import { buildStandalone, TOOLS } from "../package/sea.mjs";
import { median, printTable, timeCommand } from "./lib.mjs";

const runs = Number(process.env.RUNS ?? 20);
const root = new URL("../..", import.meta.url).pathname;
// A minimal environment, as sshd and OpenVPN give their hooks: NODE_EXTRA_CA_CERTS and the like cost every start.
const env = { PATH: "/usr/local/bin:/usr/bin:/bin" };
const { installWithLauncher } = await tsImport(join(root, "packages/core/src/launcher.ts"), import.meta.url);
const dir = mkdtempSync(join(tmpdir(), "opsguard-startup-"));

try {
  const forms = TOOLS.map((tool) => {
    const bundle = join(root, "packages", tool, "dist", `${tool}.cjs`);
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run node scripts/build.mjs first`);
    const sea = join(root, "dist/sea", tool);
    if (!existsSync(sea) || statSync(sea).mtimeMs < statSync(bundle).mtimeMs) buildStandalone(tool);
    const { launcher } = installWithLauncher({ bundle, prefix: join(dir, tool), name: tool, cacheEnv: "OPSGUARD_BENCH_CODE_CACHE" });
    return { tool, bundle: [process.execPath, bundle], launcher: [launcher], standalone: [sea] };
  });
  // Interleaved: each round runs every command once, so load from other processes falls on all forms alike.
  const commands = [[process.execPath, "-e", "0"]];
  for (const form of forms) {
    for (const flag of ["--version", "--help"]) commands.push([...form.bundle, flag], [...form.launcher, flag], [...form.standalone, flag]);
  }
  const samples = commands.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (const [i, argv] of commands.entries()) samples[i].push(...timeCommand(argv, { runs: 1, env }));
  }
  const medians = samples.map(median);
  const baseline = medians[0];
  const cell = (i) => `${medians[i].toFixed(1)} (${(medians[i] / baseline).toFixed(2)})`;
  const rows = [
    ["command", "bundle: node x.cjs", "installed launcher", "standalone (SEA)"],
    ["node -e 0", cell(0), "", ""],
  ];
  let i = 1;
  for (const form of forms) {
    for (const flag of ["--version", "--help"]) {
      rows.push([`${form.tool} ${flag}`, cell(i), cell(i + 1), cell(i + 2)]);
      i += 3;
    }
  }
  console.log(`median wall ms over ${runs} runs each (ratio vs node -e 0), Node ${process.version}`);
  printTable(rows);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
