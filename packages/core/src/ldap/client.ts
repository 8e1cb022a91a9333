import { isIP, connect as netConnect, type Socket } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { Attribute, Change, Client, ResultCodeError } from "ldapts";
import { ConfigError, OpsguardError } from "../errors";
import { Logger } from "../log";
import { describeRefusal, readRegularFileSync } from "../regular-file";
import type { Secret } from "../secret";
import { STALL_MS, StallWatch, TimeoutSignal, withTimeout } from "./attempt-timing";
import { LdapEntry } from "./entry";
import {
  LdapAuthError,
  LdapNotFoundError,
  LdapOperationError,
  LdapPermissionError,
  LdapTimeoutError,
  LdapTooManyError,
  LdapUnavailableError,
} from "./errors";
import { parseFilter } from "./filter";
import { hasUserinfo } from "./url";

export interface LdapClientOptions {
  /** Tried in order on every (re)connect; the first that completes connect + TLS + bind wins. */
  urls: readonly string[];
  startTls?: boolean;
  caFile?: string | undefined;
  /** PEM text of trusted CA certificates; an alternative to caFile. */
  ca?: string | undefined;
  tlsInsecure?: boolean;
  allowPlaintext?: boolean;
  bindDn?: string | undefined;
  bindPassword?: Secret | undefined;
  connectTimeoutMs?: number;
  timeoutMs?: number;
  deadlineMs?: number;
  pageSize?: number;
  log?: Logger | undefined;
  /** Memory of servers that failed recently (a short-lived caller keeps it in a file): those are skipped. */
  health?: ServerHealth | undefined;
}

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

export interface LdapSearchOptions {
  /** An RFC 4515 filter; build it with ldapFilter`` or a compiled filter template. Default (objectClass=*). */
  filter?: string;
  scope?: "base" | "one" | "sub";
  attributes?: readonly string[];
  /** Entries per page; 0 turns paging off. Defaults to the client's pageSize. */
  pageSize?: number;
  /** More matching entries than this is an LdapTooManyError rather than a silently cut list. */
  sizeLimit?: number;
}

export type LdapChange = { operation: "add" | "delete" | "replace"; attribute: string; values: readonly string[] };

interface Attempt {
  url: string;
  reason: string;
  timedOut: boolean;
  untrusted?: boolean;
  /** Why it timed out was not the server's fault alone: this process stalled, or the deadline cut it short. */
  notTheServer?: "stalled" | "deadline";
}

/** A connect attempt under way. Its sockets are its own until it wins: giving it up destroys only them. */
interface Pending {
  url: string;
  startedAt: number;
  result: Promise<Connection>;
  /** Destroys its sockets now, and any it would open later: it then fails, unheard. */
  abandon(): void;
}

interface Connection {
  client: Client;
  sockets: Set<Socket>;
  /** Rejects when a socket of this connection closes unexpectedly. */
  lost: Promise<never>;
}

const DEFAULTS = { connectTimeoutMs: 3000, timeoutMs: 5000, deadlineMs: 10_000, pageSize: 500 };
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

/**
 * An LDAP connection with failover across servers, verified TLS, bounded waits and typed errors.
 * The deadline starts at the first connection attempt and bounds every later step, so a caller
 * such as sshd's AuthorizedKeysCommand knows the longest it can wait. Always close() it (or use
 * withLdap), so no socket keeps the process alive.
 */
export class LdapClient {
  readonly #opts: Required<Pick<LdapClientOptions, "connectTimeoutMs" | "timeoutMs" | "deadlineMs" | "pageSize">> & LdapClientOptions;
  readonly #log: Logger;
  readonly #ca: string | undefined;
  /** The current connection's sockets. */
  #sockets = new Set<Socket>();
  /** Connect attempts under way (several during a failover); close() gives them up. */
  readonly #pending = new Set<Pending>();
  /** Ends the failover under way, so close() during it starts no further server. */
  #abortFailover: (() => void) | undefined;
  #client: Client | undefined;
  /** Settles when a socket of the current connection closes; ldapts misses this after StartTLS. */
  #lost: Promise<never> | undefined;
  #isLost = false;
  #url: string | undefined;
  #deadlineAt: number | undefined;
  /** One failover loop at a time, however many operations start together. */
  #connecting: Promise<Client> | undefined;

