import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { installWithLauncher } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Env, type HookCall, parseHookEnv } from "../src/event";
import { launcherFastPath } from "../src/hook";
import { openvpnConnectEnv, waitFor } from "./fixtures";

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "vpnnotify-launcher-"));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("the installed launcher answers hooks without loading the bundle", () => {
  it("parseHookEnv runs from its source alone, in an empty context", () => {
    const isolated = runInNewContext(`(${parseHookEnv.toString()})`, {}) as (env: Env, now: number) => HookCall | undefined;
    const call = isolated(openvpnConnectEnv("alice", "81.2.69.142", { time_unix: "1763900000" }), 0);
    expect(JSON.parse(JSON.stringify(call))).toEqual({
      source: "openvpn",
      event: { kind: "connect", source: "openvpn", user: "alice", ip: "81.2.69.142", port: 51413, vpnIp: "10.8.0.6", time: 1763900000000 },
    });
    expect(isolated({ PLUTO_VERB: "up-client", PLUTO_PEER: "1.2.3.4", PLUTO_PEER_ID: "C=DE, O=X, CN=bob" }, 5)?.event?.user).toBe("bob");
    expect(isolated({ script_type: "up" }, 0)).toEqual({ source: "openvpn" });
    expect(isolated({ script_type: "client-connect", trusted_ip: "1.2.3.4" }, 0)?.problem).toMatch(/common_name/);
    expect(isolated({ PATH: "/bin" }, 0)).toBeUndefined();
    const v6 = isolated({ script_type: "client-connect", username: "carol", common_name: "laptop-7", trusted_ip6: "2a02:8100::1" }, 7);
    expect(v6?.event).toMatchObject({ user: "carol", ip: "2a02:8100::1", time: 7 });
    const ended = isolated({ REASON: "disconnect", USERNAME: "dave", IP_REAL: "1.2.3.4", STATS_DURATION: "95" }, 9);
    expect(ended?.event).toMatchObject({ kind: "disconnect", source: "ocserv", user: "dave", durationSec: 95 });
  });

  it("deferred connect: the launcher writes 2, and the worker it detaches runs the bundle with the same arguments", () => {
    const marker = join(dir, "worker-ran.json");
    const bundle = join(dir, "tool.cjs");
    // A stand-in for the real bundle: records how the detached worker was started.
    writeFileSync(
      bundle,
      `if (process.argv.includes("--version")) process.exit(0);
require("node:fs").writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ argv: process.argv.slice(2), detached: process.env.VPNNOTIFY_DETACHED, user: process.env.common_name }));`,
    );
    const { launcher } = installWithLauncher({
      bundle,
      prefix: join(dir, "lib"),
      name: "vpnnotify",
      cacheEnv: "T_CACHE",
      fastPath: launcherFastPath(parseHookEnv),
    });
    const deferred = join(dir, "acf");
    writeFileSync(deferred, "");
    const result = spawnSync(launcher, ["/tmp/openvpn_cc_x.tmp"], {
      env: { PATH: "/usr/bin:/bin", ...openvpnConnectEnv("alice", "81.2.69.142", { client_connect_deferred_file: deferred }) },
      encoding: "utf8",
    });
    expect(result.status).toBe(0);
    expect(result.stderr).toBe("");
    expect(readFileSync(deferred, "utf8")).toBe("2");
    return waitFor(
      () => {
        try {
          return JSON.parse(readFileSync(marker, "utf8"));
        } catch {
          return undefined;
        }
      },
      10_000,
      "the worker",
    ).then((ran) => expect(ran).toEqual({ argv: ["/tmp/openvpn_cc_x.tmp"], detached: "1", user: "alice" }));
  });

  it("anything but a plain hook call (here --help) goes to the bundle", () => {
    const marker = join(dir, "help.txt");
    const bundle = join(dir, "help-tool.cjs");
    writeFileSync(
      bundle,
      `if (!process.argv.includes("--version")) require("node:fs").writeFileSync(${JSON.stringify(marker)}, process.argv.slice(2).join(" "));`,
    );
    const { launcher } = installWithLauncher({
      bundle,
      prefix: join(dir, "lib2"),
      name: "vpnnotify",
      cacheEnv: "T_CACHE",
      fastPath: launcherFastPath(parseHookEnv),
    });
    const result = spawnSync(launcher, ["--help"], { env: { PATH: "/usr/bin:/bin", ...openvpnConnectEnv("alice", "81.2.69.142") } });
    expect(result.status).toBe(0);
    expect(readFileSync(marker, "utf8")).toBe("--help");
  });
});
