import type { Socket } from "node:net";
import { type Client, ResultCodeError } from "ldapts";
import type { OpsguardError } from "../errors";
import type { Logger } from "../log";
import { STALL_MS, TimeoutSignal } from "./attempt-timing";
import { LdapAuthError, LdapTimeoutError, LdapUnavailableError, resultCodeText } from "./errors";

/**
 * Lets a process that lives for one request (sshd's AuthorizedKeysCommand) skip a server that failed
 * moments ago in an earlier process, instead of waiting for it again, as SSSD's offline mode does.
 */
export interface ServerHealth {
  /** Why to skip this server now, or undefined to try it. */
  skip(url: string): string | undefined;
  /** A shorter connect budget for a server in doubt (see untried), or undefined for connectTimeoutMs. */
  probeMs?(url: string): number | undefined;
  /**
   * In doubt, neither dead nor alive: the deadline ran out before this server could be tried, or (triedMs
   * given) cut its connect attempt short after triedMs, before its own connect budget was spent; or
   * (triedMs undefined) its attempt was given up because another server answered first, or it timed out
   * while this process was stalled (its timer fired late, or it waited for a CPU), so it never had its
   * full time with a responsive process.
   */
  untried?(url: string, triedMs?: number): void;
  /**
   * The connect budget of the one server (the first in urls) still probed when every server is skipped:
   * a freeze of the only server shorter than the hold must not mean a hold's worth of refusals.
   * Undefined: when every server is skipped, none is tried.
   */
  readonly lastResortProbeMs?: number;
  /** reason: why, said again while the server is skipped (a TLS error must not read as a dead server). */
  failed(url: string, reason?: string): void;
  answered(url: string): void;
}

interface Attempt {
  url: string;
  reason: string;
  timedOut: boolean;
  untrusted?: boolean;
  /** Why it timed out was not the server's fault alone: this process stalled, or the deadline cut it short. */
  notTheServer?: "stalled" | "deadline";
}

/** A connect attempt under way. Its sockets are its own until it wins: giving it up destroys only them. */
export interface Pending {
  url: string;
  startedAt: number;
  result: Promise<Connection>;
  /** Destroys its sockets now, and any it would open later: it then fails, unheard. */
  abandon(): void;
}

export interface Connection {
  client: Client;
  sockets: Set<Socket>;
  /** Rejects when a socket of this connection closes unexpectedly. */
  lost: Promise<never>;
}

/**
 * How long a connect attempt has alone before the next server is tried alongside it (Happy Eyeballs,
 * RFC 8305 §5: "Connection Attempt Delay", whose recommended minimum is 100 ms). A server that is up
 * answers connect + TLS + bind well within it, so in normal operation one connection is ever opened;
 * when servers are blackholed, their waits overlap instead of adding up. Why it matters for sshd: it
 * pads every userauth request that has not yet succeeded up to the next power of two times a per-user
 * delay of 5-9.2 ms (auth2.c ensure_minimum_time_since), so a run of the command that waits T seconds
 * costs a login up to 2T, and only short waits keep an outage's login predictable.
 */
export const STAGGER_MS = 100;

const TLS_CODES = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ERR_SSL|ERR_TLS/;
const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed",
};

/** ldapts' own errors without a code, by how their message starts: said plainly in messages and marks. */
const MESSAGE_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/^Connection closed before message response was received/, "the server closed the connection"],
];

/** One server's turn: its place in ldap.urls (a URL may be listed twice), why it is skipped, its probe budget. */
interface Step {
  url: string;
  index: number;
  skipped: string | undefined;
  probeMs: number | undefined;
}

export interface FailoverOptions {
  urls: readonly string[];
  health: ServerHealth | undefined;
  connectTimeoutMs: number;
  /** The configured overall deadline, for messages. */
  deadlineMs: number;
  /** When the client's overall deadline started (now, on its first connect) and when it ends. */
  firstAt: number;
  deadlineAt: number;
  log: Logger;
  /** Starts connect + TLS + bind to one server within budget. */
  attempt(url: string, budget: number): Pending;
  /** The winner's connection, handed over in the turn it won (before anything else can run). */
  adopt(url: string, connection: Connection): void;
}

/**
 * One failover: servers in order, each started STAGGER_MS after the one before (sooner when the deadline is
 * too short for that) or at once when that one failed; the first to finish connect + TLS + bind wins and the
 * others are given up. A server in doubt keeps its place, with its short probe budget: a hiccup of the
 * primary must not send every lookup to a (maybe stale) replica listed after it for the whole hold.
 * Every attempt gets its own connect budget, cut to the overall deadline.
 */
export class Failover {
  readonly #o: FailoverOptions;
  readonly #plan: Step[];
  readonly #staggerMs: number;
  /** Indexed like ldap.urls, so the error lists them in the configured order. */
  readonly #attempts: (Attempt | undefined)[];
  readonly #running = new Map<Pending, Step>();
  /** Servers that rejected the bind: marked only once another server answered (see #won). */
  readonly #rejected: { url: string; reason: string }[] = [];
  #authError: LdapAuthError | undefined;
  #next = 0;
  #startedAny = false;
  #stagger: NodeJS.Timeout | undefined;
  #done = false;
  #resolve: (client: Client) => void = () => {};
  #reject: (error: unknown) => void = () => {};

