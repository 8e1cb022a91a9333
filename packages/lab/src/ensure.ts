import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";

/**
 * Makes sure Debian packages providing the given programs are installed. As root it installs them
 * (with a policy-rc.d that stops the package from starting a system-wide daemon); otherwise it
 * throws an error naming the exact command to run.
 */
export function ensureDebianPackages(needs: ReadonlyArray<{ program: string; pkg: string }>): void {
  const missing = needs.filter((n) => !existsSync(n.program));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const command = `apt-get install -y ${pkgs.join(" ")}`;
  if (process.getuid?.() !== 0) {
    throw new Error(`the lab needs ${missing.map((m) => m.program).join(", ")}: run "sudo ${command}"`);
  }
  const policy = "/usr/sbin/policy-rc.d";
  const hadPolicy = existsSync(policy);
  if (!hadPolicy) writeFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const result = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", ...pkgs], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    if (result.status !== 0) {
      throw new Error(`"${command}" failed: ${result.stderr?.toString().trim().split("\n").at(-1) ?? "unknown error"}`);
    }
  } finally {
    if (!hadPolicy) rmSync(policy, { force: true });
  }
  const still = missing.filter((m) => !existsSync(m.program));
  if (still.length > 0) throw new Error(`installed ${pkgs.join(" ")} but ${still.map((m) => m.program).join(", ")} is still missing`);
}
