import { defineConfig } from "vitest/config";
import { moduleNamed } from "./scripts/mutation-modules.mjs";
import { sourceNodeOptions, sourceResolve } from "./scripts/vitest-source.mjs";

// Used by Stryker (stryker.config.mjs) only: the test files of the module under mutation, one worker.
export default defineConfig({
  ...sourceResolve,
  test: {
    include: moduleNamed(process.env.MUTATION_MODULE).tests,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 1,
    env: { NODE_OPTIONS: sourceNodeOptions },
  },
});
