import { runCli, systemIO } from "@opsguard/core";
import { createDeputizeProgram } from "./cli";

// Its report must reach its reader: a stdout closed at start (>&-) or whose reader left (EPIPE) is exit 74
// with one line, as the README's exit codes say, not a quiet 0 (T41 F7: `status --json | jq` with jq killed).
void runCli(createDeputizeProgram(systemIO({ stdoutRequired: { hint: "give deputize an open stdout read to its end" } })));
