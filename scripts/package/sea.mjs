#!/usr/bin/env node
// Builds each tool as a standalone executable (node scripts/package/sea.mjs [tool...]): Node's single executable
// application format, the running node binary with the tool's bundle injected, so a host needs no Node.js at all
// (Debian 12's nodejs is 18; the tools need 20.19+). Output: dist/sea/<tool>. Run node scripts/build.mjs first.
// The blob carries a V8 code cache of the bundle (useCodeCache), so a start skips compiling its top level.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseCommandLine, unknownTool } from "./args.mjs";

const root = new URL("../..", import.meta.url).pathname;
export const TOOLS = ["authkeys", "deputize", "vpnnotify", "sock-check", "auditd-parse"];
// The sentinel Node's build leaves in the binary for postject to flip (documented in Node's SEA guide).
const FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** Builds dist/sea/<tool> from packages/<tool>/dist/<tool>.cjs; returns its path. */
export function buildStandalone(tool, outDir = join(root, "dist/sea")) {
  const bundle = join(root, "packages", tool, "dist", `${tool}.cjs`);
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run node scripts/build.mjs first`);
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), `opsguard-sea-${tool}-`));
  try {
    // The SEA main is compiled as a CommonJS function body, where a #! line is a syntax error. Its require()
    // loads built-ins only and warns on stderr at every other id, even one the bundle probes inside a try (debug's
    // optional supports-color): a disk require, as the bundle has under node, keeps a hook's stderr clean.
    const main = readFileSync(bundle, "utf8").replace(/^#!.*/, 'require = require("node:module").createRequire(__filename);');
    writeFileSync(join(work, "main.cjs"), main);
    const config = { main: join(work, "main.cjs"), output: join(work, "blob"), disableExperimentalSEAWarning: true, useCodeCache: true };
    writeFileSync(join(work, "sea.json"), JSON.stringify(config));
    step(process.execPath, ["--experimental-sea-config", join(work, "sea.json")]);
    const out = join(outDir, tool);
    const temp = `${out}.new`;
    copyFileSync(process.execPath, temp);
    // Node's release binary carries its symbol table; a packaged executable has no use for it (86 MB instead of 99).
    if (existsSync("/usr/bin/strip")) step("/usr/bin/strip", ["--strip-all", temp]);
    step(process.execPath, [
      join(root, "node_modules/postject/dist/cli.js"),
      temp,
      "NODE_SEA_BLOB",
      join(work, "blob"),
      "--sentinel-fuse",
      FUSE,
    ]);
    spawnSync("chmod", ["0755", temp]);
    spawnSync("mv", ["-f", temp, out]);
    return out;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function step(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const usage = `usage: node scripts/package/sea.mjs [${TOOLS.join("|")}...]   (standalone executables in dist/sea)`;
  const { positionals } = parseCommandLine("sea", usage, {}, ({ positionals }) => unknownTool(positionals, TOOLS));
  for (const tool of positionals.length > 0 ? positionals : TOOLS) {
    try {
      console.log(buildStandalone(tool));
    } catch (error) {
      console.error(`package/sea: ${error.message}`);
      process.exit(1);
    }
  }
}
