import { constants, readFileSync } from "node:fs";
import { chmod, link, lstat, mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import type { z } from "zod";
import { IoError, PermissionError, TempFailError } from "./errors";
import { formatIssues } from "./issues";
import type { Logger } from "./log";

/**
 * State files: small JSON documents a tool keeps between runs (vpnnotify's last login per user,
 * authkeys' offline key cache). Writes are atomic, concurrent processes serialise through a lock
 * file, permissions stay private, and a corrupt file is moved aside instead of stopping the tool.
 */

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/**
 * `bytes` random bytes as hex: a temporary or lock name, a spool entry's id, a lease token. The one helper for it in
 * core. node:crypto is loaded here, not imported: every bin that bundles this module (auditd-parse's plain parse
 * never writes state) paid ~7.5 M instructions at each start to load it.
 */
export function randomHex(bytes: number): string {
  return process.getBuiltinModule("node:crypto").randomBytes(bytes).toString("hex");
}

export interface PrivateDirOptions {
  /** Tighten a directory we own that group/other can write to (the default); refuse when false. */
  fix?: boolean;
  log?: Logger;
}

/**
 * Creates `dir` (mode 0700) if missing and checks an existing one: it must be a real directory
 * owned by us or root, and nobody else may write to it — anyone who can write there can replace
 * the state a tool trusts.
 */
export async function ensurePrivateDir(dir: string, options: PrivateDirOptions = {}): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (error) {
    throw fsError(error, `cannot create state directory ${dir}`);
  }
  const info = await lstat(dir).catch((error: unknown) => {
    throw fsError(error, `cannot inspect state directory ${dir}`);
  });
  if (info.isSymbolicLink()) {
    // Whoever can change the link decides where the state goes.
    throw new IoError(`state directory ${dir} is a symbolic link`, { hint: "configure the real directory instead" });
  }
  if (!info.isDirectory()) {
    throw new IoError(`state directory ${dir} is not a directory`, { hint: "remove it or choose another state directory" });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid && info.uid !== 0) {
    throw new PermissionError(`state directory ${dir} is owned by uid ${info.uid}, not by this user (uid ${uid}) or root`, {
      hint: `chown it to uid ${uid} or choose another state directory`,
    });
  }
  if ((info.mode & 0o022) === 0) return;
  const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
  if (options.fix === false || (uid !== undefined && info.uid !== uid)) {
    throw new PermissionError(`state directory ${dir} is writable by group or others (mode ${mode})`, { hint: `chmod 700 ${dir}` });
  }
  await chmod(dir, DIR_MODE).catch((error: unknown) => {
    throw fsError(error, `cannot tighten permissions of state directory ${dir}`);
  });
  options.log?.warn("state directory was writable by group or others; set it to 0700", { dir, was: mode });
}

export interface WriteOptions {
  /** File mode; 0600 unless told otherwise (the umask applies, as to any file created). */
  mode?: number;
  /**
   * The file this write replaces: the new one gets its permission bits exactly (no umask) and, when root, its
   * owner and group — so replacing a report someone else reads does not change who may read it.
   */
  like?: { mode: number; uid: number; gid: number };
  /**
   * fsync the file and its directory (the default): the write survives a power cut. Without it,
   * it still survives the writer being killed, and costs no disk flush (which a busy disk can
   * stretch to half a second).
   */
  fsync?: boolean;
}

/**
 * Writes `data` to `path` so that readers see either the old or the new content, never a part:
 * a temp file in the same directory, fsync, rename over the target, fsync the directory so the
 * rename survives a crash.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: WriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomHex(4)}.tmp`);
  try {
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, options.mode ?? FILE_MODE);
    try {
      if (options.like) {
        // chown first: it clears set-id bits, and none are copied anyway (a report is no program)
        // (a file system without owners, vfat, refuses it: the data matters more than the owner there)
        if (process.getuid?.() === 0) await handle.chown(options.like.uid, options.like.gid).catch(() => undefined);
        await handle.chmod(options.like.mode & 0o777);
      }
      await handle.writeFile(data);
      if (options.fsync !== false) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw fsError(error, `cannot write ${path}`);
  }
  if (options.fsync !== false) await syncDir(dir);
}

/**
 * Deletes temp files that writeFileAtomic left for `path` when its writer was killed mid-write
 * (their pid is gone); a live writer's temp file is left alone.
 */
