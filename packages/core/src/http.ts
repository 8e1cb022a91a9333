import { type ErrorDetails, OpsguardError } from "./errors";
import { ExitCode } from "./exit";
import type { Logger } from "./log";
import { redactSecrets, registerSecret } from "./secret";

export type QueryValue = string | number | boolean | ReadonlyArray<string | number> | undefined;

export interface HttpRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";
  /** Absolute URL, or a path resolved against the client's baseUrl. */
  url: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string or URLSearchParams. */
  body?: unknown;
  timeoutMs?: number;
  retries?: number;
  /**
   * Retry 5xx and network failures even though the method is not idempotent. 429 is always
   * retried: the server says it did not process the request.
   */
  retryUnsafe?: boolean;
}

export interface HttpResponse<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response says it is JSON, the text otherwise. */
  body: T;
  /** The URL that answered: the one asked, or where same-origin redirects led (a renamed project's new path). */
  url?: string;
}

export interface HttpClientOptions {
  /** Names the service in errors: "PagerDuty API". */
  service: string;
  baseUrl?: string;
  /**
   * The URL is itself a credential (a webhook's, whose path may hold its secret: Slack, Discord, Zapier): errors
   * name its origin only (T43 N3). Otherwise they name origin and path, never the query.
   */
  urlIsSecret?: boolean;
  headers?: Record<string, string>;
  /** Per attempt. */
  timeoutMs?: number;
  retries?: number;
  /** A Retry-After longer than this is not waited for: the call fails as a temporary failure. */
  maxRetryAfterMs?: number;
  /**
   * All of this client's 429 waits together (a run's budget): a wait that would pass it is not made, the
   * call fails as a temporary failure. Without it, each request may wait up to maxRetryAfterMs per retry.
   */
  maxTotalRetryAfterMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  log?: Logger;
  /**
   * A whole run's deadline (epoch ms) and how to name it ("the run's deadline (gitlab.runTimeoutMs 300000)"): no
   * attempt starts after it and none runs past it, so a slow list of many pages stops (75) naming the URL it was
   * reading, instead of running pages × timeoutMs (1000 × 15 s: over four hours, T67 F6).
   */
  deadline?: { at: number; name: string };
  /** Called before every attempt; benchmarks count requests with it. */
  onAttempt?: (method: string, url: URL) => void;
  /**
   * A body longer than this is not read on (a data error, exit 65): a misconfigured URL, a proxy or a broken server
   * must not fill memory. DEFAULT_MAX_BODY_BYTES unless a client knows its answers are smaller.
   */
  maxBodyBytes?: number;
}

/**
 * 32 MiB: every API answer a tool reads is one page, and the largest page any vendor can legitimately send is far
 * below it. GitHub's GraphQL pages and GitLab's, PagerDuty's (limit ≤ 100) and Opsgenie's REST pages hold at most 100
 * items; sock-check's biggest, 100 PRs' commits, reviews and labels, runs to a few MiB even with GitHub's longest
 * bodies (65,536 characters). A Slack conversations.history page (100 messages here, each text ≤ 40,000 characters)
 * stays under 16 MiB, and a Vault KV secret is one storage entry (≤ 1 MiB with integrated storage's default
 * max_entry_size). An answer read whole costs several times its size (its bytes, its text, the parse: T31 saw
 * 584 MB of RSS for 120 MiB), so the cap also bounds memory: a refused answer costs at most the 32 MiB read before it.
 * Too small a cap fails closed (an error, never a shorter list), so it errs on the generous side.
 */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** An HTTP answer that was not a success, after any retries. The body is kept for callers that inspect API errors. */
export class HttpError extends OpsguardError {
  readonly status: number | undefined;
  readonly body: unknown;
  /** The response headers, for APIs that say how long to back off in them (GitHub's secondary rate limits on 403). */
  readonly headers: Headers | undefined;

