import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeError, exitCodeOf, formatIssues } from "@opsguard/core";
import { OpsgenieSim, PagerDutySim } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../../core/test/run-in-process";
import { buildDeputize } from "../src/build";
import { createDeputizeProgram } from "../src/cli";
import { configSchema } from "../src/config";
import { accessWindow } from "../src/window";

const webhook = { type: "webhook", url: "http://127.0.0.1:9/unused" };

function problems(raw: unknown): string {
  const parsed = configSchema.safeParse(raw);
  return parsed.success ? "" : formatIssues(parsed.error);
}

describe("config", () => {
  it("names the key path of each problem", () => {
    expect(problems({ sources: [], sinks: [webhook] })).toBe("sources: configure at least one source");
    expect(problems({ sources: [{ type: "rotation", file: "/r.yaml", schedule: "x" }], sinks: [webhook] })).toBe(
      'sources[0]: unknown key "schedule"',
    );
    expect(problems({ sources: [{ type: "rotation", file: "/r.yaml" }], sinks: [{ type: "ldap-group", group: "cn=oncall,dc=x" }] })).toBe(
      "ldap: sinks[0] is an ldap-group: add an ldap section",
    );
  });

  it("refuses literal secrets and the maintainer/owner access levels", () => {
    expect(problems({ sources: [{ type: "pagerduty", token: "u+abcdef", schedules: ["SRE"] }], sinks: [webhook] })).toMatch(
      /^sources\[0\]\.token: expected "env:NAME"/,
    );
    const gitlab = { type: "gitlab-group", token: "env:T", group: "a/b", accessLevel: 40 };
    expect(problems({ sources: [{ type: "rotation", file: "/r.yaml" }], sinks: [gitlab] })).toMatch(/^sinks\[0\]\.accessLevel: /);
    expect(problems({ sources: [{ type: "rotation", file: "/r.yaml" }], sinks: [{ ...gitlab, accessLevel: "maintainer" }] })).toMatch(
      /^sinks\[0\]\.accessLevel: /,
    );
  });

  it("refuses a lease TTL that a write's timeout could outlast", () => {
    const lease = (ttlSeconds: number) => ({ redis: { url: "redis://127.0.0.1:6379/0", ttlSeconds } });
    const base = { sources: [{ type: "rotation", file: "/r.yaml" }], sinks: [webhook], timeoutMs: 2000 };
    expect(problems({ ...base, lease: lease(5) })).toBe(
      "lease.redis.ttlSeconds: 5 s is too short for timeoutMs 2000: set ttlSeconds to at least 6 (3 × timeoutMs), or lower timeoutMs",
    );
    expect(problems({ ...base, lease: lease(6) })).toBe("");
    // The defaults fit: 60 s against 10 s.
    expect(problems({ sources: base.sources, sinks: [webhook], lease: { redis: { url: "redis://127.0.0.1:6379/0" } } })).toBe("");
  });

  it("refuses two sinks with the same name", () => {
    const config = configSchema.parse({ sources: [{ type: "rotation", file: "/r.yaml" }], sinks: [webhook, webhook] });
    expect(() => buildDeputize(config)).toThrow(/two sinks are named "webhook:127.0.0.1:9"/);
  });
});

