import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { IoError, OpsguardError, PermissionError } from "./errors";

/**
 * Installing a bundled bin for a hot path (sshd, OpenVPN run it on every login): the bundle next
 * to a small launcher that runs it from a V8 code cache made at install time, so each start skips
 * parsing and compiling the bundle. A cache from another Node version is rejected by V8 and the
 * bundle compiles as usual, so a stale cache costs time, never correctness. V8 checks little more than
 * a cache's length and flags, though: a flipped bit is a fatal error (exit 133) on every run, so a cache
 * is handed to V8 only when it matches the sha256 written beside it (readVerifiedCodeCache).
 */

/** Beside a bundle's code cache (<bundle>.cache): the sha256 of the cache as written. */
export const CODE_CACHE_DIGEST_SUFFIX = ".cache.sha256";

/**
 * A bundle's code cache, only when it matches the digest written beside it; otherwise undefined (one
 * line on stderr when the digest differs) and the bundle compiles as without a cache. A cache without
 * a digest (left by an older install) is not used either. Self-contained: launchers carry its source.
 */
export function readVerifiedCodeCache(bundle: string, tool: string): Buffer | undefined {
  const fs = process.getBuiltinModule("node:fs");
  let data: Buffer;
  let recorded: string;
  try {
    data = fs.readFileSync(`${bundle}.cache`);
    recorded = fs.readFileSync(`${bundle}.cache.sha256`, "latin1").trim();
  } catch {
    return undefined;
  }
  const { createHash } = process.getBuiltinModule("node:crypto");
  if (createHash("sha256").update(data).digest("hex") !== recorded) {
    process.stderr.write(`${tool}: ${bundle}.cache does not match its digest, not used; re-run ${tool} install\n`);
    return undefined;
  }
  return data;
}

/** Writes a code cache and then its digest (a run stopped in between leaves a cache that is not used). Self-contained. */
export function writeVerifiedCodeCache(bundle: string, data: Buffer): void {
  const fs = process.getBuiltinModule("node:fs");
  const { createHash } = process.getBuiltinModule("node:crypto");
  fs.writeFileSync(`${bundle}.cache`, data, { mode: 0o644 });
  fs.writeFileSync(`${bundle}.cache.sha256`, `${createHash("sha256").update(data).digest("hex")}\n`, { mode: 0o644 });
}

export interface LauncherSourceOptions {
  /** See LauncherInstallOptions.fastPath. */
  fastPath?: string | undefined;
  /** One node option for the shebang line (the kernel passes the rest of that line as one argument). */
  nodeFlag?: string | undefined;
  /** latin1 reads an ASCII bundle as a plain copy instead of decoding UTF-8. */
  encoding?: "latin1" | "utf8";
  /** See LauncherInstallOptions.checkBundle: the sha256 the bundle must have. */
  bundleSha256?: string | undefined;
}

/**
 * A launcher that cannot run its bundle (missing, not the bytes install copied, does not compile) exits
 * with this code after one line naming the file: the installed software is broken, no input will help.
 */
export const BROKEN_BUNDLE_EXIT = 70;