  constructor(
    message: string,
    exitCode: OpsguardError["exitCode"],
    status: number | undefined,
    body: unknown,
    details?: ErrorDetails,
    headers?: Headers,
  ) {
    super(message, exitCode, details);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE"]);
const RETRY_STATUS = new Set([500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);

/** fetch with a timeout on every attempt, bounded retries with full-jitter backoff, and 429 + Retry-After honoured. */
export class HttpClient {
  readonly options: Required<
    Omit<HttpClientOptions, "log" | "onAttempt" | "baseUrl" | "maxTotalRetryAfterMs" | "urlIsSecret" | "deadline">
  > &
    HttpClientOptions;
  /** 429 waits made so far, for maxTotalRetryAfterMs. */
  #waitedMs = 0;

  constructor(options: HttpClientOptions) {
    this.options = {
      headers: {},
      timeoutMs: 10_000,
      retries: 3,
      maxRetryAfterMs: 60_000,
      backoffBaseMs: 250,
      backoffMaxMs: 8_000,
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      ...options,
    };
    registerCredentialHeaders(this.options.headers);
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const method = req.method ?? "GET";
    const url = this.#url(req);
    const retries = req.retries ?? this.options.retries;
    const mayRetryFailure = IDEMPOTENT.has(method) || req.retryUnsafe === true;
    for (let attempt = 0; ; attempt++) {
      const timeoutMs = req.timeoutMs ?? this.options.timeoutMs;
      const left = this.options.deadline ? this.options.deadline.at - Date.now() : Number.POSITIVE_INFINITY;
      if (left <= 0) throw this.#deadlineError(url);
      this.options.onAttempt?.(method, url);
      let response: Response | undefined;
      let text: string;
      try {
        response = await this.#fetchSameOrigin(url, {
          method,
          headers: this.#headers(req),
          body: encodeBody(req.body),
          signal: AbortSignal.timeout(Math.min(timeoutMs, left)),
        });
        // The timeout covers the body too: a server that stalls mid-answer is as stuck as one that never answers.
        text = await readCapped(response, this.options.maxBodyBytes, `${this.options.service} (${this.#where(url)})`);
      } catch (error) {
        if (error instanceof OpsguardError) throw error;
        if (left < timeoutMs && isTimeout(error)) throw this.#deadlineError(url);
        const failure = this.#networkError(error, url, timeoutMs, response);
        if (attempt < retries && mayRetryFailure) {
          await this.#backoff(attempt, `${failure.message}`);
          continue;
        }
        throw failure;
      }
      const body = parseBody(text, response, this.#where(url), this.options.service);
      if (response.ok)
        return { status: response.status, headers: response.headers, body: body as T, ...(response.url ? { url: response.url } : {}) };

      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      if (response.status === 429 && attempt < retries) {
        const wait = retryAfterMs ?? this.#backoffDelay(attempt);
        if (wait > this.options.maxRetryAfterMs) {
          throw this.#statusError(response, body, url, `rate limited for ${Math.ceil(wait / 1000)} s`);
        }
        if (this.#waitedMs + wait > (this.options.maxTotalRetryAfterMs ?? Number.POSITIVE_INFINITY)) {
          const asked = `rate limited: it asks to wait ${Math.ceil(wait / 1000)} s after waiting ${Math.round(this.#waitedMs / 1000)} s`;
          throw this.#statusError(response, body, url, asked);
        }
        this.#waitedMs += wait;
        this.options.log?.debug(`${this.options.service} rate limited; retrying`, { waitMs: wait, attempt: attempt + 1 });
        await sleep(wait);
        continue;
      }
      if (RETRY_STATUS.has(response.status) && mayRetryFailure && attempt < retries) {
        await this.#backoff(attempt, `HTTP ${response.status}`, retryAfterMs);
        continue;
      }
      throw this.#statusError(response, body, url);
    }
  }

  get<T = unknown>(url: string, query?: Record<string, QueryValue>, headers?: Record<string, string>): Promise<HttpResponse<T>> {
    return this.request<T>({ url, ...(query ? { query } : {}), ...(headers ? { headers } : {}) });
  }

  #url(req: HttpRequest): URL {
    const url = this.options.baseUrl ? new URL(joinUrl(this.options.baseUrl, req.url)) : new URL(req.url);
    for (const [key, value] of Object.entries(req.query ?? {})) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v));
      else url.searchParams.append(key, String(value));
    }
    return url;
  }

  #headers(req: HttpRequest): Record<string, string> {
    registerCredentialHeaders(req.headers);
    const headers: Record<string, string> = { accept: "application/json", ...this.options.headers, ...req.headers };
    if (req.body !== undefined && !(typeof req.body === "string") && !(req.body instanceof URLSearchParams)) {
      headers["content-type"] ??= "application/json; charset=utf-8";
    }
    return headers;
  }

  #backoffDelay(attempt: number): number {
    const cap = Math.min(this.options.backoffMaxMs, this.options.backoffBaseMs * 2 ** attempt);
    return Math.round(Math.random() * cap);
  }

  async #backoff(attempt: number, reason: string, retryAfterMs?: number): Promise<void> {
    const wait = Math.min(retryAfterMs ?? this.#backoffDelay(attempt), this.options.maxRetryAfterMs);
    this.options.log?.debug(`${this.options.service}: ${reason}; retrying`, { waitMs: wait, attempt: attempt + 1 });
    await sleep(wait);
  }

  /**
   * fetch, following redirects only within the URL's origin (scheme, host and port). A redirect elsewhere was followed
   * without the token and its answer believed: from an https API to plain http, anyone on the path could write the
   * list a verdict rests on (T67 F4: a failed build passed). It is refused, naming both URLs (no query: tokens travel
   * there). Redirects that stay on the origin go on working: GitHub's REST API answers 301 (permanent), 302 or 307
   * (temporary) for a renamed or transferred repository, on api.github.com itself (GitHub REST docs, "Resources in the
   * REST API", "HTTP redirects": 301 permanent, 302 and 307 temporary; seen as api.github.com/repositories/:id), and GitLab redirects a renamed project's path on its own host. Methods and bodies change
   * as fetch changes them (WHATWG Fetch, "HTTP-redirect fetch"): 303, and 301/302 after a POST, go on as a GET
   * without a body; 307 and 308 keep both. At most 20 redirects, fetch's own limit.
   */
  async #fetchSameOrigin(url: URL, init: RequestInit & { method: string }): Promise<Response> {
    let at = url;
    let request = init;
    for (let redirects = 0; ; redirects++) {
      const response = await fetch(at, { ...request, redirect: "manual" });
      const location = response.headers.get("location");
      if (!REDIRECT_STATUS.has(response.status) || location === null) return response;
      await response.body?.cancel().catch(() => {});
      const to = new URL(location, at);
      const refuse = (why: string) =>
        new HttpError(
          `${this.options.service} redirected ${this.#where(at)} to ${this.#where(to)} (HTTP ${response.status}), ${why}: not followed`,
          ExitCode.UNAVAILABLE,
          response.status,
          undefined,
          { hint: "check the API URL: set it to where the API is now, over https, or fix the proxy that builds the redirect" },
        );
      if (to.origin !== url.origin)
        throw refuse(url.protocol === "https:" && to.protocol !== "https:" ? "from https to plain http" : "to another origin");
      if (redirects >= 20) throw refuse("more than 20 times");
      const toGet = response.status === 303 || ((response.status === 301 || response.status === 302) && request.method === "POST");
      request = toGet ? { ...request, method: request.method === "HEAD" ? "HEAD" : "GET", body: undefined } : request;
      at = to;
    }
  }

  /** The URL a request asks, its query included. */
  urlOf(req: HttpRequest): URL {
    return this.#url(req);
  }

  /** How errors name the URL a request asks (no query; only the origin for a URL that is itself a secret). */
  describe(req: HttpRequest): string {
    return this.#where(this.#url(req));
  }

  /** How errors name the URL asked. */
  #where(url: URL): string {
    return this.options.urlIsSecret ? url.origin : describeUrl(url);
  }

  /** The run's deadline passed while `url` was asked or about to be: a temporary failure (75), as a timeout is. */
  #deadlineError(url: URL): HttpError {
    return new HttpError(
      `${this.options.service}: ${this.options.deadline?.name ?? "the deadline"} passed while reading ${this.#where(url)}`,
      ExitCode.TEMP_FAIL,
      undefined,
      undefined,
      { hint: "retry later, or raise the deadline if the API is this slow" },
    );
  }

  #networkError(error: unknown, url: URL, timeoutMs: number, response?: Response): OpsguardError {
    const where = this.#where(url);
    if (isTimeout(error)) {
      return new HttpError(
        `${this.options.service} did not answer within ${timeoutMs} ms (${where})`,
        ExitCode.TEMP_FAIL,
        undefined,
        undefined,
        {
          hint: "check the service or raise the timeout",
        },
      );
    }
    if (response) {
      return new HttpError(
        `${this.options.service} closed the connection mid-response (${where})`,
        ExitCode.TEMP_FAIL,
        response.status,
        undefined,
      );
    }
    const code = ((error as { cause?: { code?: string } })?.cause?.code ?? (error as Error)?.message) || "network error";
    return new HttpError(`${this.options.service} is unreachable (${code}, ${where})`, ExitCode.UNAVAILABLE, undefined, undefined, {
      hint: "check the URL and the network",
    });
  }

  #statusError(response: Response, body: unknown, url: URL, extra?: string): HttpError {
    const { status, headers } = response;
    const where = this.#where(url);
    const detail = apiErrorText(body);
    const message = `${this.options.service} answered HTTP ${status}${detail ? `: ${detail}` : ""}${extra ? ` (${extra})` : ""} (${where})`;
    if (status === 401 || status === 403) {
      return new HttpError(message, ExitCode.NO_PERM, status, body, { hint: "check the API token and its scopes" }, headers);
    }
    if (status === 429) return new HttpError(message, ExitCode.TEMP_FAIL, status, body, { hint: "retry later" }, headers);
    if (status >= 500) return new HttpError(message, ExitCode.UNAVAILABLE, status, body, undefined, headers);
    return new HttpError(message, ExitCode.DATA_ERR, status, body, undefined, headers);
  }
}

