import { describe, expect, it } from "vitest";
import { testIO } from "../src/iostreams";
import { registerSecret, secretsRegistered } from "../src/secret";

// IOStreams' byte writer (issue #21, auditd-parse's NDJSON path). Its own file: the first test needs a process
// where no secret is registered yet, which iostreams.test.ts (registering one at load) is not.
const TOKEN = "s3cr3t-bytes-token-4711";

describe("IOStreams.writeBytes", () => {
  it("passes bytes through untouched while no secret is registered, even bytes that are not UTF-8", async () => {
    expect(secretsRegistered()).toBe(false);
    const t = testIO();
    const data = Buffer.from([0x7b, 0xff, 0xfe, 0x0a, 0xc3]);
    const done = new Promise<Error | null | undefined>((resolve) => t.io.stdout.writeBytes(data, resolve));
    expect(await done).toBeNull();
    expect(t.stdoutBytes()).toEqual(data);
  });

  it("redacts a registered secret in bytes, also split across writes, and keeps a character split between writes whole", async () => {
    registerSecret(TOKEN);
    const t = testIO();
    const line = Buffer.from(`{"a1":"${TOKEN}","x":"é"}\n`);
    const cut = line.indexOf("é") + 1; // inside the two bytes of é
    t.io.stdout.writeBytes(line.subarray(0, 12));
    t.io.stdout.writeBytes(line.subarray(12, cut));
    const done = new Promise<Error | null | undefined>((resolve) => t.io.stdout.writeBytes(line.subarray(cut), resolve));
    expect(await done).toBeNull();
    t.io.flush();
    expect(t.stdout()).toBe('{"a1":"[redacted]","x":"é"}\n');
  });
});
