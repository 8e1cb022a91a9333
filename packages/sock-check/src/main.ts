import { runCli, systemIO } from "@opsguard/core";
import { createSockCheckProgram } from "./cli";

void runCli(createSockCheckProgram(systemIO()));
