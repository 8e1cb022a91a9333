import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { untilEvent } from "../wait";

/** What a simulator handler sees of a request. */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  /** JSON or form bodies parsed into an object; the raw text otherwise. */
  body: unknown;
  rawBody: string;
  params: Record<string, string>;
}

export interface SimResponse {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as they are. */
  body?: unknown;
  /** Milliseconds to wait before answering (a slow service). */
  delayMs?: number;
  /** Accept the request and never answer (a hung service). */
  hang?: boolean;
  /** Answer only once this settles: a test holds the answer while it acts, then lets it go. */
  heldUntil?: Promise<unknown>;
}

export type SimHandler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

/** A request as the simulator received it, for tests to assert on. Authorization is kept: tests check auth headers. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: unknown;
  status: number;
  /** The answer's body as sent (objects before JSON encoding), for contract checks. */
  response: unknown;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: SimHandler;
}

interface Fault {
  method: string | undefined;
  path: RegExp | undefined;
  /** Query parameters the request must carry with these values (a page of a paged list, say). */
  query: Record<string, string> | undefined;
  remaining: number;
  response: SimResponse;
}

/**
 * The base of every SaaS simulator: routing with :params, an auth check, a request log,
 * and injected faults (429 storms, 5xx, slow or hung answers) for the failure paths.
 */
export class SimServer {
  readonly name: string;
  readonly requests: RecordedRequest[] = [];
  /** Emits "request" as each request is recorded, for untilRequest. */
  readonly #recorded = new EventEmitter();
  #routes: Route[] = [];
  #faults: Fault[] = [];
  #auth: ((req: SimRequest) => SimResponse | undefined) | undefined;
  #server: Server | undefined;
  #url = "";

  constructor(name: string) {
    this.name = name;
  }

