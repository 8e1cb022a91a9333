import { parseHookEnv } from "./event";
import { runHookFastPath } from "./hook";

// The hook path first, with nothing heavy loaded; everything else through the full CLI.
if (!runHookFastPath(process.argv.slice(2), process.env, process.argv[1] ?? "", parseHookEnv)) {
  void import("./cli").then((m) => m.runVpnnotifyCli());
}
