import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * A zombie: a process that has ended but is never reaped (sh starts a short sleep in the background and execs a
 * long one, which never waits for it), as a worker killed in a container whose PID 1 does not reap stays.
 * `start` is field 22 of its /proc/<pid>/stat, as a lock file names its holder; `end` kills its parent.
 */
export async function startZombie(): Promise<{ pid: number; start: string | undefined; end: () => void }> {
  const parent = spawn("/bin/sh", ["-c", "sleep 0.2 & echo $!; exec sleep 60"], { stdio: ["ignore", "pipe", "ignore"] });
  const pid = Number(await new Promise<string>((resolve) => parent.stdout?.once("data", (d: Buffer) => resolve(String(d)))));
  const fields = () => readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  for (let i = 0; i < 500 && fields()[0] !== "Z"; i++) await new Promise((r) => setTimeout(r, 10));
  if (fields()[0] !== "Z") {
    parent.kill("SIGKILL");
    throw new Error(`process ${pid} did not become a zombie within 5 s`);
  }
  return { pid, start: fields()[19], end: () => parent.kill("SIGKILL") };
}
