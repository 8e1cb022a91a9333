#!/usr/bin/env node
// Writes test/ecs/aucoalesce-cases.json: go-libaudit's own aucoalesce test events (testdata/*.yaml) with what
// go-libaudit — the library under Auditbeat's auditd module — made of each (testdata/*.json.golden): action,
// ECS category and type, result, the summary's actor / object / how, and the ECS user entities. test/ecs.test.ts
// runs our parser over the same lines and compares, so `--format ecs` is held to the reference implementation,
// not to our reading of it. CI does not need go-libaudit: the cases are checked in.
//
// Usage: node packages/auditd-parse/scripts/gen-ecs-oracle.mjs <go-libaudit repo> [commit]
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { parse } from "yaml";

const [repo, commitArg] = process.argv.slice(2);
if (!repo) {
  console.error("usage: gen-ecs-oracle.mjs <go-libaudit repo> [commit]");
  process.exit(64);
}
const git = (...args) => execFileSync("git", ["-C", repo, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
const commit = commitArg ?? git("rev-parse", "HEAD").trim();
const files = git("ls-tree", "--name-only", commit, "aucoalesce/testdata/")
  .split("\n")
  .filter((f) => f.endsWith(".yaml"));
const cases = [];
for (const file of files) {
  const tests = parse(git("show", `${commit}:${file}`)).tests;
  const golden = JSON.parse(git("show", `${commit}:${file.replace(/\.yaml$/, ".json.golden")}`));
  for (const { test_name: name, event } of golden) {
    const lines = tests[name].split("\n").filter((l) => l.trim() !== "");
    const ecsUser = event.ecs?.user ?? {};
    cases.push({
      file: file.replace("aucoalesce/testdata/", ""),
      name,
      lines,
      expect: {
        category: event.ecs?.event?.category ?? [],
        type: event.ecs?.event?.type ?? [],
        action: event.summary?.action ?? "",
        result: event.result,
        actor: event.summary?.actor ?? {},
        object: event.summary?.object ?? {},
        how: event.summary?.how ?? "",
        user: { id: ecsUser.id, name: ecsUser.name },
        effective: ecsUser.effective ?? {},
        target: ecsUser.target ?? {},
        tags: event.tags ?? [],
      },
    });
  }
}
writeFileSync(
  new URL("../test/ecs/aucoalesce-cases.json", import.meta.url),
  `${JSON.stringify({ source: "https://github.com/elastic/go-libaudit aucoalesce/testdata", commit, licence: "Apache-2.0", cases }, null, 1)}\n`,
);
console.log(`${cases.length} cases from ${files.length} files (commit ${commit})`);