/** The launcher: an absolute node path (hooks get a minimal PATH), the bundle, its code cache. */
export function codeCacheLauncherSource(
  nodePath: string,
  bundleName: string,
  cacheEnv: string,
  options: LauncherSourceOptions = {},
): string {
  const { fastPath, nodeFlag, encoding = "utf8", bundleSha256 } = options;
  const tool = bundleName.replace(/\.c?js$/, "");
  // One line and BROKEN_BUNDLE_EXIT instead of a stack trace (T72 N2): whatever ran the launcher (sshd, doctor) fails.
  // detail: a JS expression (it may use the caught error).
  const broken = (detail: string) =>
    `{ process.stderr.write(${JSON.stringify(`${tool}: `)} + bundle + " " + ${detail} + ${JSON.stringify(`; re-run ${tool} install\n`)}); process.exit(${BROKEN_BUNDLE_EXIT}); }`;
  return `#!${nodePath}${nodeFlag ? ` ${nodeFlag}` : ""}
"use strict";
// Written by the tool's "install" command; run it again after upgrading the tool or Node.js.
${fastPath ? `if (!${fastPath}) {\n` : ""}const { readFileSync } = require("node:fs");
const Module = require("node:module");
const { Script } = require("node:vm");
const bundle = __dirname + ${JSON.stringify(`/${bundleName}`)};
// The warm-up that writes a new cache never reads one: an earlier install's must not meet this bundle.
const writeCache = process.env.${cacheEnv} === "write";
const cachedData = writeCache ? undefined : (${readVerifiedCodeCache.toString()})(bundle, ${JSON.stringify(tool)});
let bytes;
try {
  bytes = readFileSync(bundle);
} catch (error) ${broken(`"cannot be read (" + (error.code || "error") + ")"`)}
${
  bundleSha256
    ? `// An emptied or truncated copy may still compile, and then do nothing: only the bytes install copied run.
if (require("node:crypto").createHash("sha256").update(bytes).digest("hex") !== ${JSON.stringify(bundleSha256)}) ${broken('"is not the file install copied (damaged or replaced)"')}
`
    : ""
}const source = bytes.toString("${encoding}").replace(/^#!/, "//");
let script;
try {
  script = new Script(Module.wrap(source), { filename: bundle, cachedData });
} catch (error) ${broken(`"cannot be compiled (" + error.message + ")"`)}
if (writeCache) {
  process.once("exit", () => {
    try {
      (${writeVerifiedCodeCache.toString()})(bundle, script.createCachedData());
    } catch (error) {
      process.stderr.write(${JSON.stringify(`${bundleName}: cannot write the code cache: `)} + error.message + "\\n");
    }
  });
}
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, __dirname);
${fastPath ? "}\n" : ""}`;
}

export interface LauncherInstallOptions {
  /** The built bundle to install (dist/<tool>.cjs). */
  bundle: string;
  /** Directory for the bundle, its cache and the launcher; created 0755. */
  prefix: string;
  /** The launcher's file name: the command the VPN server or sshd runs. */
  name: string;
  /** Environment variable that makes a run write the code cache. */
  cacheEnv: string;
  /** Arguments of the warm-up run that writes the cache; default --version. */
  warmArgs?: readonly string[];
  /** Data files the bundle reads from its own directory (a GeoIP database), copied next to it. */
  files?: readonly string[];
  /**
   * Files made at install time, written next to the bundle before the warm-up run; root-owned, with the
   * given mode and group (a copy of a config keeps the config's readers, no more).
   */
  generatedFiles?: Readonly<Record<string, GeneratedFile>>;
  /**
   * A self-contained JS expression run first; when it is true the launcher is done without loading
   * the bundle at all (vpnnotify answers OpenVPN this way). Its free variables: require, __filename.
   */
  fastPath?: string;
  /** One node option for the launcher's shebang line. */
  nodeFlag?: string;
  /**
   * Put the installed bundle's sha256 in the launcher and refuse (one line, BROKEN_BUNDLE_EXIT) a bundle
   * with other bytes: a truncated copy would otherwise die with a stack trace or, if it still compiles, do nothing.
   */
  checkBundle?: boolean;
}

export interface GeneratedFile {
  content: string;
  mode: number;
  gid: number;
}

/** Copies the bundle, writes the launcher and warms the code cache; root-owned when run as root. */
export function installWithLauncher(options: LauncherInstallOptions): { launcher: string; bundle: string } {
  try {
    return installFiles(options);
  } catch (error) {
    // a prefix the user may not write (not root, a read-only or full file system) is the user's to fix, not a bug
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined || error instanceof OpsguardError) throw error;
    const what = `cannot install into ${options.prefix} (${code}${(error as NodeJS.ErrnoException).path ? `: ${(error as NodeJS.ErrnoException).path}` : ""})`;
    const hint = "run install as root, or give --prefix a directory this user may write";
    if (code === "EACCES" || code === "EPERM") throw new PermissionError(what, { hint });
    throw new IoError(what, { hint: code === "ENOSPC" ? "free some space on that file system" : hint });
  }
}

function installFiles(options: LauncherInstallOptions): { launcher: string; bundle: string } {
  makeDirectories(options.prefix, 0o755);
  // sshd (and careful admins) refuse a command in a directory others could write to.
  if (process.getuid?.() === 0) chownSync(options.prefix, 0, 0);
  chmodSync(options.prefix, 0o755);
  const bundle = join(options.prefix, basename(options.bundle));
  const launcher = join(options.prefix, options.name);
  // Replace by rename: a run in progress keeps reading the old, complete file.
  for (const file of options.files ?? []) replaceFile(join(options.prefix, basename(file)), (temp) => copyFileSync(file, temp), 0o644);
  for (const [name, file] of Object.entries(options.generatedFiles ?? {})) {
    replaceFile(join(options.prefix, basename(name)), (temp) => writeFileSync(temp, file.content), file.mode, file.gid);
  }
  replaceFile(bundle, (temp) => copyFileSync(options.bundle, temp), 0o644);
  replaceFile(
    launcher,
    (temp) =>
      writeFileSync(
        temp,
        codeCacheLauncherSource(process.execPath, basename(bundle), options.cacheEnv, {
          fastPath: options.fastPath,
          nodeFlag: options.nodeFlag,
          encoding: readFileSync(bundle).every((byte) => byte < 0x80) ? "latin1" : "utf8",
          bundleSha256: options.checkBundle ? createHash("sha256").update(readFileSync(bundle)).digest("hex") : undefined,
        }),
      ),
    0o755,
  );
  const warm = spawnSync(process.execPath, [launcher, ...(options.warmArgs ?? ["--version"])], {
    env: { PATH: "/usr/bin:/bin", [options.cacheEnv]: "write" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (warm.status !== 0) throw new IoError(`the installed launcher failed: ${warm.stderr.toString().trim().split("\n")[0]}`);
  return { launcher, bundle };
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync never returns for a path under /proc (the kernel's
 * ENOENT there makes it retry the same mkdir without end, at full CPU), where a mistyped --prefix can point.
 */
function makeDirectories(path: string, mode: number): void {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) missing.unshift(p);
  for (const dir of missing) mkdirSync(dir, { mode });
}

function replaceFile(path: string, write: (temp: string) => void, mode: number, gid = 0): void {
  const temp = `${path}.new-${process.pid}`;
  try {
    write(temp);
    if (process.getuid?.() === 0) chownSync(temp, 0, gid);
    chmodSync(temp, mode);
    renameSync(temp, path);
  } catch (error) {
    throw new IoError(`cannot install ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`, {
      hint: "check the prefix and permissions",
    });
  }
}
