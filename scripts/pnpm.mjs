#!/usr/bin/env node
// Runs the pnpm pinned in package.json through corepack, so no global pnpm is assumed.
// The pinned sha512 makes corepack verify the download by hash; the prompt is off because CI has no stdin.
import { spawnSync } from "node:child_process";

const result = spawnSync("corepack", ["pnpm", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { ...process.env, COREPACK_ENABLE_DOWNLOAD_PROMPT: "0" },
});
if (result.error) {
  console.error(`pnpm via corepack failed: ${result.error.message} (corepack ships with Node.js >= 16.9)`);
  process.exit(69);
}
process.exit(result.status ?? 1);