function isTimeout(error: unknown): boolean {
  const name = (error as Error)?.name;
  return name === "TimeoutError" || name === "AbortError";
}

function joinUrl(base: string, path: string): string {
  if (/^https?:\/\//.test(path)) return path;
  return `${base.replace(/\/+$/, "")}/${path.replace(/^\/+/, "")}`;
}

/** The body as text, refused (a data error) once it passes `max` bytes; the rest is not downloaded. */
async function readCapped(response: Response, max: number, what: string): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw new OpsguardError(`${what} answered more than ${max} bytes`, ExitCode.DATA_ERR, { hint: "check the URL" });
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Origin and path only: query strings can carry tokens. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function encodeBody(body: unknown): string | URLSearchParams | undefined {
  if (body === undefined) return undefined;
  if (typeof body === "string" || body instanceof URLSearchParams) return body;
  return JSON.stringify(body);
}

/**
 * The body as JSON when the answer says it is JSON, its text otherwise. A success that is not the JSON it claims is
 * unusable (a data answer we cannot read). An error answer is judged by its status whatever its body: a proxy's or
 * load balancer's HTML page under the API's content type must still be waited for (429), retried (5xx) or refused
 * (401/403), with its text (redacted, cut: apiErrorText) as the detail.
 */
function parseBody(text: string, response: Response, where: string, service: string): unknown {
  if (!(response.headers.get("content-type") ?? "").includes("json")) return text;
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    if (!response.ok) return text;
    throw new HttpError(`${service} sent invalid JSON (${where})`, ExitCode.UNAVAILABLE, response.status, text);
  }
}

