import { statSync, unlinkSync, utimesSync } from "node:fs";
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
    await ensurePrivateDir(this.#dir, { log: this.#log });
    // A run killed mid-write (sshd gives up on a slow login) left its temp file: gone once its pid is.
    await removeOrphanedTemps(path);
    await writeFileAtomic(path, text, { mode: 0o600 });
  }

  /** Revocation: the directory said no, so the cached keys must not outlive that answer. */
  async remove(user: string): Promise<boolean> {
    try {
      unlinkSync(this.#path(user));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw new IoError(`cannot delete cached keys ${this.#path(user)} (${(error as NodeJS.ErrnoException).code})`, {
        hint: "the cache directory must be owned by the AuthorizedKeysCommandUser",
      });
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
    const uid = process.getuid?.();
    if ((uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
      throw new PermissionError(
        `cached keys ${path} are not private to this user (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)})`,
        {
          hint: `chown the cache to the AuthorizedKeysCommandUser and chmod 600 ${path}`,
        },
      );
    }
    const { readJsonFile } = await import("@opsguard/core/state");
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
