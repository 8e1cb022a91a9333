import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareFile } from "./ausearch-diff";
import { EXPECTED_CLONES, KNOWN, tableDifferences, writeLog } from "./interpret-tables-cases";

// The interpretation tables (mutation module auditd-interpret-tables) against ausearch -i's output for the same
// log, checked in (interpret-tables.ausearch.txt, its header says how it was made; interpret-tables.test.ts keeps
// it equal to what ausearch prints). In process and without ausearch: what the mutation run tests each mutant with.
const EXPECTED = readFileSync(new URL("interpret-tables.ausearch.txt", import.meta.url), "utf8");

const dir = mkdtempSync(join(tmpdir(), "auditd-tables-expected-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the interpretation tables read as ausearch -i read them", () => {
  it("the expected output was made from the log the cases write today", () => {
    const { file } = writeLog(dir);
    const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
    expect(EXPECTED, "regenerate: UPDATE_AUSEARCH_EXPECTED=1 npx vitest run packages/auditd-parse/test/interpret-tables.test.ts").toContain(
      `sha256 ${sha}`,
    );
  });

  it("every table entry matches ausearch's text, or is a listed difference; clone's flags carry the kernel's names", () => {
    const { file, labels } = writeLog(dir);
    const { found, clones } = tableDifferences(compareFile({ output: EXPECTED }, dir, file), labels);
    expect(found).toEqual([...KNOWN].sort());
    expect(clones).toEqual(EXPECTED_CLONES);
  });
});
