#!/usr/bin/env python3
"""The independent oracle for auditd-parse detect: pySigma + pySigma-backend-sqlite (as Zircolite runs Sigma).

Converts every rule in packages/auditd-parse/sigma/rules to SQL with the SQLite backend, loads the documents
export-docs.ts wrote (one row per audit record) into an in-memory SQLite table, runs each query and writes
expected.json: for every case log, event id -> the ids of the rules pySigma matched. See README.md here for
the exact commands and versions. Three adaptations, all the backend's own mechanisms or Zircolite's:
- columns are TEXT COLLATE NOCASE and REGEXP is Python's re.search (Zircolite does both): Sigma strings
  match case-insensitively, regular expressions case-sensitively;
- SQLite column names ignore case, so fields with an upper-case letter (the ENRICHED names SYSCALL, UID …)
  are renamed U_<name> in the table and, with a pySigma field-name mapping, in the rules;
- the backend has no keyword search ("not supported by the backend"): a subclass matches a keyword with
  LIKE '%keyword%' against a _keywords column holding the record's values joined by newlines.
"""
import json
import re
import sqlite3
import sys
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation

here = Path(__file__).resolve().parent
rules_dir = here.parents[2] / "sigma" / "rules"


class KeywordBackend(sqliteBackend):
    def convert_condition_val_str(self, cond, state):
        return "_keywords LIKE '%" + self.convert_value_str(cond.value, state, no_quote=True) + "%' ESCAPE '\\'"

    def convert_condition_val_num(self, cond, state):
        return "_keywords LIKE '%" + str(cond.value) + "%'"


def column(name):
    return "U_" + name if any(c.isupper() for c in name) else name


docs = [json.loads(line) for line in open(sys.argv[1])]
fields = sorted({k for d in docs for k in d["doc"]})
upper = [f for f in fields if f != column(f)]
pipeline = ProcessingPipeline(
    name="auditd-parse documents",
    priority=10,
    items=[ProcessingItem(identifier="enriched-names", transformation=FieldMappingTransformation({f: column(f) for f in upper}))],
)

db = sqlite3.connect(":memory:")
db.create_function("regexp", 2, lambda pattern, value: value is not None and re.search(pattern, value) is not None)
cols = ["_file", "_event", "_record", "_keywords"] + [column(f) for f in fields]
db.execute("CREATE TABLE logs (" + ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in cols) + ")")
for d in docs:
    row = {"_file": d["file"], "_event": d["event"], "_record": str(d["record"]), "_keywords": "\n".join(d["keywords"])}
    row.update({column(k): v for k, v in d["doc"].items()})
    db.execute(f"INSERT INTO logs ({', '.join(chr(34) + k + chr(34) for k in row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))

matches = {}
unsupported = {}
queries = {}
backend = KeywordBackend(processing_pipeline=pipeline)
for path in sorted(rules_dir.rglob("*.yml")):
    rule = SigmaCollection.from_yaml(path.read_text()).rules[0]
    rid = str(rule.id)
    try:
        query = backend.convert_rule(rule)[0].replace("<TABLE_NAME>", "logs")
    except Exception as error:  # a rule the oracle cannot convert is listed, not dropped
        unsupported[rid] = f"{type(error).__name__}: {error}"
        continue
    queries[rid] = query
    for file, event in db.execute(query.replace("SELECT *", "SELECT DISTINCT _file, _event", 1)):
        matches.setdefault(file, {}).setdefault(event, []).append(rid)

for events in matches.values():
    for ids in events.values():
        ids.sort()
json.dump(
    {"matches": {f: dict(sorted(e.items())) for f, e in sorted(matches.items())}, "unsupported": unsupported, "queries": queries},
    sys.stdout,
    indent=1,
    sort_keys=True,
)
print()
