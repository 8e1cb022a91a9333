import { constants } from "node:fs";
import { type FileHandle, lstat, open, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { describeError, TempFailError } from "./errors";
import { formatIssues } from "./issues";
import type { Logger } from "./log";
import { redactSecrets } from "./secret";
import { ensurePrivateDir, randomHex, removeOrphanedTemps, withLock, writeFileAtomic } from "./state";
import { escapeLine } from "./text";
import { commandUser, describedUser, type NamedUser } from "./user-name";

/**
 * A durable spool of messages not delivered yet: one JSON file per message in a private
 * directory, each written atomically, so a process killed at its deadline loses nothing and
 * nothing is half-written. Whoever works on an entry holds a lease on it (leaseUntil), so a
 * second process never sends it at the same time; a failed attempt sets a growing backoff, and
 * after maxAttempts the entry moves to dead/ for a person to look at instead of being retried
 * forever. One drainer at a time per directory (a lock file); work() keeps that lock while it
 * waits for more, as a per-host worker. A message's first record is fsynced (it survives a power
 * cut); later records of its progress are not: they survive the process being killed, and a
 * lost one can only make a part be sent again (at least once, never lost).
 */

export interface SpoolEntry<T> {
  /** `<createdAt>-<random>`: file names sort oldest first. */
  id: string;
  createdAt: number;
  /** Attempts made so far, the one under way included. */
  attempts: number;
  /** Nobody else touches the entry before this: someone is delivering it. */
  leaseUntil: number;
  /** The backoff: not retried before this (unless forced). */
  nextAttemptAt: number;
  lastAttemptAt?: number;
  lastError?: string;
  /** When the attempt that gave lastError failed (lastAttemptAt is when it started). */
  lastErrorAt?: number;
  payload: T;
}

export interface SpoolOptions<T> {
  dir: string;
  /** Checks each entry's payload as it is read back. */
  payload: z.ZodType<T>;
  maxAttempts: number;
  /** Wait after the first failure; doubled after each further one, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs?: number;
  log?: Logger;
  /** A user's name for a line naming a file's owner (default: `uid N`). */
  userName?: (uid: number) => string;
}

export interface SpoolStatus {
  pending: number;
  /** createdAt of the oldest pending entry. */
  oldest?: number;
  /** The most recent attempt's error, over all pending entries. */
  lastError?: string;
  lastAttemptAt?: number;
  /** When lastError happened: the failure, or for an attempt cut off, its lease running out. */
  lastErrorAt?: number;
  /** Entries given up on (in dead/), not counting the unreadable ones kept there. */
  dead: number;
  /**
   * Entry files that cannot be read back: those still pending (the next drain moves them to dead/) and those
   * already in dead/ as `<name>.corrupt`; only when there are any. Never alerts given up on: those are `dead`.
   */
  unreadable?: number;
  /**
   * Pending entry files this user may not open (their owner or mode: a hook run as root left one, mode 600): left in
   * the spool, not sent, and not counted as unreadable (nothing is wrong with their content); only when there are any.
   */
  denied?: number;
}

export interface DrainOptions<T> {
  /** The lease an attempt on `entry` takes: nobody else touches the entry before it runs out. */
  leaseUntil: (entry: SpoolEntry<T>) => number;
  /** Retry entries still in their backoff too. */
  force?: boolean;
  /** Asked before each entry is started: true ends the drain. */
  stop?: () => boolean;
  /** Entries worked on at once (default 1). */
  concurrency?: number;
  /**
   * Entries of a higher rank are worked on first, and a rank is finished before the next starts
   * (e.g. fresh logins before retries of late alerts). Default: all one rank, oldest first.
   */
  rank?: (entry: SpoolEntry<T>) => number;
}

export interface WorkOptions<T> extends DrainOptions<T> {
  /** Stop once nothing was due for this long. */
  idleMs: number;
  /** How often the directory is looked at for new entries while idle. */
  pollMs: number;
}

export interface DrainResult {
  /** Another process was draining: nothing was done. */
  busy: boolean;
  delivered: number;
  failed: number;
  /** Entries moved to dead/ in this run. */
  gaveUp: number;
}

/** An entry file this user may not open (EACCES, EPERM): whose it is, and what to do. */
export interface SpoolDenied {
  file: string;
  /** The file's owner. */
  uid: number;
  /** Its permission bits. */
  mode: number;
  /** "cannot be read by …: it belongs to …, mode …". */
  problem: string;
  /** The command that makes it readable (chmod, the chown as root, or the user to run as). */
  fix: string;
}

/** The suffix of an unreadable entry moved to dead/: status counts those apart from alerts given up on. */
const CORRUPT = ".corrupt";

/** An attempt whose lease ran out with no outcome recorded: its process stopped before any answer came. */
const CUT_OFF = "the last attempt was cut off before any answer (its process stopped at its deadline)";
/** An entry is one login's alert: far below this; a bigger file is not ours. */
const MAX_ENTRY_BYTES = 1_048_576;
const ENTRY = /^\d+-[0-9a-f]{8}\.json$/;

/** Whether a file name in a spool directory is an entry's (one alert), for a reader that has no Spool of its own. */
export function isSpoolEntryName(name: string): boolean {
  return ENTRY.test(name);
}
const TEMP = /^\.(\d+-[0-9a-f]{8}\.json)\.\d+\.[0-9a-f]{8}\.tmp$/;

/** When an entry's last attempt failed: its recorded failure, else (cut off) when its lease ran out. */
function errorAt(entry: SpoolEntry<unknown>): number {
  return entry.lastErrorAt ?? (entry.lastError === undefined ? entry.leaseUntil : (entry.lastAttemptAt ?? 0));
}

export class Spool<T> {
  readonly dir: string;
  readonly #opts: SpoolOptions<T>;
  readonly #schema: z.ZodType<SpoolEntry<T>>;
  #ready: Promise<void> | undefined;
  readonly #writing = new Set<Promise<unknown>>();

  constructor(options: SpoolOptions<T>) {
    this.dir = options.dir;
    this.#opts = options;
    this.#schema = z.object({
      id: z.string().regex(/^\d+-[0-9a-f]{8}$/),
      // Finite, non-negative: a forged 9e999 lease would keep an entry untouched forever.
      createdAt: z.number().nonnegative(),
      attempts: z.number().int().nonnegative(),
      leaseUntil: z.number().nonnegative(),
      nextAttemptAt: z.number().nonnegative(),
      lastAttemptAt: z.number().nonnegative().optional(),
      lastError: z.string().optional(),
      lastErrorAt: z.number().nonnegative().optional(),
      payload: options.payload,
    }) as unknown as z.ZodType<SpoolEntry<T>>;
  }

  /**
   * Resolves once every write started so far has finished (at most `capMs`): a process about to
   * exit at its deadline calls it, so an alert being spooled at that moment is not cut off.
   */
  async idle(capMs = 1_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, capMs);
    });
    let capped = false;
    void cap.then(() => {
      capped = true;
    });
    // Writes may start more writes (a removal once the record is written): until none is left.
    while (this.#writing.size > 0 && !capped) await Promise.race([Promise.allSettled([...this.#writing]), cap]);
    clearTimeout(timer);
  }

  #track<R>(work: Promise<R>): Promise<R> {
    this.#writing.add(work);
    const done = () => this.#writing.delete(work);
    work.then(done, done);
    return work;
  }

  /** Keeps `payload` before its first attempt, which the caller makes now and finishes by leaseUntil. */
  add(payload: T, leaseUntil: number): Promise<SpoolEntry<T>> {
    return this.#track(this.#add(payload, leaseUntil));
  }

  async #add(payload: T, leaseUntil: number): Promise<SpoolEntry<T>> {
    await this.#ensureDir();
    const now = Date.now();
    const entry: SpoolEntry<T> = {
      id: `${now}-${randomHex(4)}`,
      createdAt: now,
      attempts: 1,
      leaseUntil,
      nextAttemptAt: now,
      lastAttemptAt: now,
      payload,
    };
    await writeFileAtomic(this.#path(entry.id), `${JSON.stringify(entry)}\n`);
    return entry;
  }

  /**
   * Keeps `payload` for a drainer to pick up (nobody works on it yet): a hook that only records
   * what happened and leaves the delivery to the per-host worker.
   */
  enqueue(payload: T): Promise<SpoolEntry<T>> {
    return this.#track(
      (async () => {
        await this.#ensureDir();
        const now = Date.now();
        const entry: SpoolEntry<T> = {
          id: `${now}-${randomHex(4)}`,
          createdAt: now,
          attempts: 0,
          leaseUntil: 0,
          nextAttemptAt: now,
          payload,
        };
        await writeFileAtomic(this.#path(entry.id), `${JSON.stringify(entry)}\n`);
        return entry;
      })(),
    );
  }

  /** Writes the entry as it is now (e.g. a payload recording which part was delivered). */
  save(entry: SpoolEntry<T>): Promise<void> {
    return this.#track(writeFileAtomic(this.#path(entry.id), `${JSON.stringify(entry)}\n`, { fsync: false }));
  }

  /** Delivered (or not needed after all): the entry is gone. */
  remove(entry: SpoolEntry<T>): Promise<void> {
    return this.#track(
      unlink(this.#path(entry.id)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      }),
    );
  }

  /**
   * The attempt failed: back off, or give up after maxAttempts (the entry moves to dead/ and an
   * error line says so). Returns whether it was given up on.
   */
  async fail(entry: SpoolEntry<T>, error: string): Promise<boolean> {
    const now = Date.now();
    // kept on disk and shown by `status`, which may not have resolved the secret an API echoed: redacted now
    entry.lastError = redactSecrets(error);
    entry.lastErrorAt = now;
    entry.leaseUntil = now;
    if (entry.attempts >= this.#opts.maxAttempts) {
      await this.save(entry);
      await ensurePrivateDir(join(this.dir, "dead"));
      await rename(this.#path(entry.id), join(this.dir, "dead", `${entry.id}.json`));
      this.#opts.log?.error("gave up on a spooled message", {
        spool: this.dir,
        id: entry.id,
        attempts: entry.attempts,
        error,
        kept: join(this.dir, "dead", `${entry.id}.json`),
      });
      return true;
    }
    const backoff = Math.min(this.#opts.backoffMs * 2 ** (entry.attempts - 1), this.#opts.maxBackoffMs ?? 3_600_000);
    entry.nextAttemptAt = now + backoff;
    await this.save(entry);
    return false;
  }

  /**
   * Pending entries, oldest first. An unreadable one moves to dead/ with a warning instead of
   * blocking the rest; with `readOnly` (a status look) nothing is moved or cleaned, only counted.
   */
  async list(options: { readOnly?: boolean; unreadable?: string[]; denied?: SpoolDenied[] } = {}): Promise<SpoolEntry<T>[]> {
    const names = await this.#names();
    const entries: SpoolEntry<T>[] = [];
    const owners = await this.#trustedOwners();
    for (const name of names.filter((n) => ENTRY.test(n)).sort()) {
      const path = join(this.dir, name);
      const read = await this.#read(path, owners);
      if (read === undefined) continue; // delivered meanwhile
      if (read.denied) {
        // A permission problem, not a corrupt entry: it may be a login's alert or a "No" like any other, readable once
        // its owner or mode is given back. Left where it is (moved to dead/ as corrupt, nobody would look for it there,
        // T71 N3), said with the fix on each drain, and counted apart by status.
        options.denied?.push(read.denied);
        if (!options.readOnly) {
          this.#opts.log?.warn(
            "spooled message cannot be read by this user (a permission problem, not a corrupt file): left in the spool, not sent",
            {
              file: path,
              problem: read.problem,
              fix: read.denied.fix,
            },
          );
        }
        continue;
      }
      const problem = read.problem ?? this.#check(read.text ?? "", name);
      if (typeof problem !== "string") {
        entries.push(problem);
        continue;
      }
      options.unreadable?.push(name);
      if (options.readOnly) continue;
      // Like invalid JSON: one bad entry never stops the drain of the rest.
      const kept = join(this.dir, "dead", `${name}${CORRUPT}`);
      const moved = await ensurePrivateDir(join(this.dir, "dead"))
        .then(() => rename(path, kept))
        .then(
          () => true,
          () => false,
        );
      this.#opts.log?.warn(`spooled message is unreadable; ${moved ? "moved it to dead/" : "cannot move it to dead/, skipped"}`, {
        file: path,
        problem,
        ...(moved ? { kept } : {}),
      });
    }
    // Temp files of writers killed mid-write (their pid is gone).
    for (const name of options.readOnly ? [] : names) {
      const target = TEMP.exec(name)?.[1];
      if (target) await removeOrphanedTemps(join(this.dir, target)).catch(() => {});
    }
    return entries;
  }

  /**
   * Whose entry files are trusted: this process's and the directory owner's (who can write there
   * anyway). Anyone else's file, or one others may write, could be a forged login alert.
   */
  async #trustedOwners(): Promise<Set<number> | undefined> {
    const uid = process.getuid?.();
    if (uid === undefined) return undefined;
    const owner = await lstat(this.dir).then(
      (s) => s.uid,
      () => uid,
    );
    return new Set([uid, owner]);
  }

  /**
   * An entry file's text, or the problem that keeps it from being used. Opened without following
   * a symlink and without blocking (a FIFO must not hang the drain), then checked to be a regular,
   * trusted file of sane size. Undefined when it is gone.
   */
  async #read(
    path: string,
    owners: Set<number> | undefined,
  ): Promise<{ text?: string; problem?: string; denied?: SpoolDenied } | undefined> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      const stat = await handle.stat();
      if (!stat.isFile()) return { problem: "not a regular file" };
      if (owners && !owners.has(stat.uid)) return { problem: `owned by uid ${stat.uid}, not by this spool's user` };
      if ((stat.mode & 0o022) !== 0) return { problem: `writable by group or others (mode ${(stat.mode & 0o777).toString(8)})` };
      if (stat.size > MAX_ENTRY_BYTES) return { problem: `larger than ${MAX_ENTRY_BYTES} bytes` };
      return { text: await handle.readFile("utf8") };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "ELOOP") return { problem: "a symbolic link" };
      if (code === "EACCES" || code === "EPERM") return this.#denied(path);
      return { problem: describeError(error) };
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  /**
   * An entry file this user may not open: whose it is, its mode, and the fix. The file's owner when it is this user
   * (its mode locks it out: chmod); another owner's (a hook run as root) is given to the spool directory's owner, as
   * root; an entry of the directory's owner, read by another user, is read by running as that owner.
   */
  async #denied(path: string): Promise<{ problem: string; denied: SpoolDenied } | undefined> {
    const info = await lstat(path).catch(() => undefined);
    if (!info) return undefined;
    const me = process.getuid?.();
    const dirOwner = await lstat(this.dir).then(
      (s) => s.uid,
      () => undefined,
    );
    const user = (uid: number): NamedUser => ({ uid, name: this.#opts.userName?.(uid) ?? `uid ${uid}` });
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    const shown = escapeLine(path);
    const fix =
      info.uid === me
        ? `chmod 600 ${shown}`
        : dirOwner !== undefined && info.uid !== dirOwner
          ? `give it to the spool's owner (as root): chown ${commandUser(user(dirOwner))} ${shown} && chmod 600 ${shown}`
          : `run it as ${escapeLine(user(info.uid).name)}, the spool's owner (sudo -u ${commandUser(user(info.uid))} …)`;
    const problem = `cannot be read by ${me === undefined ? "this user" : describedUser(user(me))}: it belongs to ${describedUser(user(info.uid))}, mode ${mode}`;
    return { problem, denied: { file: path, uid: info.uid, mode: info.mode & 0o777, problem, fix } };
  }

  async status(): Promise<SpoolStatus> {
    const unreadable: string[] = [];
    const denied: SpoolDenied[] = [];
    const entries = await this.list({ readOnly: true, unreadable, denied });
    const inDead = await readdir(join(this.dir, "dead")).catch(() => [] as string[]);
    const corrupt = inDead.filter((name) => name.endsWith(CORRUPT)).length;
    const dead = inDead.length - corrupt;
    const now = Date.now();
    const last = entries
      // Queued entries nobody tried yet (attempts 0) have no error to tell.
      .filter((e) => e.lastError !== undefined || (e.attempts > 0 && e.leaseUntil <= now))
      .sort((a, b) => errorAt(b) - errorAt(a))[0];
    const lastError = last && (last.lastError ?? CUT_OFF);
    return {
      pending: entries.length,
      ...(entries[0] ? { oldest: entries[0].createdAt } : {}),
      ...(lastError ? { lastError } : {}),
      ...(last?.lastAttemptAt ? { lastAttemptAt: last.lastAttemptAt } : {}),
      ...(last ? { lastErrorAt: errorAt(last) } : {}),
      dead,
      ...(unreadable.length + corrupt > 0 ? { unreadable: unreadable.length + corrupt } : {}),
      ...(denied.length > 0 ? { denied: denied.length } : {}),
    };
  }

  /**
   * Tries every entry that is due (not leased; past its backoff unless `force`), oldest first,
   * one drainer at a time: when another process is draining, returns busy at once. `deliver`
   * resolves when the message went out (it may save() progress on the way) and throws when not.
   * With `concurrency` above 1, that many entries are worked on at once.
   */
  async drain(deliver: (entry: SpoolEntry<T>) => Promise<void>, options: DrainOptions<T>): Promise<DrainResult> {
    const result: DrainResult = { busy: false, delivered: 0, failed: 0, gaveUp: 0 };
    if ((await this.#names()).every((n) => !ENTRY.test(n))) return result;
    return this.#holdingDrainLock(result, () => this.#drainLocked(deliver, options, result));
  }

  /**
   * The per-host worker: holds the drain lock (so hooks see a live worker and start none) and
   * drains again whenever entries are added or come due, until nothing was due for `idleMs`. A
   * new entry is noticed within `pollMs`. Returns busy when another process holds the lock.
   * Callers check hasDue() after it returns: an entry added while the lock was being released is
   * not left behind (its writer saw the lock still held and started no worker).
   */
  async work(deliver: (entry: SpoolEntry<T>) => Promise<void>, options: WorkOptions<T>): Promise<DrainResult> {
    const result: DrainResult = { busy: false, delivered: 0, failed: 0, gaveUp: 0 };
    return this.#holdingDrainLock(result, async () => {
      let idleSince = Date.now();
      let seen = "";
      while (!options.stop?.()) {
        const names = (await this.#names()).filter((n) => ENTRY.test(n)).join("\n");
        const before = result.delivered + result.failed;
        // Only a changed directory or a backoff running out can make something due.
        if (names !== seen || Date.now() >= this.#nextDue) {
          seen = names;
          await this.#drainLocked(deliver, options, result);
        }
        if (result.delivered + result.failed > before) idleSince = Date.now();
        else if (Date.now() - idleSince >= options.idleMs) break;
        else await new Promise((resolve) => setTimeout(resolve, options.pollMs));
      }
    });
  }

  /** Whether some entry is due now (not leased, past its backoff). */
  async hasDue(): Promise<boolean> {
    const now = Date.now();
    return (await this.list({ readOnly: true })).some((e) => e.leaseUntil <= now && e.nextAttemptAt <= now);
  }

  /** When the earliest entry seen by the last drain comes due; Infinity when none waits. */
  #nextDue = Number.POSITIVE_INFINITY;

  async #holdingDrainLock(result: DrainResult, fn: () => Promise<void>): Promise<DrainResult> {
    let locked = false;
    try {
      await withLock(
        join(this.dir, "drain"),
        () => {
          locked = true;
          return fn();
        },
        { timeoutMs: 0 },
      );
    } catch (error) {
      if (locked || !(error instanceof TempFailError)) throw error;
      result.busy = true;
    }
    return result;
  }

  async #drainLocked(deliver: (entry: SpoolEntry<T>) => Promise<void>, options: DrainOptions<T>, result: DrainResult): Promise<void> {
    const now = Date.now();
    const entries = await this.list();
    const due = entries.filter((e) => e.leaseUntil <= now && (options.force || e.nextAttemptAt <= now));
    this.#nextDue = Math.min(
      Number.POSITIVE_INFINITY,
      ...entries.filter((e) => !due.includes(e)).map((e) => Math.max(e.leaseUntil, e.nextAttemptAt)),
    );
    const ranks = new Map<number, SpoolEntry<T>[]>();
    for (const entry of due) {
      const rank = options.rank?.(entry) ?? 0;
      ranks.set(rank, [...(ranks.get(rank) ?? []), entry]);
    }
    const one = async (entry: SpoolEntry<T>) => {
      // Counted and leased before the attempt: a process killed mid-attempt still used it up.
      entry.attempts++;
      entry.lastAttemptAt = Date.now();
      entry.leaseUntil = options.leaseUntil(entry);
      // This attempt's own outcome replaces it; none at all means the attempt was cut off.
      delete entry.lastError;
      delete entry.lastErrorAt;
      await this.save(entry);
      try {
        await deliver(entry);
      } catch (error) {
        result.failed++;
        if (await this.fail(entry, describeError(error))) result.gaveUp++;
        else this.#nextDue = Math.min(this.#nextDue, entry.nextAttemptAt);
        return;
      }
      await this.remove(entry);
      result.delivered++;
    };
    for (const rank of [...ranks.keys()].sort((a, b) => b - a)) {
      const group = ranks.get(rank) ?? [];
      let next = 0;
      const lane = async () => {
        while (next < group.length && !options.stop?.()) await one(group[next++] as SpoolEntry<T>);
      };
      await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 1, group.length)) }, lane));
    }
  }

  #check(text: string, name: string): SpoolEntry<T> | string {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return `invalid JSON: ${(error as Error).message}`;
    }
    const parsed = this.#schema.safeParse(raw);
    if (!parsed.success) return formatIssues(parsed.error);
    // A file renamed by hand (or forged) must not be taken for another entry.
    return `${parsed.data.id}.json` === name ? parsed.data : `its id ${JSON.stringify(parsed.data.id)} does not match the file name`;
  }

  async #names(): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }

  #ensureDir(): Promise<void> {
    // A failure is not kept: a later add (a process retrying once space or access is back) tries again.
    this.#ready ??= ensurePrivateDir(this.dir, this.#opts.log ? { log: this.#opts.log } : {}).catch((error: unknown) => {
      this.#ready = undefined;
      throw error;
    });
    return this.#ready;
  }

  #path(id: string): string {
    return join(this.dir, `${id}.json`);
  }
}
