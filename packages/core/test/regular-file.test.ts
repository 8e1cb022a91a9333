import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, describeRefusal, LdapClient, openRegularFileSync, readRegularFileSync } from "../src/index";
import { redisClientOptions } from "../src/redis";

/** Files a config names (CA bundles here; configs, secrets and templates in their own tests) are never waited on. */

let dir = "";
let fifo = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsguard-regular-"));
  fifo = join(dir, "ca.fifo");
  // Nobody ever writes to it: a blocking read would hang the test for ever.
  execFileSync("mkfifo", [fifo]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("readRegularFileSync", () => {
  it("reads a regular file, and says what anything else is without reading it", () => {
    const file = join(dir, "small");
    writeFileSync(file, "abc");
    expect(readRegularFileSync(file, 3)).toEqual({ bytes: Buffer.from("abc") });
    expect(readRegularFileSync(file, 2)).toEqual({ refused: { kind: "too-large", size: 3 } });
    expect(readRegularFileSync(fifo, 10)).toEqual({ refused: { kind: "not-regular", what: "a FIFO" } });
    expect(readRegularFileSync(dir, 10)).toEqual({ refused: { kind: "not-regular", what: "a directory" } });
    expect(readRegularFileSync("/dev/zero", 10)).toEqual({ refused: { kind: "not-regular", what: "a character device" } });
    expect(readRegularFileSync(join(dir, "gone"), 10)).toEqual({ refused: { kind: "unreadable", code: "ENOENT" } });
  });

  it("stops reading a file that states a size within the limit but reads on past it (procfs), as too large", () => {
    // /proc/self/pagemap states 0 bytes and reads without end: read whole, it grew past 1.5 GB (T35 N6). In a child
    // whose data segment is capped at 1 GiB (ulimit -d), so that a read without end ends there, not in this process
    const source = new URL("../src/regular-file.ts", import.meta.url).href;
    const script = `import { readRegularFileSync } from ${JSON.stringify(source)};
      console.log(JSON.stringify(readRegularFileSync("/proc/self/pagemap", 100000)));`;
    const child = spawnSync(
      "sh",
      ["-c", 'ulimit -d 1048576; exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script],
      {
        encoding: "utf8",
        timeout: 60_000,
        killSignal: "SIGKILL",
      },
    );
    expect([child.status, child.stderr]).toEqual([0, ""]);
    const { refused } = JSON.parse(child.stdout) as { refused: { kind: string; size: number; readPast: boolean } };
    // what was read: past the limit by less than one 64 KiB read
    expect(refused).toEqual({ kind: "too-large", size: expect.any(Number), readPast: true });
    expect(refused.size).toBeLessThanOrEqual(100_000 + 65536);
    expect(describeRefusal({ kind: "too-large", size: refused.size, readPast: true }, 100_000)).toBe(
      "is over the 100000-byte limit (it reads on past the size it states)",
    );
  });

  it("the check alone (a config, read by path after it) reads a file stating size 0 to see it ends within the limit", () => {
    // /proc/self/status states 0 bytes and holds about 1.4 KB: it passed the check, and cosmiconfig read it whole
    expect(openRegularFileSync("/proc/self/status", 64)).toEqual({
      refused: { kind: "too-large", size: expect.any(Number), readPast: true },
    });
    const opened = openRegularFileSync("/proc/self/status", 100_000);
    expect(opened).toEqual({ fd: expect.any(Number) });
    // left at offset 0 for the caller
    if ("fd" in opened) {
      expect(readFileSync(opened.fd, "latin1")).toMatch(/^Name:/);
      closeSync(opened.fd);
    }
  });
});

describe("CA files", () => {
  it("an LDAP client whose ldap.caFile is a FIFO or a device is a config error at once", () => {
    const options = { urls: ["ldaps://ldap.example.org"], caFile: fifo };
    expect(refusal(() => new LdapClient(options)).message).toBe(`ldap.caFile: ${fifo} is a FIFO, not a regular file`);
    expect(refusal(() => new LdapClient({ ...options, caFile: "/dev/zero" })).message).toBe(
      "ldap.caFile: /dev/zero is a character device, not a regular file",
    );
  });

  it("a Redis connection whose caFile is a FIFO is a config error at once", () => {
    const options = { url: "rediss://127.0.0.1:6380/0", caFile: fifo, connectTimeoutMs: 100, commandTimeoutMs: 100, key: "lease.redis" };
    expect(refusal(() => redisClientOptions(options)).message).toBe(`lease.redis.caFile: ${fifo} is a FIFO, not a regular file`);
  });
});
