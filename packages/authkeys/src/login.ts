import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readConfigText } from "@opsguard/core/config-file";
import type { AuthkeysConfig } from "./config";
import { FULL_BUNDLE_GLOBAL, LAUNCHER_GLOBAL } from "./login-fast-path";
import { parseSshdArgv } from "./sshd-argv";
import { CONFIG_FILE, storedValidation } from "./stored-config";

/**
 * The login bundle's entry (dist/authkeys-login.cjs), which the installed launcher runs for sshd's call
 * and for install's warm-up of its code cache. It serves a lookup only with install's validation of the
 * config: it carries no zod, yaml or commander (about 110 KB against 510 KB), which saves a login about
 * 8 ms of CPU. Anything else — a config edited since install, none stored, a config that cannot be
 * read — goes to the full bundle, which decides and reports exactly as without this one.
 */
const hot = parseSshdArgv(process.argv.slice(2));
const config = hot ? installValidated(hot.config) : undefined;
if (hot?.kind === "lookup" && config) {
  void (async () => {
    const [{ runLookupCommand }, { runEntry }, { systemIO }] = await Promise.all([
      import("./lookup-command"),
      import("@opsguard/core/report"),
      import("@opsguard/core/iostreams"),
    ]);
    const io = systemIO();
    await runEntry("authkeys", io, () =>
      runLookupCommand(hot.user, hot.fingerprint, {
        config: hot.config,
        json: false,
        quiet: false,
        level: "warn",
        logFormat: "human",
        loadConfig: async () => config,
        io,
      }),
    );
  })();
} else if (hot?.kind === "warm-up") {
  // Without a stored validation every login goes to the full bundle: nothing here to warm.
  if (config) void import("./warm-up-login").then(({ warmUpLogin }) => warmUpLogin(config, true));
} else {
  handOver();
}

function installValidated(path: string | undefined): AuthkeysConfig | undefined {
  try {
    const stored = storedValidation(readConfigText({ ...CONFIG_FILE, path }));
    return stored.kind === "applies" ? stored.config : undefined;
  } catch {
    return undefined;
  }
}

/** Through the launcher (with the full bundle's code cache) when it ran this bundle, else directly. */
function handOver(): void {
  const global = globalThis as Record<string, unknown>;
  global[FULL_BUNDLE_GLOBAL] = true;
  const launcher = global[LAUNCHER_GLOBAL] as { file: string; require: NodeJS.Require } | undefined;
  if (launcher) {
    delete launcher.require.cache[launcher.file];
    launcher.require(launcher.file);
    return;
  }
  const here = fileURLToPath(import.meta.url);
  process.getBuiltinModule("node:module").createRequire(here)(join(here, "..", "authkeys.cjs"));
}
