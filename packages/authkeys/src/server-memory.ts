import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { ServerHealth } from "@opsguard/core/ldap/client";
import type { Logger } from "@opsguard/core/log";
import { readSmallStateFile } from "./cache-file";
import type { AuthkeysConfig } from "./config";

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
  /** connectionKey() of the config that made the marks: a mark is about these settings, not the URL alone. */
  settings?: string;
  /** URL → why it failed (a TLS error, refused …), said again while it is skipped. */
  reasons?: Record<string, string>;
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
 * probe, one given up because another answered first, or one that timed out while this process was
 * stalled, is in doubt ("suspect"): the next runs within the hold try it in its place in ldap.urls with
 * a short connect budget (SUSPECT_PROBE_MS) instead of skipping it, so a working server still answers
 * sshd's second run (a revocation is seen, and a hiccup of the primary does not hand the logins to the
 * next server for the hold), while a dead one costs that run a fraction of a second and is then
 * remembered as failed. When every server is skipped, the client still probes the first with
 * lastResortProbeMs (SUSPECT_PROBE_MS).
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
  readonly #reasons: Map<string, string>;
  readonly #settings: string;
  /** The one server whose mark ran out that this lookup probes again; see skip(). */
  #probing: string | undefined;
  #changed = false;
  /** A freeze of the only server shorter than the hold must not mean a hold's worth of refusals. */
  readonly lastResortProbeMs = SUSPECT_PROBE_MS;

  /** settings: connectionKey() of the config in force; marks made under other settings are forgotten. */
  constructor(dir: string, holdSeconds: number, log: Logger, now = Date.now(), settings = "") {
    this.#file = join(dir, SERVER_MEMORY_FILE);
    this.#holdMs = holdSeconds * 1000;
    this.#now = now;
    this.#offset = now - Date.now();
    this.#log = log;
    this.#settings = settings;
    const remembered = readMemory(this.#file, log);
    // A server that failed under other settings (a wrong ldap.caFile, since fixed) may answer now: the
    // fix must take effect at the next login, not when the old mark runs out.
    const same = remembered.settings === settings;
    if (!same && Object.keys(remembered.down).length + Object.keys(remembered.suspect ?? {}).length > 0) {
      log.debug("the LDAP connection settings changed since servers were marked failed; forgetting the marks");
      this.#changed = true;
    }
    this.#down = new Map(same ? Object.entries(remembered.down) : []);
    this.#suspect = new Map(same ? Object.entries(remembered.suspect ?? {}) : []);
    this.#reasons = new Map(same ? Object.entries(remembered.reasons ?? {}) : []);
  }

  skip(url: string): string | undefined {
    const until = this.#down.get(url);
    // Never trust a time further away than one hold: a clock set back must not park a server for long.
    if (until === undefined || until - this.#now > this.#holdMs) return undefined;
    if (until > this.#now) {
      const reason = this.#reasons.get(url);
      return `skipped: failed moments ago${reason ? ` (${reason})` : ""}, tried again in ${Math.ceil((until - this.#now) / 1000)} s`;
    }
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
    // A server remembered as failed keeps that mark. If this was its probe (the mark had run out), the
    // probe got no answer in the time it had (another server answered first, or the deadline came):
    // the mark is renewed, so the next lookups probe the others' turn, not this one again.
    const down = this.#down.get(url);
    if (down !== undefined) {
      if (down <= this.#now) this.failed(url, this.#reasons.get(url));
      return;
    }
    this.#suspect.set(url, Date.now() + this.#offset + this.#holdMs);
    this.#changed = true;
  }

  failed(url: string, reason?: string): void {
    this.#down.set(url, Date.now() + this.#offset + this.#holdMs);
    if (reason) this.#reasons.set(url, reason.slice(0, 300));
    else this.#reasons.delete(url);
    this.#suspect.delete(url);
    this.#changed = true;
  }

  answered(url: string): void {
    this.#reasons.delete(url);
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
      const { ensurePrivateDir, removeOrphanedTemps, writeFileAtomic } = await import("@opsguard/core/state");
      // The first lookup on a host may find no cache directory yet (the key cache makes it only once
      // LDAP answered): an outage then is when the marks matter most.
      await ensurePrivateDir(dirname(this.#file), { log: this.#log });
      // A run killed mid-write (sshd gives up on a slow login) left its temp file: gone once its pid is.
      await removeOrphanedTemps(this.#file);
      const reasons = Object.fromEntries([...this.#reasons].filter(([url]) => url in down));
      const content: MemoryFile = { version: 1, settings: this.#settings, down, suspect, reasons };
      await writeFileAtomic(this.#file, `${JSON.stringify(content)}\n`, { mode: 0o600 });
    } catch (error) {
      this.#log.debug("could not remember which LDAP servers failed", { file: this.#file, error: (error as Error).message });
    }
  }
}

/**
 * The remembered marks, or none when the file is missing, not ours alone (owner: this process's user,
 * or `owner` for doctor, which may run as root), or not what we write.
 */
export function readMemory(
  file: string,
  log: Logger,
  owner = process.getuid?.(),
): Pick<MemoryFile, "down" | "suspect" | "settings" | "reasons"> {
  const none = { down: {}, suspect: {} };
  try {
    const info = statSync(file);
    if (info.uid !== owner || (info.mode & 0o022) !== 0) return none;
    const text = readSmallStateFile(file, log);
    if (text === undefined) return none;
    const parsed = JSON.parse(text) as Partial<MemoryFile>;
    if (parsed.version !== 1 || typeof parsed.down !== "object" || parsed.down === null) return none;
    const reasons = typeof parsed.reasons === "object" && parsed.reasons !== null ? parsed.reasons : {};
    return {
      down: times(parsed.down),
      suspect: times(parsed.suspect),
      settings: typeof parsed.settings === "string" ? parsed.settings : "",
      reasons: Object.fromEntries(Object.entries(reasons).filter(([, reason]) => typeof reason === "string")),
    };
  } catch {
    return none;
  }
}

function times(marks: unknown): Record<string, number> {
  if (typeof marks !== "object" || marks === null) return {};
  return Object.fromEntries(Object.entries(marks).filter(([, until]) => typeof until === "number"));
}

/**
 * What a failure mark is about, besides its URL (marks are kept per URL, so adding or removing a server
 * changes nothing): every setting that decides whether connecting can work (TLS, the CA file as it is
 * now, the bind, the connect budget), never the password itself, only where it comes from.
 */
export function connectionKey(ldap: AuthkeysConfig["ldap"]): string {
  const ca = ldap.caFile ? statSync(ldap.caFile, { throwIfNoEntry: false }) : undefined;
  const settings = [
    ldap.startTls,
    ldap.tlsInsecure,
    ldap.caFile,
    ca ? [ca.size, ca.mtimeMs, ca.ino] : null,
    ldap.bindDn,
    typeof ldap.bindPassword === "string" ? ldap.bindPassword : null,
    ldap.connectTimeoutMs,
  ];
  return createHash("sha256").update(JSON.stringify(settings)).digest("hex").slice(0, 16);
}
