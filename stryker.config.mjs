// StrykerJS for one decision module at a time (MUTATION_MODULE, see scripts/mutation-modules.mjs); run it
// through `node scripts/mutation.mjs`, which sets that and prints the score. One test process (concurrency 1):
// the machine has 2 cores and other work on them.
import { fileURLToPath } from "node:url";
import { resolveModule } from "./scripts/mutation-anchors.mjs";
import { moduleNamed } from "./scripts/mutation-modules.mjs";

const name = process.env.MUTATION_MODULE;
const module = moduleNamed(name);
const root = fileURLToPath(new URL(".", import.meta.url));

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  // named by path: under pnpm, Stryker's own folder has no sibling @stryker-mutator/* plugins to discover
  plugins: ["@stryker-mutator/vitest-runner", "@stryker-mutator/typescript-checker"].map((p) => fileURLToPath(import.meta.resolve(p))),
  // anchors resolved to today's line ranges (scripts/mutation-anchors.mjs)
  mutate: resolveModule(root, module).map((r) => r.pattern),
  testRunner: "vitest",
  vitest: { configFile: "vitest.mutation.config.ts", related: false },
  checkers: ["typescript"],
  tsconfigFile: "tsconfig.mutation.json",
  coverageAnalysis: "perTest",
  concurrency: 1,
  timeoutMS: 20_000,
  reporters: ["clear-text", "progress", "json"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // Incremental: the last run's results are kept in the repository (scripts/mutation-baseline/), and a run
  // tests again only the mutants in changed code or covered by changed tests; a killed mutant's result is reused
  // while its killing test is unchanged (https://stryker-mutator.io/docs/stryker-js/incremental).
  // `node scripts/mutation.mjs --force` runs every mutant again.
  incremental: true,
  incrementalFile: `scripts/mutation-baseline/${name}.json`,
  thresholds: { high: 90, low: 85, break: null },
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  // the sandbox needs the sources, tests and configs, not build output or earlier reports
  ignorePatterns: ["dist", "reports", ".lab", "coverage", "scripts/mutation-baseline"],
};
