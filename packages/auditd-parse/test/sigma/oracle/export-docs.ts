// Writes the Sigma documents auditd-parse detect builds for every case log (one per record, see
// src/sigma/document.ts) as NDJSON, for the pySigma oracle (run-pysigma.py) to load into SQLite: both
// engines then judge the same documents, so a difference is one of rule semantics.
// Run: node --import tsx packages/auditd-parse/test/sigma/oracle/export-docs.ts > docs.ndjson
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseText } from "../../../src/parser";
import { eventDocs } from "../../../src/sigma/document";

const here = new URL(".", import.meta.url).pathname;
const cases = join(here, "..", "cases");
const golden = join(here, "..", "..", "golden");
// the case logs, then the edge cases (test/sigma/edge) that show where the two engines differ
const files = [
  ...readdirSync(cases)
    .sort()
    .flatMap((rule) => [`${rule}/hit.log`, `${rule}/miss.log`]),
  ...readdirSync(join(cases, "..", "edge"))
    .sort()
    .map((f) => `../edge/${f}`),
];
for (const file of files) {
  const { events } = parseText(readFileSync(join(cases, file), "utf8"), {
    ids: { passwd: join(golden, "passwd"), group: join(golden, "group") },
  });
  for (const event of events) {
    eventDocs(event).forEach((doc, record) => {
      process.stdout.write(`${JSON.stringify({ file, event: event.id, record, doc: doc.toObject(), keywords: doc.values() })}\n`);
    });
  }
}