  constructor(options: FailoverOptions) {
    this.#o = options;
    const { health } = options;
    this.#plan = options.urls.map((url, index) => ({ url, index, skipped: health?.skip(url), probeMs: health?.probeMs?.(url) }));
    const lastResort = this.#plan[0];
    if (lastResort && health?.lastResortProbeMs !== undefined && this.#plan.every((p) => p.skipped)) {
      // Every server failed moments ago: the first is probed anyway, briefly, rather than refusing at once.
      lastResort.skipped = undefined;
      lastResort.probeMs = health.lastResortProbeMs;
    }
    // Every server to try starts before the deadline, however short it is and however many there are.
    const toTry = Math.max(1, this.#plan.filter((p) => !p.skipped).length);
    this.#staggerMs = Math.min(STAGGER_MS, (options.deadlineAt - options.firstAt) / toTry);
    this.#attempts = this.#plan.map(() => undefined);
  }

  /** The winner's client, or the reason no server answered. */
  run(): Promise<Client> {
    return new Promise<Client>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
      this.#startNext();
    });
  }

  /** Gives up every attempt under way and starts no other (the client was closed). */
  abort(): void {
    if (this.#done) return;
    this.#giveUpOthers(undefined);
    this.#finish(() => this.#reject(new LdapUnavailableError("the LDAP client was closed while connecting")));
  }

  #finish(settle: () => void): void {
    this.#done = true;
    clearTimeout(this.#stagger);
    settle();
  }

  #giveUpOthers(winner: Pending | undefined, winnerUrl?: string): void {
    for (const [pending, step] of this.#running) {
      if (pending === winner) continue;
      pending.abandon();
      if (winnerUrl === undefined) continue;
      const ms = Date.now() - pending.startedAt;
      this.#attempts[step.index] = { url: step.url, reason: `no answer after ${ms} ms, when ${winnerUrl} answered`, timedOut: true };
      // Slower than another, not failed: in doubt, so the next lookups try the others first.
      this.#o.health?.untried?.(step.url);
    }
    this.#running.clear();
  }

  #startNext(): void {
    const { health } = this.#o;
    clearTimeout(this.#stagger);
    while (!this.#done && this.#next < this.#plan.length) {
      const step = this.#plan[this.#next++] as Step;
      if (step.skipped) {
        // A skip that repeats describeFailure's TLS reason keeps its hint (ldap.caFile, not ldap.urls).
        this.#attempts[step.index] = {
          url: step.url,
          reason: step.skipped,
          timedOut: false,
          untrusted: step.skipped.includes(UNTRUSTED_REASON),
        };
        continue;
      }
      const own = Math.min(step.probeMs ?? this.#o.connectTimeoutMs, this.#o.connectTimeoutMs);
      // The first attempt reads the clock the deadline started from: it gets its whole budget, not a
      // millisecond less that would read as "cut short by the deadline".
      const left = Math.max(0, this.#o.deadlineAt - (this.#startedAny ? Date.now() : this.#o.firstAt));
      this.#startedAny = true;
      const budget = Math.min(own, left);
      if (budget <= 0) {
        this.#attempts[step.index] = { url: step.url, reason: "not tried: deadline reached", timedOut: true, notTheServer: "deadline" };
        health?.untried?.(step.url);
        continue;
      }
      this.#o.log.debug("LDAP trying server", { url: step.url, budgetMs: budget });
      const pending = this.#o.attempt(step.url, budget);
      this.#running.set(pending, step);
      pending.result.then(
        (connection) => this.#won(pending, connection),
        (error: unknown) => this.#lost(pending, step.index, error, budget, left < own),
      );
      this.#stagger = setTimeout(() => this.#startNext(), this.#staggerMs);
      return;
    }
    if (!this.#done && this.#running.size === 0) {
      // A rejected bind is a configuration problem (78, the cache served), not an outage: it is said
      // rather than a slower server's timeout, as before the failover went on past it.
      const error =
        this.#authError ??
        failoverError(
          this.#attempts.filter((a) => a !== undefined),
          this.#o.deadlineMs,
        );
      this.#finish(() => this.#reject(error));
    }
  }

  #won(pending: Pending, connection: Connection): void {
    // Two handshakes may finish in the same loop turn: the later one was already given up.
    if (this.#done) {
      pending.abandon();
      return;
    }
    const { health } = this.#o;
    this.#running.delete(pending);
    this.#giveUpOthers(pending, pending.url);
    this.#o.adopt(pending.url, connection);
    health?.answered(pending.url);
    // Skipped for a while, so the next lookups do not send it a password it rejects (a lockout policy
    // counts each). When no server answers, it is left unmarked: the next lookup says 78 again.
    for (const r of this.#rejected) health?.failed(r.url, r.reason);
    const others = this.#attempts.filter((a) => a !== undefined);
    if (others.length > 0)
      this.#o.log.warn(`LDAP failover: using ${pending.url}`, { failed: others.map((a) => `${a.url} (${a.reason})`).join(", ") });
    this.#finish(() => this.#resolve(connection.client));
  }

  #lost(pending: Pending, index: number, error: unknown, budget: number, cutByDeadline: boolean): void {
    if (this.#done) return;
    const { health } = this.#o;
    this.#running.delete(pending);
    const { url } = pending;
    if (error instanceof LdapAuthError) {
      // One server rejecting the bind (its password rotated ahead of the others, or a replica that
      // refuses clear binds) ends only its own attempt: another server may still accept it (T-ak17b 2).
      // Its outcome is the failover's only when no server answers (see #startNext).
      const reason = /unencrypted/.test(error.message) ? "refuses to bind without TLS" : "bind rejected: invalid credentials";
      this.#attempts[index] = { url, reason, timedOut: false };
      this.#rejected.push({ url, reason });
      this.#authError ??= error;
      this.#o.log.debug("LDAP server rejected the bind", { url, reason });
      this.#startNext();
      return;
    }
    const attempt = describeFailure(url, error, budget);
    const stallMs = error instanceof TimeoutSignal ? error.stallMs : 0;
    if (attempt.timedOut && stallMs > Math.max(STALL_MS, budget / 4)) {
      // Its timer fired late or this process waited for a CPU: the server never had its full time.
      this.#attempts[index] = {
        ...attempt,
        reason: `${attempt.reason} (this process stalled ${Math.round(stallMs)} ms: in doubt)`,
        notTheServer: "stalled",
      };
      if (health?.untried) health.untried(url);
    } else if (attempt.timedOut && cutByDeadline) {
      // The overall deadline, not the server, ended the attempt (a healthy server left 1 ms after
      // dead ones before it): in doubt, so the next lookup gives it a short probe instead of skipping it.
      this.#attempts[index] = { ...attempt, reason: `${attempt.reason} (cut off by the deadline)`, notTheServer: "deadline" };
      if (health?.untried) health.untried(url, budget);
      else health?.failed(url);
    } else {
      this.#attempts[index] = attempt;
      health?.failed(url, attempt.reason);
    }
    this.#o.log.debug("LDAP server failed", { url, reason: attempt.reason });
    // As RFC 8305 §5: a failed attempt starts the next one at once.
    this.#startNext();
  }
}

