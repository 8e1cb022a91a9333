#!/usr/bin/env python3
"""check_events.py LOG < NDJSON : every (node, serial) of LOG is one event of the NDJSON with all its
records; no event twice; each host's events in non-decreasing time order. Prints a summary."""
import json, re, sys, collections
REC = re.compile(rb"^(?:node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):")
want = collections.Counter()
for line in open(sys.argv[1], "rb"):
    m = REC.match(line)
    # EOE ends an event and is not one of its records (after a node= name of any length)
    if m and m.group(2) != b"EOE":
        want[(m.group(1) or b"").decode("utf-8", "replace"), int(m.group(5))] += 1
got = collections.Counter()
recs = collections.Counter()
last = {}
order_bad = 0
unparsed = 0
n = 0
examples = []
for line in sys.stdin.buffer:
    n += 1
    e = json.loads(line)
    if e.get("id") is None:
        unparsed += 1
        continue
    key = (e.get("node") or "", e["serial"])
    got[key] += 1
    recs[key] += len(e.get("records", []))
    node = e.get("node") or ""
    t = e["time"]
    if node in last and t < last[node]:
        order_bad += 1
        if len(examples) < 5:
            examples.append("out of order on %s: %s after %s" % (node, e["id"], last[node]))
    last[node] = max(t, last.get(node, t))
missing = [k for k in want if k not in got]
dup = [k for k, c in got.items() if c > 1]
extra = [k for k in got if k not in want]
recdiff = [k for k in want if k in got and recs[k] != want[k]]
print("events in log %d, lines out %d, unparsed %d, missing %d, twice or more %d, unexpected %d, record-count differs %d, out of order per host %d"
      % (len(want), n, unparsed, len(missing), len(dup), len(extra), len(recdiff), order_bad))
for k in missing[:5]: print("  missing", k)
for k in dup[:5]: print("  twice", k, got[k])
for k in recdiff[:5]: print("  records", k, "log", want[k], "out", recs[k])
for x in examples: print(" ", x)
