import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { IoError, PermissionError, UsageError } from "@opsguard/core";
import { checkCommandPath } from "./doctor";
import { sshdConfigLines } from "./sshd-config";

export interface InstallOptions {
  prefix: string;
  runAs: string;
  cacheDir: string;
  config?: string | undefined;
}

export interface InstallReport {
  launcher: string;
  warnings: string[];
  sshdConfig: string;
}

/**
 * The launcher sshd runs: an absolute node path (sshd gives the command a minimal PATH) and the
 * bundle run from a V8 code cache made at install time, so each login skips parsing and compiling
 * the bundle. A cache from another Node version is rejected by V8 and the bundle compiles as usual.
 * --use-openssl-ca: trust comes from the system store, looked up by hash on demand, instead of
 * parsing Node's ~140 bundled roots on every start (tens of ms); an explicit ldap.caFile still
 * replaces the store, as without the flag.
 */
export function launcherSource(nodePath: string, encoding: "latin1" | "utf8"): string {
  return `#!${nodePath} --use-openssl-ca
"use strict";
// Written by "authkeys install"; run it again after upgrading authkeys or Node.js.
const { readFileSync, writeFileSync } = require("node:fs");
const Module = require("node:module");
const { Script } = require("node:vm");
const bundle = __dirname + "/authkeys.cjs";
let cachedData;
try {
  cachedData = readFileSync(bundle + ".cache");
} catch {}
const source = readFileSync(bundle, "${encoding}").replace(/^#!/, "//");
const script = new Script(Module.wrap(source), { filename: bundle, cachedData });
if (process.env.AUTHKEYS_CODE_CACHE === "write") {
  process.once("exit", () => {
    try {
      writeFileSync(bundle + ".cache", script.createCachedData(), { mode: 0o644 });
    } catch (error) {
      process.stderr.write("authkeys: cannot write the code cache: " + error.message + "\\n");
    }
  });
}
const mod = { exports: {} };
script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(bundle), mod, bundle, __dirname);
`;
}

/** Installs the running bundle where sshd accepts it, with its launcher, code cache and cache directory. */
export function installAuthkeys(options: InstallOptions): InstallReport {
  if (process.getuid?.() !== 0) throw new PermissionError("install must run as root", { hint: "sudo authkeys install" });
  const bundle = fileURLToPath(import.meta.url);
  if (!bundle.endsWith(".cjs"))
    throw new UsageError("install copies the built bundle", { hint: "run the built authkeys (dist/authkeys.cjs)" });
  const warnings: string[] = [];
  mkdirSync(options.prefix, { recursive: true, mode: 0o755 });
  chownSync(options.prefix, 0, 0);
  chmodSync(options.prefix, 0o755);
  const target = join(options.prefix, "authkeys.cjs");
  const launcher = join(options.prefix, "authkeys");
  // Replace files by rename: a login in progress keeps reading the old, complete file.
  replaceFile(target, (temp) => copyFileSync(bundle, temp), 0o644);
  // An ASCII bundle (esbuild's default output) is read as latin1: a plain copy instead of UTF-8 decoding.
  const encoding = readFileSync(target).every((byte) => byte < 0x80) ? "latin1" : "utf8";
  replaceFile(launcher, (temp) => writeFileSync(temp, launcherSource(process.execPath, encoding)), 0o755);

  // The warm-up run walks a login's code, so the cache holds it compiled (see warm-up.ts).
  const configArgs = options.config ? ["--config", options.config] : [];
  const warm = spawnSync(process.execPath, [launcher, ...configArgs, "warm-up"], {
    env: { PATH: "/usr/bin:/bin", AUTHKEYS_CODE_CACHE: "write" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  if (warm.status !== 0) throw new IoError(`the installed launcher failed: ${warm.stderr.toString().trim().split("\n")[0]}`);

  for (const check of checkCommandPath(launcher)) if (check.verdict === "fail") warnings.push(check.detail);
  warnings.push(...prepareCacheDir(options.cacheDir, options.runAs));
  return { launcher, warnings, sshdConfig: sshdConfigLines({ path: launcher, user: options.runAs, config: options.config }) };
}

function replaceFile(path: string, write: (temp: string) => void, mode: number): void {
  const temp = `${path}.new-${process.pid}`;
  write(temp);
  chownSync(temp, 0, 0);
  chmodSync(temp, mode);
  renameSync(temp, path);
}

function prepareCacheDir(dir: string, user: string): string[] {
  const uid = idOf(user, "-u");
  const gid = idOf(user, "-g");
  if (uid === undefined || gid === undefined) {
    return [`user ${user} does not exist: useradd --system --no-create-home --shell /usr/sbin/nologin ${user}, then re-run install`];
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return statSync(dir).uid === uid ? [] : [`could not give ${dir} to ${user}`];
}

function idOf(user: string, flag: "-u" | "-g"): number | undefined {
  const r = spawnSync("id", [flag, "--", user], { encoding: "utf8" });
  return r.status === 0 ? Number(r.stdout.trim()) : undefined;
}
