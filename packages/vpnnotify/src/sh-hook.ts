import { spawnSync } from "node:child_process";
import { chmodSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { ConfigError, describeError, loadConfig } from "@opsguard/core";
import { configSchema } from "./config";
import { spoolDir } from "./runtime";

/**
 * OpenVPN's client-connect hook as a POSIX sh script (issue #26): in a reconnect storm OpenVPN
 * starts one hook per client, and a Node start costs 30-100 ms of CPU where sh, `date`, `mv` and
 * `sync` cost a few. It does only what the Node launcher's fast path does for a client-connect —
 * queue the login in the spool, answer client_connect_deferred_file, start the worker unless one
 * runs — and hands every other call to the Node hook, which stays the one place that decides.
 *
 * The spool entry's envelope is core's Spool entry (id, createdAt, attempts 0, …); its payload
 * is OpenVPN's environment verbatim (`openvpn`, JSON-encoded byte for byte, `at`: when it was
 * queued) rather than a LoginJob: the worker reads it through parseHookEnv, the parser the Node
 * hook uses, so the two hooks cannot drift apart on trimming, fallbacks (username/common_name,
 * trusted_ip/trusted_ip6) or time_unix, which sh could only imitate (JavaScript's trim knows
 * Unicode spaces, sh's patterns do not).
 *
 * OpenVPN's script-options manual: "If script returns a non-zero error status, it will cause
 * the client to be disconnected", and deferred client-connect answers through
 * client_connect_deferred_file ("2" = deferred, then "1"/"0")
 * (https://github.com/OpenVPN/openvpn/blob/release/2.6/doc/man-sections/script-options.rst).
 * So, like the Node hook, the script exits 0 whenever vpnnotify itself is in trouble; a spool it
 * cannot write is said on stderr (OpenVPN's log) and the login goes to the Node hook, which
 * handles it alone, as documented, instead of losing it.
 */

export interface ShHookOptions {
  /** The config the script was made from (and hands to Node); the script hands over once it is newer than itself. */
  config: string;
  spool: string;
  reject: boolean;
  deadlineMs: number;
  /** The Node hook: the installed launcher (or a standalone executable), with any leading arguments. */
  nodeHook: readonly string[];
}

/** A word for sh: single-quoted, a quote inside as '\'' (POSIX 2.2.2: nothing is special inside single quotes). */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The settings of the script, from a validated config (YAML or JSON). */
export async function shHookOptions(configPath: string | undefined, nodeHook: readonly string[]): Promise<ShHookOptions> {
  const { config, filepath } = await loadConfig({ tool: "vpnnotify", schema: configSchema, path: configPath });
  if (!filepath) {
    throw new ConfigError("the sh hook needs a config file", { hint: "write /etc/opsguard/vpnnotify.yaml or pass --config FILE" });
  }
  const spool = resolve(spoolDir(config));
  if (!isAbsolute(filepath)) throw new ConfigError(`config path ${filepath} is not absolute`);
  // OpenVPN runs the script from its own directory: a relative Node hook would name another file there.
  const [command = "", ...rest] = nodeHook;
  return {
    config: resolve(filepath),
    spool,
    reject: config.onFailure === "reject",
    deadlineMs: config.deadlineMs,
    nodeHook: [resolve(command), ...rest],
  };
}

/** The Node hook a printed script hands over to: this standalone executable, else install's launcher. */
export function defaultNodeHook(): string {
  const sea = process.getBuiltinModule?.("node:sea") as { isSea?: () => boolean } | undefined;
  return sea?.isSea?.() ? process.execPath : "/usr/local/lib/vpnnotify/vpnnotify";
}

/** The name install gives the script, beside the launcher. */
export const SH_HOOK_NAME = "vpnnotify-connect";

/**
 * install's part: the script beside the launcher, made from the config install finds. Without a
 * usable config there is nothing to bake in: the reason is returned and OpenVPN keeps the launcher.
 */
export async function installShHook(
  prefix: string,
  launcher: string,
  configPath: string | undefined,
): Promise<{ path?: string; skipped?: string }> {
  try {
    return { path: writeShHook(prefix, SH_HOOK_NAME, await shHookOptions(configPath, [launcher])) };
  } catch (error) {
    return { skipped: describeError(error) };
  }
}

/** Writes the script as `<prefix>/<name>` (0755, replaced by rename so a running hook keeps the old one). */
export function writeShHook(prefix: string, name: string, options: ShHookOptions): string {
  const path = join(prefix, name);
  const temp = `${path}.new-${process.pid}`;
  try {
    writeFileSync(temp, shHookScript(options), { mode: 0o755 });
    chmodSync(temp, 0o755);
    datedAsConfig(temp, options.config);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
  return path;
}

/**
 * Gives the script exactly the config's mtime, to the nanosecond: the script hands over to Node
 * once the config is newer (-nt), i.e. edited after install, and only then. fs.utimes takes
 * seconds as a double, which keeps only about microseconds of today's times: the config's
 * nanoseconds would be lost and the config look newer than the script at every login. touch -r
 * (POSIX) copies the timestamp with utimensat, whole; the BigInt stats then prove it did.
 */
function datedAsConfig(file: string, config: string): void {
  const touch = spawnSync("touch", ["-r", config, "--", file], { encoding: "utf8", timeout: 10_000 });
  const wanted = statSync(config, { bigint: true }).mtimeNs;
  const got = statSync(file, { bigint: true }).mtimeNs;
  if (touch.status !== 0 || got !== wanted) {
    const why = touch.error ? spawnFailure(touch.error) : touch.stderr.trim() || `its mtime is ${got} ns, the config's ${wanted} ns`;
    throw new ConfigError(`cannot date the sh hook as its config ${config} (${why})`, {
      hint: "check that touch(1) is on PATH and the install directory's file system keeps nanosecond times",
    });
  }
}

/** Why touch(1) did not run, as a user reads it: a missing program is no bug of ours (describeError would say so). */
function spawnFailure(error: NodeJS.ErrnoException): string {
  if (error.code === "ENOENT") return "touch: not found on PATH";
  return `touch could not be run: ${error.code ?? error.message}`;
}

export function shHookScript(o: ShHookOptions): string {
  const node = o.nodeHook.map(shQuote).join(" ");
  return `#!/bin/sh
# vpnnotify's OpenVPN client-connect hook in POSIX sh, written by "vpnnotify install" (or printed
# by "vpnnotify sh-hook") from the config below. It queues the login in the spool and returns; the
# per-host worker notifies. Anything else (client-disconnect, other hooks, flags) goes to the Node
# hook. Re-run install after editing the config: until then this script hands every call to Node.
config=${shQuote(o.config)}
spool=${shQuote(o.spool)}
reject=${o.reject ? 1 : 0}
deadline_ms=${Math.floor(o.deadlineMs)}
node_hook=${shQuote(o.nodeHook[0] ?? "")}

say() { printf 'vpnnotify: %s\\n' "$*" >&2; }

# The Node hook decides whatever this script does not; exec keeps OpenVPN waiting on one process.
# It reads the config this script was made from (or the one OpenVPN's environment names), which
# need not be in the default place.
to_node() {
  VPNNOTIFY_CONFIG=\${VPNNOTIFY_CONFIG:-$config}
  export VPNNOTIFY_CONFIG
  if [ -x "$node_hook" ]; then exec ${node} "$@"; fi
  say "error: failed reason=\\"cannot run the Node hook $node_hook, so this login is NOT notified\\""
  # OpenVPN refuses the client on a non-zero exit: only onFailure reject may do that.
  [ "$reject" = 1 ] && exit 69
  exit 0
}

# Only a plain client-connect (at most OpenVPN's dynamic config file as argument) is queued here.
[ "\${script_type-}" = client-connect ] && [ $# -le 1 ] && [ -z "\${VPNNOTIFY_DETACHED-}" ] || to_node "$@"
case \${1-} in -*) to_node "$@" ;; esac
[ "\${VPNNOTIFY_CONFIG:-$config}" = "$config" ] || to_node "$@"
# install dates this script as the config, to the nanosecond (dash and bash compare nanoseconds):
# an edit makes the config newer. -nt is in POSIX.1-2024's test (dash, bash, busybox ash and ksh
# had it long before).
# shellcheck disable=SC3013
if [ ! -e "$config" ] || [ "$config" -nt "$0" ]; then
  say "warn: $config changed after $0 was written: the Node hook runs instead (re-run vpnnotify install)"
  to_node "$@"
fi
# The first worker makes the spool directory.
[ -d "$spool" ] || to_node "$@"
# Neither user name nor address (a name of spaces and control characters only is none, as parseHookEnv has it):
# the Node hook logs the problem in OpenVPN's log.
case "\${username-}\${common_name-}" in *[![:space:][:cntrl:]]*) ;; *) to_node "$@" ;; esac
case "\${trusted_ip-}\${trusted_ip6-}" in *[![:space:]]*) ;; *) to_node "$@" ;; esac

# Byte-wise patterns (UTF-8 passes through unchanged); 0600 files, as core's spool writes them.
LC_ALL=C
umask 077
now=$(date +%s%3N 2>/dev/null)
case $now in '' | *[!0-9]*) to_node "$@" ;; esac

# n as 8 lower-case hex digits (the spool's id and temp-file patterns), without a subshell.
hex8() {
  n=$1 hex='' i=0
  while [ $i -lt 8 ]; do
    d=$((n % 16)) n=$((n / 16)) i=$((i + 1))
    case $d in 10) d=a ;; 11) d=b ;; 12) d=c ;; 13) d=d ;; 14) d=e ;; 15) d=f ;; esac
    hex=$d$hex
  done
}

# A JSON string: quote, backslash and control characters escaped, every other byte as it is.
json() {
  v=$1
  printf '"'
  while :; do
    safe=\${v%%[\\"\\\\[:cntrl:]]*}
    printf '%s' "$safe"
    [ "$safe" = "$v" ] && break
    v=\${v#"$safe"}
    rest=\${v#?}
    c=\${v%"$rest"}
    v=$rest
    case $c in
      \\" | \\\\) printf '\\\\%s' "$c" ;;
      *) printf '\\\\u%04x' "'$c" ;;
    esac
  done
  printf '"'
}

# The login's fields as OpenVPN gave them (the worker parses them as the Node hook does).
entry() {
  printf '{"id":"%s","createdAt":%s,"attempts":0,"leaseUntil":0,"nextAttemptAt":%s,"payload":{"openvpn":{' "$id" "$now" "$now"
  sep=''
  for k in script_type username common_name trusted_ip trusted_ip6 trusted_port ifconfig_pool_remote_ip ifconfig_pool_remote_ip6 time_unix client_connect_deferred_file; do
    eval "isset=\\\${$k+1} v=\\\${$k-}"
    [ -n "$isset" ] || continue
    printf '%s"%s":' "$sep" "$k"
    json "$v"
    sep=,
  done
  printf '},"at":%s' "$now"
  if [ "$reject" = 1 ] && [ -n "\${client_connect_deferred_file-}" ]; then
    printf ',"answer":{"file":'
    json "$client_connect_deferred_file"
    printf ',"by":%s}' "$((now + deadline_ms))"
  fi
  printf '}}\\n'
}

# OpenVPN's deferred answer ("1" let in, "2" the worker's verdict decides), when OpenVPN asked for one.
answer_deferred() {
  [ -n "\${client_connect_deferred_file-}" ] || return 0
  { printf '%s' "$1" >|"$client_connect_deferred_file"; } 2>/dev/null ||
    say "warn: cannot write client_connect_deferred_file; the client goes in without waiting"
}

# Under onFailure reject "2" goes before the login is queued: a worker already running may take it from the spool at
# once and answer it, and a "2" written after that answer would undo it, OpenVPN then waiting out its hand-window for
# a client that was let in (T50 N6).
[ "$reject" = 1 ] && answer_deferred 2

# The id is <ms>-<8 hex> like core's: this shell's pid keeps two hooks of one millisecond apart.
hex8 $$
id=$now-$hex
tmp=$spool/.$id.json.$$.$hex.tmp
target=$spool/$id.json
# noclobber: the temp file is created with O_EXCL, never through a planted file.
set -C
if ! { entry >"$tmp"; } 2>/dev/null || ! mv -f -- "$tmp" "$target" 2>/dev/null; then
  rm -f -- "$tmp" 2>/dev/null
  why='cannot write'
  [ -w "$spool" ] || why='no write permission on'
  say "warn: $why the spool $spool; the Node hook handles this login alone"
  to_node "$@"
fi
set +C
# Durable before OpenVPN goes on: the entry's data and its name in the directory.
sync -- "$target" "$spool" 2>/dev/null || say "warn: cannot sync $target to disk; it is queued"

# With onFailure accept: "1", now that the login is queued.
[ "$reject" = 1 ] || answer_deferred 1

# Whether the drain lock (core's withLock: {"pid":…,"start":…,"host":…}) names a live worker.
worker_alive() {
  lock=$spool/drain.lock
  [ -f "$lock" ] && [ ! -h "$lock" ] || return 1
  info=''
  IFS= read -r info <"$lock" || [ -n "$info" ] || return 1
  case $info in *'"pid":'[0-9]*) ;; *) return 1 ;; esac
  pid=\${info#*\\"pid\\":}
  pid=\${pid%%[!0-9]*}
  host=''
  IFS= read -r host </proc/sys/kernel/hostname || return 1
  case $info in *"\\"host\\":\\"$host\\""*) ;; *) return 1 ;; esac
  [ -d "/proc/$pid" ] || return 1
  case $info in *'"start":"'*) ;; *) return 0 ;; esac
  start=\${info#*\\"start\\":\\"}
  start=\${start%%\\"*}
  stat=''
  IFS= read -r stat <"/proc/$pid/stat" || return 1
  # Field 22 of /proc/<pid>/stat, its start time: a reused pid is another process.
  set -f
  # shellcheck disable=SC2086
  set -- \${stat##*) }
  set +f
  # Field 3, its state: a zombie (killed, its parent not reaping it yet, maybe never) holds nothing.
  [ "$1" != Z ] || return 1
  [ $# -ge 20 ] && shift 19 && [ "$1" = "$start" ]
}

# One hook of a storm starts the worker: the one that creates worker.starting (O_EXCL) with its time
# inside. A claim 10 s old (flush's limit too) was left by a worker that died starting, or by a hook that
# died or hit a full disk between creating it and writing its time: taken over.
claim_start() {
  marker=$spool/worker.starting
  # A directory is no claim any vpnnotify makes, and rmdir never removes a claim (a file): an empty one is
  # removed and the claim made; one with files in it is said, as it would stop every worker start.
  if [ -d "$marker" ] && [ ! -h "$marker" ] && ! rmdir -- "$marker" 2>/dev/null && [ -d "$marker" ]; then
    say "error: $marker is a directory with files in it, not a start claim: no worker was started (this login waits in the spool); remove it: rm -r -- $marker"
    return 1
  fi
  if [ -e "$marker" ] || [ -h "$marker" ]; then
    since=''
    junk=''
    # Only a regular file is read; anything else there (a FIFO would hang OpenVPN) is junk, replaced.
    if [ -f "$marker" ] && [ ! -h "$marker" ]; then
      IFS= read -r since 2>/dev/null <"$marker" || :
      # Empty: another hook has just created it and not yet written its time (noclobber's create and the
      # write are two steps), or one left it so: its time of change decides (one date, only on this path).
      [ -n "$since" ] || since=$(date -r "$marker" +%s%3N 2>/dev/null) || since=''
      # Arithmetic only on what it can hold: dash exits 2 ("Illegal number", a disconnect) on a
      # leading 0 (octal) or a number too long; junk like that is stale.
      case $since in
        '') ;;
        0* | *[!0-9]* | ????????????????*) since='' junk=1 ;;
        # Fresh: under 10 s old, and not 10 s ahead (a clock stepped back must not stop every worker start).
        *) [ $((now - since)) -lt 10000 ] && [ $((since - now)) -lt 10000 ] && return 1 ;;
      esac
    fi
    # Stale: exactly one of the hooks that found it replaces it, the one that creates a token named after
    # it (noclobber). Removing it without one, a hook slower than another that already made a new claim
    # would remove that claim and start a second worker. The worker and flush remove tokens 10 s old.
    if [ -z "$since" ]; then
      since=$(date -r "$marker" +%s%3N 2>/dev/null) || since=''
      # A time read only now, of a regular file that did not hold junk: the claim this hook found was
      # taken over while it looked (gone when read), and this is the new one. Fresh, it is left be:
      # replacing it started a second worker (CI, 10 hooks racing for one stale claim).
      if [ -z "$junk" ] && [ -f "$marker" ] && [ ! -h "$marker" ]; then
        case $since in '' | 0* | *[!0-9]* | ????????????????*) ;; *) [ $((now - since)) -lt 10000 ] && [ $((since - now)) -lt 10000 ] && return 1 ;; esac
      fi
    fi
    case $since in
      '' | *[!0-9]*)
        # No time at all: a dangling symlink (never a claim) is junk; a file there again is another
        # hook's new claim; gone, another hook took it over, and whoever creates the next claim starts the worker.
        if [ -h "$marker" ]; then since=junk; elif [ -e "$marker" ]; then return 1; else since=gone; fi
        ;;
    esac
    # Redirected as a compound command: a redirection error on a special built-in (":") would end
    # the shell (POSIX 2.8.1), exit 2, which disconnects the client.
    if [ "$since" != gone ]; then
      take_over "$spool/.worker.starting.$since.taken" || return 1
      rm -f -- "$marker" 2>/dev/null
    fi
  fi
  unwritten=''
  set -C
  { printf '%s\n' "$now" || unwritten=1; } 2>/dev/null >"$marker"
  ok=$?
  set +C
  [ $ok = 0 ] && [ -z "$unwritten" ] && return 0
  # Created but its time not written (ENOSPC), or not even created: left empty, it would keep every
  # later hook from starting a worker. Taken back, and said in OpenVPN's log.
  if [ -n "$unwritten" ] || [ ! -e "$marker" ]; then
    [ -z "$unwritten" ] || rm -f -- "$marker" 2>/dev/null
    unwritable "$marker"
  fi
  return 1
}

# Creates the token for taking over a stale claim (noclobber): exactly one hook of those that found the claim
# stale gets it. Another hook's token under 10 s old: that hook replaces the claim. One 10 s old (or 10 s
# ahead) was left by a hook killed before it did, or names a dangling symlink taken over before: the next
# name (.taken2, .taken3, …) is raced for the same way, so a left token delays worker starts 10 s at most.
take_over() {
  n=''
  while [ "\${n:-1}" -le 9 ]; do
    set -C
    { printf ''; } 2>/dev/null >"$1$n"
    ok=$?
    set +C
    [ $ok = 0 ] && return 0
    # None there: the file system refused it.
    [ -e "$1$n" ] || [ -h "$1$n" ] || { unwritable "$1$n"; return 1; }
    made=$(date -r "$1$n" +%s%3N 2>/dev/null) || made=0
    case $made in '' | 0?* | *[!0-9]* | ????????????????*) made=0 ;; esac
    [ $((now - made)) -lt 10000 ] && [ $((made - now)) -lt 10000 ] && return 1
    n=$((\${n:-1} + 1))
  done
  # All nine left over: no hook can start a worker until they go; said, with the fix, on every login meanwhile.
  say "error: the takeover tokens $1 … \${1}9 are all left over, so no hook can start a worker (this login waits in the spool); run vpnnotify flush as the spool's owner (it removes them and delivers what waits)"
  return 1
}

unwritable() {
  say "error: cannot write $1 (the spool's file system is full or not writable): this login is queued, but no worker was started; free space there (the next login or vpnnotify flush then delivers it)"
}

worker_alive || ! claim_start || {
  # The worker, detached from OpenVPN (own session, lower priority), told the login is queued.
  [ -x "$node_hook" ] || say "error: cannot start the worker: $node_hook is not executable (the login waits in the spool)"
  (
    unset client_connect_deferred_file
    VPNNOTIFY_DETACHED=1 VPNNOTIFY_QUEUED=1 VPNNOTIFY_SPOOL=$spool VPNNOTIFY_CONFIG=$config
    export VPNNOTIFY_DETACHED VPNNOTIFY_QUEUED VPNNOTIFY_SPOOL VPNNOTIFY_CONFIG
    set -- ${node} "$@"
    command -v nice >/dev/null 2>&1 && set -- nice -n 10 "$@"
    command -v setsid >/dev/null 2>&1 && set -- setsid "$@"
    exec "$@"
  ) </dev/null >/dev/null 2>&1 &
}
exit 0
`;
}
