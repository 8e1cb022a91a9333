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
    maxWorkers: 2,
    env: { NODE_OPTIONS: sourceNodeOptions },
  },
});
