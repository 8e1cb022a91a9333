import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IoError } from "../src/errors";
import { CODE_CACHE_DIGEST_SUFFIX, installWithLauncher } from "../src/launcher";

let dir: string;
let launcher: string;
let cache: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "core-launcher-"));
  const bundle = join(dir, "tool.cjs");
  writeFileSync(
    bundle,
    `#!/usr/bin/env node\nfunction greet(args) { return "ran " + args.join(" "); }\nprocess.stdout.write(greet(process.argv.slice(2)));\n`,
  );
  ({ launcher } = installWithLauncher({ bundle, prefix: join(dir, "lib"), name: "tool", cacheEnv: "T_CACHE" }));
  cache = join(dir, "lib", "tool.cjs.cache");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const run = () => spawnSync(launcher, ["a", "b"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });

describe("the code-cache launcher hands V8 only a cache that matches its digest", () => {
  it("install writes the cache with its sha256 beside it, and the launcher uses it quietly", () => {
    const digest = readFileSync(`${cache.slice(0, -".cache".length)}${CODE_CACHE_DIGEST_SUFFIX}`, "latin1").trim();
    expect(digest).toBe(createHash("sha256").update(readFileSync(cache)).digest("hex"));
    expect(run()).toMatchObject({ status: 0, stdout: "ran a b", stderr: "" });
  });

  it("a tampered cache is refused with one line, and the bundle compiles and runs as without a cache", () => {
    const intact = readFileSync(cache);
    const flipped = Buffer.from(intact);
    for (let i = 16; i < flipped.length; i += 97) flipped[i] = (flipped[i] ?? 0) ^ 0x10;
    try {
      writeFileSync(cache, flipped);
      const r = run();
      expect(r).toMatchObject({ status: 0, stdout: "ran a b" });
      expect(r.stderr).toBe(`tool: ${cache} does not match its digest, not used; re-run tool install\n`);
    } finally {
      writeFileSync(cache, intact);
    }
  });

  it("a cache without its digest (an older install) is not used, and install's next warm-up never reads it", () => {
    const digestFile = `${cache.slice(0, -".cache".length)}${CODE_CACHE_DIGEST_SUFFIX}`;
    rmSync(digestFile);
    expect(run()).toMatchObject({ status: 0, stdout: "ran a b", stderr: "" });
    // A cache of other code, as an earlier install could leave, with a matching digest: the warm-up
    // that writes the new cache (T_CACHE=write) does not hand it to V8, and replaces both files.
    writeFileSync(cache, Buffer.from("not a code cache"));
    writeFileSync(digestFile, `${createHash("sha256").update("not a code cache").digest("hex")}\n`);
    const warm = spawnSync(launcher, ["--version"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", T_CACHE: "write" } });
    expect(warm.status, warm.stderr).toBe(0);
    expect(readFileSync(cache).toString()).not.toBe("not a code cache");
    expect(readFileSync(digestFile, "latin1").trim()).toBe(createHash("sha256").update(readFileSync(cache)).digest("hex"));
    expect(run()).toMatchObject({ status: 0, stdout: "ran a b", stderr: "" });
  });
});

describe("a bundle the launcher cannot run is one line and exit 70, never a stack trace (T72 N2)", () => {
  it("without checkBundle: a missing or truncated bundle; with it, also one that still compiles", () => {
    const lib = join(dir, "checked");
    const bundle = join(dir, "tool.cjs");
    const plain = installWithLauncher({ bundle, prefix: join(dir, "plain"), name: "tool", cacheEnv: "T_CACHE" });
    const checked = installWithLauncher({ bundle, prefix: lib, name: "tool", cacheEnv: "T_CACHE", checkBundle: true });
    const runIt = (file: string) => spawnSync(file, ["a"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect(runIt(checked.launcher)).toMatchObject({ status: 0, stdout: "ran a", stderr: "" });
    const intact = readFileSync(bundle, "utf8");
    writeFileSync(plain.bundle, intact.slice(0, intact.indexOf("{") + 1));
    expect(runIt(plain.launcher)).toMatchObject({
      status: 70,
      stdout: "",
      stderr: expect.stringMatching(new RegExp(`^tool: ${plain.bundle} cannot be compiled \\([^\\n]+\\); re-run tool install\n$`)),
    });
    rmSync(plain.bundle);
    expect(runIt(plain.launcher)).toMatchObject({
      status: 70,
      stderr: `tool: ${plain.bundle} cannot be read (ENOENT); re-run tool install\n`,
    });
    // Cut after the first statement: it compiles and would print nothing with exit 0.
    writeFileSync(checked.bundle, intact.slice(0, intact.indexOf("}") + 1));
    expect(runIt(checked.launcher)).toMatchObject({
      status: 70,
      stdout: "",
      stderr: `tool: ${checked.bundle} is not the file install copied (damaged or replaced); re-run tool install\n`,
    });
  });
});

describe("install into a prefix it cannot make", () => {
  it("is the user's error naming the prefix and the fix (74 here, 77 for a permission), not an internal error", () => {
    const bundle = join(dir, "tool.cjs");
    const prefix = join(bundle, "lib");
    let error: unknown;
    try {
      installWithLauncher({ bundle, prefix, name: "tool", cacheEnv: "T_CACHE" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(IoError);
    expect(error).toMatchObject({
      exitCode: 74,
      message: `cannot install into ${prefix} (ENOTDIR: ${prefix})`,
      hint: "run install as root, or give --prefix a directory this user may write",
    });
  });

  it("a prefix under /proc is refused at once: Node's recursive mkdir retried it without end, at full CPU (T42 N4)", () => {
    expect(() =>
      installWithLauncher({ bundle: join(dir, "tool.cjs"), prefix: "/proc/opsguard-x/lib", name: "tool", cacheEnv: "T_CACHE" }),
    ).toThrow("cannot install into /proc/opsguard-x/lib (ENOENT: /proc/opsguard-x)");
  });
});
