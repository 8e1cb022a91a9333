import { describe, expect, it } from "vitest";
import { createProgram, executeCli, exitWith, ioOf } from "../src/cli";
import { ExitCode } from "../src/exit";
import { testIO } from "../src/iostreams";
import { Logger } from "../src/log";
import { Secret } from "../src/secret";

const TOKEN = "s3cr3t-iostreams-token-4711";
new Secret(TOKEN, "test");

describe("IOStreams", () => {
  it("redacts a registered secret in every write to stdout and stderr", () => {
    const t = testIO();
    t.io.stdout.write(`token=${TOKEN}\n`);
    t.io.stderr.write(`error: ${TOKEN} rejected\n`);
    expect(t.stdout()).toBe("token=[redacted]\n");
    expect(t.stderr()).toBe("error: [redacted] rejected\n");
  });

  it("redacts a secret split across writes, holding back only a possible start of one", () => {
    const t = testIO();
    t.io.stdout.write(`a ${TOKEN.slice(0, 5)}`);
    expect(t.stdout()).toBe("a ");
    t.io.stdout.write(TOKEN.slice(5, 12));
    t.io.stdout.write(`${TOKEN.slice(12)} b\n`);
    expect(t.stdout()).toBe("a [redacted] b\n");
  });

  it("redacts a secret in any letter case, as a case-folding proxy or error page echoes it: whole, split across writes, wrapped (T63 D3)", () => {
    const t = testIO();
    const lower = TOKEN.toLowerCase().replace("s3cr3t", "S3CR3T");
    t.io.stdout.write(`lower=${TOKEN.toLowerCase()} upper=${TOKEN.toUpperCase()} mixed=${lower}\n`);
    t.io.stdout.write(`split ${TOKEN.toUpperCase().slice(0, 9)}`);
    t.io.stdout.write(`${TOKEN.toUpperCase().slice(9)} end\n`);
    t.io.stderr.write(`wrapped ${TOKEN.toUpperCase().slice(0, 12)}\n${TOKEN.toUpperCase().slice(12)}\n`);
    expect(t.stdout()).toBe("lower=[redacted] upper=[redacted] mixed=[redacted]\nsplit [redacted] end\n");
    expect(t.stderr()).toBe("wrapped [redacted]\n");
  });

  it("writes a held-back tail that turned out not to be a secret, on the next write or at flush", () => {
    const t = testIO();
    t.io.stdout.write("x s3c");
    t.io.stdout.write("ond\n");
    expect(t.stdout()).toBe("x s3cond\n");
    t.io.stderr.write("end s3cr");
    t.io.flush();
    expect(t.stderr()).toBe("end s3cr");
  });

  it("redacts a secret a server echoed with line breaks inside, as sent and as JSON or a log line escapes them", () => {
    const t = testIO();
    const [head, tail] = [TOKEN.slice(0, 10), TOKEN.slice(10)];
    t.io.stdout.write(`raw: ${head}\n${tail} end\n`);
    t.io.stdout.write(`crlf: ${TOKEN.slice(0, 3)}\r\n${TOKEN.slice(3, 20)}\r\n${TOKEN.slice(20)}\n`);
    t.io.stdout.write(`${JSON.stringify({ error: `bad token ${head}\n${tail}` })}\n`);
    t.io.stderr.write(`x ${head}\\x0d\n${tail}\n`);
    const log = new Logger({ tool: "t", level: "info", stream: t.io.stderr });
    log.warn("refused", { reason: `Slack said: ${head}\n${tail}` });
    expect(t.stdout()).toBe('raw: [redacted] end\ncrlf: [redacted]\n{"error":"bad token [redacted]"}\n');
    expect(t.stderr()).toBe('x [redacted]\nt: warn: refused reason="Slack said: [redacted]"\n');
  });

  it("redacts a secret a line-by-line writer split at a line end; a line that merely ends like one is not held", () => {
    const t = testIO();
    t.io.stdout.write(`a ${TOKEN.slice(0, 12)}\n`);
    expect(t.stdout()).toBe("a ");
    t.io.stdout.write(`${TOKEN.slice(12)} b\n`);
    expect(t.stdout()).toBe("a [redacted] b\n");
    // Seven characters of its start (under the 8 a held line needs), then a line end: written at once.
    t.io.stderr.write(`ends with ${TOKEN.slice(0, 7)}\n`);
    expect(t.stderr()).toBe(`ends with ${TOKEN.slice(0, 7)}\n`);
    // Held, then not a secret after all: the next write or flush writes it unchanged.
    t.io.stderr.write(`then ${TOKEN.slice(0, 9)}\n`);
    t.io.stderr.write("something else\n");
    t.io.stderr.write(`last ${TOKEN.slice(0, 9)}\n`);
    t.io.flush();
    expect(t.stderr()).toBe(`ends with ${TOKEN.slice(0, 7)}\nthen ${TOKEN.slice(0, 9)}\nsomething else\nlast ${TOKEN.slice(0, 9)}\n`);
  });

  it("decides colour per stream from TTY, NO_COLOR, TERM=dumb and --no-color", () => {
    const tty = testIO({ stdoutTTY: true, stderrTTY: false, env: {} });
    expect(tty.io.colorEnabled(tty.io.stdout)).toBe(true);
    expect(tty.io.colorEnabled(tty.io.stderr)).toBe(false);
    expect(tty.io.colorEnabled(tty.io.stdout, false)).toBe(false);
    const noColor = testIO({ stdoutTTY: true, env: { NO_COLOR: "1" } });
    expect(noColor.io.colorEnabled(noColor.io.stdout)).toBe(false);
    const dumb = testIO({ stdoutTTY: true, env: { TERM: "dumb" } });
    expect(dumb.io.colorEnabled(dumb.io.stdout)).toBe(false);
  });

  it("a redacting Writable for libraries that need a stream", () => {
    const t = testIO();
    t.io.stderr.writable.write(`spin ${TOKEN}\n`);
    expect(t.stderr()).toBe("spin [redacted]\n");
  });

  it("the Writable has a terminal's cursor methods, which ora redraws its spinner with", () => {
    const t = testIO({ stderrTTY: true });
    const w = t.io.stderr.writable as NodeJS.WriteStream;
    w.cursorTo(0);
    w.clearLine(1);
    w.moveCursor(0, -1);
    expect(t.stderr()).toBe("\u001b[1G\u001b[0K\u001b[1A");
  });
});

