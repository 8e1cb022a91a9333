import { isIP, connect as netConnect, type Socket } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { Attribute, Change, Client, ResultCodeError } from "ldapts";
import { ConfigError, OpsguardError } from "../errors";
import { Logger } from "../log";
import { describeRefusal, readRegularFileSync } from "../regular-file";
import type { Secret } from "../secret";
import { hasUserinfo, isLoopbackHost } from "../url";
import { StallWatch, TimeoutSignal, withTimeout } from "./attempt-timing";
import { LdapEntry } from "./entry";
import {
  LdapAuthError,
  LdapNotFoundError,
  LdapOperationError,
  LdapPermissionError,
  LdapTimeoutError,
  LdapTooManyError,
  LdapUnavailableError,
  resultCodeText,
} from "./errors";
import { type Connection, Failover, type Pending, type ServerHealth, STARTTLS_REFUSED } from "./failover";
import { parseFilter } from "./filter";

export type { ServerHealth } from "./failover";

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

const DEFAULTS = { connectTimeoutMs: 3000, timeoutMs: 5000, deadlineMs: 10_000, pageSize: 500 };
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
    // No sizeLimit goes to the server: ldapts takes a sizeLimitExceeded answer to a search that set one as a
    // success (its _sendSearch), so a server limit below ours (OpenLDAP's per-account olcLimits) cut the answer
    // and the cut list passed as the whole one: two entries for one uid read as one, a group search as no group.
    // Without it the server's own limit is an error (4), and ours is counted here, as the entries arrive.
    const request = { filter, scope: options.scope ?? "sub", attributes: options.attributes ? [...options.attributes] : [] } as const;
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

  /** A staggered failover across ldap.urls (see Failover); close() during it ends it. */
  async #failover(): Promise<Client> {
    if (this.#client) await this.close();
    const firstAt = Date.now();
    this.#deadlineAt ??= firstAt + this.#opts.deadlineMs;
    const failover = new Failover({
      urls: this.#opts.urls,
      health: this.#opts.health,
      connectTimeoutMs: this.#opts.connectTimeoutMs,
      deadlineMs: this.#opts.deadlineMs,
      firstAt,
      deadlineAt: this.#deadlineAt,
      log: this.#log,
      attempt: (url, budget) => this.#attempt(url, budget),
      adopt: (url, connection) => {
        this.#sockets = connection.sockets;
        this.#client = connection.client;
        this.#lost = connection.lost;
        this.#isLost = false;
        this.#url = url;
      },
    });
    this.#abortFailover = () => failover.abort();
    try {
      return await failover.run();
    } finally {
      this.#abortFailover = undefined;
    }
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
      if (this.#opts.startTls && !ldaps) {
        try {
          await client.startTLS({ ...tlsOptions });
        } catch (error) {
          // the server answered the StartTLS request with an error: it offers no TLS on this port (never plaintext then)
          if (error instanceof ResultCodeError)
            throw new Error(`${STARTTLS_REFUSED} (${resultCodeText(error.code)}): the server offers no TLS here`);
          throw error;
        }
      }
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

function operationError(error: unknown, url: string, what: string): OpsguardError {
  if (error instanceof OpsguardError) return error;
  if (!(error instanceof ResultCodeError)) {
    const message = error instanceof Error ? (error.message.split("\n")[0] ?? "") : String(error);
    if (/Connection closed|Socket error|ECONNRESET|EPIPE/.test(message)) {
      return new LdapUnavailableError(`lost the connection to ${url} during ${what}`, { hint: "retry; check the server's health" });
    }
    return new LdapOperationError(`${what} failed on ${url}: ${message}`, undefined);
  }
  // a server's diagnostic text may be empty (slapd's for a referral): the code's RFC name then says what it was
  const said = error.message.replace(/ Code: 0x[0-9a-f]+$/, "").trim();
  const text = `${what} failed on ${url}: ${said === "" ? "" : `${said} `}(${resultCodeText(error.code)})`;
  switch (error.code) {
    case 32:
      return new LdapNotFoundError(`${what}: no such entry on ${url}`, { hint: "check the DN and ldap.baseDn" });
    case 50:
      return new LdapPermissionError(text, { hint: "the bind DN lacks the access rights; ask the directory admins for an ACL" });
    case 4:
    case 11:
      // sizeLimitExceeded / adminLimitExceeded: the server's limit, which paging does not lift (OpenLDAP counts
      // a paged search's total against size.prtotal, the hard limit unless set; slapd.conf(5) "limits")
      return new LdapTooManyError(
        `${what} failed on ${url}: the server's ${error.code === 4 ? "size" : "administrative"} limit was reached (${resultCodeText(error.code)})`,
        {
          hint:
            error.code === 4
              ? "narrow the filter or the base DN, or have the directory admins raise the bind account's limit (OpenLDAP: olcLimits size.prtotal)"
              : "narrow the filter or the base DN, or have the directory admins raise the bind account's administrative limits (OpenLDAP: olcLimits; Active Directory: MaxResultSetSize, MaxPageSize)",
        },
      );
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
  // Deliberate: loopback traffic never leaves the host.
  const loopback = isLoopbackHost(parsed.hostname);
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
