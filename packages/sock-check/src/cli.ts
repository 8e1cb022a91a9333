import { createProgram, runCli } from "@opsguard/core";
import pkg from "../package.json" with { type: "json" };

const program = createProgram({
  name: "sock-check",
  version: pkg.version,
  description: pkg.description,
});

void runCli(program);
