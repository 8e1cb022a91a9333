import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { IoError, PermissionError } from "@opsguard/core/errors";
import type { Logger } from "@opsguard/core/log";
import { readRegularFileSync } from "@opsguard/core/regular-file";

/**
 * What LDAP said, before any policy: the raw key values and the allowed group that admitted the user
 * (null when allowedGroups was unset). A login during an outage applies the policy of the config it
 * runs with to these, so a group removed or a keyOptions tightened since holds for cached users too.
 */
export interface CacheEntry {
  group: string | null;
  keys: string[];
}

export interface CachedKeys extends CacheEntry {
  /** now minus the file's mtime: negative for a file from the future (see lookup's FUTURE_SKEW_MS). */
  ageMs: number;
}

/**
 * The last keys LDAP gave for each user, one private file per user, so an LDAP outage does not lock
 * everyone out. The file's mtime is when LDAP last confirmed the keys: an unchanged answer only
 * touches it, so a routine login costs no fsync. That routine path is synchronous and core's state
 * module (fs/promises and all) loads only to write or read a file, not on every login.
 */
export class KeyCache {
  readonly #dir: string;
  readonly #log: Logger;

  constructor(dir: string, log: Logger) {
    this.#dir = dir;
    this.#log = log;
  }

  /** The user name is already validated, so it is a safe file name. */
  #path(user: string): string {
    return join(this.#dir, `${user}.json`);
  }

