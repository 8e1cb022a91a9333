import { runCli, systemIO } from "@opsguard/core";
import { createDeputizeProgram } from "./cli";

void runCli(createDeputizeProgram(systemIO()));
