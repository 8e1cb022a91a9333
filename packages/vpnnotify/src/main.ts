import { parseHookEnv } from "./event";
import { runHookFastPath } from "./hook";

// The hook path first, with nothing heavy loaded (core included); everything else through the full CLI.
if (!runHookFastPath(process.argv.slice(2), process.env, process.argv[1] ?? "", parseHookEnv)) {
  void Promise.all([import("@opsguard/core"), import("./cli"), import("./commands/hook")]).then(
    ([{ runCli, systemIO }, { createVpnnotifyProgram }, { letInOnUsageError }]) => {
      const io = systemIO();
      // exit: a hook's Slack, LDAP or Redis calls still in flight past its deadline (they have longer timeouts of
      // their own) must not hold up the VPN server, nor a detached worker linger once the spool is drained.
      return runCli(createVpnnotifyProgram(io), process.argv, { settle: (code) => letInOnUsageError(code, io), exit: true });
    },
  );
}
