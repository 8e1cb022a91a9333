import { createProgram, runCli } from "@opsguard/core";
import pkg from "../package.json" with { type: "json" };

const program = createProgram({
  name: "auditd-parse",
  version: pkg.version,
  description: pkg.description,
});

void runCli(program);
