import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { HttpClient, HttpError, redactSecrets, Secret, Spool } from "../src/index";

// Found by a black-box try: a secret leaked in forms the redaction did not know (URL-encoded, base64 of a Basic
// header), through an error body cut in the middle of an echoed token, and into a spool file `status` prints.
const TOKEN = "Zq7SecretTok_4815162342xQ";
let server: Server;
let base = "";
let body = "";

beforeAll(async () => {
  new Secret(TOKEN, "test");
  server = createServer((_req, res) => {
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function errorFor(echo: string): Promise<string> {
  body = echo;
  const client = new HttpClient({ service: "Echo API", baseUrl: base, headers: {}, retries: 0, timeoutMs: 2000 });
  const error = await client.get("/x").then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HttpError);
  return (error as Error).message;
}

describe("a secret in every form it travels in", () => {
  it("is redacted URL-encoded and base64-encoded as well as as is", () => {
    const secret = 'Zq7"Sec\\ret/Tok+4815 162342&xQ';
    new Secret(secret, "test");
    for (const form of [secret, encodeURIComponent(secret), Buffer.from(secret).toString("base64")]) {
      expect(redactSecrets(`x ${form} y`)).not.toContain(form.slice(2, -2));
    }
  });

  it("is redacted with every byte percent-encoded, in either hex case, though URL encoding would leave it as is (T65 N2)", () => {
    const token = "glpat-PctEncodedTok12345";
    new Secret(token, "test");
    const every = [...Buffer.from(token)].map((b) => `%${b.toString(16).toUpperCase()}`).join("");
    for (const form of [every, every.toLowerCase()]) {
      const shown = redactSecrets(`{"message":"500 Internal Server Error token=${form}"}`);
      expect(shown).not.toContain(form.slice(0, 12));
      expect(shown).toContain("token=");
    }
  });

  it("is redacted as a JSON string's content, escaped once and twice (T30 #2: an error page dumping headers as JSON)", () => {
    const secret = 's3cr3t+/="q\\Zz-LONGSECRETVALUE';
    new Secret(secret, "test");
    const echoed = `<pre>request headers: ${JSON.stringify({ "X-Secret": secret })}</pre>`;
    expect(echoed).toContain('\\"q\\\\Zz');
    for (const shown of [echoed, JSON.stringify({ error: echoed })]) {
      expect(redactSecrets(shown)).not.toContain("Zz-LONGSECRET");
    }
  });

  it("an API error body is redacted before it is cut, so no piece of an echoed token is left", async () => {
    for (const pad of [150, 180, 190, 195]) {
      const message = await errorFor(`${"P".repeat(pad)}${TOKEN} tail`);
      expect(message).not.toContain(TOKEN.slice(0, 10));
    }
  });

  it("a Basic header's credentials are secrets in the header's base64 and as user:password", async () => {
    const client = new HttpClient({
      service: "Echo API",
      baseUrl: base,
      headers: { authorization: `Basic ${Buffer.from("deployer:hunter2-pw").toString("base64")}` },
      retries: 0,
    });
    expect(client).toBeDefined();
    const shown = redactSecrets(`raw=Basic ${Buffer.from("deployer:hunter2-pw").toString("base64")} and deployer:hunter2-pw`);
    expect(shown).not.toContain("ZGVwbG95ZXI6aHVudGVyMi1wdw");
    expect(shown).not.toContain("hunter2-pw");
  });

  it("a spool entry's error is kept redacted on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "og-spool-redact-"));
    try {
      const spool = new Spool({ dir, payload: z.object({ n: z.number() }), maxAttempts: 3, backoffMs: 10 });
      const entry = await spool.add({ n: 1 }, Date.now() + 60_000);
      await spool.fail(entry, `Slack said: raw=Bearer ${TOKEN}`);
      const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
      expect(files).toHaveLength(1);
      expect(readFileSync(join(dir, files[0]!), "utf8")).not.toContain(TOKEN);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
