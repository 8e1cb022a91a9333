import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, ExitCode, redactSecrets, registerUrlSecrets, resolveSecret, Secret } from "../src/index";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "opsguard-secret-"));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function caught(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(ExitCode.CONFIG);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("Secret", () => {
  it("does not print its value by accident", () => {
    const secret = new Secret("tok-123456789", "env SLACK_TOKEN");
    expect(String(secret)).toBe("[redacted]");
    expect(`${secret}`).toBe("[redacted]");
    expect(JSON.stringify({ token: secret })).toBe('{"token":"[redacted]"}');
    expect(inspect({ token: secret })).toBe("{ token: Secret(env SLACK_TOKEN) }");
    expect(secret.reveal()).toBe("tok-123456789");
  });

  it("registers its value so any text embedding it is scrubbed", () => {
    const secret = new Secret("pw-abcdefgh", "file /etc/pw");
    expect(redactSecrets(`bind as cn=x with pw-abcdefgh failed; retry pw-abcdefgh`)).toBe(
      "bind as cn=x with [redacted] failed; retry [redacted]",
    );
    expect(secret.source).toBe("file /etc/pw");
  });

  it("leaves very short values alone, which would otherwise blank ordinary words", () => {
    new Secret("abc", "test");
    expect(redactSecrets("abc def")).toBe("abc def");
  });
});

describe("resolveSecret", () => {
  it("reads environment variables in both forms", () => {
    const env = { SLACK_TOKEN: "xoxb-from-env" };
    expect(resolveSecret("env:SLACK_TOKEN", "slack.token", env).reveal()).toBe("xoxb-from-env");
    expect(resolveSecret({ env: "SLACK_TOKEN" }, "slack.token", env).source).toBe("env SLACK_TOKEN");
  });

  it("reads files in every form, dropping one trailing newline", () => {
    const path = join(dir, "pw");
    writeFileSync(path, "line-one-secret\r\n", { mode: 0o600 });
    for (const ref of [`file:${path}`, path, { file: path }])
      expect(resolveSecret(ref, "ldap.bindPassword").reveal()).toBe("line-one-secret");
    writeFileSync(path, "ends-with-two\n\n");
    expect(resolveSecret(path, "k").reveal()).toBe("ends-with-two\n");
  });

  it("names the key and the variable when the environment lacks it", () => {
    const error = caught(() => resolveSecret("env:LDAP_PW", "ldap.bindPassword", {}));
    expect(error.message).toBe("ldap.bindPassword: environment variable LDAP_PW is not set");
    expect(error.hint).toContain("export LDAP_PW");
    caught(() => resolveSecret({ env: "EMPTY" }, "k", { EMPTY: "" }));
  });

  it("names the key and the reason when the file cannot be read, never the configured path", () => {
    const missing = caught(() => resolveSecret(join(dir, "missing"), "k"));
    expect(missing.message).toBe("k: the secret file it names cannot be read (ENOENT: no such file)");
    expect(missing.hint).toMatch(/^check the path in k and that this user may read the file/);
    const sub = join(dir, "a-directory");
    mkdirSync(sub);
    expect(caught(() => resolveSecret(`file:${sub}`, "k")).message).toBe("k: the secret file it names is a directory, not a regular file");
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    const emptied = caught(() => resolveSecret(empty, "k"));
    expect(emptied.message).toBe("k: the secret file it names is empty");
    // With what to do about it, as every other refusal here says (T64 N9).
    expect(emptied.hint).toBe("write the secret into the file k names (one line), or point k at the file that holds it");
  });

  it("a literal password that starts with / (read as a path) is never echoed by the error (T52 F2)", () => {
    for (const ref of ["/BindS3cretXYZ", "file:/BindS3cretXYZ", { file: "/BindS3cretXYZ" }, "/etc/passwd/BindS3cretXYZ"]) {
      const error = caught(() => resolveSecret(ref, "ldap.bindPassword"));
      expect(`${error.message} ${error.hint}`).not.toContain("BindS3cret");
      expect(error.message).toMatch(
        /^ldap\.bindPassword: the secret file it names cannot be read \((ENOENT: no such file|ENOTDIR: a part of the path is not a directory)\)$/,
      );
    }
    expect(caught(() => resolveSecret("/BindS3cretXYZ", "ldap.bindPassword")).hint).toContain("literal secrets are refused");
  });

  it("refuses a secret file that is a FIFO nobody writes, a device or huge, at once and without its content", () => {
    const fifo = join(dir, "token.fifo");
    execFileSync("mkfifo", [fifo]);
    // A blocking read would wait for a writer for ever (the test would time out).
    expect(caught(() => resolveSecret(`file:${fifo}`, "slack.token")).message).toBe(
      "slack.token: the secret file it names is a FIFO, not a regular file",
    );
    expect(caught(() => resolveSecret("/dev/zero", "k")).message).toBe(
      "k: the secret file it names is a character device, not a regular file",
    );
    const huge = join(dir, "huge");
    writeFileSync(huge, "s3cret".repeat(20_000));
    const error = caught(() => resolveSecret(huge, "k"));
    expect(error.message).toBe("k: the secret file it names is 120000 bytes, over the 65536-byte limit");
    expect(error.message).not.toContain("s3cret");
  });

  it("reads a systemd credential from $CREDENTIALS_DIRECTORY, and says where to get one outside a unit", () => {
    writeFileSync(join(dir, "slack.token"), "xoxb-credential-1\n", { mode: 0o600 });
    const secret = resolveSecret("credential:slack.token", "slack.token", { CREDENTIALS_DIRECTORY: dir });
    expect(secret.reveal()).toBe("xoxb-credential-1");
    expect(secret.source).toBe(`file ${join(dir, "slack.token")}`);
    const outside = caught(() => resolveSecret("credential:slack.token", "slack.token", {}));
    expect(outside.message).toBe(
      "slack.token: credential:slack.token needs $CREDENTIALS_DIRECTORY, which systemd sets for a unit with LoadCredential=",
    );
    expect(caught(() => resolveSecret("credential:..", "k", { CREDENTIALS_DIRECTORY: dir })).message).toBe(
      'k: ".." is not a credential name',
    );
    expect(caught(() => resolveSecret("credential:missing", "k", { CREDENTIALS_DIRECTORY: dir })).message).toBe(
      "k: the systemd credential it names cannot be read (ENOENT: no such file)",
    );
  });

  it("refuses a literal secret without repeating it", () => {
    const error = caught(() => resolveSecret("xoxb-pasted-literal-token", "slack.token"));
    expect(`${error.message} ${error.hint}`).not.toContain("xoxb-pasted-literal-token");
    expect(error.hint).toBe("literal secrets are not accepted in config files");
  });
});

describe("registerUrlSecrets", () => {
  it("redacts a URL's query and userinfo as a receiver echoes them, but not a short query value everywhere", () => {
    registerUrlSecrets("https://hookuser:hook-password-77@hooks.example/x?v=2&token=URLQUERY-TOKEN-31337");
    expect(redactSecrets("GET /x?v=2&token=URLQUERY-TOKEN-31337 HTTP/1.1")).toBe("GET /x?[redacted] HTTP/1.1");
    expect(redactSecrets("token URLQUERY-TOKEN-31337, basic aG9va3VzZXI6aG9vay1wYXNzd29yZC03Nw")).toBe(
      "token [redacted], basic [redacted]",
    );
    expect(redactSecrets("hook-password-77 v=2 version 2")).toBe("[redacted] v=2 version 2");
  });

  it("redacts a webhook secret in the URL's path, whole or a token-like segment alone, but not a plain word (T43 N3)", () => {
    registerUrlSecrets("https://hooks.slack.example/services/T0AB12CD/B0EF34GH/PathSecret24charsXYZ0123");
    expect(redactSecrets("POST /services/T0AB12CD/B0EF34GH/PathSecret24charsXYZ0123 invalid_token")).toBe("POST [redacted] invalid_token");
    expect(redactSecrets("https://hooks.slack.example/services/T0AB12CD/B0EF34GH/PathSecret24charsXYZ0123")).toBe(
      "https://hooks.slack.example[redacted]",
    );
    expect(redactSecrets("no such token PathSecret24charsXYZ0123")).toBe("no such token [redacted]");
    expect(redactSecrets("3 services answered")).toBe("3 services answered");
  });
});
