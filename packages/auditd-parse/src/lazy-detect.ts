// Everything `detect` and `plugin --detect` need (the Sigma compiler, the YAML parser, the built-in rules): a
// third of the bundle that the plain parse never runs. Loaded with `await import("./lazy-detect")` only, and
// listed in package.json's opsguard.chunks, so the built bin carries it as a chunk V8 does not even parse
// until then (scripts/build.mjs): parsing it at every start cost the plain parse ~1.7 MB of peak RSS (issue 23).
export { Detector } from "./detect";
export { detectOptions, detectRules, detectVerdict, incompleteReasons, splitWatch } from "./detect-run";