/** Seconds or an HTTP date, as RFC 9110 allows. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const CREDENTIAL_HEADERS = /^(authorization|proxy-authorization|private-token|x-api-key|x-vault-token)$/i;

/**
 * An Authorization header is built from a Secret ("Bearer …", "Token token=…", "Basic base64(user:password)"): the
 * whole value and its credential part are secrets too, so a server that echoes the header is redacted in any form.
 */
export function registerCredentialHeaders(headers: Readonly<Record<string, string>> | undefined): void {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (!CREDENTIAL_HEADERS.test(name)) continue;
    registerSecret(value);
    const credential = /^\S+\s+(?:token=)?(\S+)$/.exec(value)?.[1];
    // a real credential is long; a short word ("nope" in a test of a wrong token) would be redacted everywhere
    if (credential && credential.length >= 8) {
      registerSecret(credential);
      // Basic: the base64 of user:password (registered above) and what it decodes to
      if (/^basic\s/i.test(value)) registerSecret(Buffer.from(credential, "base64").toString("utf8"));
    }
  }
}

/** The message part of the common API error bodies (PagerDuty, GitHub, GitLab, Opsgenie, Slack). */
function apiErrorText(body: unknown): string {
  // redacted before it is cut: a cut through an echoed token would leave a piece no redaction recognises
  if (typeof body === "string") return textErrorLine(redactSecrets(body)).slice(0, 200);
  if (!body || typeof body !== "object") return "";
  const b = body as Record<string, unknown>;
  const nested = b.error && typeof b.error === "object" ? (b.error as Record<string, unknown>).message : undefined;
  // RFC 6750 errors (GitLab's insufficient_scope) put the explanation and the scope needed beside the code.
  if (nested === undefined && b.message === undefined && typeof b.error === "string" && typeof b.error_description === "string") {
    return redactSecrets(`${b.error}: ${b.error_description}${typeof b.scope === "string" ? ` (scope needed: ${b.scope})` : ""}`).slice(
      0,
      200,
    );
  }
  const text = nested ?? b.message ?? b.error ?? b.error_description;
  return typeof text === "string" ? redactSecrets(text).slice(0, 200) : "";
}

/**
 * The line that says what a text error answer is: an HTML page's title (a proxy's "502 Bad Gateway"), else its first
 * line that is not blank, trimmed (CRLF line ends leave no carriage return behind).
 */
function textErrorLine(text: string): string {
  const head = text.slice(0, 4096);
  const title = /<title>([^<]*)<\/title>/i.exec(head)?.[1]?.trim();
  if (title) return title;
  return (
    head
      .split("\n")
      .map((line) => line.trim())
      .find((line) => line !== "") ?? ""
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
