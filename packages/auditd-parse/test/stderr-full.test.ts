import { spawnSync } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { describe, expect, it } from "vitest";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

// Exit 1 is auditd-parse's "a rule matched": a stderr it cannot write (a full disk) must not produce it by crashing.
describe("a stderr that cannot be written", () => {
  it("loses only the warning: the event is on stdout and the exit code is 0", () => {
    const full = openSync("/dev/full", "w");
    try {
      // A malformed line makes auditd-parse warn on stderr ("kept as unparsed").
      const r = spawnSync(process.execPath, ["--import", "tsx", CLI], {
        input: "garbage\n",
        stdio: ["pipe", "pipe", full],
        encoding: "utf8",
      });
      expect([r.status, r.signal]).toEqual([0, null]);
      expect(JSON.parse(r.stdout)).toMatchObject({ unparsed: ["garbage"] });
    } finally {
      closeSync(full);
    }
  });
});
