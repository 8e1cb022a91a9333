import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const REPO = new URL("../..", import.meta.url).pathname;
export const TOOLS = ["authkeys", "deputize", "vpnnotify", "sock-check", "auditd-parse"] as const;

/** The install tests ship the last build (`npm test` builds first); a fresh checkout gets one here. */
export function ensureBuilt(): void {
  const outputs = [...TOOLS.map((t) => `packages/${t}/dist/${t}.cjs`), "packages/core/dist/index.d.ts"];
  if (outputs.every((file) => existsSync(join(REPO, file)))) return;
  const r = spawnSync(process.execPath, [join(REPO, "scripts/build.mjs")], { encoding: "utf8", cwd: REPO });
  if (r.status !== 0) throw new Error(`build failed: ${r.stderr}`);
}
