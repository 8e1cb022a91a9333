import { parseSshdArgv } from "./sshd-argv";

/**
 * The bin's entry. sshd runs authkeys on every login attempt, once per offered key, so its shape of
 * arguments runs the lookup directly: without building the commander program or evaluating what only
 * the other commands and --help need. Everything else goes through the full CLI. Both branches are
 * loaded on demand, so neither pays for the other's modules.
 */
const hot = parseSshdArgv(process.argv.slice(2));
if (hot?.kind === "lookup") {
  void (async () => {
    const [{ runLookupCommand }, { loadLoginConfig }, { runEntry }, { systemIO }] = await Promise.all([
      import("./lookup-command"),
      import("./login-config"),
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
        loadConfig: loadLoginConfig,
        io,
      }),
    );
  })();
} else if (hot?.kind === "warm-up") {
  // Run by "install" while it writes the code cache: the cache then holds this login path, not commander.
  void import("./warm-up").then(({ warmUp }) => warmUp(hot.config));
} else {
  void (async () => {
    const [{ createAuthkeysProgram }, { runCli }, { systemIO }] = await Promise.all([
      import("./cli"),
      import("@opsguard/core/cli"),
      import("@opsguard/core/iostreams"),
    ]);
    await runCli(createAuthkeysProgram(systemIO()));
  })();
}
