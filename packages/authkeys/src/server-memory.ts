import { statSync } from "node:fs";
import { join } from "node:path";
import type { ServerHealth } from "@opsguard/core/ldap/client";
import type { Logger } from "@opsguard/core/log";
import { readSmallStateFile } from "./cache-file";

/** In the cache directory, private like the cached keys; a leading dot, so no user's cache file can have this name. */
export const SERVER_MEMORY_FILE = ".servers.json";

const FORGET_AFTER_MS = 24 * 3600 * 1000;
/**
 * The connect budget of a server in doubt: enough for connect + StartTLS + bind to a server that is up
 * (a few round trips), short enough that sshd's second run of a login stays well within a second.
 */
export const SUSPECT_PROBE_MS = 300;

interface MemoryFile {
  version: 1;
  /** URL → until when (epoch ms) it is skipped. */
  down: Record<string, number>;
  /** URL → until when (epoch ms) it is in doubt: tried with SUSPECT_PROBE_MS instead of connectTimeoutMs. */
  suspect?: Record<string, number>;
}

/**
 * Which LDAP servers failed in the last few seconds, shared by every lookup process through a small
 * file. sshd runs the command twice per login and every login is a new process: without this, each run
 * waits for a dead or blackholed server's whole timeout again. A server that failed is skipped until
 * its time is up, then probed again; one that answers is forgotten at once. Only a server that failed
 * is ever skipped. One the deadline cut off before it was tried, or during an attempt shorter than a
 * probe (a healthy server left 1 ms after dead ones), is in doubt ("suspect"): the next runs
 * within the hold try it with a short connect budget (SUSPECT_PROBE_MS) instead of skipping it, so a
 * working server behind dead ones still answers sshd's second run (a revocation is seen), while a dead
 * one costs that run a fraction of a second and is then remembered as failed.
 * As SSSD's failover: a service whose connection attempt failed is considered offline and the next
 * server is used; offline services are tried again after a fixed time (30 s there, our
 * cache.deadServerSeconds) — sssd-ldap(5) FAILOVER, "The Failover Mechanism" (src/man/include/failover.xml).
 */
export class ServerMemory implements ServerHealth {
  readonly #file: string;
  readonly #holdMs: number;
  readonly #now: number;
  /** How far the clock given (a test's) is from Date.now(), so marks set later use the same clock. */
  readonly #offset: number;
  readonly #log: Logger;
  readonly #down: Map<string, number>;
  readonly #suspect: Map<string, number>;
  /** The one server whose mark ran out that this lookup probes again; see skip(). */
  #probing: string | undefined;
  #changed = false;

  constructor(dir: string, holdSeconds: number, log: Logger, now = Date.now()) {
    this.#file = join(dir, SERVER_MEMORY_FILE);
    this.#holdMs = holdSeconds * 1000;
    this.#now = now;
    this.#offset = now - Date.now();
    this.#log = log;
    const remembered = readMemory(this.#file, log);
    this.#down = new Map(Object.entries(remembered.down));
    this.#suspect = new Map(Object.entries(remembered.suspect ?? {}));
  }

  skip(url: string): string | undefined {
    const until = this.#down.get(url);
    // Never trust a time further away than one hold: a clock set back must not park a server for long.
    if (until === undefined || until - this.#now > this.#holdMs) return undefined;
    if (until > this.#now) return `skipped: failed moments ago, tried again in ${Math.ceil((until - this.#now) / 1000)} s`;
    // Its mark ran out. Dead servers' marks run out together, so one lookup probing all of them would
    // wait for each again: a lookup probes one, the others wait for the next lookups, one each.
    if (this.#probing === undefined || this.#probing === url) {
      this.#probing = url;
      return undefined;
    }
    return `skipped: failed before; this lookup probes ${this.#probing} again, the next lookup this one`;
  }

  probeMs(url: string): number | undefined {
    const until = this.#suspect.get(url);
    // Like skip(): a mark further ahead than one hold (a clock set back) is not trusted.
    if (until === undefined || until <= this.#now || until - this.#now > this.#holdMs) return undefined;
    return SUSPECT_PROBE_MS;
  }

  untried(url: string, triedMs = 0): void {
    // Cut off after at least a probe's budget: it had the chance a probe would give it, and failed.
    if (triedMs >= SUSPECT_PROBE_MS) {
      this.failed(url);
      return;
    }
    // A server remembered as failed keeps that mark (its probe turn comes as usual).
    if (this.#down.has(url)) return;
    this.#suspect.set(url, Date.now() + this.#offset + this.#holdMs);
    this.#changed = true;
  }

  failed(url: string): void {
    this.#down.set(url, Date.now() + this.#offset + this.#holdMs);
    this.#suspect.delete(url);
    this.#changed = true;
  }

  answered(url: string): void {
    const wasDown = this.#down.delete(url);
    const wasSuspect = this.#suspect.delete(url);
    this.#changed ||= wasDown || wasSuspect;
  }

  /** Writes the file if anything changed; a failure to write costs only the next lookup's wait. */
  async save(): Promise<void> {
    if (!this.#changed) return;
    this.#changed = false;
    // A mark that ran out is kept (until the server answers), so the probes stay one per lookup even
    // after a quiet hour; only one a day old is dropped, e.g. a server no longer in the config.
    const keepAfter = Date.now() + this.#offset - FORGET_AFTER_MS;
    const down = Object.fromEntries([...this.#down].filter(([, until]) => until > keepAfter));
    // A doubt is only worth its hold: once over, the server gets its full connect budget again.
    const now = Date.now() + this.#offset;
    const suspect = Object.fromEntries([...this.#suspect].filter(([, until]) => until > now));
    try {
      const { writeFileAtomic } = await import("@opsguard/core/state");
      await writeFileAtomic(this.#file, `${JSON.stringify({ version: 1, down, suspect } satisfies MemoryFile)}\n`, { mode: 0o600 });
    } catch (error) {
      this.#log.debug("could not remember which LDAP servers failed", { file: this.#file, error: (error as Error).message });
    }
  }
}

/** The remembered marks, or none when the file is missing, not ours alone, or not what we write. */
function readMemory(file: string, log: Logger): Pick<MemoryFile, "down" | "suspect"> {
  const none = { down: {}, suspect: {} };
  try {
    const info = statSync(file);
    if (info.uid !== process.getuid?.() || (info.mode & 0o022) !== 0) return none;
    const text = readSmallStateFile(file, log);
    if (text === undefined) return none;
    const parsed = JSON.parse(text) as Partial<MemoryFile>;
    if (parsed.version !== 1 || typeof parsed.down !== "object" || parsed.down === null) return none;
    return { down: times(parsed.down), suspect: times(parsed.suspect) };
  } catch {
    return none;
  }
}

function times(marks: unknown): Record<string, number> {
  if (typeof marks !== "object" || marks === null) return {};
  return Object.fromEntries(Object.entries(marks).filter(([, until]) => typeof until === "number"));
}