  constructor(options: LdapClientOptions) {
    this.#opts = { ...DEFAULTS, ...stripUndefined(options) };
    this.#log = options.log ?? new Logger({ tool: "ldap" });
    if (options.urls.length === 0) throw new ConfigError("no LDAP server URL configured", { hint: "list at least one in ldap.urls" });
    // A DN with an empty password is an "unauthenticated bind" that many servers accept as anonymous: fail closed.
    if (options.bindDn !== undefined && !options.bindPassword?.reveal()) {
      throw new ConfigError(`ldap.bindDn is set to "${options.bindDn}" but no password was given`, { hint: "set ldap.bindPassword" });
    }
    for (const url of options.urls) checkUrl(url, this.#opts);
    this.#ca = options.ca ?? (options.caFile ? readCaFile(options.caFile) : undefined);
  }

  /** The server currently connected to, if any. */
  get url(): string | undefined {
    return this.#url;
  }

  /** Milliseconds left before the overall deadline (the full deadline before the first connect). */
  remainingMs(): number {
    return this.#deadlineAt === undefined ? this.#opts.deadlineMs : Math.max(0, this.#deadlineAt - Date.now());
  }

  /**
   * Starts a fresh overall deadline from now, for a long-running caller between phases (deputize
   * reads, talks to other services, then writes); a short-lived tool never needs it.
   */
  restartDeadline(): void {
    this.#deadlineAt = Date.now() + this.#opts.deadlineMs;
  }

  /** Connects (with failover) if not connected; operations call this themselves. */
  async connect(): Promise<void> {
    await this.#connected();
  }

  async search(base: string, options: LdapSearchOptions = {}): Promise<LdapEntry[]> {
    const entries: LdapEntry[] = [];
    for await (const page of this.searchPages(base, options)) entries.push(...page);
    return entries;
  }

  /** Pages as they arrive (each bounded by the operation timeout), for large result sets. */
  async *searchPages(base: string, options: LdapSearchOptions = {}): AsyncGenerator<LdapEntry[]> {
    const filter = parseFilter(options.filter ?? "(objectClass=*)");
    const pageSize = options.pageSize ?? this.#opts.pageSize;
    const client = await this.#connected();
    const what = `search under "${base}"`;
    const request = {
      filter,
      scope: options.scope ?? "sub",
      attributes: options.attributes ? [...options.attributes] : [],
      ...(options.sizeLimit === undefined ? {} : { sizeLimit: options.sizeLimit + 1 }),
    } as const;
    let total = 0;
    const count = (page: LdapEntry[]): LdapEntry[] => {
      total += page.length;
      if (options.sizeLimit !== undefined && total > options.sizeLimit) {
        throw new LdapTooManyError(`${what} matched more than ${options.sizeLimit} entries`, { hint: "narrow the filter or the base DN" });
      }
      return page;
    };
    if (pageSize === 0) {
      const result = await this.#op(what, () => client.search(base, request));
      yield count(result.searchEntries.map((e) => LdapEntry.fromLdapts(e)));
      return;
    }
    const pages = client.searchPaginated(base, { ...request, paged: { pageSize } });
    try {
      while (true) {
        const next = await this.#op(what, () => pages.next());
        if (next.done) return;
        yield count(next.value.searchEntries.map((e) => LdapEntry.fromLdapts(e)));
      }
    } finally {
      void pages.return(undefined).catch(() => {});
    }
  }

  /** The single entry matching; undefined when none; LdapTooManyError when several do. */
  async searchOne(base: string, options: Omit<LdapSearchOptions, "sizeLimit" | "pageSize"> = {}): Promise<LdapEntry | undefined> {
    const entries = await this.search(base, { ...options, sizeLimit: 1, pageSize: 0 });
    return entries[0];
  }

  /** Reads one entry by DN; undefined when it does not exist. */
  async read(dn: string, attributes?: readonly string[]): Promise<LdapEntry | undefined> {
    try {
      return await this.searchOne(dn, { scope: "base", ...(attributes ? { attributes } : {}) });
    } catch (error) {
      if (error instanceof LdapNotFoundError) return undefined;
      throw error;
    }
  }

  /** One modify request: all changes apply atomically or none do (RFC 4511 §4.6). */
  async modify(dn: string, changes: readonly LdapChange[]): Promise<void> {
    const client = await this.#connected();
    const request = changes.map(
      (c) => new Change({ operation: c.operation, modification: new Attribute({ type: c.attribute, values: [...c.values] }) }),
    );
    await this.#op(`modify "${dn}"`, () => client.modify(dn, request));
  }

  async add(dn: string, attributes: Readonly<Record<string, string | readonly string[]>>): Promise<void> {
    const client = await this.#connected();
    const attrs = Object.entries(attributes).map(([type, v]) => new Attribute({ type, values: typeof v === "string" ? [v] : [...v] }));
    await this.#op(`add "${dn}"`, () => client.add(dn, attrs));
  }

  async delete(dn: string): Promise<void> {
    const client = await this.#connected();
    await this.#op(`delete "${dn}"`, () => client.del(dn));
  }

  /** Unbinds and closes every socket; safe to call more than once. */
  async close(): Promise<void> {
    const client = this.#client;
    // Unbinding a connection whose socket already closed would wait for nothing (or let ldapts reconnect in clear).
    const lost = this.#isLost;
    this.#forget();
    this.#abortFailover?.();
    for (const pending of this.#pending) pending.abandon();
    if (client?.isConnected && !lost) {
      await withTimeout(client.unbind(), 1000, () => {}).catch(() => {});
    }
    this.#destroySockets();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #connected(): Promise<Client> {
    // ldapts silently reconnects a dropped socket without TLS or bind; never let it.
    if (this.#client?.isConnected && !this.#isLost) return this.#client;
    this.#connecting ??= this.#failover().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /**
   * Servers in order, each started STAGGER_MS after the one before (sooner when the deadline is too short
   * for that) or at once when that one failed; the first to finish connect + TLS + bind wins and the
   * others are given up. A server in doubt keeps its place, with its short probe budget: a hiccup of the
   * primary must not send every lookup to a (maybe stale) replica listed after it for the whole hold.
   * Every attempt gets its own connect budget, cut to the overall deadline.
   */
  async #failover(): Promise<Client> {
    if (this.#client) await this.close();
    const firstAt = Date.now();
    this.#deadlineAt ??= firstAt + this.#opts.deadlineMs;
    const deadlineAt = this.#deadlineAt;
    const health = this.#opts.health;
    const plan = this.#opts.urls.map((url, index) => ({ url, index, skipped: health?.skip(url), probeMs: health?.probeMs?.(url) }));
    const lastResort = plan[0];
    if (lastResort && health?.lastResortProbeMs !== undefined && plan.every((p) => p.skipped)) {
      // Every server failed moments ago: the first is probed anyway, briefly, rather than refusing at once.
      lastResort.skipped = undefined;
      lastResort.probeMs = health.lastResortProbeMs;
    }
    // Every server to try starts before the deadline, however short it is and however many there are.
    const staggerMs = Math.min(STAGGER_MS, (deadlineAt - firstAt) / Math.max(1, plan.filter((p) => !p.skipped).length));
    // Indexed like ldap.urls (a URL may be listed twice), so the error lists them in the configured order.
    const attempts: (Attempt | undefined)[] = plan.map(() => undefined);
    const running = new Map<Pending, (typeof plan)[number]>();
    let next = 0;
    let startedAny = false;
    let stagger: NodeJS.Timeout | undefined;
    let done = false;
    const rejected: { url: string; reason: string }[] = [];
    let authError: LdapAuthError | undefined;
    return await new Promise<Client>((resolve, reject) => {
      const finish = (settle: () => void) => {
        done = true;
        this.#abortFailover = undefined;
        clearTimeout(stagger);
        settle();
      };
      const giveUpOthers = (winner: Pending | undefined, winnerUrl?: string) => {
        for (const [pending, step] of running) {
          if (pending === winner) continue;
          pending.abandon();
          if (winnerUrl === undefined) continue;
          const ms = Date.now() - pending.startedAt;
          attempts[step.index] = { url: step.url, reason: `no answer after ${ms} ms, when ${winnerUrl} answered`, timedOut: true };
          // Slower than another, not failed: in doubt, so the next lookups try the others first.
          health?.untried?.(step.url);
        }
        running.clear();
      };
      const startNext = (): void => {
        clearTimeout(stagger);
        while (!done && next < plan.length) {
          const step = plan[next++] as (typeof plan)[number];
          if (step.skipped) {
            // A skip that repeats describeFailure's TLS reason keeps its hint (ldap.caFile, not ldap.urls).
            attempts[step.index] = {
              url: step.url,
              reason: step.skipped,
              timedOut: false,
              untrusted: step.skipped.includes(UNTRUSTED_REASON),
            };
            continue;
          }
          const own = Math.min(step.probeMs ?? this.#opts.connectTimeoutMs, this.#opts.connectTimeoutMs);
          // The first attempt reads the clock the deadline started from: it gets its whole budget, not a
          // millisecond less that would read as "cut short by the deadline".
          const left = Math.max(0, deadlineAt - (startedAny ? Date.now() : firstAt));
          startedAny = true;
          const budget = Math.min(own, left);
          if (budget <= 0) {
            attempts[step.index] = { url: step.url, reason: "not tried: deadline reached", timedOut: true, notTheServer: "deadline" };
            health?.untried?.(step.url);
            continue;
          }
          this.#log.debug("LDAP trying server", { url: step.url, budgetMs: budget });
          const pending = this.#attempt(step.url, budget);
          running.set(pending, step);
          pending.result.then(
            (connection) => won(pending, connection),
            (error: unknown) => lost(pending, step.index, error, budget, left < own),
          );
          stagger = setTimeout(startNext, staggerMs);
          return;
        }
        if (!done && running.size === 0) {
          // A rejected bind is a configuration problem (78, the cache served), not an outage: it is said
          // rather than a slower server's timeout, as before the failover went on past it.
          finish(() =>
            reject(
              authError ??
                failoverError(
                  attempts.filter((a) => a !== undefined),
                  this.#opts.deadlineMs,
                ),
            ),
          );
        }
      };
      const won = (pending: Pending, connection: Connection) => {
        // Two handshakes may finish in the same loop turn: the later one was already given up.
        if (done) {
          pending.abandon();
          return;
        }
        running.delete(pending);
        giveUpOthers(pending, pending.url);
        this.#sockets = connection.sockets;
        this.#client = connection.client;
        this.#lost = connection.lost;
        this.#isLost = false;
        this.#url = pending.url;
        health?.answered(pending.url);
        // Skipped for a while, so the next lookups do not send it a password it rejects (a lockout policy
        // counts each). When no server answers, it is left unmarked: the next lookup says 78 again.
        for (const r of rejected) health?.failed(r.url, r.reason);
        const others = attempts.filter((a) => a !== undefined);
        if (others.length > 0)
          this.#log.warn(`LDAP failover: using ${pending.url}`, { failed: others.map((a) => `${a.url} (${a.reason})`).join(", ") });
        finish(() => resolve(connection.client));
      };
      const lost = (pending: Pending, index: number, error: unknown, budget: number, cutByDeadline: boolean) => {
        if (done) return;
        running.delete(pending);
        const { url } = pending;
        if (error instanceof LdapAuthError) {
          // One server rejecting the bind (its password rotated ahead of the others, or a replica that
          // refuses clear binds) ends only its own attempt: another server may still accept it (T-ak17b 2).
          // Its outcome is the failover's only when no server answers (see startNext).
          const reason = /unencrypted/.test(error.message) ? "refuses to bind without TLS" : "bind rejected: invalid credentials";
          attempts[index] = { url, reason, timedOut: false };
          rejected.push({ url, reason });
          authError ??= error;
          this.#log.debug("LDAP server rejected the bind", { url, reason });
          startNext();
          return;
        }
        const attempt = describeFailure(url, error, budget);
        const stallMs = error instanceof TimeoutSignal ? error.stallMs : 0;
        if (attempt.timedOut && stallMs > Math.max(STALL_MS, budget / 4)) {
          // Its timer fired late or this process waited for a CPU: the server never had its full time.
          attempts[index] = {
            ...attempt,
            reason: `${attempt.reason} (this process stalled ${Math.round(stallMs)} ms: in doubt)`,
            notTheServer: "stalled",
          };
          if (health?.untried) health.untried(url);
        } else if (attempt.timedOut && cutByDeadline) {
          // The overall deadline, not the server, ended the attempt (a healthy server left 1 ms after
          // dead ones before it): in doubt, so the next lookup gives it a short probe instead of skipping it.
          attempts[index] = { ...attempt, reason: `${attempt.reason} (cut off by the deadline)`, notTheServer: "deadline" };
          if (health?.untried) health.untried(url, budget);
          else health?.failed(url);
        } else {
          attempts[index] = attempt;
          health?.failed(url, attempt.reason);
        }
        this.#log.debug("LDAP server failed", { url, reason: attempt.reason });
        // As RFC 8305 §5: a failed attempt starts the next one at once.
        startNext();
      };
      this.#abortFailover = () => {
        giveUpOthers(undefined);
        finish(() => reject(new LdapUnavailableError("the LDAP client was closed while connecting")));
      };
      startNext();
    });
  }

  /**
   * Connect, TLS and bind within budget. The attempt's sockets are its own (several attempts may run at
   * once): a failed or abandoned attempt destroys only them; the winner's become the client's.
   */
  #attempt(url: string, budget: number): Pending {
    const { hostname } = new URL(url);
    const host = hostname.replace(/^\[|\]$/g, "");
    const ldaps = url.toLowerCase().startsWith("ldaps:");
    const tlsOptions: ConnectionOptions = {
      rejectUnauthorized: !this.#opts.tlsInsecure,
      minVersion: "TLSv1.2",
      host,
      ...(this.#ca ? { ca: this.#ca } : {}),
      ...(isIP(host) ? {} : { servername: host }),
    };
    if ((ldaps || this.#opts.startTls) && this.#opts.tlsInsecure) {
      this.#log.warn(`TLS certificate verification is OFF for ${url} (tlsInsecure): anyone on the network path can impersonate the server`);
    }
    const sockets = new Set<Socket>();
    let abandoned = false;
    const destroy = () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    };
    let markLost: () => void = () => {};
    const lost = new Promise<never>((_, reject) => {
      markLost = () => reject(new LdapUnavailableError(`lost the connection to ${url}`, { hint: "retry; check the server's health" }));
    });
    lost.catch(() => {});
    const track = <S extends Socket>(socket: S): S => {
      if (abandoned) socket.destroy();
      else sockets.add(socket);
      socket.once("close", () => {
        sockets.delete(socket);
        // Only an unexpected close of the connection in use counts; close() and timeouts forget it first.
        if (this.#lost === lost) {
          this.#isLost = true;
          markLost();
        }
      });
      return socket;
    };
    const client = new Client({
      url,
      // No timer of ldapts' own: withTimeout below bounds connect, TLS and bind together, and one of
      // ldapts' firing late after a stalled event loop would call a healthy server dead (see withTimeout).
      strictDN: false,
      ...(ldaps ? { tlsOptions } : {}),
      createConnection: ((port: number, h: string) => track(netConnect(port, h))) as unknown as typeof netConnect,
      createSecureConnection: ((...args: unknown[]) =>
        track(
          typeof args[0] === "number"
            ? tlsConnect(args[0], args[1] as string, args[2] as ConnectionOptions)
            : tlsConnect(args[0] as ConnectionOptions),
        )) as unknown as typeof tlsConnect,
    });
    const handshake = async (): Promise<void> => {
      if (this.#opts.startTls && !ldaps) await client.startTLS({ ...tlsOptions });
      // An anonymous bind still proves the server answers before we commit to it. For ldaps:// this is
      // also where ldapts connects and does TLS: no lock across attempts may be held around it, or a
      // blackholed ldaps:// server holds every other server's attempt for its whole budget (T-ak17b 1).
      await client.bind(this.#opts.bindDn ?? "", this.#opts.bindPassword?.reveal() ?? "");
    };
    // ldapts never settles a connect whose socket was destroyed before it connected or finished TLS:
    // giving an attempt up must end it here, or its timeout timer keeps the process alive (T-ak17b 3).
    let giveUp: () => void = () => {};
    const givenUp = new Promise<never>((_, reject) => {
      giveUp = () => reject(new Error("given up: another server answered first"));
    });
    givenUp.catch(() => {});
    const stall = new StallWatch(budget);
    const run = async (): Promise<Connection> => {
      try {
        await withTimeout(Promise.race([handshake(), givenUp]), budget, destroy);
        if (abandoned) throw new Error("given up: another server answered first");
        return { client, sockets, lost };
      } catch (error) {
        destroy();
        // Each is a lower bound of the time this process could not run (they may count the same stall).
        if (error instanceof TimeoutSignal) error.stallMs = Math.max(error.stallMs, stall.stalledMs());
        if (error instanceof ResultCodeError && error.code === 49) {
          throw new LdapAuthError(`LDAP bind as "${this.#opts.bindDn ?? "(anonymous)"}" rejected by ${url}: invalid credentials`, {
            hint: `check ldap.bindDn and the password from ${this.#opts.bindPassword?.source ?? "ldap.bindPassword"}`,
          });
        }
        if (error instanceof ResultCodeError && (error.code === 13 || error.code === 8)) {
          throw new LdapAuthError(`${url} refuses to bind over an unencrypted connection`, {
            hint: "set ldap.startTls: true or use an ldaps:// URL",
          });
        }
        throw error;
      }
    };
    const pending: Pending = {
      url,
      startedAt: Date.now(),
      result: run().finally(() => {
        stall.stop();
        this.#pending.delete(pending);
      }),
      abandon: () => {
        abandoned = true;
        destroy();
        giveUp();
      },
    };
    this.#pending.add(pending);
    return pending;
  }

  async #op<T>(what: string, run: () => Promise<T>): Promise<T> {
    const remaining = this.remainingMs();
    const budget = Math.min(this.#opts.timeoutMs, remaining);
    const url = this.#url ?? "LDAP";
    if (budget <= 0)
      throw new LdapTimeoutError(`LDAP deadline of ${this.#opts.deadlineMs} ms reached before ${what}`, { hint: "raise ldap.deadlineMs" });
    try {
      const result = withTimeout(run(), budget, () => {
        this.#forget();
        this.#destroySockets();
      });
      return await (this.#lost ? Promise.race([result, this.#lost]) : result);
    } catch (error) {
      if (error instanceof TimeoutSignal) {
        const cause = budget < this.#opts.timeoutMs ? `the overall deadline of ${this.#opts.deadlineMs} ms` : `${budget} ms`;
        throw new LdapTimeoutError(`${url} did not answer ${what} within ${cause}`, {
          hint: "check the server's health, or raise ldap.timeoutMs",
        });
      }
      throw operationError(error, url, what);
    }
  }

  #forget(): void {
    this.#client = undefined;
    this.#url = undefined;
    this.#lost = undefined;
    this.#isLost = false;
  }

  #destroySockets(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/** Runs fn with a connected client and always closes it, whatever fn does. */
export async function withLdap<T>(options: LdapClientOptions, fn: (client: LdapClient) => Promise<T>): Promise<T> {
  const client = new LdapClient(options);
  try {
    return await fn(client);
  } finally {
    await client.close();
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
  if (error instanceof ResultCodeError) return { url, reason: `server error ${error.code}`, timedOut: false };
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
  return new LdapUnavailableError(`no LDAP server reachable (${detail})`, { hint: "check ldap.urls and that a server is up" });
}

function operationError(error: unknown, url: string, what: string): OpsguardError {
  if (error instanceof OpsguardError) return error;
  if (!(error instanceof ResultCodeError)) {
    const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
    if (/Connection closed|Socket error|ECONNRESET|EPIPE/.test(message)) {
      return new LdapUnavailableError(`lost the connection to ${url} during ${what}`, { hint: "retry; check the server's health" });
    }
    return new LdapOperationError(`${what} failed on ${url}: ${message}`, undefined);
  }
  const text = `${what} failed on ${url}: ${error.message.replace(/ Code: 0x[0-9a-f]+$/, "")} (result code ${error.code})`;
  switch (error.code) {
    case 32:
      return new LdapNotFoundError(`${what}: no such entry on ${url}`, { hint: "check the DN and ldap.baseDn" });
    case 50:
      return new LdapPermissionError(text, { hint: "the bind DN lacks the access rights; ask the directory admins for an ACL" });
    case 4:
    case 11:
      // sizeLimitExceeded / adminLimitExceeded: the server's limit, which paging does not lift (OpenLDAP counts
      // a paged search's total against size.prtotal, the hard limit unless set; slapd.conf(5) "limits")
      return new LdapTooManyError(`${what} failed on ${url}: the server's size limit was reached (result code ${error.code})`, {
        hint: "narrow the filter or the base DN, or have the directory admins raise the bind account's limit (OpenLDAP: olcLimits size.prtotal)",
      });
    case 3:
      return new LdapTimeoutError(text);
    case 49:
      return new LdapAuthError(text);
    case 51:
    case 52:
    case 53:
      return new LdapUnavailableError(text);
    default:
      return new LdapOperationError(text, error.code);
  }
}

function checkUrl(url: string, opts: LdapClientOptions): void {
  // Before anything quotes the URL: its password would be printed with it.
  if (hasUserinfo(url)) {
    throw new ConfigError("an LDAP URL in ldap.urls carries credentials (user:password@)", {
      hint: "remove them from the URL; set ldap.bindDn and ldap.bindPassword",
    });
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`invalid LDAP URL "${url}"`, { hint: 'write "ldap://host[:port]" or "ldaps://host[:port]"' });
  }
  const scheme = parsed.protocol.toLowerCase();
  if (scheme !== "ldap:" && scheme !== "ldaps:") {
    throw new ConfigError(`invalid LDAP URL "${url}": scheme must be ldap:// or ldaps://`);
  }
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  // Deliberate: loopback traffic never leaves the host. Only an address literal counts, never a name
  // that merely starts with "127." (127.example.org resolves anywhere), and "localhost".
  const loopback = host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
  if (scheme === "ldap:" && !opts.startTls && opts.bindPassword && !loopback && !opts.allowPlaintext) {
    throw new ConfigError(`${url} would carry the bind password in clear text`, {
      hint: "set ldap.startTls: true, use ldaps://, or (not recommended) ldap.allowPlaintext: true",
    });
  }
}

/** A CA bundle is a few hundred KiB at most (the whole Mozilla store is ~200 KiB). */
const MAX_CA_BYTES = 4 * 1024 * 1024;

/** Refused without blocking: a FIFO named as the CA would hang every login through authkeys. */
function readCaFile(path: string): string {
  const read = readRegularFileSync(path, MAX_CA_BYTES);
  if ("refused" in read) {
    throw new ConfigError(`ldap.caFile: ${path} ${describeRefusal(read.refused, MAX_CA_BYTES)}`, {
      hint: "point it at the PEM file of the CA, readable by this user",
    });
  }
  return read.bytes.toString("utf8");
}

function stripUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
