import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { ServerHealth } from "@opsguard/core/ldap/client";
import type { Logger } from "@opsguard/core/log";

/** In the cache directory, private like the cached keys; a leading dot, so no user's cache file can have this name. */
export const SERVER_MEMORY_FILE = ".servers.json";

/** Long enough for sshd's second run of one login (query, then signature). */
const LOGIN_WINDOW_MS = 5000;

interface MemoryFile {
  version: 1;
  /** URL → until when (epoch ms) it is skipped. */
  down: Record<string, number>;
}

/**
 * Which LDAP servers failed in the last few seconds, shared by every lookup process through a small
 * file. sshd runs the command twice per login and every login is a new process: without this, each run
 * waits for a dead or blackholed server's whole timeout again. A server that failed is skipped until
 * its time is up, then probed again by the next lookup; one that answers is forgotten at once.
 */
export class ServerMemory implements ServerHealth {
  readonly #file: string;
  readonly #holdMs: number;
  readonly #now: number;
  readonly #log: Logger;
  readonly #down: Map<string, number>;
  #changed = false;

  constructor(dir: string, holdSeconds: number, log: Logger, now = Date.now()) {
    this.#file = join(dir, SERVER_MEMORY_FILE);
    this.#holdMs = holdSeconds * 1000;
    this.#now = now;
    this.#log = log;
    this.#down = new Map(Object.entries(readMemory(this.#file)));
  }

  skip(url: string): string | undefined {
    const until = this.#down.get(url);
    if (until === undefined || until <= this.#now) return undefined;
    // Never trust a time further away than one hold: a clock set back must not park a server for long.
    if (until - this.#now > this.#holdMs) return undefined;
    return `skipped: down moments ago, tried again in ${Math.ceil((until - this.#now) / 1000)} s`;
  }

  failed(url: string): void {
    this.#down.set(url, Date.now() + this.#holdMs);
    this.#changed = true;
  }

  /**
   * The deadline ran out before this server was tried. sshd runs the command again for the same login
   * a moment later, and that run must not spend a second deadline on it: the deadline is per login.
   * It is skipped only for that moment, so the next login tries it (the failed ones being skipped).
   */
  unreached(url: string): void {
    this.#down.set(url, Date.now() + Math.min(this.#holdMs, LOGIN_WINDOW_MS));
    this.#changed = true;
  }

  answered(url: string): void {
    this.#changed ||= this.#down.delete(url);
  }

  /** Writes the file if anything changed; a failure to write costs only the next lookup's wait. */
  async save(): Promise<void> {
    if (!this.#changed) return;
    this.#changed = false;
    const now = Date.now();
    const down = Object.fromEntries([...this.#down].filter(([, until]) => until > now));
    try {
      const { writeFileAtomic } = await import("@opsguard/core/state");
      await writeFileAtomic(this.#file, `${JSON.stringify({ version: 1, down } satisfies MemoryFile)}\n`, { mode: 0o600 });
    } catch (error) {
      this.#log.debug("could not remember which LDAP servers failed", { file: this.#file, error: (error as Error).message });
    }
  }
}

/** The remembered failures, or none when the file is missing, not ours alone, or not what we write. */
function readMemory(file: string): Record<string, number> {
  try {
    const info = statSync(file);
    if (info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) return {};
    const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<MemoryFile>;
    if (parsed.version !== 1 || typeof parsed.down !== "object" || parsed.down === null) return {};
    return Object.fromEntries(Object.entries(parsed.down).filter(([, until]) => typeof until === "number"));
  } catch {
    return {};
  }
}