describe("sources built from config", () => {
  const pd = new PagerDutySim({ token: "oauth-access-token-1234" });
  const og = new OpsgenieSim();

  beforeAll(async () => {
    await Promise.all([pd.start(), og.start()]);
    const now = Date.now();
    pd.addUser({ id: "PUANN", name: "Ann", email: "ann@opsguard.test" });
    pd.addSchedule({
      id: "PSRE001",
      name: "SRE",
      shifts: [{ userId: "PUANN", start: new Date(now - 60_000), end: new Date(now + 60_000) }],
    });
    og.addSchedule({
      id: "og-1",
      name: "platform",
      shifts: [{ email: "ben@opsguard.test", start: new Date(now - 60_000), end: new Date(now + 60_000) }],
    });
  });
  afterAll(() => Promise.all([pd.stop(), og.stop()]));

  it("send PagerDuty's OAuth bearer and Opsgenie's GenieKey from the environment", async () => {
    const config = configSchema.parse({
      sources: [
        { type: "pagerduty", auth: "bearer", token: "env:PD", baseUrl: pd.url, schedules: [{ id: "PSRE001" }] },
        { type: "opsgenie", apiKey: "env:OG", baseUrl: og.url, schedules: ["og-1"], identifierType: "id" },
      ],
      sinks: [webhook],
    });
    const dep = buildDeputize(config, { env: { PD: pd.token, OG: og.apiKey } });
    const window = accessWindow(new Date(), 0, 0);
    const [fromPd, fromOg] = await Promise.all(dep.sources.map((s) => s.onCall(window)));
    expect(fromPd?.[0]?.people.map((p) => p.key)).toEqual(["ann@opsguard.test"]);
    expect(fromOg?.[0]).toMatchObject({ schedule: "og-1", people: [{ key: "ben@opsguard.test" }] });
    expect(pd.requests[0]?.headers.authorization).toBe(`Bearer ${pd.token}`);
    expect(pd.requests[0]?.headers.accept).toBe("application/vnd.pagerduty+json;version=2");
    expect(og.requests[0]?.headers.authorization).toBe(`GenieKey ${og.apiKey}`);
  });

  it("names the missing environment variable of a secret", () => {
    const config = configSchema.parse({ sources: [{ type: "opsgenie", apiKey: "env:OG_KEY", schedules: ["x"] }], sinks: [webhook] });
    expect(() => buildDeputize(config, { env: {} })).toThrow("sources[0].apiKey: environment variable OG_KEY is not set");
  });

  it("a token file with two lines is a config error (exit 78) naming the key, not an unreachable API", () => {
    const dir = mkdtempSync(join(tmpdir(), "deputize-secret-"));
    try {
      const file = join(dir, "slack.token");
      writeFileSync(file, "xoxb-first-line\nxoxb-second-line\n");
      const config = configSchema.parse({
        sources: [{ type: "rotation", file: "/r.yaml" }],
        sinks: [{ type: "slack", token: `file:${file}`, channel: "C1" }],
      });
      const error = (() => {
        try {
          buildDeputize(config, { env: {} });
        } catch (e) {
          return e;
        }
      })();
      expect(exitCodeOf(error)).toBe(78);
      expect(describeError(error)).toBe(
        `sinks[0].token: the secret from file ${file} has a line break or control character inside (keep only the token on one line)`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("webhook sink built from config", () => {
  it("redacts the token in the webhook URL's query when the receiver's error echoes the request (T41 F3)", async () => {
    // A receiver (or the proxy before it) answering 400 with the request line and headers quoted, as many do.
    const server = createServer((req, res) => {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(`bad request from ${req.url} with Authorization: ${req.headers.authorization}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const dir = mkdtempSync(join(tmpdir(), "deputize-hook-"));
    try {
      const port = (server.address() as AddressInfo).port;
      const config = configSchema.parse({
        sources: [{ type: "rotation", file: "/r.yaml" }],
        sinks: [
          { type: "webhook", url: `http://127.0.0.1:${port}/hook?token=HOOKQUERY-SECRET-555`, headers: { Authorization: "env:AUTH" } },
        ],
        stateDir: dir,
        retries: 0,
      });
      const dep = buildDeputize(config, { env: { AUTH: "Bearer header-secret-0123456789" } });
      const plan = await dep.sinks[0]!.plan([]);
      const error = await plan.apply().catch((e: unknown) => e);
      const text = describeError(error);
      expect(text).toMatch(/answered HTTP 400: bad request from \/hook\?\[redacted\] with Authorization: \[redacted\]/);
      expect(text).not.toContain("HOOKQUERY-SECRET-555");
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Builds the config's one webhook sink against an echoing receiver, delivers once and returns what the receiver saw. */
  async function deliver(
    sink: Record<string, unknown>,
    status: number,
  ): Promise<{ error: unknown; received: { url?: string; authorization?: string }[] }> {
    const received: { url?: string; authorization?: string }[] = [];
    const server = createServer((req, res) => {
      received.push({ url: req.url, authorization: req.headers.authorization });
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(`bad request from ${req.url}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const dir = mkdtempSync(join(tmpdir(), "deputize-hook-"));
    try {
      const port = (server.address() as AddressInfo).port;
      const url = String(sink.url).replace("PORT", String(port));
      const config = configSchema.parse({
        sources: [{ type: "rotation", file: "/r.yaml" }],
        sinks: [{ ...sink, url }],
        stateDir: dir,
        retries: 0,
      });
      const plan = await buildDeputize(config).sinks[0]!.plan([]);
      const error = await plan.apply().then(
        () => undefined,
        (e: unknown) => e,
      );
      return { error, received };
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("never prints a secret in the webhook URL's path, Slack's or Discord's (T43 N3)", async () => {
    for (const path of ["/services/T0AB12CD/B0EF34GH/PathSecret24charsXYZ0123", "/api/webhooks/1234567890/DiscordTok-en_secret-4242"]) {
      const { error } = await deliver({ type: "webhook", url: `http://127.0.0.1:PORT${path}` }, 400);
      const text = describeError(error);
      expect(exitCodeOf(error)).toBe(65);
      expect(text).toMatch(/^webhook 127\.0\.0\.1:\d+ answered HTTP 400: bad request from \[redacted\] \(http:\/\/127\.0\.0\.1:\d+\)$/m);
      expect(text).not.toContain(path.split("/").pop());
    }
  });

  it("sends a user:password@ in the webhook URL as HTTP Basic, never printed (T43 N4)", async () => {
    const { error, received } = await deliver({ type: "webhook", url: "http://hookuser:HOOKPW-SECRET-777@127.0.0.1:PORT/hook" }, 200);
    expect(error).toBeUndefined();
    expect(received).toEqual([{ url: "/hook", authorization: `Basic ${Buffer.from("hookuser:HOOKPW-SECRET-777").toString("base64")}` }]);
    const failed = await deliver({ type: "webhook", url: "http://hookuser:HOOKPW-SECRET-777@127.0.0.1:PORT/hook" }, 400);
    expect(describeError(failed.error)).not.toContain("HOOKPW-SECRET-777");
  });

  it("refuses a webhook user:password@ over plain http to another host, or beside an Authorization header (78)", () => {
    const sources = [{ type: "rotation", file: "/r.yaml" }];
    expect(problems({ sources, sinks: [{ type: "webhook", url: "http://u:pw@hooks.example/x" }] })).toMatch(
      /sinks\[0\]\.url: a user:password@ over http would be sent in clear text/,
    );
    expect(
      problems({ sources, sinks: [{ type: "webhook", url: "https://u:pw@hooks.example/x", headers: { authorization: "env:AUTH" } }] }),
    ).toMatch(/sinks\[0\]\.url: a user:password@ is sent as an Authorization header, and headers has one too/);
    expect(problems({ sources, sinks: [{ type: "webhook", url: "https://u:pw@hooks.example/x" }] })).toBe("");
  });

  it("refuses webhook headers (secrets) over plain http to another host, as the user:password@ form (T56 F5)", () => {
    const sources = [{ type: "rotation", file: "/r.yaml" }];
    const headers = { Authorization: "file:/etc/opsguard/webhook.auth" };
    for (const url of ["http://192.0.2.1/hook", "http://hooks.example.com/oncall", "http://127.example.org/hook"]) {
      expect(problems({ sources, sinks: [{ type: "webhook", url, headers }] })).toBe(
        "sinks[0].url: its headers are secrets and plain http would send them in clear text: use https (http only to 127.0.0.1, ::1 or localhost)",
      );
    }
    // https anywhere, plain http to this host (the lab), and plain http without a header secret stay allowed.
    for (const url of ["https://hooks.example.com/oncall", "http://127.0.0.1:8080/hook", "http://[::1]/hook", "http://localhost/hook"]) {
      expect(problems({ sources, sinks: [{ type: "webhook", url, headers }] })).toBe("");
    }
    expect(problems({ sources, sinks: [{ type: "webhook", url: "http://hooks.example.com/oncall" }] })).toBe("");
  });
});

describe("lease.redis: the password never goes over redis:// to another host (T56 F4)", () => {
  it("`status` and a dry run refuse redis:// with a password to a non-loopback host (78), as vpnnotify does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deputize-lease-"));
    try {
      const rotation = join(dir, "rotation.yaml");
      writeFileSync(rotation, 'schedules:\n  sre:\n    start: "2020-01-06"\n    members: [alice@opsguard.test]\n');
      const write = (redis: Record<string, unknown>) => {
        const file = join(dir, "deputize.json");
        writeFileSync(
          file,
          JSON.stringify({
            sources: [{ type: "rotation", file: rotation }],
            sinks: [{ type: "webhook", url: "http://127.0.0.1:9/unused" }],
            lease: { redis },
            stateDir: join(dir, "state"),
          }),
        );
        return file;
      };
      const env = { PATH: process.env.PATH, NO_COLOR: "1" };
      const clear = write({ url: "redis://192.0.2.1:6379/0", password: "env:REDIS_PASSWORD" });
      for (const args of [["status"], ["run", "--dry-run"]]) {
        const r = await runInProcess(createDeputizeProgram, ["--config", clear, ...args], { env });
        expect([r.code, r.stdout, r.stderr]).toEqual([
          78,
          "",
          "deputize: lease.redis.url: redis:// to 192.0.2.1 would send lease.redis.password in clear text (use rediss:// (verified TLS; lease.redis.caFile names a private CA), redis:// only to 127.0.0.1, ::1 or localhost)\n",
        ]);
      }
      // No password, or rediss://, is no secret in clear: the config is taken (status reads only the sources here).
      for (const redis of [{ url: "redis://192.0.2.1:6379/0" }, { url: "rediss://192.0.2.1:6380/0", password: "env:REDIS_PASSWORD" }]) {
        const r = await runInProcess(createDeputizeProgram, ["--config", write(redis), "status"], { env });
        expect(r.stderr).not.toContain("clear text");
        expect(r.code).not.toBe(78);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