export async function removeOrphanedTemps(path: string): Promise<void> {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length))?.[1];
    if (pid === undefined || Number(pid) < 1 || isAlive(Number(pid))) continue;
    // Only what writeFileAtomic makes, a regular file: a symlink, directory or FIFO at such a name is none of ours.
    const info = await lstat(join(dir, name)).catch(() => undefined);
    if (info?.isFile()) await unlink(join(dir, name)).catch(() => {});
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: the process exists under another user.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
  // A zombie (killed, its parent not reaping yet) still answers signal 0 but holds nothing. An orphan's parent is
  // PID 1, which in a container may reap late or never: a lock it named would otherwise block every later process.
  return processField(pid, 0) !== "Z";
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!handle) return;
  try {
    await handle.sync();
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic there.
  } finally {
    await handle.close();
  }
}

/** Anything with zod's safeParse; a zod schema is the usual validator. */
export type StateValidator<T> = z.ZodType<T>;

export interface ReadJsonOptions<T> {
  validate?: StateValidator<T>;
  log?: Logger;
}

/**
 * Reads and validates a JSON file. Missing → undefined. Unparsable or invalid → warns, moves it
 * aside to `<name>.corrupt-<timestamp>` for a person to inspect, and returns undefined so the
 * tool carries on with empty state. Call it under the file's lock when others may write it.
 */
export async function readJsonFile<T = unknown>(path: string, options: ReadJsonOptions<T> = {}): Promise<T | undefined> {
  let text: string | undefined;
  try {
    text = await readRegularFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw fsError(error, `cannot read ${path}`);
  }
  const problem = text === undefined ? NOT_REGULAR : checkJson(text, options.validate);
  if (problem.ok) return problem.value;
  const aside = await quarantine(path);
  options.log?.warn("state file is corrupt; moved it aside and starting from empty state", {
    file: path,
    movedTo: aside,
    problem: problem.reason,
  });
  return undefined;
}

type Checked<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A FIFO, socket, device or symlink where a state file should be: set aside like a corrupt file. */
const NOT_REGULAR = { ok: false, reason: "not a regular file" } as const;

function checkJson<T>(text: string, validate: StateValidator<T> | undefined): Checked<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `invalid JSON: ${(error as Error).message}` };
  }
  if (!validate) return { ok: true, value: raw as T };
  const parsed = validate.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, reason: formatIssues(parsed.error) };
}

async function quarantine(path: string): Promise<string> {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  await rename(path, aside).catch((error: unknown) => {
    throw fsError(error, `cannot move corrupt state file ${path} aside`);
  });
  return aside;
}

export interface LockOptions {
  /** How long to wait for another holder; then TempFailError. */
  timeoutMs?: number;
  /** A lock whose holder cannot be checked (another host, no /proc) is stale after this long. */
  staleMs?: number;
}

interface LockInfo {
  pid: number;
  /** The holder's start time from /proc, so a reused pid is not mistaken for the holder. */
  start: string | undefined;
  host: string;
  token: string;
  time: number;
}

/**
 * Runs `fn` while holding an exclusive lock on `path` (the lock file is `<path>.lock`), across
 * processes. The lock file is created with O_EXCL and names its holder. A lock is broken when its
 * holder is gone: on this host, its pid is dead or now belongs to a younger process; elsewhere, it
 * is older than staleMs. A live holder is never broken, however long it holds. Waiting is bounded.
 */
export async function withLock<T>(path: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const lockPath = `${path}.lock`;
  const { token, broke } = await acquireLock(lockPath, options.timeoutMs ?? 5_000, options.staleMs ?? 30_000);
  try {
    // A holder that died holding the lock may have died mid-write, between writeFileAtomic's temp file and its rename
    // (SIGKILL, OOM): that temp file was left for good (T71 N9: `.state.disowned.json.PID.RAND.tmp`, after several
    // later runs). Swept now, under the lock, for every tool: only writeFileAtomic's names for `path`, of a dead pid.
    if (broke) await removeOrphanedTemps(path);
    return await fn();
  } finally {
    await releaseLock(lockPath, token);
  }
}