describe("executeCli", () => {
  function demo(io: ReturnType<typeof testIO>["io"]) {
    const program = createProgram({ name: "ogdemo", version: "1.0.0", description: "demo" }, io);
    program.command("code <n>").action((n: string, _o: unknown, command) => {
      ioOf(command).stdout.write(`exit ${n}\n`);
      exitWith(command, Number(n) as ExitCode);
    });
    program.command("leak").action(() => {
      throw new Error(`server said ${TOKEN}`);
    });
    return program;
  }

  it("returns the exit code the command's run returned, without touching process.exitCode", async () => {
    const t = testIO();
    const before = process.exitCode;
    expect(await executeCli(demo(t.io), ["node", "ogdemo", "code", "2"])).toBe(2);
    expect(t.stdout()).toBe("exit 2\n");
    expect(process.exitCode).toBe(before);
  });

  it("maps errors and usage errors to exit codes, one redacted line on the run's stderr", async () => {
    const t = testIO();
    expect(await executeCli(demo(t.io), ["node", "ogdemo", "leak"])).toBe(ExitCode.SOFTWARE);
    expect(t.stderr()).toContain("ogdemo: internal error: server said [redacted]");
    const u = testIO();
    expect(await executeCli(demo(u.io), ["node", "ogdemo", "--bogus"])).toBe(ExitCode.USAGE);
    expect(u.stderr()).toBe("ogdemo: unknown option '--bogus' (see ogdemo --help)\n");
  });

  it("prints help on the run's stdout, wrapped to a TTY's width", async () => {
    const t = testIO({ stdoutTTY: true, columns: 60 });
    expect(await executeCli(demo(t.io), ["node", "ogdemo", "--help"])).toBe(ExitCode.OK);
    expect(t.stdout()).toContain("Usage: ogdemo");
    expect(
      Math.max(
        ...t
          .stdout()
          .split("\n")
          .map((l) => l.length),
      ),
    ).toBeLessThanOrEqual(60);
  });
});
