import type { Env, HookCall } from "./event";

/**
 * The connect path OpenVPN, strongSwan and ocserv wait on. It reads the environment, records the
 * login durably in the spool (one file, written atomically and fsynced), answers OpenVPN's
 * deferred client-connect, makes sure the per-host worker runs (it starts one only when the
 * spool's drain lock names no live process) and returns, so neither a slow or dead Slack, LDAP
 * or Redis nor a storm of reconnects holds up a login. Returns false to let the full CLI handle
 * the call (flags such as --wait or --help, `notify`, input that deserves an error line).
 *
 * The spool is found from the config without loading the bundle, so only for a JSON config whose
 * spool directory exists (a worker made it, with the config validated). Otherwise the worker it
 * starts queues the login itself (VPNNOTIFY_QUEUED unset): slower under a storm, never wrong.
 *
 * Self-contained like parseHookEnv, for the same reason: the installed launcher carries a copy
 * and answers hooks without loading the bundle.
 */
export function runHookFastPath(
  args: readonly string[],
  env: Env,
  script: string,
  parse: (env: Env, now: number) => HookCall | undefined,
): boolean {
  if (env.VPNNOTIFY_DETACHED) return false;
  const rest = [...args];
  const command = ["hook", "openvpn", "updown", "ocserv"].includes(rest[0] ?? "") ? rest.shift() : undefined;
  let positional = 0;
  let configArg: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? "";
    if (arg === "-c" || arg === "--config") configArg = rest[++i];
    else if (arg.startsWith("--config=")) configArg = arg.slice("--config=".length);
    else if (arg.startsWith("-")) return false;
    else positional++;
  }
  // Only -c/--config and OpenVPN's trailing dynamic-config-file argument take the fast path.
  if (positional > 1) return false;
  const call = parse(env, Date.now());
  if (!call || call.problem || (command && command !== "hook" && command !== call.source)) return false;
  const event = call.event;
  if (!event) return true;
  // OpenVPN's log on a full disk: its warnings are lost, and nothing else. Without a listener the stderr
  // 'error' event would crash the hook with exit 1, which disconnects the client.
  process.stderr.on("error", () => {});
  const fs = process.getBuiltinModule("node:fs");
  const path = process.getBuiltinModule("node:path");
  const os = process.getBuiltinModule("node:os");
  const crypto = process.getBuiltinModule("node:crypto");
  /**
   * How old (or how far ahead: a clock stepped back) a start claim or a takeover token is when nobody is
   * starting a worker any more; spool-guard's CLAIM_STALE_MS and the sh hook's 10000 (this function is copied
   * into the launcher alone, so it cannot import it).
   */
  const claimStaleMs = 10_000;
  const workerEnv: Record<string, string | undefined> = { ...env, VPNNOTIFY_DETACHED: "1" };

  /**
   * Why no config can be usable, when that is certain here (none found, unreadable, not JSON): the detached worker's
   * syslog line is the only other trace, and a host without syslog has none, so OpenVPN's log gets it too.
   */
  let unusable: string | undefined;

  /** The spool directory and onFailure/deadlineMs of a JSON config, as config.ts defaults them; undefined to let the worker decide. */
  const settings = (): { spool: string; reject: boolean; deadlineMs: number } | undefined => {
    const cwd = process.cwd();
    const home = os.homedir();
    const file =
      configArg ??
      // Empty is unset, as core's config lookup has it.
      (env.VPNNOTIFY_CONFIG || undefined) ??
      [
        ...[".vpnnotifyrc", ".vpnnotifyrc.json", ".vpnnotifyrc.yaml", ".vpnnotifyrc.yml"].map((f) => path.join(cwd, f)),
        ...(home ? ["vpnnotify.json", "vpnnotify.yaml", "vpnnotify.yml"].map((f) => path.join(home, ".config/opsguard", f)) : []),
        ...["vpnnotify.json", "vpnnotify.yaml", "vpnnotify.yml"].map((f) => path.join("/etc/opsguard", f)),
      ].find((p) => fs.existsSync(p));
    if (file === undefined) unusable = "no config file (set VPNNOTIFY_CONFIG, or write /etc/opsguard/vpnnotify.json)";
    if (!file?.endsWith(".json")) return undefined;
    let fd: number | undefined;
    try {
      let config: { state?: { file?: unknown }; spool?: { dir?: unknown }; deadlineMs?: unknown; onFailure?: unknown };
      try {
        // Non-blocking, a regular file, at most 1 MB: a FIFO or a device must never hang the VPN server.
        fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
        const stat = fs.fstatSync(fd);
        if (!stat.isFile() || stat.size > 1_048_576) return undefined;
        config = JSON.parse(fs.readFileSync(fd, "utf8"));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        unusable = code ? `cannot read ${file} (${code})` : `${file} is not valid JSON`;
        return undefined;
      }
      const stateFile = config.state?.file ?? "/var/lib/opsguard/vpnnotify/state.json";
      const spool = config.spool?.dir ?? (typeof stateFile === "string" ? path.join(path.dirname(stateFile), "spool") : undefined);
      if (typeof spool !== "string" || !path.isAbsolute(spool) || !fs.statSync(spool).isDirectory()) return undefined;
      const deadlineMs = typeof config.deadlineMs === "number" && config.deadlineMs > 0 ? config.deadlineMs : 2000;
      return { spool, reject: config.onFailure === "reject", deadlineMs };
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };

  /** Writes the login as a spool entry (the format of core's Spool.enqueue): temp file, fsync, rename, fsync the directory. */
  const enqueue = (spool: string, answer: { file: string; by: number } | undefined): boolean => {
    const now = Date.now();
    const id = `${now}-${crypto.randomBytes(4).toString("hex")}`;
    const target = path.join(spool, `${id}.json`);
    const temp = path.join(spool, `.${id}.json.${process.pid}.${crypto.randomBytes(4).toString("hex")}.tmp`);
    const { deferredFile: _, ...login } = event;
    const entry = { id, createdAt: now, attempts: 0, leaseUntil: 0, nextAttemptAt: now, payload: { login, ...(answer ? { answer } : {}) } };
    let fd: number | undefined;
    try {
      fd = fs.openSync(temp, "wx", 0o600);
      fs.writeFileSync(fd, `${JSON.stringify(entry)}\n`);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(temp, target);
      const dir = fs.openSync(spool, "r");
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
      return true;
    } catch {
      // A spool this user cannot enter or write (made by root, mode 700): the cleanup fails the
      // same way and must not crash the hook; the worker then handles the login without the spool.
      try {
        if (fd !== undefined) fs.closeSync(fd);
        fs.rmSync(temp, { force: true });
      } catch {}
      return false;
    }
  };

  /** Whether the drain lock names a live process: then that worker will see the new entry. */
  const workerAlive = (spool: string): boolean => {
    try {
      // Non-blocking, a regular file: a FIFO planted as the lock must not hang the VPN server.
      const fd = fs.openSync(path.join(spool, "drain.lock"), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOFOLLOW);
      let text: string;
      try {
        if (!fs.fstatSync(fd).isFile()) return false;
        text = fs.readFileSync(fd, "utf8");
      } finally {
        fs.closeSync(fd);
      }
      const holder = JSON.parse(text);
      if (typeof holder.pid !== "number" || holder.host !== os.hostname()) return false;
      try {
        process.kill(holder.pid, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
      }
      // A zombie (field 3 of /proc/<pid>/stat: killed, its parent not reaping it yet, maybe never) holds
      // nothing; a pid reused by a younger process is not the holder (field 22: its start).
      const stat = fs.readFileSync(`/proc/${holder.pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z") return false;
      return holder.start === undefined || fields[19] === holder.start;
    } catch {
      return false;
    }
  };

  /**
   * In a storm, hundreds of hooks run before the first worker holds the drain lock: only the hook
   * that creates worker.starting starts one (the worker removes it). One older than 10 s is left
   * from a worker that died starting: taken over.
   */
  const claimStart = (spool: string): boolean => {
    const marker = path.join(spool, "worker.starting");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        // Its time inside, so the sh hook (no stat(1) per call) can tell a stale one too.
        const fd = fs.openSync(marker, "wx", 0o600);
        try {
          fs.writeSync(fd, `${Date.now()}\n`);
        } finally {
          fs.closeSync(fd);
        }
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") return true;
        const stale = staleClaim(marker);
        if (stale === "live") return false;
        if (stale === "gone") continue;
        if (stale === "directory") {
          if (removeDirectoryClaim(marker)) continue;
          return false;
        }
        // Exactly one of the hooks that found it stale replaces it, the one that creates the token named
        // after it (the sh hook's token, so the two kinds of hook agree). Removing it without one, a hook
        // slower than another that already made a new claim would remove that one: a second worker.
        if (!takeOver(path.join(spool, `.worker.starting.${stale}.taken`))) return false;
        fs.rmSync(marker, { force: true });
      }
    }
    return false;
  };

  /**
   * Creates the token for taking over a stale claim, as the sh hook's take_over does: another hook's token
   * under 10 s old means that hook replaces the claim; one 10 s old (or ahead) was left by a hook killed before
   * it did, or names a dangling symlink taken over before, and the next name (.taken2 … .taken9) is raced for.
   */
  const takeOver = (token: string): boolean => {
    for (let n = 1; n <= 9; n++) {
      const name = n === 1 ? token : `${token}${n}`;
      try {
        fs.closeSync(fs.openSync(name, "wx", 0o600));
        return true;
      } catch (error) {
        // Any failure but another hook's token: replaced here, as before tokens.
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") return true;
        const made = fs.lstatSync(name, { throwIfNoEntry: false })?.mtimeMs ?? 0;
        if (Math.abs(Date.now() - Math.floor(made)) < claimStaleMs) return false;
      }
    }
    // All nine left over: no hook can start a worker until they go; said, with the fix, on every login meanwhile.
    process.stderr.write(
      `vpnnotify: error: the takeover tokens ${token} … ${token}9 are all left over, so no hook can start a worker (this login waits in the spool); run vpnnotify flush as the spool's owner (it removes them and delivers what waits)\n`,
    );
    return false;
  };

  /**
   * A directory at worker.starting is no claim any vpnnotify makes, and rmdir never removes a claim (a file):
   * an empty one is removed (by this hook or another), one with files in it is said, as the sh hook does.
   */
  const removeDirectoryClaim = (marker: string): boolean => {
    try {
      fs.rmdirSync(marker);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return true;
      process.stderr.write(
        `vpnnotify: error: ${marker} is a directory with files in it, not a start claim: no worker was started (this login waits in the spool); remove it: rm -r -- ${marker}\n`,
      );
      return false;
    }
  };

  /**
   * A claim's state as the sh hook judges it: "live" when its time (inside, else its time of change)
   * is under 10 s old; "gone"; else the name its takeover token carries (that time, or "junk" for a
   * symlink). Junk inside, or anything but a regular file (a FIFO would hang the read), is stale.
   */
  const staleClaim = (marker: string): string => {
    try {
      const stat = fs.lstatSync(marker);
      if (stat.isSymbolicLink()) return "junk";
      if (stat.isDirectory()) return "directory";
      const changed = String(Math.floor(stat.mtimeMs));
      if (!stat.isFile()) return changed;
      const fd = fs.openSync(marker, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
      const buffer = Buffer.alloc(32);
      let length: number;
      try {
        length = fs.readSync(fd, buffer, 0, buffer.length, 0);
      } finally {
        fs.closeSync(fd);
      }
      const inside = buffer.toString("latin1", 0, length).split("\n")[0] ?? "";
      if (inside !== "" && !/^[1-9]\d{0,14}$/.test(inside)) return changed;
      const time = inside || changed;
      // Not 10 s ahead either: a clock stepped back must not stop every worker start until it catches up.
      return Math.abs(Date.now() - Number(time)) < claimStaleMs ? "live" : time;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === "ENOENT" ? "gone" : "junk";
    }
  };

  /** OpenVPN's deferred answer; a file it cannot write means the client goes in without waiting (never exit 1). */
  const answer = (value: "1" | "2"): boolean => {
    if (!event.deferredFile) return false;
    try {
      fs.writeFileSync(event.deferredFile, value);
      return true;
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code ?? String(error);
      process.stderr.write(
        `vpnnotify: warn: cannot write client_connect_deferred_file ${JSON.stringify(event.deferredFile)} (${why}); the client goes in without waiting\n`,
      );
      return false;
    }
  };

  /** Whether the login is in the spool: past that, the bundle must not queue it again. */
  let queued = false;
  // Each step above guards its own fs calls; this is the net under them. The hook's own failures
  // must never refuse a login: before the login is queued the full CLI takes over (it queues or
  // delivers directly), after it the worker will find it.
  try {
    const found = settings();
    const deferred = event.deferredFile;
    /** OpenVPN was told "2" (wait for the answer): if no worker can be started, it must still get one. */
    let waiting = false;
    // Under reject "2" is written before the login is queued: a worker already running may take it from the spool at
    // once and answer it, and a "2" written after that answer would undo it, OpenVPN then waiting out its hand-window
    // for a client that was let in (T50 N6)
    const deferredFirst = found?.reject === true && deferred !== undefined && answer("2");
    queued =
      found !== undefined &&
      enqueue(found.spool, deferred && found.reject ? { file: deferred, by: Date.now() + found.deadlineMs } : undefined);
    if (found && queued) {
      // Queued: the worker needs nothing from this environment but the config's location.
      if (found.reject) waiting = deferredFirst;
      else answer("1");
      if (workerAlive(found.spool) || !claimStart(found.spool)) return true;
      workerEnv.VPNNOTIFY_QUEUED = "1";
      workerEnv.VPNNOTIFY_SPOOL = found.spool;
      delete workerEnv.client_connect_deferred_file;
    } else if (deferred) {
      waiting = found?.reject === true ? deferredFirst : answer("2");
      // Not deferred then: exit 0 lets the client in now, and the worker only notifies.
      if (!waiting) delete workerEnv.client_connect_deferred_file;
    }
    const child = process
      .getBuiltinModule("node:child_process")
      .spawn(process.execPath, [...process.execArgv, script, ...args], { detached: true, stdio: "ignore", env: workerEnv });
    child.on("spawn", () => {
      child.unref();
      // The notification is background work: it must not compete with the VPN server for the CPU.
      try {
        if (child.pid) os.setPriority(child.pid, 10);
      } catch {}
    });
    child.on("error", (error: Error) => {
      // No worker, no notification now (a queued login waits for the next worker or flush); the login itself must still go through.
      try {
        if (waiting && deferred) fs.writeFileSync(deferred, "1");
      } catch {}
      // quoted: the user name is the VPN client's, and a line break in it would forge a line of OpenVPN's log
      process.stderr.write(
        `vpnnotify: failed user=${JSON.stringify(event.user)} ip=${JSON.stringify(event.ip)} reason=${JSON.stringify(`cannot start the worker: ${error.message}`)}\n`,
      );
    });
    if (unusable) {
      process.stderr.write(
        `vpnnotify: error: failed reason=${JSON.stringify(`unusable config, so NO login is notified until it is fixed (the client was let in): ${unusable}`)}\n`,
      );
    }
  } catch (error) {
    if (!queued) return false;
    process.stderr.write(`vpnnotify: warn: hook step failed after queueing the login (${String(error)}); the next worker delivers it\n`);
  }
  return true;
}

export const DETACHED_ENV = "VPNNOTIFY_DETACHED";
/** Set for a worker whose hook queued the login already. */
export const QUEUED_ENV = "VPNNOTIFY_QUEUED";
/** The spool the launcher queued in, by the raw JSON config (for a worker whose config turns out unusable). */
export const SPOOL_ENV = "VPNNOTIFY_SPOOL";

/** The launcher's fast path: both functions' source, run before (and usually instead of) the bundle. */
export function launcherFastPath(parse: (env: Env, now: number) => HookCall | undefined): string {
  return `(${runHookFastPath.toString()})(process.argv.slice(2), process.env, __filename, (${parse.toString()}))`;
}
