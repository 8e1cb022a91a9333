import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeError } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RotationSource } from "../src/sources/rotation";
import { accessWindow } from "../src/window";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "deputize-rotation-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a rotation file path that is not a file", () => {
  it("a FIFO nobody writes, a device or a directory is refused at once (exit 66), never waited on", async () => {
    const fifo = join(dir, "rotation.fifo");
    execFileSync("mkfifo", [fifo]);
    for (const [file, what] of [
      [fifo, "a FIFO"],
      ["/dev/zero", "a character device"],
      [dir, "a directory"],
    ] as const) {
      const error = await new RotationSource({ name: "rot", file }).onCall(accessWindow(new Date(), 0, 0)).catch((e: unknown) => e);
      expect(describeError(error)).toBe(`rotation file ${file} is ${what}, not a regular file (check the path in sources[].file)`);
      expect((error as { exitCode: number }).exitCode).toBe(66);
    }
    const missing = await new RotationSource({ name: "rot", file: join(dir, "gone.yaml") })
      .onCall(accessWindow(new Date(), 0, 0))
      .catch((e: unknown) => e);
    expect(describeError(missing)).toBe(`cannot read rotation file ${join(dir, "gone.yaml")} (ENOENT) (check the path in sources[].file)`);
  });
});
