import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { MAX_CONFIG_BYTES } from "../src/config-file";
import {
  ConfigError,
  configSearchPaths,
  ExitCode,
  LdapClient,
  ldapConnectionSchema,
  loadConfig,
  resolveSecret,
  secretRefSchema,
} from "../src/index";

const TOOL = "ogtest";
const schema = z.strictObject({
  source: z.string(),
  ldap: z
    .strictObject({
      urls: z.array(z.url()).min(1),
      bindPassword: secretRefSchema,
      timeoutMs: z.number().int().positive().default(3_000),
    })
    .optional(),
});

let dir = "";
let home = "";
let cwd = "";
const savedHome = process.env.HOME;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "opsguard-config-"));
  home = join(dir, "home");
  cwd = join(dir, "work");
  mkdirSync(join(home, ".config/opsguard"), { recursive: true });
  mkdirSync(cwd);
  process.env.HOME = home;
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.env.HOME = savedHome;
});

function file(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as ConfigError).exitCode).toBe(ExitCode.CONFIG);
  expect((error as ConfigError).message).not.toContain("\n");
  return error as ConfigError;
}

describe("config discovery", () => {
  it("prefers --config, then $TOOL_CONFIG, then ./.toolrc*, then ~/.config/opsguard", async () => {
    const explicit = file(join(dir, "explicit.yaml"), "source: flag\n");
    const fromEnv = file(join(dir, "env.json"), '{"source": "env"}');
    file(join(cwd, ".ogtestrc.yaml"), "source: cwd\n");
    file(join(home, ".config/opsguard/ogtest.yaml"), "source: home\n");
    const env = { OGTEST_CONFIG: fromEnv };

    const load = (path?: string, e: NodeJS.ProcessEnv = env) => loadConfig({ tool: TOOL, schema, path, env: e, cwd });
    expect(await load(explicit)).toEqual({ config: { source: "flag" }, filepath: explicit });
    expect((await load()).config.source).toBe("env");
    expect((await load(undefined, { OGTEST_CONFIG: "" })).config.source).toBe("cwd");
    expect((await loadConfig({ tool: TOOL, schema, env: {}, cwd: dir })).config.source).toBe("home");
  });

  it("reads the rc file without extension as YAML, before the .json one", async () => {
    file(join(cwd, ".ogtestrc"), "source: plain-rc\n");
    file(join(cwd, ".ogtestrc.json"), '{"source": "json-rc"}');
    expect((await loadConfig({ tool: TOOL, schema, env: {}, cwd })).config.source).toBe("plain-rc");
  });

  it("looks in /etc/opsguard last", () => {
    const paths = configSearchPaths(TOOL, cwd);
    expect(paths.slice(-3)).toEqual(["/etc/opsguard/ogtest.json", "/etc/opsguard/ogtest.yaml", "/etc/opsguard/ogtest.yml"]);
    expect(paths[0]).toBe(join(cwd, ".ogtestrc"));
    expect(paths.indexOf(join(home, ".config/opsguard/ogtest.json"))).toBeLessThan(paths.indexOf("/etc/opsguard/ogtest.json"));
  });

  it("says where it looked when there is no config, unless config is optional", async () => {
    const error = await configError(loadConfig({ tool: TOOL, schema, env: {}, cwd }));
    expect(error.message).toBe("no config file found for ogtest");
    expect(error.hint).toContain("/etc/opsguard/ogtest.yaml");
    expect(error.hint).toContain("$OGTEST_CONFIG");
    const optional = await loadConfig({ tool: TOOL, schema: schema.partial(), env: {}, cwd, optional: true });
    expect(optional).toEqual({ config: {}, filepath: undefined });
  });

  it("looks in $XDG_CONFIG_HOME/opsguard after ./.toolrc* and before ~/.config/opsguard; a relative one is ignored", async () => {
    const xdg = join(dir, "xdg");
    mkdirSync(join(xdg, "opsguard"), { recursive: true });
    file(join(xdg, "opsguard/ogtest.yml"), "source: xdg\n");
    file(join(home, ".config/opsguard/ogtest.json"), '{"source": "home"}');
    const load = (env: NodeJS.ProcessEnv, from = cwd) => loadConfig({ tool: TOOL, schema, env, cwd: from });
    expect(await load({ XDG_CONFIG_HOME: xdg })).toEqual({ config: { source: "xdg" }, filepath: join(xdg, "opsguard/ogtest.yml") });
    expect((await load({ XDG_CONFIG_HOME: "xdg" }, dir)).config.source).toBe("home");
    file(join(cwd, ".ogtestrc.yml"), "source: cwd\n");
    expect((await load({ XDG_CONFIG_HOME: xdg })).config.source).toBe("cwd");
    expect(configSearchPaths(TOOL, cwd, { XDG_CONFIG_HOME: xdg })).toContain(join(xdg, "opsguard/ogtest.yaml"));
  });

  it("runs no code from the working directory: cosmiconfig's meta config (.config/config.js) is never read", async () => {
    const previous = process.cwd();
    const marker = join(dir, "code-ran");
    mkdirSync(join(cwd, ".config"));
    file(join(cwd, ".config/config.js"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "x"); module.exports = {};`);
    file(join(home, ".config/opsguard/ogtest.yaml"), "source: home\n");
    process.chdir(cwd);
    try {
      expect((await loadConfig({ tool: TOOL, schema, env: {}, cwd })).config.source).toBe("home");
      expect(existsSync(marker)).toBe(false);
      // The trap is real: cosmiconfig's public entry point runs it. In a child process, because the public
      // API also starts an asynchronous load of the file that would outlive this test's temp dir.
      const cosmiconfig = createRequire(import.meta.url).resolve("cosmiconfig");
      execFileSync(
        process.execPath,
        ["-e", `require(${JSON.stringify(cosmiconfig)}).cosmiconfigSync(${JSON.stringify(TOOL)}).search(${JSON.stringify(cwd)})`],
        {
          cwd,
          stdio: "ignore",
        },
      );
      expect(existsSync(marker)).toBe(true);
    } finally {
      process.chdir(previous);
    }
  });

  it("does not merge files a config names in $import: the key is just an unknown key", async () => {
    const other = file(join(dir, "other.yaml"), "source: imported\n");
    const error = await configError(
      loadConfig({ tool: TOOL, schema, path: file(join(dir, "c.yaml"), `$import: ${other}\nsource: own\n`), env: {}, cwd }),
    );
    expect(error.message).toContain('unknown key "$import"');
  });

  it("fails on a config it finds but cannot read, instead of falling back to the next place", async () => {
    mkdirSync(join(cwd, ".ogtestrc"));
    file(join(home, ".config/opsguard/ogtest.yaml"), "source: home\n");
    const error = await configError(loadConfig({ tool: TOOL, schema, env: {}, cwd }));
    expect(error.message).toBe(`config file ${join(cwd, ".ogtestrc")} is a directory, not a regular file`);
  });

  it("refuses a FIFO where it looks for a config instead of waiting on it for ever", async () => {
    execFileSync("mkfifo", [join(cwd, ".ogtestrc")]);
    const error = await configError(loadConfig({ tool: TOOL, schema, env: {}, cwd }));
    expect(error.message).toBe(`config file ${join(cwd, ".ogtestrc")} is a FIFO, not a regular file`);
    expect(error.hint).toBe("remove it, or pass --config FILE");
  });

  it("refuses a --config or $TOOL_CONFIG that is a FIFO, a directory or a device, naming it, instead of hanging or filling memory", async () => {
    const fifo = join(dir, "fifo.yaml");
    execFileSync("mkfifo", [fifo]);
    // No writer ever opens it: a blocking read would wait for ever (the test would time out).
    const viaFlag = await configError(loadConfig({ tool: TOOL, schema, path: fifo, env: {}, cwd }));
    expect(viaFlag.message).toBe(`config file ${fifo} is a FIFO, not a regular file`);
    expect(viaFlag.hint).toBe("--config must name a YAML or JSON file");
    const viaEnv = await configError(loadConfig({ tool: TOOL, schema, env: { OGTEST_CONFIG: fifo }, cwd }));
    expect(viaEnv.hint).toBe("$OGTEST_CONFIG must name a YAML or JSON file");
    const folder = await configError(loadConfig({ tool: TOOL, schema, path: dir, env: {}, cwd }));
    expect(folder.message).toBe(`config file ${dir} is a directory, not a regular file`);
    // /dev/zero never ends: read whole, it would grow until memory runs out.
    const zero = await configError(loadConfig({ tool: TOOL, schema, path: "/dev/zero", env: {}, cwd }));
    expect(zero.message).toBe("config file /dev/zero is a character device, not a regular file");
    // A Unix socket cannot even be opened (ENXIO): still named for what it is.
    const socketPath = join(dir, "sock.yaml");
    const server = createServer().listen(socketPath);
    await once(server, "listening");
    try {
      const socket = await configError(loadConfig({ tool: TOOL, schema, path: socketPath, env: {}, cwd }));
      expect(socket.message).toBe(`config file ${socketPath} is a socket, not a regular file`);
    } finally {
      server.close();
    }
  });

  it("reads a --config file with any other extension as YAML", async () => {
    expect(
      (await loadConfig({ tool: TOOL, schema, path: file(join(dir, "ogtest.conf"), "source: conf\n"), env: {}, cwd })).config.source,
    ).toBe("conf");
  });

  it("names the flag or variable that points at a missing file", async () => {
    const viaFlag = await configError(loadConfig({ tool: TOOL, schema, path: join(dir, "nope.yaml"), env: {}, cwd }));
    expect(viaFlag.message).toContain("nope.yaml does not exist");
    expect(viaFlag.hint).toBe("check --config");
    const viaEnv = await configError(loadConfig({ tool: TOOL, schema, env: { OGTEST_CONFIG: join(dir, "gone.json") }, cwd }));
    expect(viaEnv.hint).toBe("check $OGTEST_CONFIG");
  });
});

describe("config validation", () => {
  const load = (text: string, name = "c.yaml") => loadConfig({ tool: TOOL, schema, path: file(join(dir, name), text), env: {}, cwd });

  it("applies defaults and accepts valid config", async () => {
    const { config } = await load("source: x\nldap:\n  urls: [ldaps://a.example.com]\n  bindPassword: env:LDAP_PW\n");
    expect(config.ldap).toEqual({ urls: ["ldaps://a.example.com"], bindPassword: "env:LDAP_PW", timeoutMs: 3_000 });
  });

  it("names an unknown key by its path", async () => {
    const error = await configError(load("source: x\nldap:\n  urls: [ldaps://a]\n  bindPassword: env:X\n  timeout: 5\n"));
    expect(error.message).toMatch(/invalid config in .*c\.yaml: ldap: unknown key "timeout"$/);
  });

  it("names a wrong type by its path, with array indexes", async () => {
    const error = await configError(
      load("source: x\nldap:\n  urls: [ldaps://a.example.com, 42]\n  bindPassword: env:X\n  timeoutMs: soon\n"),
    );
    expect(error.message).toContain("ldap.urls[1]: ");
    expect(error.message).toContain("ldap.timeoutMs: expected number, received string");
    expect(error.message).not.toContain("is missing");
  });

  it("says when a required key is missing", async () => {
    const error = await configError(load("ldap:\n  urls: [ldaps://a.example.com]\n  bindPassword: env:X\n"));
    expect(error.message).toContain("source: required string is missing");
  });

  it("keeps many problems on one line", async () => {
    const error = await configError(load("a: 1\nsource: 5\nldap:\n  urls: 1\n  bindPassword: 2\n  timeoutMs: x\n"));
    expect(error.message).toMatch(/; and \d+ more$/);
  });

  it("never repeats a secret value in an error", async () => {
    const secret = "hunter2-literal-password";
    const cases = [
      `source: x\nldap:\n  urls: [ldaps://a.example.com]\n  bindPassword: ${secret}\n`,
      `source: x\nldap:\n  urls: [ldaps://a.example.com]\n  bindPassword: {file: ${secret}}\n`,
      `source: x\nldap:\n  urls: [ldaps://a.example.com]\n  bindPasword: ${secret}\n  bindPassword: env:X\n`,
      `source: x\nldap:\n  urls: [${secret}]\n  bindPassword: env:X\n`,
      `source: x\nldap:\n  bindPassword: "${secret}\n  urls: [\n`,
    ];
    for (const text of cases) {
      const error = await configError(load(text));
      expect(`${error.message} ${error.hint ?? ""}`).not.toContain(secret);
    }
    const literal = await configError(load(cases[0] ?? ""));
    expect(literal.message).toContain("ldap.bindPassword: ");
    expect(literal.message).toContain("literal secrets are not accepted");
  });

  it("reports a YAML syntax error with its line, not the file's content", async () => {
    const error = await configError(load('source: x\nldap:\n  bindPassword: "s3cret-in-yaml\n'));
    expect(error.message).toMatch(
      /cannot parse config file .*c\.yaml: a missing closing quote, comma, colon or space at line 4, column 1$/,
    );
    expect(error.message).not.toContain("s3cret-in-yaml");
    expect(error.hint).toBe("fix the JSON/YAML syntax");
  });

  it("refuses duplicate YAML keys, which would silently override each other", async () => {
    const error = await configError(load("source: a\nsource: b\n"));
    expect(error.message).toMatch(/a key given twice \(map keys must be unique\) at line 2, column 1$/);
  });

  it("refuses an unknown YAML tag (another parser's !!js/function) instead of reading it as a string", async () => {
    const error = await configError(load('source: !!js/function "function () { return 1 }"\n'));
    expect(error.message).toMatch(
      /cannot parse config file .*c\.yaml: an unknown tag \(a value that starts with ! is read as a tag: quote it\) at line 1, column 9$/,
    );
    expect(error.message).not.toContain("return 1");
  });

  it("refuses a config file over 1 MiB before reading it", async () => {
    const big = file(join(dir, "big.yaml"), `source: "${"A".repeat(MAX_CONFIG_BYTES)}"\n`);
    const error = await configError(loadConfig({ tool: TOOL, schema, path: big, env: {}, cwd }));
    expect(error.exitCode).toBe(78);
    expect(error.message).toBe(`config file ${big} is ${MAX_CONFIG_BYTES + 11} bytes, over the ${MAX_CONFIG_BYTES}-byte (1 MiB) limit`);
    // At a search place too, not only under --config.
    file(join(cwd, ".ogtestrc.yaml"), `source: "${"A".repeat(MAX_CONFIG_BYTES)}"\n`);
    expect((await configError(loadConfig({ tool: TOOL, schema, env: {}, cwd }))).message).toContain("over the");
    rmSync(join(cwd, ".ogtestrc.yaml"));
  });

  it("refuses credentials in an LDAP URL, naming bindDn/bindPassword and never the password", async () => {
    const ldapSchema = z.strictObject({ ldap: ldapConnectionSchema });
    for (const url of ["ldap://reader:Secret-in-url@ldap.example.org", "ldaps://Secret-in-url@ldap.example.org:636/"]) {
      const text = JSON.stringify({ ldap: { urls: [url], baseDn: "dc=example,dc=org" } });
      const error = await configError(loadConfig({ tool: TOOL, schema: ldapSchema, path: file(join(dir, "l.json"), text), env: {}, cwd }));
      expect(error.exitCode).toBe(ExitCode.CONFIG);
      expect(error.message).toMatch(/: ldap\.urls\[0\]: must not carry credentials: use ldap\.bindDn and ldap\.bindPassword$/);
      expect(error.message).not.toContain("Secret-in-url");
      // The client refuses them too, for a caller that builds its options without the schema.
      let thrown: unknown;
      try {
        new LdapClient({ urls: [url] });
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect(`${(thrown as ConfigError).message} ${(thrown as ConfigError).hint}`).toMatch(/ldap\.bindDn and ldap\.bindPassword/);
      expect((thrown as ConfigError).message).not.toContain("Secret-in-url");
    }
  });

  it("treats an empty file as empty config", async () => {
    expect((await loadConfig({ tool: TOOL, schema: schema.partial(), path: file(join(dir, "e.yaml"), ""), env: {}, cwd })).config).toEqual(
      {},
    );
  });

  it.skipIf(process.getuid?.() === 0)("says when the config file cannot be read", async () => {
    const locked = file(join(dir, "locked.yaml"), "source: x\n");
    chmodSync(locked, 0o000);
    const error = await configError(loadConfig({ tool: TOOL, schema, path: locked, env: {}, cwd }));
    expect(error.message).toBe(`cannot read config file ${locked} (EACCES)`);
    expect(error.hint).toBe("check that this user may read it");
  });

  it("reports a JSON syntax error with line and column, not the file's content", async () => {
    const error = await configError(load('{\n  "source": "x",\n  "token": "s3cret-in-json"\n  "more": 1\n}', "c.json"));
    expect(error.message).toMatch(/cannot parse config file .*c\.json: .* at line 4, column 3$/);
    expect(error.message).not.toContain("s3cret-in-json");
  });

  // T58: a bind password pasted in unquoted, that YAML reads as a tag (!), an alias (*) or a directive, or JSON as a
  // bare word: the parsers' own messages quoted it, into sshd's log on every login
  it.each([
    ["c.yaml", "source: x\nldap:\n  bindPassword: *BindS3cretXYZ\n", /an alias to no anchor .*: quote it\)$/],
    ["c.yaml", "source: x\nldap:\n  bindPassword: !BindS3cretXYZ\n", /an unknown tag .* at line 3, column 17$/],
    ["c.yaml", "source: x\nldap:\n  bindPassword: !!BindS3cretXYZ\n", /an unknown tag .* at line 3, column 17$/],
    ["c.yaml", 'source: x\nldap:\n  bindPassword: "BindS3cret\\qXYZ"\n', /an invalid escape sequence .* at line 3, column \d+$/],
    ["c.json", '{\n  "source": "x",\n  "bindPassword": BindS3cretXYZ,\n  "more": 1\n}', /an unexpected character .* at line 3, column 19$/],
    ["c.json", '{"bindPassword": BindS3cretXYZ}', /an unexpected character .* at line 1, column 18$/],
    ["c.json", '{"bindPassword": "BindS3cretXYZ}', /a string with no closing quote at line 1, column 33$/],
  ])("tells a syntax error in %s without quoting the value it is in", async (name, text, expected) => {
    const error = await configError(load(text, name));
    expect(error.message).toMatch(expected);
    expect(error.message).not.toMatch(/S3cret|BindS|XYZ/);
    expect(error.hint).toBe("fix the JSON/YAML syntax");
  });
});

describe("secretRefSchema", () => {
  it.each([
    ["env:LDAP_PW"],
    ["file:/etc/opsguard/ldap.pw"],
    ["/run/secrets/token"],
    [{ file: "/run/secrets/x" }],
    [{ env: "SLACK_TOKEN" }],
  ])("accepts %j", (ref) => {
    expect(secretRefSchema.safeParse(ref).success).toBe(true);
  });

  it.each([
    ["xoxb-literal-token"],
    ["file:relative/path"],
    ["env:1BAD"],
    [{ file: "relative" }],
    [{ env: "has space" }],
    [{ file: "/x", env: "Y" }],
    [42],
  ])("refuses %j", (ref) => {
    expect(secretRefSchema.safeParse(ref).success).toBe(false);
  });

  it("resolves what it accepts", () => {
    const path = file(join(dir, "pw"), "from-file\n");
    expect(resolveSecret(`file:${path}`, "k").reveal()).toBe("from-file");
    expect(resolveSecret({ env: "PW" }, "k", { PW: "from-env" }).reveal()).toBe("from-env");
  });
});
