#!/bin/bash
# bench.sh LOG BIN — time auditd-parse (BIN) and laurel on one audit log.
# Prints one line per run:  name wall_s user_s sys_s maxrss_kib
#   parse          BIN LOG > /dev/null
#   sessions       BIN sessions --json LOG > /dev/null
#   detect         BIN detect --json LOG > /dev/null
#   laurel         laurel -c CONF < LOG > /dev/null   (laurel 0.5.1 reads stdin, JSON lines to stdout
#                  with [auditlog] file = "-"; [translate] universal = true, user-db = true;
#                  /proc-based enrichment off: the log was written on other hosts)
# A non-zero exit code is reported on stderr (detect exits 1 when a rule at --fail-level matched;
# with no --fail-level given it should be 0). LAUREL=path runs another laurel.
set -u
if [ $# -ne 2 ]; then echo "usage: $0 LOG BIN" >&2; exit 64; fi
LOG=$1
BIN=$2
LAUREL=${LAUREL:-/usr/sbin/laurel}
[ -r "$LOG" ] || { echo "$0: cannot read $LOG" >&2; exit 66; }
TMP=$(mktemp -d) || exit 70           # mode 0700: laurel refuses a world-writable directory
trap 'rm -rf "$TMP"' EXIT
cat > "$TMP/laurel.toml" <<EOF
directory = "$TMP"
statusreport-period = 0
[auditlog]
file = "-"
[transform]
execve-argv = [ "array" ]
[translate]
# laurel(8) 0.5.1 documents "userdb", but only "user-db" (as in its example config) turns the
# uid/gid translation on; both are given so either spelling works.
universal = true
user-db = true
userdb = true
[enrich]
pid = false
container = false
script = false
execve-env = []
EOF

run() {
  local name=$1; shift
  local rc
  /usr/bin/time -o "$TMP/time" -f "%e %U %S %M" "$@" > /dev/null 2> "$TMP/err"
  rc=$?
  echo "$name $(tail -n 1 "$TMP/time")"
  if [ "$rc" -ne 0 ]; then
    echo "  ($name exited $rc; last stderr line: $(grep -v '^Command exited' "$TMP/err" | tail -n 1 | cut -c1-200))" >&2
  fi
}
run parse "$BIN" "$LOG"
run sessions "$BIN" sessions --json "$LOG"
run detect "$BIN" detect --json "$LOG"
run laurel sh -c 'exec "$0" -c "$1" < "$2"' "$LAUREL" "$TMP/laurel.toml" "$LOG"
