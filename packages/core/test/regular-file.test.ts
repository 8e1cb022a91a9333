import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, LdapClient, readRegularFileSync } from "../src/index";
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
