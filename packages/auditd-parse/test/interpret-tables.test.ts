import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ausearchText, compareFile } from "./ausearch-diff";
import { EXPECTED_CLONES, KNOWN, tableDifferences, writeLog } from "./interpret-tables-cases";

/**
 * The interpretation tables against `ausearch -i` itself (Debian package auditd, the vendor's own reader): every
 * field of the log interpret-tables-cases.ts writes must match, or be a listed difference. ausearch's output for
 * that log is also checked in (interpret-tables.ausearch.txt), so the mutation run's test
 * (interpret-tables-expected.test.ts) compares with it in process, without running ausearch per mutant; this file
 * keeps that copy equal to what ausearch prints. After an intended change to the cases, regenerate and review:
 *   UPDATE_AUSEARCH_EXPECTED=1 npx vitest run packages/auditd-parse/test/interpret-tables.test.ts
 */

const AUSEARCH = "/usr/sbin/ausearch";
const EXPECTED = new URL("interpret-tables.ausearch.txt", import.meta.url).pathname;

const dir = mkdtempSync(join(tmpdir(), "auditd-tables-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!existsSync(AUSEARCH) && !process.env.CI)("the interpretation tables read as ausearch -i reads them", () => {
  it("every table entry matches ausearch, or is a listed difference; clone's flags carry the kernel's names", () => {
    const { file, labels } = writeLog(dir);
    const { found, clones } = tableDifferences(compareFile(AUSEARCH, dir, file), labels);
    expect(found).toEqual([...KNOWN].sort());
    expect(clones).toEqual(EXPECTED_CLONES);
  });

  it("the checked-in ausearch output is what ausearch prints for today's cases", () => {
    const { file } = writeLog(dir);
    const log = readFileSync(file);
    const made = `${ausearchHeader(log)}${ausearchText(AUSEARCH, file)}`;
    if (process.env.UPDATE_AUSEARCH_EXPECTED) writeFileSync(EXPECTED, made);
    expect(readFileSync(EXPECTED, "utf8"), "regenerate: UPDATE_AUSEARCH_EXPECTED=1 npx vitest run <this file>").toBe(made);
  });
});

/** How the expected output was made: which ausearch, on which log (its sha256, so a changed case is noticed). */
function ausearchHeader(log: Buffer): string {
  const said = spawnSync(AUSEARCH, ["-v"], { encoding: "utf8" });
  const version = /ausearch version (\S+)/.exec(`${said.stdout}${said.stderr}`)?.[1] ?? "unknown";
  return [
    `# TZ=UTC LC_ALL=C ausearch -i --input tables.log (ausearch ${version}); tables.log as interpret-tables-cases.ts writes it,`,
    `# sha256 ${createHash("sha256").update(log).digest("hex")}. Made by UPDATE_AUSEARCH_EXPECTED=1 npx vitest run`,
    "# packages/auditd-parse/test/interpret-tables.test.ts; read by interpret-tables-expected.test.ts.",
    "",
  ].join("\n");
}
