// Installs Debian packages for the setup, benchmark and conformance scripts (as root).
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";

const POLICY = "/usr/sbin/policy-rc.d";

/**
 * apt-get update + install, with a temporary policy-rc.d so no package starts a system-wide daemon
 * (the lab starts its own on loopback); an existing policy-rc.d is left as it was. Returns whether both succeeded.
 */
export function aptInstall(packages) {
  const ownPolicy = !existsSync(POLICY);
  if (ownPolicy) writeFileSync(POLICY, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  try {
    const options = { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } };
    return (
      spawnSync("apt-get", ["update", "-qq"], options).status === 0 &&
      spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], options).status === 0
    );
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true });
  }
}
