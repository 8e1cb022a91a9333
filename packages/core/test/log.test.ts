import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Logger, type LoggerOptions, Secret } from "../src/index";

function logger(options: Partial<LoggerOptions> = {}): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { log: new Logger({ tool: "ogtest", level: "debug", stream, ...options }), lines };
}

describe("Logger", () => {
  it("writes one JSON object per line in json format", () => {
    const { log, lines } = logger({ format: "json" });
    log.info("synced group", { group: "oncall", added: 2, members: ["a", "b"] });
    log.error("sink failed");
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0] ?? "");
    expect(first).toMatchObject({ level: "info", tool: "ogtest", msg: "synced group", group: "oncall", added: 2, members: ["a", "b"] });
    expect(Number.isNaN(Date.parse(first.time))).toBe(false);
    expect(JSON.parse(lines[1] ?? "")).toMatchObject({ level: "error", msg: "sink failed" });
  });

  it("tee: each line also goes to the other logger at its own level, with the fields of a child (-q on stderr, warnings kept in the record)", () => {
    const quiet = logger({ level: "error" });
    const record = logger({ level: "warn" });
    const log = quiet.log.child({ run: 7 }).tee(record.log);
    log.info("listening");
    log.warn("mark removed", { user: "alice" });
    log.error("failed");
    expect(quiet.lines).toEqual(["ogtest: error: failed run=7"]);
    expect(record.lines).toEqual(["ogtest: warn: mark removed run=7 user=alice", "ogtest: error: failed run=7"]);
    // a child of the tee keeps it
    log.child({ job: 1 }).warn("dropped");
    expect(record.lines.at(-1)).toBe("ogtest: warn: dropped run=7 job=1");
  });

  it("writes human lines with the tool name, level and key=value fields", () => {
    const { log, lines } = logger();
    log.info("connected", { server: "ldaps://a.example.com", tries: 2 });
    log.warn("slow answer", { note: "took a while" });
    expect(lines).toEqual(["ogtest: connected server=ldaps://a.example.com tries=2", 'ogtest: warn: slow answer note="took a while"']);
  });

  it("escapes a line break in the message itself (an API's error text quoted in it): one entry, one line (T41 F6)", () => {
    const { log, lines } = logger();
    log.error("source pd failed: HTTP 500: boom\nogtest: all sinks match");
    expect(lines).toEqual(["ogtest: error: source pd failed: HTTP 500: boom\\nogtest: all sinks match"]);
  });

  it("quotes and escapes values with control characters: no forged line, no terminal escape", () => {
    const { log, lines } = logger();
    log.info("login", { user: "eve\u001b[2Jx", other: "a\u009b1mb", name: "bob\nogtest: forged" });
    expect(lines).toEqual(['ogtest: login user="eve\\u001b[2Jx" other="a\\u009b1mb" name="bob\\nogtest: forged"']);
  });

  it("drops lines below its level", () => {
    const { log, lines } = logger({ level: "warn" });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    expect(lines).toEqual(["ogtest: warn: w", "ogtest: error: e"]);
    expect(log.enabled("info")).toBe(false);
    const silent = logger({ level: "silent" });
    silent.log.error("nothing");
    expect(silent.lines).toEqual([]);
  });

  it("redacts secret-looking fields at any depth", () => {
    const { log, lines } = logger({ format: "json" });
    log.debug("config", {
      password: "pw-value-1",
      apiKey: "key-value-2",
      ldap: { url: "ldaps://x", bindPassword: "pw-value-3" },
      sinks: [{ slack: { token: "xoxb-value-4" } }],
      Authorization: "Bearer value-5",
    });
    const line = lines[0] ?? "";
    for (const value of ["pw-value-1", "key-value-2", "pw-value-3", "xoxb-value-4", "value-5"]) expect(line).not.toContain(value);
    expect(JSON.parse(line)).toMatchObject({
      ldap: { url: "ldaps://x", bindPassword: "[redacted]" },
      sinks: [{ slack: { token: "[redacted]" } }],
    });
  });

  it("cuts registered secrets out of messages and values, in both formats", () => {
    const secret = new Secret('r3gistered"secret\\value', "test");
    const value = secret.reveal();
    for (const format of ["human", "json"] as const) {
      const { log, lines } = logger({ format });
      log.warn(`bind failed for ${value}`, {
        detail: `server said ${value}`,
        nested: { why: value },
        err: new Error(`oops ${value}`),
        secret,
      });
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toContain("r3gistered");
      expect(lines[0]).toContain("[redacted]");
    }
  });

  it("carries a child's fields on every line", () => {
    const { log, lines } = logger({ format: "json" });
    const child = log.child({ user: "alice" });
    child.info("notified", { ip: "198.51.100.7" });
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ user: "alice", ip: "198.51.100.7" });
  });

  it("logs an Error field as its message", () => {
    const { log, lines } = logger({ format: "json" });
    log.error("sink failed", { error: new Error("connection reset") });
    expect(JSON.parse(lines[0] ?? "").error).toBe("connection reset");
  });

  it("writes nothing to stderr when stderr is off", () => {
    const { log, lines } = logger({ stderr: false });
    log.error("only for syslog");
    expect(lines).toEqual([]);
  });
});
