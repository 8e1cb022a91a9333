import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createGitLabClient, ExitCode, HttpClient, HttpError, Logger, parseRetryAfter, Secret, SlackClient } from "../src/index";

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

const TOKEN = "s3cr3t-bearer-value";
const QUERY_TOKEN = "q-token-abcdef";
let server: Server;
let base = "";
let handler: Handler = (_req, res) => res.end();
let hits: { method: string; url: string; authorization: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization });
    handler(req, res, hits.length);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  hits = [];
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function client(options: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}): HttpClient {
  return new HttpClient({
    service: "Test API",
    baseUrl: base,
    headers: { authorization: `Bearer ${TOKEN}` },
    timeoutMs: 1_000,
    retries: 2,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<HttpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return error as HttpError;
}

describe("HttpClient", () => {
  it("returns parsed JSON and sends query arguments", async () => {
    handler = (req, res) => json(res, 200, { got: req.url });
    const response = await client().get<{ got: string }>("/things", { q: "a b", tag: ["x", "y"], skip: undefined });
    expect(response.body.got).toBe("/things?q=a+b&tag=x&tag=y");
    expect(hits[0]?.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("times out each attempt and stops after the retries", async () => {
    handler = () => {};
    // 400 ms, not less: on a loaded 2-core machine a shorter attempt can be over before the server, in this
    // same process, has read the request, and the test would count two hits for three attempts
    const error = await failure(client({ timeoutMs: 400, retries: 2 }).get("/hang"));
    expect(error.exitCode).toBe(ExitCode.TEMP_FAIL);
    expect(error.message).toContain("did not answer within 400 ms");
    expect(hits).toHaveLength(3);
  });

  it("bounds an answer that stalls mid-body like one that never starts, and retries a GET", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"items": [');
    };
    const error = await failure(client({ timeoutMs: 150, retries: 1 }).get("/stall"));
    expect(error.exitCode).toBe(ExitCode.TEMP_FAIL);
    expect(error.message).toContain("did not answer within 150 ms");
    expect(hits).toHaveLength(2);
  });

  it("retries a GET whose connection drops mid-body", async () => {
    handler = (_req, res, attempt) => {
      if (attempt > 1) return json(res, 200, { ok: true });
      res.writeHead(200, { "content-type": "application/json", "content-length": "100" });
      // dropped once the partial body has left for the client (an event, not a guessed delay)
      res.write('{"partial"', () => res.destroy());
    };
    expect((await client().get("/drop")).body).toEqual({ ok: true });
    expect(hits).toHaveLength(2);
  });

  it("retries a 5xx on GET a bounded number of times", async () => {
    handler = (_req, res) => json(res, 503, { message: "maintenance" });
    const error = await failure(client({ retries: 3 }).get("/flaky"));
    expect(error).toMatchObject({ status: 503, exitCode: ExitCode.UNAVAILABLE });
    expect(error.message).toContain("maintenance");
    expect(hits).toHaveLength(4);
  });

  it("recovers when a retry succeeds", async () => {
    handler = (_req, res, attempt) => (attempt < 3 ? json(res, 502, {}) : json(res, 200, { ok: true }));
    expect((await client().get("/recover")).body).toEqual({ ok: true });
    expect(hits).toHaveLength(3);
  });

  it("does not retry a POST on 5xx unless told it is safe", async () => {
    handler = (_req, res) => json(res, 500, { message: "boom" });
    await failure(client().request({ method: "POST", url: "/create", body: { a: 1 } }));
    expect(hits).toHaveLength(1);
    hits = [];
    await failure(client().request({ method: "POST", url: "/create", body: { a: 1 }, retryUnsafe: true }));
    expect(hits).toHaveLength(3);
  });

  it("honours Retry-After on 429, even for a POST", async () => {
    handler = (_req, res, attempt) =>
      attempt === 1 ? json(res, 429, { message: "slow down" }, { "retry-after": "1" }) : json(res, 201, {});
    // a fake clock for the client's wait (the sockets keep real time): the retry must not come a moment before 1 s
    let waiting: (fields: unknown) => void = () => {};
    const announced = new Promise((resolve) => {
      waiting = resolve;
    });
    // the client logs the wait just before it starts it: that is the moment to move the clock
    class WaitLog extends Logger {
      override debug(_msg: string, fields?: Record<string, unknown>): void {
        waiting(fields);
      }
    }
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    try {
      let settled = false;
      const pending = client({ log: new WaitLog({ tool: "test", level: "debug" }) })
        .request({ method: "POST", url: "/limited", body: {} })
        .finally(() => {
          settled = true;
        });
      expect(await announced).toMatchObject({ waitMs: 1000 });
      await vi.advanceTimersByTimeAsync(999);
      expect([hits.length, settled]).toEqual([1, false]);
      await vi.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(201);
      expect(hits).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("fails at once when Retry-After exceeds the cap", async () => {
    handler = (_req, res) => json(res, 429, { message: "come back tomorrow" }, { "retry-after": "86400" });
    const error = await failure(client({ maxRetryAfterMs: 2_000 }).get("/limited"));
    expect(error).toMatchObject({ status: 429, exitCode: ExitCode.TEMP_FAIL });
    expect(error.message).toContain("rate limited for 86400 s");
    expect(hits).toHaveLength(1);
  });

  it("stops retrying a 429 storm after the retries", async () => {
    handler = (_req, res) => json(res, 429, {}, { "retry-after": "0" });
    const error = await failure(client({ retries: 2 }).get("/storm"));
    expect(error.exitCode).toBe(ExitCode.TEMP_FAIL);
    expect(hits).toHaveLength(3);
  });

  it("maps 401/403 to permission, 404 to data error, and bad JSON to unavailable", async () => {
    handler = (req, res) => {
      if (req.url === "/401") json(res, 401, { message: "bad credentials" });
      else if (req.url === "/404") json(res, 404, { error: { message: "no such thing" } });
      else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{not json");
      }
    };
    expect(await failure(client().get("/401"))).toMatchObject({ exitCode: ExitCode.NO_PERM, hint: "check the API token and its scopes" });
    expect((await failure(client().get("/404"))).message).toContain("no such thing");
    expect((await failure(client().get("/bad"))).exitCode).toBe(ExitCode.UNAVAILABLE);
  });

  it("judges an error answer whose body is not the JSON its content type says by its status, quoting its text", async () => {
    // a proxy's or load balancer's page under the API's content type (T31: a 429 so answered was not waited for)
    const page = (res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(text);
    };
    handler = (_req, res, attempt) =>
      attempt === 1 ? page(res, 429, "<html><body>Too Many Requests</body></html>", { "retry-after": "0" }) : json(res, 200, { ok: 1 });
    expect((await client().get("/limited")).body).toEqual({ ok: 1 });
    expect(hits).toHaveLength(2);

    hits = [];
    // nginx's page, CRLFs and all: its title is the detail, not "<html>" and a carriage return
    const nginx =
      "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503</h1></center>\r\n</body>\r\n</html>\r\n";
    handler = (_req, res) => page(res, 503, nginx);
    const unavailable = await failure(client({ retries: 2 }).get("/down"));
    expect(hits).toHaveLength(3);
    expect(unavailable).toMatchObject({ status: 503, exitCode: ExitCode.UNAVAILABLE });
    expect(unavailable.message).toBe(`Test API answered HTTP 503: 503 Service Temporarily Unavailable (${base}/down)`);
    handler = (_req, res) => page(res, 502, "\r\n  upstream connect error\r\nreset reason: overflow");
    expect((await failure(client({ retries: 0 }).get("/down"))).message).toBe(
      `Test API answered HTTP 502: upstream connect error (${base}/down)`,
    );

    handler = (_req, res) => page(res, 401, `Bad credentials: Bearer ${TOKEN} ${"x".repeat(5000)}`);
    const refused = await failure(client().get("/who"));
    expect(refused).toMatchObject({ status: 401, exitCode: ExitCode.NO_PERM, hint: "check the API token and its scopes" });
    expect(refused.message).toMatch(/^Test API answered HTTP 401: Bad credentials: \[redacted\] x+ \(/);
    expect(refused.message.length).toBeLessThan(300);

    handler = (_req, res) => page(res, 404, "Not Found");
    expect(await failure(client().get("/nothing"))).toMatchObject({ status: 404, exitCode: ExitCode.DATA_ERR });
  });

  it("caps every client's answer at 32 MiB by default, the Slack and GitLab clients' too: exit 65, the rest not read", async () => {
    let sent = 0;
    handler = (_req, res) => {
      // 40 MiB of an answer no API page is, 1 MiB at a time while the client reads
      res.writeHead(200, { "content-type": "application/json" });
      const chunk = Buffer.alloc(1 << 20, " ");
      const more = (): void => {
        while (sent < 40) {
          sent++;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        res.end("{}");
      };
      res.on("error", () => {});
      more();
    };
    const token = new Secret("xoxb-test-token-1234", "slack.token");
    const calls = [
      // 32 MiB through fetch takes over the helper's 1 s timeout on a loaded 2-core CI machine; the cap, not the clock, is tested
      () => client({ retries: 0, timeoutMs: 20_000 }).get("/huge"),
      () => new SlackClient({ token, baseUrl: base, retries: 0 }).userInfo("U1"),
      () => createGitLabClient({ baseUrl: base, token }).get("/projects"),
    ];
    for (const call of calls) {
      sent = 0;
      const error = await call().then(
        () => undefined,
        (e: unknown) => e as HttpError,
      );
      expect(error).toMatchObject({ exitCode: ExitCode.DATA_ERR, hint: "check the URL" });
      expect(error?.message).toMatch(/ \(http:\/\/127\.0\.0\.1:\d+\/[\w/.]+\) answered more than 33554432 bytes$/);
      expect(sent).toBeLessThan(40);
    }
  });

  it("reports an unreachable service as unavailable", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await failure(client({ baseUrl: `http://127.0.0.1:${port}`, retries: 1 }).get("/x"));
    expect(error.exitCode).toBe(ExitCode.UNAVAILABLE);
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("never puts the Authorization header or query tokens into an error", async () => {
    handler = (_req, res) => json(res, 500, { message: "internal" });
    const errors = [
      await failure(client({ retries: 0 }).get("/fail", { token: QUERY_TOKEN, api_key: QUERY_TOKEN })),
      await failure(client({ retries: 0, timeoutMs: 50 }).get(`${base}/hang?access_token=${QUERY_TOKEN}`)),
    ];
    handler = () => {};
    errors.push(await failure(client({ retries: 0, timeoutMs: 50 }).get("/hang", { token: QUERY_TOKEN })));
    for (const error of errors) {
      const text = [error.message, error.hint, String(error), JSON.stringify(error), error.stack].join("\n");
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(QUERY_TOKEN);
    }
  });

  it("counts every attempt through onAttempt", async () => {
    handler = (_req, res) => json(res, 503, {});
    const seen: string[] = [];
    await failure(client({ retries: 1, onAttempt: (method, url) => seen.push(`${method} ${url.pathname}`) }).get("/count"));
    expect(seen).toEqual(["GET /count", "GET /count"]);
  });
});

describe("HttpClient redirects", () => {
  it("refuses a redirect to another origin, naming both URLs without their query; the other origin is never asked (T67 F4)", async () => {
    // another port is another origin, as plain http from an https API would be
    const other = createServer((_req, res) => json(res, 200, [{ status: "success" }]));
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const elsewhere = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    let asked = 0;
    other.on("request", () => asked++);
    try {
      handler = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere}/api/v4/projects/1/jobs?private_token=${QUERY_TOKEN}` });
        res.end();
      };
      const error = await failure(client().get("/api/v4/projects/1/jobs", { page: 1 }));
      expect(error.exitCode).toBe(ExitCode.UNAVAILABLE);
      expect(error.message).toBe(
        `Test API redirected ${base}/api/v4/projects/1/jobs to ${elsewhere}/api/v4/projects/1/jobs (HTTP 302), to another origin: not followed`,
      );
      expect(asked).toBe(0);
      expect(hits).toHaveLength(1);
    } finally {
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it("follows a redirect on the same origin, as GitHub's 301/307 for a renamed repository, keeping a 307 POST's body", async () => {
    let body = "";
    handler = (req, res) => {
      if (req.url === "/repos/old/name") return void res.writeHead(301, { location: "/repositories/42" }).end();
      if (req.url === "/graphql-old") return void res.writeHead(307, { location: `${base}/graphql` }).end();
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => json(res, 200, { at: req.url, method: req.method }));
    };
    expect((await client().get("/repos/old/name")).body).toEqual({ at: "/repositories/42", method: "GET" });
    const posted = await client().request({ method: "POST", url: "/graphql-old", body: { query: "{ viewer { login } }" } });
    expect(posted.body).toEqual({ at: "/graphql", method: "POST" });
    expect(body).toBe('{"query":"{ viewer { login } }"}');
    // the token goes on with a redirect that stays on the origin
    expect(hits.map((h) => h.authorization)).toEqual(Array(4).fill(`Bearer ${TOKEN}`));
  });
});

describe("HttpClient deadline", () => {
  it("stops an answer that runs past the run's deadline with 75, naming the deadline and the URL (T67 F6)", async () => {
    handler = () => {}; // never answers: only the deadline, shorter than the per-attempt timeout, ends the wait
    const deadline = { at: Date.now() + 200, name: "the run's deadline (x.runTimeoutMs 200)" };
    const error = await failure(client({ deadline, timeoutMs: 60_000 }).get("/api/v4/projects/1/events", { page: 7 }));
    expect(error.exitCode).toBe(ExitCode.TEMP_FAIL);
    expect(error.message).toBe(`Test API: the run's deadline (x.runTimeoutMs 200) passed while reading ${base}/api/v4/projects/1/events`);
    // not retried: a retry would start after the deadline
    expect(hits).toHaveLength(1);
  });

  it("starts no request once the deadline has passed", async () => {
    handler = (_req, res) => json(res, 200, []);
    const error = await failure(client({ deadline: { at: Date.now() - 1, name: "the deadline" } }).get("/x"));
    expect(error.exitCode).toBe(ExitCode.TEMP_FAIL);
    expect(hits).toHaveLength(0);
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("7", now)).toBe(7_000);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