  get url(): string {
    if (!this.#url) throw new Error(`${this.name} simulator is not started`);
    return this.#url;
  }

  /** Returns an error response for a request that lacks valid credentials, undefined to let it through. */
  authenticate(check: (req: SimRequest) => SimResponse | undefined): this {
    this.#auth = check;
    return this;
  }

  route(method: string, path: string, handler: SimHandler): this {
    const names: string[] = [];
    // ":name" matches one path segment, "*name" the rest of the path (Vault's secret paths have slashes).
    const source = path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/([:*])([A-Za-z_]+)/g, (_m, kind: string, name: string) => {
      names.push(name);
      return kind === "*" ? "(.+)" : "([^/]+)";
    });
    this.#routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  /** The next `times` requests matching method/path (and query, when given) get `response` instead of the real answer. */
  fault(
    response: SimResponse,
    options: { times?: number; method?: string; path?: string | RegExp; query?: Record<string, string> } = {},
  ): this {
    const path = typeof options.path === "string" ? new RegExp(`^${options.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) : options.path;
    this.#faults.push({ method: options.method?.toUpperCase(), path, query: options.query, remaining: options.times ?? 1, response });
    return this;
  }

  clearFaults(): void {
    this.#faults = [];
  }

  /**
   * Resolves once `ready()` holds, checked as each request is recorded (a test waits for the request that a
   * child process sends, not a guessed time); bounded, naming `what`.
   */
  untilRequest(ready: () => boolean, what: string, timeoutMs?: number): Promise<void> {
    return untilEvent(this.#recorded, "request", ready, `${what} (${this.name} simulator)`, timeoutMs);
  }

  /** Requests that would change state on the service: what a dry run must never send. */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.method !== "GET" && r.method !== "HEAD");
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        send(res, { status: 500, body: { error: String(error) } });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    this.#server = server;
    this.#url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.#url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readAll(req);
    const url = new URL(req.url ?? "/", "http://sim");
    const method = (req.method ?? "GET").toUpperCase();
    const simReq: SimRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: parseBody(rawBody, req.headers["content-type"]),
      rawBody,
      params: {},
    };
    const response = await this.#respond(simReq);
    this.requests.push({
      method,
      path: simReq.path,
      query: simReq.query,
      headers: req.headers,
      body: simReq.body,
      status: response.status ?? 200,
      response: response.body,
    });
    this.#recorded.emit("request");
    if (response.hang) return;
    // After recording, so a test sees the request (callsTo, untilRequest) while its answer is held.
    if (response.heldUntil) await response.heldUntil;
    if (response.delayMs) await new Promise((resolve) => setTimeout(resolve, response.delayMs));
    send(res, response);
  }

  async #respond(req: SimRequest): Promise<SimResponse> {
    const fault = this.#faults.find(
      (f) =>
        f.remaining > 0 &&
        (!f.method || f.method === req.method) &&
        (!f.path || f.path.test(req.path)) &&
        Object.entries(f.query ?? {}).every(([k, v]) => req.query.get(k) === v),
    );
    if (fault) {
      fault.remaining--;
      return fault.response;
    }
    const denied = this.#auth?.(req);
    if (denied) return denied;
    for (const route of this.#routes) {
      if (route.method !== req.method) continue;
      const match = route.pattern.exec(req.path);
      if (!match) continue;
      route.names.forEach((name, i) => {
        req.params[name] = decodeURIComponent(match[i + 1] ?? "");
      });
      return route.handler(req);
    }
    return { status: 404, body: { message: `${this.name} simulator: no route for ${req.method} ${req.path}` } };
  }
}

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw === "") return undefined;
  if (contentType?.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(raw));
  if (contentType?.includes("json")) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }
  return raw;
}

function send(res: ServerResponse, response: SimResponse): void {
  if (res.headersSent) return;
  const isText = typeof response.body === "string";
  const payload = response.body === undefined ? "" : isText ? (response.body as string) : JSON.stringify(response.body);
  res.writeHead(response.status ?? 200, {
    ...(response.body !== undefined ? { "content-type": isText ? "text/plain; charset=utf-8" : "application/json; charset=utf-8" } : {}),
    ...response.headers,
  });
  res.end(payload);
}

/** Offset/limit paging as PagerDuty documents it: { offset, limit, more, total }. */
export function offsetPage<T>(
  items: readonly T[],
  query: URLSearchParams,
  defaultLimit = 25,
): { page: T[]; offset: number; limit: number; more: boolean; total: number } {
  const offset = Math.max(0, Number(query.get("offset") ?? 0) || 0);
  const limit = Math.max(1, Number(query.get("limit") ?? defaultLimit) || defaultLimit);
  const page = items.slice(offset, offset + limit);
  return { page, offset, limit, more: offset + limit < items.length, total: items.length };
}

/**
 * page/per_page paging with a Link header, as GitHub and GitLab document it. GitHub names only the
 * pages that exist around this one; GitLab always names first and last.
 */
export function linkPage<T>(
  items: readonly T[],
  req: SimRequest,
  baseUrl: string,
  defaultPerPage = 30,
  maxPerPage = 100,
  style: "github" | "gitlab" = "github",
): { page: T[]; headers: Record<string, string>; pageNo: number; perPage: number; lastPage: number } {
  const perPage = Math.min(maxPerPage, Math.max(1, Number(req.query.get("per_page") ?? defaultPerPage) || defaultPerPage));
  const pageNo = Math.max(1, Number(req.query.get("page") ?? 1) || 1);
  const page = items.slice((pageNo - 1) * perPage, pageNo * perPage);
  const lastPage = Math.max(1, Math.ceil(items.length / perPage));
  const link = (n: number, rel: string) => {
    const q = new URLSearchParams(req.query);
    q.set("page", String(n));
    q.set("per_page", String(perPage));
    return `<${baseUrl}${req.path}?${q}>; rel="${rel}"`;
  };
  const links =
    style === "gitlab"
      ? [
          ...(pageNo > 1 ? [link(pageNo - 1, "prev")] : []),
          ...(pageNo < lastPage ? [link(pageNo + 1, "next")] : []),
          link(1, "first"),
          link(lastPage, "last"),
        ]
      : [
          ...(pageNo < lastPage ? [link(pageNo + 1, "next"), link(lastPage, "last")] : []),
          ...(pageNo > 1 ? [link(1, "first"), link(pageNo - 1, "prev")] : []),
        ];
  return { page, headers: links.length > 0 ? { link: links.join(", ") } : {}, pageNo, perPage, lastPage };
}
