import { defineConfig } from "vitest/config";
import { sourceNodeOptions, sourceResolve } from "./scripts/vitest-source.mjs";

export default defineConfig({
  ...sourceResolve,
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    // Real servers start per test file; give them room on a 2-core CI machine.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Three on the two-core CI machine: its tests wait on servers, locks and deadlines for a fifth of the run
    // (a fresh-clone run: 1,530 CPU s in 990 s wall with two workers, 77 % of both cores), and a third worker
    // fills that time.
    maxWorkers: 3,
    env: { NODE_OPTIONS: sourceNodeOptions },
  },
});
