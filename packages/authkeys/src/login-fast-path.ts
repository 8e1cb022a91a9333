import type { readVerifiedCodeCache, writeVerifiedCodeCache } from "@opsguard/core/launcher";
import type { parseSshdArgv } from "./sshd-argv";

/** The login bundle, next to the full one (scripts/build.mjs builds it from login.ts). */
export const LOGIN_BUNDLE = "authkeys-login.cjs";
/** The value of the code-cache variable that makes a launcher run write the login bundle's cache. */
export const LOGIN_CACHE_WRITE = "write-login";
/** Set when the login bundle hands a call to the full bundle: the launcher, run again, then loads that. */
export const FULL_BUNDLE_GLOBAL = "__authkeysFullBundle";
/** The launcher's file and require, for the login bundle to run it again. */
export const LAUNCHER_GLOBAL = "__authkeysLauncher";

export interface LoginBundleSettings {
  bundle: string;
  /** latin1 reads an ASCII bundle as a plain copy instead of decoding UTF-8. */
  encoding: "latin1" | "utf8";
  /** The launcher's code-cache variable (see core's launcher). */
  cacheEnv: string;
  /**
   * The sha256 of the bundle install copied. An empty, truncated or edited copy compiles fine and then
   * serves nobody (exit 0, no keys, no log line): only a copy with exactly these bytes is run.
   */
  sha256: string;
}

/** Core's verified code cache, the one mechanism every launcher uses (passed in: see runLoginBundle). */
export interface CodeCacheIo {
  read: typeof readVerifiedCodeCache;
  write: typeof writeVerifiedCodeCache;
}

/**
 * The launcher's step after the agent's: sshd's call (and install's warm-up of this cache) runs the
 * login bundle, from its own V8 code cache, instead of the full one. That bundle holds only the lookup:
 * no zod, yaml or commander, so a login compiles and deserializes a fifth of the code. It hands back
 * whatever it does not serve (see login.ts) by setting FULL_BUNDLE_GLOBAL and running the launcher
 * again, which then returns false here and loads the full bundle, as before this bundle existed.
 * Self-contained: it reaches the other functions only through its arguments.
 */
export function runLoginBundle(
  args: readonly string[],
  settings: LoginBundleSettings,
  launcher: { file: string; require: NodeJS.Require },
  parseArgv: typeof parseSshdArgv,
  codeCache: CodeCacheIo,
): boolean {
  const global = globalThis as Record<string, unknown>;
  const cacheMode = process.env[settings.cacheEnv];
  // "write": install warming the full bundle's cache, which must run the full bundle.
  if (cacheMode === "write" || global.__authkeysFullBundle !== undefined) return false;
  const call = parseArgv(args);
  if (call?.kind !== "lookup" && call?.kind !== "warm-up") return false;
  const fs = process.getBuiltinModule("node:fs");
  const { createHash } = process.getBuiltinModule("node:crypto");
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(settings.bundle);
  } catch {
    return false;
  }
  if (createHash("sha256").update(bytes).digest("hex") !== settings.sha256) {
    process.stderr.write(`authkeys: ${settings.bundle} is not the file install copied (damaged or replaced); re-run authkeys install\n`);
    return false;
  }
  const source = bytes.toString(settings.encoding);
  // Only a cache that matches the digest beside it (see core's launcher); none while writing a new one.
  const cachedData = cacheMode === "write-login" ? undefined : codeCache.read(settings.bundle, "authkeys");
  const Module = process.getBuiltinModule("node:module");
  const { Script } = process.getBuiltinModule("node:vm");
  let script: InstanceType<typeof Script>;
  try {
    script = new Script(Module.wrap(source.replace(/^#!/, "//")), { filename: settings.bundle, cachedData });
  } catch (error) {
    // A damaged copy (a truncated write, a full disk): the full bundle still serves the login.
    process.stderr.write(`authkeys: cannot load ${settings.bundle} (${(error as Error).message}); re-run authkeys install\n`);
    return false;
  }
  if (cacheMode === "write-login") {
    process.once("exit", () => {
      try {
        codeCache.write(settings.bundle, script.createCachedData());
      } catch (error) {
        process.stderr.write(`authkeys: cannot write the login code cache: ${(error as Error).message}\n`);
      }
    });
  }
  global.__authkeysLauncher = launcher;
  const mod = { exports: {} };
  const dir = process.getBuiltinModule("node:path").dirname(settings.bundle);
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(settings.bundle), mod, settings.bundle, dir);
  return true;
}

/** The expression install puts in the launcher after the agent's; __dirname is the launcher's directory. */
export function loginBundleExpression(
  encoding: LoginBundleSettings["encoding"],
  cacheEnv: string,
  sha256: string,
  parse: typeof parseSshdArgv,
  codeCache: CodeCacheIo,
): string {
  const settings = `{ bundle: __dirname + ${JSON.stringify(`/${LOGIN_BUNDLE}`)}, encoding: ${JSON.stringify(encoding)}, cacheEnv: ${JSON.stringify(cacheEnv)}, sha256: ${JSON.stringify(sha256)} }`;
  const io = `{ read: (${codeCache.read.toString()}), write: (${codeCache.write.toString()}) }`;
  return `(${runLoginBundle.toString()})(process.argv.slice(2), ${settings}, { file: __filename, require }, (${parse.toString()}), ${io})`;
}
