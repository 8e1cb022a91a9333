import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { IoError, withLock } from "../src/index";

/**
 * A lock file whose creation succeeded but whose content could not be written (a full disk: the O_EXCL create needs
 * no data block, the write does) must not stay behind: empty, it named nobody, and held off every other process.
 * A real full disk needs a mount; the write's failure is injected instead, at the one call that writes the lock.
 */
const failWrites = { on: false };
vi.mock("node:fs/promises", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs/promises")>();
  const open: typeof fs.open = async (...args) => {
    const handle = await fs.open(...args);
    if (!failWrites.on || !String(args[0]).endsWith(".lock")) return handle;
    return Object.assign(Object.create(handle), {
      close: () => handle.close(),
      writeFile: async () => {
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      },
    });
  };
  return { ...fs, default: { ...fs, open }, open };
});

const dir = mkdtempSync(join(tmpdir(), "opsguard-lock-enospc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("withLock on a disk that fills up between creating the lock file and writing it", () => {
  it("fails naming the lock file and ENOSPC, and leaves no lock file behind for the next process", async () => {
    const file = join(dir, "drain");
    failWrites.on = true;
    const error = await withLock(file, () => "never").catch((e: unknown) => e);
    failWrites.on = false;
    expect(error).toBeInstanceOf(IoError);
    expect(String((error as Error).message)).toMatch(/cannot write lock file .*drain\.lock.*ENOSPC/);
    expect(existsSync(`${file}.lock`)).toBe(false);
    // Space back: the next process takes the lock at once, not after the empty file aged out.
    expect(await withLock(file, () => "ran", { timeoutMs: 0 })).toBe("ran");
  });
});