const UNTRUSTED_REASON = "TLS certificate not trusted";

function describeFailure(url: string, error: unknown, budget: number): Attempt {
  if (error instanceof TimeoutSignal || (error instanceof Error && /Connection timeout/.test(error.message))) {
    return { url, reason: `no answer within ${budget} ms`, timedOut: true };
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && TLS_CODES.test(code)) {
    return { url, reason: `${UNTRUSTED_REASON} (${code})`, timedOut: false, untrusted: true };
  }
  if (typeof code === "string" && code in NETWORK_REASONS) return { url, reason: NETWORK_REASONS[code] ?? code, timedOut: false };
  if (error instanceof ResultCodeError) return { url, reason: `server error (${resultCodeText(error.code)})`, timedOut: false };
  const message = (error instanceof Error ? error.message.split("\n")[0] : String(error)) ?? "unknown error";
  return { url, reason: MESSAGE_REASONS.find(([pattern]) => pattern.test(message))?.[1] ?? message, timedOut: false };
}

function failoverError(attempts: Attempt[], deadlineMs: number): OpsguardError {
  const detail = attempts.map((a) => `${a.url}: ${a.reason}`).join("; ");
  if (attempts.every((a) => a.timedOut)) {
    // Say what happened: a starved process or a short deadline is not a server that does not respond (T-ak17b 6).
    const hint = attempts.some((a) => a.notTheServer === "stalled")
      ? "this process could not run for part of the wait (a CPU-starved host), so the servers may be fine: retry"
      : attempts.some((a) => a.notTheServer === "deadline")
        ? `the overall deadline of ${deadlineMs} ms ran out before every server had its connect timeout: raise ldap.deadlineMs`
        : `no server completed connect + TLS + bind within its connect timeout (blackholed, frozen or overloaded); deadline ${deadlineMs} ms`;
    return new LdapTimeoutError(`no LDAP server answered in time (${detail})`, { hint });
  }
  if (attempts.every((a) => a.untrusted)) {
    return new LdapUnavailableError(`no LDAP server has a certificate we trust (${detail})`, {
      hint: "point ldap.caFile at the CA that signed the servers' certificates and check the URLs' host names",
    });
  }
  if (attempts.every((a) => a.reason.startsWith(STARTTLS_REFUSED))) {
    return new LdapUnavailableError(`no LDAP server reachable (${detail})`, {
      hint: "the servers are up but offer no StartTLS: use ldaps:// URLs, or have TLS enabled on them (OpenLDAP: olcTLSCertificateFile)",
    });
  }
  return new LdapUnavailableError(`no LDAP server reachable (${detail})`, { hint: "check ldap.urls and that a server is up" });
}

/** How client.ts's handshake words a StartTLS the server answered with an error. */
export const STARTTLS_REFUSED = "refused StartTLS";
