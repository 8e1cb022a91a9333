import { runCli, systemIO } from "@opsguard/core";
import { createSockCheckProgram } from "./cli";

// The report is audit evidence and the digest a gate's answer: a stdout closed (>&-) or whose reader left (EPIPE)
// before they were written is exit 74 with one line, never a compliant run's 0.
void runCli(
  createSockCheckProgram(
    systemIO({ stdoutRequired: { hint: "give the run an open stdout read to its end; -o FILE writes the report to a file" } }),
  ),
);
