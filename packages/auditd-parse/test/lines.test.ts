import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { untilEvent } from "@opsguard/lab/wait";
import { describe, expect, it } from "vitest";
import { AuditParser } from "../src/index";
import { readInput } from "../src/input";
import { LineSplitter, MAX_LINE_BYTES } from "../src/lines";
import { runAuditdParse } from "./in-process";

const CLI = new URL("../src/main.ts", import.meta.url).pathname;

function split(chunks: Buffer[]): string[] {
  const lines: string[] = [];
  const s = new LineSplitter((buf, start, end) => lines.push(buf.toString("utf8", start, end)));
  for (const c of chunks) s.push(c);
  s.end();
  return lines;
}

describe("LineSplitter", () => {
  it("keeps a UTF-8 character split across chunks and strips CR", () => {
    const bytes = Buffer.from('a="é"\r\nb=1\nc=2');
    const at = bytes.indexOf(0xa9); // second byte of é
    expect(split([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(['a="é"', "b=1", "c=2"]);
  });

  it("cuts a runaway line at the limit and resumes at the next line", () => {
    const big = Buffer.alloc(MAX_LINE_BYTES + 10, 0x41);
    const lines = split([big.subarray(0, 1000), big.subarray(1000), Buffer.from("AAA\nnext\n")]);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toHaveLength(MAX_LINE_BYTES);
    expect(lines[1]).toBe("next");
  });

  it("does not count a line's leading NULs toward its length, in one chunk or across many (T47 F8)", () => {
    // what an unclean shutdown leaves before the next record: more NULs than the line limit
    const nuls = Buffer.alloc(MAX_LINE_BYTES + 1024);
    const record = Buffer.from('type=EXECVE msg=audit(1.000:41): argc=1 a0="id"\n');
    const whole = Buffer.concat([nuls, record, Buffer.from("next\n")]);
    expect(split([whole])).toEqual(['type=EXECVE msg=audit(1.000:41): argc=1 a0="id"', "next"]);
    const chunks = Array.from({ length: Math.ceil(whole.length / 65536) }, (_, i) => whole.subarray(i * 65536, (i + 1) * 65536));
    expect(split(chunks)).toEqual(['type=EXECVE msg=audit(1.000:41): argc=1 a0="id"', "next"]);
  });

  it("keeps no byte of a chunk after push: chunks read into one reused buffer give the same lines", () => {
    // lines of many lengths, so tails of every size carry over; one 300 KiB line outgrows the join buffer
    const lines = Array.from({ length: 400 }, (_, i) => `n=${i} ${"x".repeat((i * 37) % 900)}`);
    lines.splice(200, 0, "y".repeat(300 * 1024));
    const bytes = Buffer.from(`${lines.join("\n")}\n`);
    const reused = Buffer.alloc(4096);
    const got: string[] = [];
    const s = new LineSplitter((buf, start, end) => got.push(buf.toString("utf8", start, end)));
    for (let at = 0; at < bytes.length; at += 1000) {
      const n = bytes.copy(reused, 0, at, Math.min(at + 1000, bytes.length));
      s.push(reused.subarray(0, n));
      reused.fill(0x3f); // what the next read would overwrite
    }
    s.end();
    expect(got).toEqual(lines);
  });

  it("gives the same lines whatever the chunks: a line across many chunks, a CR before the next chunk's newline", () => {
    const lines = ["a=1", "", "b=22\r", "c=333", "d".repeat(5000), "é=ü", "x=\r\r", "tail"];
    const bytes = Buffer.from(lines.join("\n"));
    const whole = split([bytes]);
    expect(whole).toEqual(["a=1", "", "b=22", "c=333", "d".repeat(5000), "é=ü", "x=\r", "tail"]);
    for (const size of [1, 2, 3, 5, 7, 64, 1000, 4999, 5001]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(Buffer.from(bytes.subarray(at, at + size)));
      expect(split(chunks), `chunks of ${size}`).toEqual(whole);
    }
  });

  it("cuts a runaway line that arrives in small chunks, and keeps the lines after it", () => {
    const big = Buffer.alloc(MAX_LINE_BYTES + 3000, 0x41);
    big[1000] = 32; // the cut falls at the last space before the limit... which is this one
    const bytes = Buffer.concat([Buffer.from("first\n"), big, Buffer.from("\nnext\n")]);
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 65536) chunks.push(bytes.subarray(at, at + 65536));
    const lines = split(chunks);
    expect(lines.map((l) => l.length)).toEqual([5, 1000, 4]);
    expect(lines[2]).toBe("next");
  });
});

describe("a CRLF log whose last line has no final LF", () => {
  const login =
    "type=LOGIN msg=audit(1700000000.000:1): pid=1 uid=0 old-auid=4294967295 auid=1000 tty=(none) old-ses=4294967295 ses=5 res=1";

  it("drops the last line's CR as a terminated line's, whatever the chunks", () => {
    const bytes = Buffer.from("a=1\r\nb=2\r");
    for (const size of [1, 2, 3, 4, 100]) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      expect(split(chunks), `chunks of ${size}`).toEqual(["a=1", "b=2"]);
    }
  });

  it("gives the same event as the line ending in CRLF, read from a file and from stdin", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-crlf-"));
    try {
      writeFileSync(join(dir, "cr.log"), `${login}\r`);
      writeFileSync(join(dir, "crlf.log"), `${login}\r\n`);
      const terminated = await runAuditdParse([join(dir, "crlf.log")]);
      expect(JSON.parse(terminated.stdout)).toMatchObject({ success: true });
      for (const run of [await runAuditdParse([join(dir, "cr.log")]), await runAuditdParse([], `${login}\r`)]) {
        expect(run.code).toBe(0);
        // was "res":"1\r" and "success":false: `--success no` chose a successful login
        expect(run.stdout).toBe(terminated.stdout);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("-F: the last line, still without its LF when the follower is stopped, drops its CR too", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-crlf-"));
    const log = join(dir, "audit.log");
    const first = "type=USER_LOGIN msg=audit(1699999999.000:9): pid=1 uid=0 auid=0 ses=1 msg='op=login res=success'";
    writeFileSync(log, `${first}\r\n${login}\r`);
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "-F", log], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise((resolve) => child.on("exit", resolve));
      // the first event out: the file has been read, its unterminated last line waits in the splitter
      await untilEvent(child.stdout, "data", () => out.includes("\n"), "the first event on stdout");
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const last = JSON.parse(out.trim().split("\n").at(-1)!);
      expect([last.id, last.success, last.records[0].raw.res]).toEqual(["1700000000.000:1", true, "1"]);
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("readInput", () => {
  const withLog = async (text: string, body: (file: string) => Promise<void>): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-input-"));
    try {
      writeFileSync(join(dir, "audit.log"), text);
      await body(join(dir, "audit.log"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("keeps a chunk intact while onChunk awaits: the next read fills another buffer", async () => {
    const text = Array.from({ length: 20000 }, (_, i) => `type=TEST msg=audit(1.000:${i}): v=${i}`).join("\n");
    await withLog(text, async (file) => {
      const got: Buffer[] = [];
      await readInput(
        file,
        async (chunk) => {
          // several turns of the event loop: the read ahead has completed by now
          for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
          got.push(Buffer.from(chunk));
        },
        process.stdin,
      );
      expect(got.length).toBeGreaterThan(2);
      expect(Buffer.concat(got).toString()).toBe(text);
    });
  });

  it("a failing onChunk ends the read with its error and leaves no descriptor open", async () => {
    const fds = () => readdirSync("/proc/self/fd").length;
    await withLog("x=1\n".repeat(200000), async (file) => {
      const before = fds();
      let calls = 0;
      const failing = readInput(
        file,
        () => {
          if (++calls === 2) throw new Error("sink failed");
        },
        process.stdin,
      );
      await expect(failing).rejects.toThrow("sink failed");
      expect(calls).toBe(2);
      expect(fds()).toBe(before);
      expect(readFileSync(file, "utf8")).toHaveLength(800000);
    });
  });

  it("hands a plain file over whole, in chunks that are only valid during the call", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-input-"));
    try {
      const lines = Array.from({ length: 3000 }, (_, i) => `type=TEST msg=audit(1.000:${i}): v=${"z".repeat(i % 200)}`);
      const text = `${lines.join("\n")}\n`; // ~330 KiB: lines span the 128 KiB reads
      writeFileSync(join(dir, "audit.log"), text);
      const got: string[] = [];
      const s = new LineSplitter((buf, start, end) => got.push(buf.toString("utf8", start, end)));
      let bytes = 0;
      await readInput(
        join(dir, "audit.log"),
        (chunk) => {
          bytes += chunk.length;
          s.push(chunk);
        },
        process.stdin,
      );
      s.end();
      expect(bytes).toBe(Buffer.byteLength(text));
      expect(got).toEqual(lines);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("NDJSON text", () => {
  it("says the same as the event objects, key for key", () => {
    const log = [
      'node=n1 type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=42 success=no exit=-111 auid=4294967295 uid=0 ses=4294967295 comm="nc" key=(null) subj=u:r:t:s0',
      "node=n1 type=SOCKADDR msg=audit(1700000000.000:1): saddr=0A0001BB000000000000000000000000000000000000000100000000\x1dSADDR={ saddr_fam=inet6 laddr=::1 lport=443 }",
      `node=n1 type=PROCTITLE msg=audit(1700000000.000:1): proctitle=${Buffer.from('nc\u0000"q"\\').toString("hex")}`,
      "node=n1 type=EOE msg=audit(1700000000.000:1):",
      "node=n1 type=AVC msg=audit(1700000000.000:2): avc:  denied  { read } for pid=1 scontext=a:b:c:s0",
      "not an audit line \u0001",
    ].join("\n");
    const pairs: Array<[unknown, string]> = [];
    const parser = new AuditParser((event, json) => pairs.push([event, String(json)]));
    for (const line of log.split("\n")) parser.pushLine(line);
    parser.end();
    expect(pairs).toHaveLength(3);
    for (const [event, json] of pairs) expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(event)));
    expect(JSON.parse(pairs[0]![1])).toMatchObject({
      proctitle: ["nc", '"q"\\'],
      sockaddr: { family: "inet6", address: "::1", port: 443 },
    });
  });
});

describe("schema/event.schema.json", () => {
  it("declares every key the parser writes, for events and records", async () => {
    const { readFileSync } = await import("node:fs");
    const schema = JSON.parse(readFileSync(new URL("../schema/event.schema.json", import.meta.url), "utf8"));
    const lines: string[] = [];
    // at most 4 records an event: the first, of 5, is written in parts (`part`)
    const parser = new AuditParser((_e, json) => lines.push(String(json)), { bounds: { records: 4, bytes: 1 << 20, openBytes: 8 << 20 } });
    parser.pushBytes(
      Buffer.from(
        [
          'node=h type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=2 ppid=1 auid=0 uid=0 ses=1 comm="sh" exe="/bin/sh" key="k"',
          'node=h type=EXECVE msg=audit(1.000:1): argc=2 a0="sh" a1=FF',
          'node=h type=CWD msg=audit(1.000:1): cwd="/"',
          "node=h type=SOCKADDR msg=audit(1.000:1): saddr=0200001600000000\x1dSADDR={ saddr_fam=inet }",
          "node=h type=PROCTITLE msg=audit(1.000:1): proctitle=7368FF",
          'type=AVC msg=audit(2.000:2): avc:  denied  { read } for x="unterminated',
          "garbage",
        ].join("\n"),
      ),
    );
    // a node= name that is not UTF-8 (nodeRaw)
    parser.pushBytes(Buffer.from("\nnode=n\xe9 type=SYSCALL msg=audit(3.000:3): syscall=2", "latin1"));
    // a line that is not UTF-8 at all
    parser.pushBytes(Buffer.from([0x0a, 0x67, 0xff]));
    parser.end();
    for (const line of lines) {
      const event = JSON.parse(line);
      for (const key of Object.keys(event)) expect(schema.properties).toHaveProperty(key);
      for (const record of event.records) for (const key of Object.keys(record)) expect(schema.$defs.record.properties).toHaveProperty(key);
    }
    const keys = new Set(lines.flatMap((l) => Object.keys(JSON.parse(l))));
    expect([...keys].sort()).toEqual(Object.keys(schema.properties).sort());
  });
});
