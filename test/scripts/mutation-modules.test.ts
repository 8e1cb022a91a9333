import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type MutateEntry, resolveEntry, resolveModule } from "../../scripts/mutation-anchors.mjs";
import { MODULES } from "../../scripts/mutation-modules.mjs";

// The mutation modules (issue 19) name the code they cover by anchors, resolved when a run starts
// (scripts/mutation-anchors.mjs). This fails in the normal suite, not hours later in a mutation run, when an
// anchor no longer resolves or a decision has moved out of the code its module names.
const root = new URL("../..", import.meta.url).pathname;

describe("the mutation modules' anchors", () => {
  it("resolve in every module, each range still holding the decision it is there for, on test files that exist", () => {
    for (const [name, module] of Object.entries(MODULES)) {
      const ranges = resolveModule(root, module);
      expect(ranges.length, name).toBeGreaterThan(0);
      for (const test of module.tests) expect(existsSync(join(root, test)), `${name}: ${test}`).toBe(true);
      // two entries of one module on the same lines would count those mutants twice
      for (const a of ranges)
        for (const b of ranges)
          if (a !== b && a.file === b.file)
            expect(a.last < b.first || b.last < a.first, `${name}: ${a.pattern} and ${b.pattern}`).toBe(true);
    }
  });

  it("cover every mutant of a committed baseline made from today's source (the anchors name what was measured)", () => {
    const checked: string[] = [];
    for (const [name, module] of Object.entries(MODULES)) {
      const path = join(root, "scripts/mutation-baseline", `${name}.json`);
      if (!existsSync(path)) continue;
      const baseline = JSON.parse(readFileSync(path, "utf8")) as {
        files: Record<string, { source: string; mutants: Array<{ location: { start: { line: number }; end: { line: number } } }> }>;
      };
      const ranges = resolveModule(root, module);
      for (const [file, { source, mutants }] of Object.entries(baseline.files)) {
        // a file changed since its baseline is the next run's to re-measure
        if (!existsSync(join(root, file)) || readFileSync(join(root, file), "utf8") !== source) continue;
        for (const m of mutants) {
          const inside = ranges.some((r) => r.file === file && r.first <= m.location.start.line && m.location.end.line <= r.last);
          expect(inside, `${name}: ${file}:${m.location.start.line} is outside the module's ranges`).toBe(true);
        }
        checked.push(`${name} ${file}`);
      }
    }
    expect(checked.length).toBeGreaterThan(0);
  });
});

describe("an anchor", () => {
  const SOURCE = [
    "const LIMIT = 3;", // 1
    "", // 2
    "/** The decision. */", // 3
    "export function decide(n: number): boolean {", // 4
    "  const over = n > LIMIT;", // 5
    "  if (over) return false;", // 6
    "  return true;", // 7
    "}", // 8
    "", // 9
    "function log(): void {}", // 10
  ].join("\n");
  const at = (entry: MutateEntry, text = SOURCE) => resolveEntry("/nonexistent", entry, () => text);

  it("resolves a declaration to its whole lines, and follows it when the file changes", () => {
    expect(at({ file: "x.ts", from: "decide" }).pattern).toBe("x.ts:4-8");
    expect(at({ file: "x.ts", from: "LIMIT", to: "decide" }).pattern).toBe("x.ts:1-8");
    // lines added above and inside: the range moves and grows with the function, never onto log()
    const grown = `import "y";\n\n${SOURCE.replace("  return true;", "  if (n < 0) return false;\n  return true;")}`;
    expect(at({ file: "x.ts", from: "decide" }, grown).pattern).toBe("x.ts:6-11");
    expect(at("x.ts").pattern).toBe("x.ts");
  });

  it("resolves source text to the statement it starts, and a run of sibling statements", () => {
    expect(at({ file: "x.ts", from: "const over", to: "if (over)" }).pattern).toBe("x.ts:5-6");
    expect(at({ file: "x.ts", from: "over", to: "if (over)" }).pattern).toBe("x.ts:5-6");
  });

  it("that no longer resolves is an error naming the anchor and the fix", () => {
    expect(() => at({ file: "x.ts", from: "decides" })).toThrow('x.ts: no declaration named "decides" (renamed or removed?');
    expect(() => at({ file: "x.ts", from: "decide" }, `${SOURCE}\nnamespace n { export function decide() {} }`)).toThrow(
      '2 declarations named "decide"',
    );
    expect(() => at({ file: "x.ts", from: "if (under)" })).toThrow('"if (under)" is not in the file');
    expect(() => at({ file: "x.ts", from: "return " })).toThrow('"return " occurs more than once');
    expect(() => at({ file: "x.ts", from: "n > LIMIT" })).toThrow('"n > LIMIT" does not start a statement or property');
    // a range may not cut a function open
    expect(() => at({ file: "x.ts", from: "LIMIT", to: "over" })).toThrow("not in the same block");
    expect(() => at({ file: "x.ts", from: "log", to: "decide" })).toThrow('"decide" comes before "log"');
    expect(() => at("x.ts:4-8")).toThrow("a line range drifts when the file changes");
    expect(() => resolveEntry("/nonexistent", "missing.ts")).toThrow("missing.ts: cannot be read (ENOENT)");
  });

  it("fails when the decision it is there for moved out of its range", () => {
    expect(at({ file: "x.ts", from: "decide", covers: ["n > LIMIT"] }).first).toBe(4);
    const moved = SOURCE.replace("  const over = n > LIMIT;", "  const over = isOver(n);").replace(
      "function log",
      "function isOver(n: number) { return n > LIMIT; }\nfunction log",
    );
    expect(() => at({ file: "x.ts", from: "decide", covers: ["n > LIMIT"] }, moved)).toThrow(
      '"n > LIMIT" is no longer inside "decide" (lines 4-8): the decision moved',
    );
  });
});