  async store(user: string, entry: CacheEntry): Promise<void> {
    const path = this.#path(user);
    const text = `${JSON.stringify({ version: 2, user, group: entry.group, keys: entry.keys } satisfies CacheFile)}\n`;
    if (holdsPrivately(path, text)) {
      const now = new Date();
      utimesSync(path, now, now);
      return;
    }
    const { ensurePrivateDir, removeOrphanedTemps, writeFileAtomic } = await import("@opsguard/core/state");
    try {
      await ensurePrivateDir(this.#dir, { log: this.#log });
      // A run killed mid-write (sshd gives up on a slow login) left its temp file: gone once its pid is.
      await removeOrphanedTemps(path);
      await writeFileAtomic(path, text, { mode: 0o600 });
    } catch (error) {
      // A key removed in LDAP must not come back in the next outage: when the directory refuses a new
      // file (chmod 500, remounted read-only …), the old one is rewritten where it stands.
      if (!overwriteInPlace(path, text)) throw error;
      this.#log.warn(`${NOT_WRITABLE}; rewrote the user's cached keys in place`, { user, file: path, error: (error as Error).message });
    }
  }

  /**
   * Revocation: the directory said no, so the cached keys must not outlive that answer. When the file
   * cannot be deleted (the directory is not writable) it is emptied in place, which its owner may still
   * do and load() never serves; only when even that fails is the revocation lost, and an error thrown.
   */
  async remove(user: string): Promise<boolean> {
    const path = this.#path(user);
    try {
      unlinkSync(path);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return false;
      if (overwriteInPlace(path, "")) {
        this.#log.warn(`${NOT_WRITABLE}; emptied the revoked user's cached keys in place`, { user, file: path, error: code ?? "error" });
        return true;
      }
      throw new IoError(`cannot delete cached keys ${path} (${code})`, {
        hint: "the cache directory must be owned by the AuthorizedKeysCommandUser",
      });
    }
  }

  /**
   * Serving from the cache trusts that every revocation LDAP gave was recorded here. A directory this
   * user cannot write may have lost one (a file it could neither delete nor rewrite), so while it is
   * not writable nothing cached is served: fail closed, with the fix.
   */
  assertWritable(): void {
    try {
      accessSync(this.#dir, constants.W_OK | constants.X_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? "error";
      throw new PermissionError(
        `not serving cached keys: the key cache ${this.#dir} is not writable (${code}), so a revocation may have gone unrecorded`,
        {
          hint: `chown it to the AuthorizedKeysCommandUser, chmod 700 ${this.#dir} (remount it read-write), then run authkeys doctor as that user`,
        },
      );
    }
  }

  /** Cached keys if present, private and consistent; a corrupt file is moved aside and ignored. */
  async load(user: string, now = Date.now()): Promise<CachedKeys | undefined> {
    const path = this.#path(user);
    let info: ReturnType<typeof statSync>;
    try {
      info = statSync(path, { throwIfNoEntry: false });
    } catch (error) {
      throw new PermissionError(`cannot read the key cache ${this.#dir} (${(error as NodeJS.ErrnoException).code})`, {
        hint: "re-run authkeys install, then authkeys doctor as the AuthorizedKeysCommandUser",
      });
    }
    if (!info) return undefined;
    const { readJsonFile } = await import("@opsguard/core/state");
    // Before the owner and mode: a FIFO or device is no cache file whoever owns it; readJsonFile moves
    // it aside (opened without blocking) with a warning, and the lookup goes on without it.
    if (!info.isFile()) {
      await readJsonFile(path, { log: this.#log });
      return undefined;
    }
    // Emptied in place by remove(): a revocation recorded where the file could not be deleted.
    if (info.size === 0) return undefined;
    const uid = process.getuid?.();
    if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
      throw new PermissionError(
        `cached keys ${path} are not private to this user (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)})`,
        {
          hint: `chown the cache to the AuthorizedKeysCommandUser and chmod 600 ${path}`,
        },
      );
    }
    // Unparsable JSON is moved aside by readJsonFile; other contents are checked here.
    const raw = await readJsonFile(path, { log: this.#log });
    if (raw === undefined) return undefined;
    if ((raw as { version?: unknown } | null)?.version === 1) {
      // Finished key lines under the config of its day, without what re-applying today's policy needs.
      this.#log.warn("cached keys were written by an older authkeys without their group; not serving them", { file: path });
      return undefined;
    }
    const content = asCacheFile(raw);
    if (!content) {
      this.#log.warn("cached keys file is not one authkeys writes; ignoring it", { file: path });
      return undefined;
    }
    if (content.user !== user) {
      this.#log.warn("cached keys belong to another user; ignoring them", { file: path });
      return undefined;
    }
    return { group: content.group, keys: content.keys, ageMs: now - info.mtimeMs };
  }
}

const NOT_WRITABLE =
  "the key cache directory is not writable (outages serve no cached keys until it is: chmod 700, owned by the AuthorizedKeysCommandUser)";

/**
 * Replaces the contents of an existing file of this user without touching its directory: the owner of
 * a file may truncate and rewrite it where the directory is not writable. Not a symlink, not a FIFO
 * (opened without blocking); made private. A write cut short leaves a file load() does not serve.
 */
function overwriteInPlace(path: string, text: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    const info = fstatSync(fd);
    if (!info.isFile() || info.uid !== process.getuid?.()) return false;
    fchmodSync(fd, 0o600);
    ftruncateSync(fd, 0);
    const bytes = Buffer.from(text, "utf8");
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, done);
    fsyncSync(fd);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Beside the users' key files, named so that no valid user name (none starts with a dot) can collide. */
export const PRINCIPALS_CACHE_DIR = ".principals";

/**
 * Revocation, whichever command saw it: LDAP answered that the user is unknown or not allowed, so
 * nothing cached for them (keys, or the group memberships principals are made of) may be served in the
 * next outage. Both files are tried even when one cannot be deleted; the first failure is thrown then.
 */
export async function forgetUser(cacheDir: string, user: string, log: Logger): Promise<void> {
  const results = await Promise.allSettled(
    [cacheDir, join(cacheDir, PRINCIPALS_CACHE_DIR)].map((dir) => new KeyCache(dir, log).remove(user)),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

/**
 * The file holds exactly this text, readable by its owner only. Read without blocking (core's
 * regular-file): a FIFO planted as `<user>.json` would hold a plain read, and the login, for ever; it
 * is not the text, so store() replaces it with a real file.
 */
function holdsPrivately(path: string, text: string): boolean {
  try {
    if ((statSync(path).mode & 0o077) !== 0) return false;
    const read = readRegularFileSync(path, Buffer.byteLength(text));
    return "bytes" in read && read.bytes.toString("utf8") === text;
  } catch {
    return false;
  }
}

interface CacheFile {
  version: 2;
  user: string;
  group: string | null;
  keys: string[];
}

/**
 * Exactly what store() writes, no other keys. Checked by hand rather than with a zod schema: the
 * login bundle reads the cache during an outage and carries no zod (it costs every login ~8 ms).
 */
function asCacheFile(raw: unknown): CacheFile | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const { version, user, group, keys, ...rest } = raw as Record<string, unknown>;
  if (version !== 2 || typeof user !== "string" || Object.keys(rest).length > 0) return undefined;
  if (group !== null && typeof group !== "string") return undefined;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string")) return undefined;
  return { version, user, group, keys };
}
