import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** T35 findings of the independent tester about inputs (N5, N6, N10, N12): what a user of the bin met. */

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "auditd-parse-t35-"));
}

/** A sudo USER_CMD event (complete on its own record) of serial n, one second after the one before. */
const userCmd = (n: number) =>
  `type=USER_CMD msg=audit(17000000${String(n).padStart(2, "0")}.000:${n}): pid=${100 + n} uid=0 auid=1000 ses=1 msg='cwd="/" cmd=6C73 exe="/usr/bin/sudo" terminal=pts/0 res=success'`;
const serials = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (JSON.parse(l) as { serial: number }).serial);

/**
 * `sh -c script` with the CLI as "$1" (run by this node through tsx) and `args` after it. The data segment is
 * capped at 1 GiB (ulimit -d: Node's reserved address space is not counted, what it reads into memory is): a run
 * that reads a file without end then dies within seconds instead of taking the machine's memory.
 */
function shell(script: string, ...args: string[]) {
  return spawnSync("sh", ["-c", `ulimit -d 1048576; cli() { "$0" --import tsx "$CLI" "$@"; }; ${script}`, process.execPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, CLI, NO_COLOR: "1" },
    timeout: 60_000,
    killSignal: "SIGKILL",
  });
}

describe("N6: a passwd, group, config or rule file that states size 0 but reads without end is refused at its bound", () => {
  it("/proc/self/pagemap by --passwd, --group, --config, $AUDITD_PARSE_CONFIG or --rules: one line, no run out of memory", () => {
    const dir = tempDir();
    const log = join(dir, "audit.log");
    writeFileSync(log, `${userCmd(1)}\n`);
    const config = join(dir, "config.yaml");
    writeFileSync(config, "passwd: /proc/self/pagemap\n");
    const pagemap = "/proc/self/pagemap";
    const over = (limit: number) => `is over the ${limit}-byte limit (it reads on past the size it states)`;
    for (const [script, status, line] of [
      ['cli --passwd /proc/self/pagemap "$1"', 78, `passwd file ${pagemap} ${over(16 << 20)}`],
      ['cli --group /proc/self/pagemap "$1"', 78, `group file ${pagemap} ${over(16 << 20)}`],
      ['cli --config "$2" "$1"', 78, `passwd file ${pagemap} ${over(16 << 20)}`],
      // core's config refusal words its own line (the size is what was read before the bound stopped it)
      ['cli --config /proc/self/pagemap "$1"', 78, "bytes, over the 1048576-byte (1 MiB) limit"],
      ['AUDITD_PARSE_CONFIG=/proc/self/pagemap cli "$1"', 78, "bytes, over the 1048576-byte (1 MiB) limit"],
      // its only rule file unread: no rule to run
      ['cli detect --rules /proc/self/pagemap "$1"', 66, `rule file ${pagemap} ${over(16 << 20)}: its rules are not run`],
    ] as const) {
      const r = shell(script, log, config);
      expect([r.status, r.stderr], script).toEqual([status, expect.stringContaining(line)]);
    }
  }, 180_000);
});