/** The lock's token, and whether a stale lock (a dead holder's) was broken to take it. */
async function acquireLock(lockPath: string, timeoutMs: number, staleMs: number): Promise<{ token: string; broke: boolean }> {
  const info: LockInfo = {
    pid: process.pid,
    start: processStart(process.pid),
    host: hostname(),
    token: randomHex(8),
    time: Date.now(),
  };
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  let broke = false;
  for (;;) {
    try {
      const handle = await open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, FILE_MODE);
      try {
        await handle.writeFile(JSON.stringify(info));
      } catch (error) {
        // Created but not written (a full disk: ENOSPC): an empty lock file naming nobody would hold off every
        // other process until it aged out. It is nobody's lock, so it goes again.
        await handle.close().catch(() => {});
        await unlink(lockPath).catch(() => {});
        throw fsError(error, `cannot write lock file ${lockPath}`);
      }
      await handle.close();
      return { token: info.token, broke };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw fsError(error, `cannot create lock file ${lockPath}`);
    }
    const holder = await readLock(lockPath);
    if (holder === "gone") continue;
    if (isStale(holder, staleMs)) {
      await breakLock(lockPath, holder);
      broke = true;
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder.pid ? `process ${holder.pid}${holder.host === hostname() ? "" : ` on ${holder.host}`}` : "another process";
      throw new TempFailError(`${lockPath} is held by ${who}; gave up after ${timeoutMs} ms`, {
        hint: "retry later, or remove the lock file if that process is hung",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(1, deadline - Date.now()))));
    delay = Math.min(delay * 2, 50);
  }
}

/** The holder named in a lock file; `gone` when it vanished meanwhile. A half-written lock file reads as a fresh anonymous one. */
async function readLock(lockPath: string): Promise<(Partial<LockInfo> & { mtime: number }) | "gone"> {
  try {
    const [text, stat] = await Promise.all([readRegularFile(lockPath), lstat(lockPath)]);
    // Not a regular file (a FIFO, socket, device or symlink planted at the lock's name): no lock this
    // module made, so nobody holds it; dated at the epoch, it is stale at once and broken.
    if (text === undefined) return { mtime: 0 };
    let parsed: Partial<LockInfo> = {};
    try {
      parsed = JSON.parse(text) as Partial<LockInfo>;
    } catch {
      // Being written right now by its creator, or truncated by a crash: the age check decides.
    }
    return { ...parsed, mtime: stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw fsError(error, `cannot read lock file ${lockPath}`);
  }
}

/**
 * A state or lock file's text, or undefined when it is not a regular file. Opened without following a
 * symlink and without blocking: a plain read of a FIFO planted at the name by anyone who can write the
 * directory would wait for a writer for ever, and every later run with it.
 */
async function readRegularFile(path: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") return undefined;
    throw error;
  }
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/**
 * A lock file naming no holder (empty or cut short) is written by its creator within milliseconds of creating it;
 * one older than this was left by a creator that crashed or could not write it (a full disk), and is nobody's.
 */
const UNNAMED_LOCK_STALE_MS = 5_000;

function isStale(holder: Partial<LockInfo> & { mtime: number }, staleMs: number): boolean {
  const age = Date.now() - holder.mtime;
  if (typeof holder.pid !== "number") return age > Math.min(staleMs, UNNAMED_LOCK_STALE_MS);
  const old = age > staleMs;
  if (holder.host !== hostname()) return old;
  if (!isAlive(holder.pid)) return true;
  if (holder.start === undefined) return old;
  const start = processStart(holder.pid);
  return start !== undefined && start !== holder.start;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); undefined off Linux. */
function processStart(pid: number): string | undefined {
  return processField(pid, 19);
}

/** Field `index` after the command name in /proc/<pid>/stat (0: the state, 19: the start time); undefined off Linux. */
function processField(pid: number, index: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[index];
  } catch {
    return undefined;
  }
}

/**
 * Removes a stale lock without removing a live one that replaced it meanwhile: move it to a
 * private name, and if it turns out not to be the stale lock we judged, link it back.
 */
