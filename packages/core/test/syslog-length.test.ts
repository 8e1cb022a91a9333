import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// The lab depends on core, so core's tests reach its syslog socket through the lab's source.
import { type SyslogSocket, startSyslogSocket } from "../../lab/src/syslog";
import { Logger, settleSyslog } from "../src/index";

/**
 * core40: a log line reaches syslog as ONE message, whatever its length. The real logger(1) writes to a unix
 * datagram socket the lab binds (startSyslogSocket).
 */
const TEXT_BYTES = 7168; // the bound core's README gives: a syslog message's text, marker included
const DATAGRAM_BYTES = 8192; // rsyslog's default maxMessageSize: the whole datagram, header included

let dir: string;
let receiver: SyslogSocket;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "core-syslog-"));
  receiver = await startSyslogSocket(join(dir, "log"));
});

afterAll(async () => {
  await receiver.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Message {
  priority: number;
  tag: string;
  pid: number;
  /** The text after logger's header, decoded as UTF-8 that must be valid. */
  text: string;
  bytes: number;
}

function parse(datagram: Buffer): Message {
  // fatal: half a character anywhere fails the test
  const whole = new TextDecoder("utf-8", { fatal: true }).decode(datagram);
  const header = /^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^[]+)\[(\d+)\]: /.exec(whole);
  if (!header) throw new Error(`not a syslog message: ${whole.slice(0, 80)}`);
  return {
    priority: Number(header[1]),
    tag: header[2] ?? "",
    pid: Number(header[3]),
    text: whole.slice(header[0].length),
    bytes: datagram.length,
  };
}

let runs = 0;

/** The messages syslog got for `lines` logged at warn through core's Logger, and what stderr got. */
async function logged(lines: readonly string[]): Promise<{ messages: Message[]; stderr: string[] }> {
  const stderr: string[] = [];
  const log = new Logger({
    tool: "ogsyslog",
    stream: { write: (text: string) => stderr.push(text) },
    syslog: { facility: "user", socket: receiver.path },
  });
  const from = receiver.datagrams().length;
  const end = `end of run ${++runs}`;
  for (const line of lines) log.warn(line);
  log.warn(end);
  await settleSyslog();
  // One sender, one socket: once the last line is in, every message before it is too.
  const last = (messages: string[]) => messages.slice(from).findIndex((m) => m.endsWith(`: ${end}`));
  await receiver.until((messages) => last(messages) >= 0, `the syslog messages of run ${runs}`);
  const datagrams = receiver.datagrams();
  const count = last(receiver.messages());
  const messages = datagrams.slice(from, from + count).map(parse);
  return { messages, stderr: stderr.map((line) => line.replace(/^ogsyslog: warn: /, "").replace(/\n$/, "")) };
}

function marker(text: string): { kept: string; cut: number } | undefined {
  const found = /… \(cut: (\d+) more bytes\)$/.exec(text);
  return found ? { kept: text.slice(0, found.index), cut: Number(found[1]) } : undefined;
}

const USER_WARNING = 1 * 8 + 4;

describe("syslog gets each log line as one message (core40)", () => {
  it("a 20 KiB line with `<13>forged` at several offsets arrives as exactly one message, cut, with the marker", async () => {
    // logger(1) used to cut a line every 1024 bytes, and a piece starting with <13> took that priority
    const forged = "<13>forged";
    let hostile = "";
    for (const at of [0, 1024, 2048, 3072, 4096, 5000, 7150, 7168, 8192, 12288, 16384, 20000]) {
      hostile += "x".repeat(at - hostile.length) + forged;
    }
    hostile += "y".repeat(20 * 1024 - hostile.length);

    const { messages, stderr } = await logged([hostile]);

    expect(messages.length).toBe(1);
    const [message] = messages as [Message];
    expect([message.priority, message.tag, message.pid]).toEqual([USER_WARNING, "ogsyslog", process.pid]);
    expect(message.bytes).toBeLessThanOrEqual(DATAGRAM_BYTES);
    expect(Buffer.byteLength(message.text)).toBeLessThanOrEqual(TEXT_BYTES);
    const cut = marker(message.text);
    expect(cut).toBeDefined();
    // the line's own start, as long as the bound allows, and how many bytes are missing
    expect(hostile.startsWith(cut?.kept ?? "-")).toBe(true);
    expect(Buffer.byteLength(cut?.kept ?? "")).toBeGreaterThan(TEXT_BYTES - 40);
    expect(cut?.cut).toBe(20 * 1024 - Buffer.byteLength(cut?.kept ?? ""));
    // stderr still has all of it
    expect(stderr).toEqual([hostile, `end of run ${runs}`]);
  });

  it("a multi-byte character at the cut is left out whole, never split", async () => {
    const lines: string[] = [];
    for (const char of ["é", "€", "😀"]) for (const shift of [0, 1, 2, 3]) lines.push("a".repeat(shift) + char.repeat(5000));

    const { messages } = await logged(lines);

    expect(messages.length).toBe(lines.length);
    const shortOfBound: number[] = [];
    messages.forEach((message, i) => {
      const line = lines[i] ?? "";
      const cut = marker(message.text);
      expect(cut).toBeDefined();
      const kept = Buffer.byteLength(cut?.kept ?? "");
      // parse() decoded the datagram strictly; the kept text is the line's start, a whole number of characters
      expect(line.startsWith(cut?.kept ?? "-")).toBe(true);
      expect(cut?.cut).toBe(Buffer.byteLength(line) - kept);
      expect(Buffer.byteLength(message.text)).toBeLessThanOrEqual(TEXT_BYTES);
      shortOfBound.push(TEXT_BYTES - Buffer.byteLength(message.text));
    });
    // at most a character (4 bytes) short of the bound, and some lines did have the bound inside a character
    expect(Math.max(...shortOfBound)).toBeLessThanOrEqual(3);
    expect(shortOfBound.some((n) => n > 0)).toBe(true);
  });

  it("lines up to the bound arrive unchanged, over 1 KiB too; one byte more is cut", async () => {
    const lines = [
      "login user=alice ip=198.51.100.7",
      `error="${"z".repeat(2000)}<13>forged"`,
      "b".repeat(TEXT_BYTES),
      `${"€".repeat(2389)}x`, // 7168 bytes
      "c".repeat(TEXT_BYTES + 1),
    ];

    const { messages } = await logged(lines);

    expect(messages.map((m) => m.text)).toEqual([...lines.slice(0, 4), `${"c".repeat(TEXT_BYTES - 24)}… (cut: 25 more bytes)`]);
    expect(messages.every((m) => m.priority === USER_WARNING && m.bytes <= DATAGRAM_BYTES)).toBe(true);
  });
});
