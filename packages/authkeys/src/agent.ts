import { chmodSync, lstatSync, statSync, unlinkSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { readConfigText } from "@opsguard/core/config-file";
import { ConfigError, describeError, OpsguardError, PermissionError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import { LdapClient } from "@opsguard/core/ldap/client";
import { LdapAuthError, LdapTimeoutError, LdapUnavailableError } from "@opsguard/core/ldap/errors";
import { ldapOptionsFromConfig } from "@opsguard/core/ldap/options";
import type { Logger } from "@opsguard/core/log";
import { type AgentReply, formatReply, MAX_REQUEST_BYTES, parseRequest } from "./agent-protocol";
import type { AuthkeysConfig } from "./config";
import { loadLoginConfigText } from "./login-config";
import { type LdapSession, lookupKeys } from "./lookup";
import { staticLdap } from "./srv";
import { CONFIG_FILE } from "./stored-config";
import { printableUser } from "./username";

/** Logins ask at most a few at a time; more open connections than this are not sshd asking. */
const MAX_CONNECTIONS = 64;
/** A login sends its request as soon as it connects; a connection silent this long is dropped. */
const REQUEST_IDLE_MS = 2000;

export interface RunningAgent {
  socket: string;
  /** Stops listening, closes the LDAP connection and removes the socket. */
  stop(): Promise<void>;
}

/**
 * `authkeys agent`: answers logins over a unix socket with the same decision as a direct lookup
 * (a fresh LDAP search each time, cache write and revocation, fail closed), on one LDAP connection
 * kept open between requests, so a login pays neither TLS nor bind.
 */
export async function startAgent(configPath: string | undefined, log: Logger): Promise<RunningAgent> {
  const loaded = await loadLoginConfigText(configPath);
  const config = loaded.config;
  if (!config.agent) {
    throw new ConfigError("agent.socket is not configured", { hint: 'add agent: { socket: "/run/authkeys/agent.sock" } to the config' });
  }
  const { socket: path } = config.agent;
  checkSocketDir(dirname(path));
  await removeStaleSocket(path);
  const current = new CurrentConfig(configPath, loaded, log);
  const server = createServer((connection) => serve(connection, current, log));
  server.maxConnections = MAX_CONNECTIONS;
  await listenPrivately(server, path);
  log.info("agent listening", { socket: path });
  return {
    socket: path,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await current.close();
      log.info("agent stopped", { socket: path });
    },
  };
}

/** Runs until SIGTERM or SIGINT, then exits 0 once open requests are answered. */
export async function runAgent(configPath: string | undefined, log: Logger): Promise<void> {
  const agent = await startAgent(configPath, log);
  const stop = () => {
    void agent.stop().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}

/** Only its owner may create a socket there: otherwise another user could answer in the agent's name. */
function checkSocketDir(dir: string): void {
  const euid = process.geteuid?.() ?? 0;
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(dir);
  } catch (error) {
    throw new ConfigError(`agent: socket directory ${dir} is missing (${(error as NodeJS.ErrnoException).code})`, {
      hint: "create it owned by the command user, mode 0700 (systemd: RuntimeDirectory=authkeys)",
    });
  }
  if (info.uid !== euid || (info.mode & 0o022) !== 0) {
    throw new PermissionError(
      `agent: socket directory ${dir} must be owned by uid ${euid} and not writable by others (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)})`,
      { hint: `chown the directory to the agent's user and chmod 700 ${dir}` },
    );
  }
}

/** A socket left by an agent that died is removed; one that still answers means another agent runs. */
async function removeStaleSocket(path: string): Promise<void> {
  const info = lstatSync(path, { throwIfNoEntry: false });
  if (!info) return;
  if (!info.isSocket()) throw new ConfigError(`agent: ${path} exists and is not a socket`, { hint: "remove it or choose agent.socket" });
  const alive = await new Promise<boolean>((resolve) => {
    const probe = connect({ path }, () => {
      probe.destroy();
      resolve(true);
    });
    probe.on("error", () => resolve(false));
  });
  if (alive) throw new OpsguardError(`agent: another agent is listening on ${path}`, ExitCode.UNAVAILABLE, { hint: "stop it first" });
  unlinkSync(path);
}

async function listenPrivately(server: Server, path: string): Promise<void> {
  // The umask makes the socket 0600 from its creation, not only after the chmod.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
}

/** The agent's LDAP connection and the bind password it was made with (to tell whether the source changed since). */
interface Connection {
  client: LdapClient;
  password: string | undefined;
}

/**
 * The agent's own bind was rejected even with the password its source holds now (the password rotated on
 * the servers before this host's file, or a source only a fresh process reads, such as vault: fetched
 * once at load). Not an outage to answer from the cache: a login reads the password itself and may bind
 * where the agent cannot, so the agent answers with an error and the login looks up directly (T72 F1).
 */
export class AgentBindRejectedError extends OpsguardError {
  constructor(cause: LdapAuthError) {
    super(`the agent's LDAP bind was rejected (${cause.message})`, cause.exitCode, { cause, hint: cause.hint });
  }
}

/**
 * The config every request decides with. A login reads the config file each time, so the agent must
 * too: when the file's text changed, it is loaded again (and the LDAP connection replaced if the ldap
 * section changed) before the lookup, so an edit (a group removed from allowedGroups) applies at once.
 * Likewise the bind password: a login reads its source each time, so when the servers reject the
 * agent's bind, the agent reads the source again and, if it changed, binds once more with it.
 */
class CurrentConfig {
  readonly #path: string | undefined;
  readonly #log: Logger;
  #text: string;
  #config: AuthkeysConfig;
  #connection: Connection;
  readonly #session: LdapSession = (_options, fn) => this.#run(fn);

  constructor(path: string | undefined, loaded: { text: string; config: AuthkeysConfig }, log: Logger) {
    this.#path = path;
    this.#log = log;
    this.#text = loaded.text;
    this.#config = loaded.config;
    this.#connection = this.#connect(loaded.config);
  }

  /** An unreadable or invalid config throws, as it fails a login. */
  async get(): Promise<{ config: AuthkeysConfig; session: LdapSession }> {
    if (readConfigText({ ...CONFIG_FILE, path: this.#path }).text !== this.#text) {
      const loaded = await loadLoginConfigText(this.#path);
      if (JSON.stringify(loaded.config.ldap) !== JSON.stringify(this.#config.ldap)) this.#replace(this.#connect(loaded.config));
      if (loaded.config.agent?.socket !== this.#config.agent?.socket) {
        this.#log.warn("agent.socket changed in the config: restart the agent to listen there", { socket: this.#config.agent?.socket });
      }
      this.#log.info("config changed; reloaded", { file: loaded.filepath });
      this.#text = loaded.text;
      this.#config = loaded.config;
    }
    return { config: this.#config, session: this.#session };
  }

  async close(): Promise<void> {
    await this.#connection.client.close();
  }

  /** Reads the password source now (a missing or unreadable password file throws, as it fails a login). */
  #connect(config: AuthkeysConfig, options = ldapOptionsFromConfig(staticLdap(config))): Connection {
    return { client: new LdapClient({ ...options, log: this.#log }), password: options.bindPassword?.reveal() };
  }

  #replace(next: Connection): void {
    // Lookups still running on the old connection finish within their deadline.
    const old = this.#connection.client;
    setTimeout(() => void old.close(), this.#config.ldap.deadlineMs).unref();
    this.#connection = next;
  }

  /**
   * Each lookup gets the full deadline on the shared connection. A connection that failed is closed,
   * so the next lookup connects again with failover from the first URL. A rejected bind reads the
   * password source again: changed (rotated on this host since the agent bound), the lookup runs once
   * more on a new connection with it; unchanged, or rejected again, it is AgentBindRejectedError.
   */
  async #run<T>(fn: (client: LdapClient) => Promise<T>): Promise<T> {
    const first = this.#connection;
    try {
      return await attempt(first.client, fn);
    } catch (error) {
      if (!(error instanceof LdapAuthError)) throw error;
      // Another request may have replaced the connection already; else read the source again.
      let next = this.#connection;
      if (next === first) {
        const options = ldapOptionsFromConfig(staticLdap(this.#config));
        if (options.bindPassword?.reveal() === first.password) throw new AgentBindRejectedError(error);
        this.#log.info("LDAP bind rejected; the password source changed since the agent read it: binding again with it");
        next = this.#connect(this.#config, options);
        this.#replace(next);
      }
      try {
        return await attempt(next.client, fn);
      } catch (retryError) {
        throw retryError instanceof LdapAuthError ? new AgentBindRejectedError(retryError) : retryError;
      }
    }
  }
}

async function attempt<T>(client: LdapClient, fn: (client: LdapClient) => Promise<T>): Promise<T> {
  client.restartDeadline();
  try {
    return await fn(client);
  } catch (error) {
    if (error instanceof LdapUnavailableError || error instanceof LdapTimeoutError || error instanceof LdapAuthError) await client.close();
    throw error;
  }
}

/** One request per connection, sent within ldap.deadlineMs of the last byte and at most MAX_REQUEST_BYTES long. */
function serve(connection: Socket, current: CurrentConfig, log: Logger): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let answered = false;
  const reply = (body: AgentReply) => {
    answered = true;
    connection.end(formatReply(body));
  };
  connection.setTimeout(REQUEST_IDLE_MS, () => connection.destroy());
  connection.on("error", () => connection.destroy());
  connection.on("data", (chunk: Buffer) => {
    if (answered) return;
    const end = chunk.indexOf(10);
    size += end === -1 ? chunk.length : end;
    if (size > MAX_REQUEST_BYTES) return reply({ kind: "error", error: `request larger than ${MAX_REQUEST_BYTES} bytes` });
    chunks.push(end === -1 ? chunk : chunk.subarray(0, end));
    if (end === -1) return;
    answered = true;
    // From here the lookup's own deadline bounds the wait.
    connection.setTimeout(0);
    connection.pause();
    void answer(Buffer.concat(chunks).toString("utf8"), current, log).then(reply);
  });
}

async function answer(line: string, current: CurrentConfig, log: Logger): Promise<AgentReply> {
  const request = parseRequest(line);
  if ("error" in request) return { kind: "error", error: request.error };
  if (request.kind === "ping") return { kind: "pong" };
  const started = Date.now();
  const user = printableUser(request.user);
  try {
    const { config, session } = await current.get();
    const outcome = await lookupKeys(config, { user: request.user, fingerprint: request.fingerprint }, { log, ldap: session });
    log.debug("agent lookup", { user, result: outcome.result, source: outcome.source, ms: Date.now() - started });
    return { kind: "lookup", result: outcome.result, source: outcome.source, lines: outcome.lines };
  } catch (error) {
    log.warn(`agent lookup failed: ${describeError(error)}`, { user });
    return { kind: "error", error: error instanceof Error ? error.message : String(error) };
  }
}
