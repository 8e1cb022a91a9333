import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { sshdSkipReason } from "../src/sshd";

const ROOT = new URL("../../../", import.meta.url).pathname;
/**
 * tsx loaded in the lab's own process: the tsx CLI would sit in between and SIGKILL the lab when it
 * does not acknowledge a relayed signal within 30 ms, which a loaded CI machine can miss.
 */
const LAB = [process.execPath, "--import", "tsx", "packages/lab/src/main.ts"] as const;

interface LabJson {
  dir: string;
  sections: Record<string, Record<string, unknown>>;
  configFiles: Record<string, string>;
  tryCommands: Record<string, string>;
}

/** `pnpm lab --json` in its own process group, as a terminal runs it (Ctrl-C signals the whole group). */
function startCli(
  args: string[],
  [command, commandArgs]: [string, string[]] = [LAB[0], [...LAB.slice(1), ...args]],
): { child: ChildProcess; output: Promise<LabJson>; exit: Promise<number | null> } {
  const child = spawn(command, commandArgs, { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const output = new Promise<LabJson>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      try {
        resolve(JSON.parse(stdout) as LabJson);
      } catch {
        // not the whole document yet
      }
    });
    void exit.then((code) => reject(new Error(`lab exited ${code} before it was up: ${stderr}`)));
  });
  // A caller that only waits for the exit code never reads output: its rejection is expected there.
  output.catch(() => {});
  return { child, output, exit };
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe("pnpm lab", () => {
  it.skipIf(sshdSkipReason())("starts every component, and Ctrl-C stops every server and removes every file", async () => {
    const { child, output, exit } = startCli(["--json"]);
    let lab: LabJson;
    try {
      lab = await output;
    } catch (error) {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      throw error;
    }
    const s = lab.sections;
    const ports = [
      portOf(String((s.ldap?.urls as string[] | undefined)?.[0])),
      Number(s.sshd?.port),
      portOf(String(s.redis?.url)),
      portOf(String(s.slack?.baseUrl)),
      portOf(String(s.pagerduty?.baseUrl)),
      portOf(String(s.opsgenie?.baseUrl)),
      portOf(String(s.gitlab?.baseUrl)),
      portOf(String(s.github?.apiUrl)),
    ];
    const dirs = [lab.dir, dirname(String(s.ldap?.caFile)), dirname(String(s.sshd?.authkeysConfig))];
    expect(await Promise.all(ports.map(answers))).toEqual(ports.map(() => true));
    for (const dir of dirs) expect(existsSync(dir), dir).toBe(true);
    expect(Object.keys(lab.tryCommands).sort()).toEqual(["authkeys", "deputize", "sock-check", "vpnnotify"]);

    if (!child.pid) throw new Error("the lab did not start");
    process.kill(-child.pid, "SIGINT");
    expect(await exit).toBe(0);
    expect(await Promise.all(ports.map(answers))).toEqual(ports.map(() => false));
    for (const dir of dirs) expect(existsSync(dir), dir).toBe(false);
  });

  it("stops when the process that launched it dies without passing SIGTERM on, as pnpm does", async () => {
    // The launcher is a node process that waits on the lab like scripts/pnpm.mjs and pnpm do.
    const [node, ...labArgs] = LAB;
    const launcher = `require("node:child_process").spawnSync(${JSON.stringify(node)}, ${JSON.stringify([...labArgs, "--json", "--only", "redis,slack"])}, { stdio: "inherit" })`;
    const { child, output, exit } = startCli(["--only", "redis,slack"], [process.execPath, ["-e", launcher]]);
    const lab = await output.catch((error: unknown) => {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
      throw error;
    });
    try {
      const ports = [portOf(String(lab.sections.redis?.url)), portOf(String(lab.sections.slack?.baseUrl))];
      expect(await Promise.all(ports.map(answers))).toEqual([true, true]);
      child.kill("SIGTERM");
      await exit;
      const until = Date.now() + 10_000;
      while (existsSync(lab.dir) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(existsSync(lab.dir)).toBe(false);
      expect(await Promise.all(ports.map(answers))).toEqual([false, false]);
    } finally {
      // Should the lab outlive its launcher, stop it the way Ctrl-C would (its process group).
      try {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone: the expected case
      }
    }
  });

  it("refuses an unknown component with exit 64 and the list of known ones", async () => {
    const { exit, child } = startCli(["--only", "slapd,mainframe"]);
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    expect(await exit).toBe(64);
    expect(stderr).toContain("unknown component mainframe (known: slapd, sshd, redis, slack, pagerduty, opsgenie, gitlab, github)");
  });

  it("shows a component name or flag carrying terminal escapes as text, not as escapes", async () => {
    for (const args of [["--only", "main\u001b]0;owned\u0007frame"], ["--x\u001b[2J"]]) {
      const { exit, child } = startCli(args);
      let stderr = "";
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      expect(await exit).toBe(64);
      expect(stderr).not.toMatch(/[\u001b\u0007]/);
      expect(stderr).toContain("\\x1b");
    }
  });
});