async function breakLock(lockPath: string, stale: Partial<LockInfo>): Promise<void> {
  const moved = `${lockPath}.stale-${process.pid}-${randomHex(4)}`;
  try {
    await rename(lockPath, moved);
  } catch {
    return;
  }
  const taken = (await readRegularFile(moved).catch(() => "")) ?? "";
  let token: string | undefined;
  try {
    token = (JSON.parse(taken) as Partial<LockInfo>).token;
  } catch {
    token = undefined;
  }
  if (token !== stale.token) await link(moved, lockPath).catch(() => {});
  await unlink(moved).catch(() => {});
}

async function releaseLock(lockPath: string, token: string): Promise<void> {
  const current = (await readRegularFile(lockPath).catch(() => "")) ?? "";
  // Only our own lock: after a stale break someone else may hold it now.
  if (current.includes(`"token":"${token}"`)) await unlink(lockPath).catch(() => {});
}

export interface JsonStateFileOptions<T> {
  path: string;
  validate: StateValidator<T>;
  /** The state to start from when the file is missing or corrupt. */
  empty: () => T;
  log?: Logger;
  lock?: LockOptions;
  /** Check (and create) the directory with ensurePrivateDir on first use; default true. */
  ensureDir?: boolean;
}

/**
 * One JSON state document: load() for readers, update() for read-modify-write under the lock,
 * so two processes updating at once (two VPN connects for one user) never lose an update.
 */
export class JsonStateFile<T> {
  readonly path: string;
  readonly #opts: JsonStateFileOptions<T>;
  #dirChecked = false;
  #tempsSwept = false;

  constructor(options: JsonStateFileOptions<T>) {
    this.path = options.path;
    this.#opts = options;
  }

  /** The current state; writes are atomic, so no lock is needed to read a consistent one. */
  async load(): Promise<T> {
    let text: string | undefined;
    try {
      text = await readRegularFile(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return this.#opts.empty();
      throw fsError(error, `cannot read ${this.path}`);
    }
    const checked = text === undefined ? NOT_REGULAR : checkJson(text, this.#opts.validate);
    if (checked.ok) return checked.value;
    // Move it aside under the lock: a writer may have replaced it with a good file meanwhile.
    try {
      return await this.#locked(async () => (await this.#read()) ?? this.#opts.empty());
    } catch (error) {
      if (!(error instanceof TempFailError)) throw error;
      this.#opts.log?.warn("state file is corrupt and locked; using empty state for now", { file: this.path, problem: checked.reason });
      return this.#opts.empty();
    }
  }

  /**
   * Applies `change` to the current state and writes the result atomically, all under the lock.
   * `change` may mutate its argument or return a new value. Nothing is written when the result is
   * unchanged. Returns the new state.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a mutating callback returns nothing, and that must type-check
  async update(change: (state: T) => T | void | Promise<T | void>): Promise<T> {
    return this.#locked(async () => {
      if (!this.#tempsSwept) {
        await removeOrphanedTemps(this.path);
        this.#tempsSwept = true;
      }
      const current = (await this.#read()) ?? this.#opts.empty();
      const before = JSON.stringify(current);
      const next = (await change(current)) ?? current;
      const checked = this.#opts.validate.safeParse(next);
      if (!checked.success) throw new IoError(`refusing to write invalid state to ${this.path}: ${formatIssues(checked.error)}`);
      const text = JSON.stringify(checked.data);
      if (text !== before) await writeFileAtomic(this.path, `${text}\n`);
      return checked.data;
    });
  }

  async #read(): Promise<T | undefined> {
    return readJsonFile(this.path, { validate: this.#opts.validate, ...(this.#opts.log ? { log: this.#opts.log } : {}) });
  }

  async #locked<R>(fn: () => Promise<R>): Promise<R> {
    if (!this.#dirChecked && this.#opts.ensureDir !== false) {
      await ensurePrivateDir(dirname(this.path), this.#opts.log ? { log: this.#opts.log } : {});
      this.#dirChecked = true;
    }
    return withLock(this.path, fn, this.#opts.lock);
  }
}

function fsError(error: unknown, what: string): IoError | PermissionError {
  const code = (error as NodeJS.ErrnoException).code ?? "error";
  if (code === "EACCES" || code === "EPERM") {
    return new PermissionError(`${what}: permission denied`, { hint: "check the owner and mode of the state directory", cause: error });
  }
  if (error instanceof IoError || error instanceof PermissionError) return error;
  return new IoError(`${what} (${code})`, { hint: "check the disk and the state directory", cause: error });
}
