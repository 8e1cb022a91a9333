import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseText } from "../src/index";
import { runAuditdParse } from "./in-process";

// T-auditd19b finding 3: chunks aN[i] with i >= 4096 were dropped unsaid ("0 cut", exit 0): argv cut short and a
// keyword past chunk 4095 escaped detect. A kernel writes ~36 chunks an argument, so only a forged or replayed
// log has that many; it must still lose nothing.

const stamp = "audit(1700000000.000:1)";
const syscall = (comm: string) =>
  `type=SYSCALL msg=${stamp}: arch=c000003e syscall=59 success=yes exit=0 items=0 ppid=1 pid=5 auid=1000 uid=0 ses=3 tty=pts0 comm="${comm}" exe="/usr/bin/${comm}" key=(null)`;

/** `head` then argument `arg`'s bytes as one-byte hex chunks aN[i], 600 to an EXECVE record, as the tester's log. */
function chunked(head: string, arg: number, bytes: Buffer): string[] {
  const fields = [...bytes].map((b, i) => `a${arg}[${i}]=${b.toString(16).toUpperCase().padStart(2, "0")}`);
  const lines: string[] = [];
  for (let at = 0; at < fields.length; at += 600) {
    const prefix = at === 0 ? `${head} a${arg}_len=${bytes.length} ` : "";
    lines.push(`type=EXECVE msg=${stamp}: ${prefix}${fields.slice(at, at + 600).join(" ")}`);
  }
  return lines;
}

describe("argv chunks aN[i]: every index kept", () => {
  it("an argument in 5000 chunks keeps all 5000 bytes (was the first 4096)", () => {
    const arg = `${"A".repeat(4096)}${"B".repeat(904)}`;
    const log = [syscall("x"), ...chunked('argc=2 a0="x"', 1, Buffer.from(arg)), `type=EOE msg=${stamp}:`].join("\n");
    const { events, stats } = parseText(log);
    expect(events).toHaveLength(1);
    expect(events[0]!.argv).toEqual(["x", arg]);
    expect(stats.cut).toBe(0);
  });

  it("joins chunks by index whatever their order, a repeated index keeping its first value, a huge index without a walk over holes", () => {
    const log = [
      syscall("x"),
      `type=EXECVE msg=${stamp}: argc=2 a0="x" a1[4000000000]=21 a1[5000]=63 a1[1]=62 a1[0]=61 a1[1]=5A`,
      `type=EOE msg=${stamp}:`,
    ].join("\n");
    expect(parseText(log).events[0]!.argv).toEqual(["x", "abc!"]);
  });

  it("detect sees a keyword in chunks 4096 and on: grep -r …password alerts Credentials In Files", async () => {
    const dir = mkdtempSync(join(tmpdir(), "auditd-chunks-"));
    try {
      const lines = chunked('argc=3 a0="grep" a1="-r"', 2, Buffer.from(`${"A".repeat(4096)}password`));
      writeFileSync(join(dir, "hide.log"), `${[syscall("grep"), ...lines, `type=EOE msg=${stamp}:`].join("\n")}\n`);
      const r = await runAuditdParse(["detect", "--json", join(dir, "hide.log")]);
      expect(r.code).toBe(0);
      const titles = r.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).rule.title);
      expect(titles).toContain("Credentials In Files - Linux");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Round 27: quoted chunks are joined as bytes and decoded once (no longer turned into hex and decoded back).
describe("quoted argv chunks aN[i]: the argument's bytes joined, then read as UTF-8", () => {
  const execve = (fields: Buffer) => Buffer.concat([Buffer.from(`type=EXECVE msg=${stamp}: `), fields]);
  const argLog = (...records: Buffer[]) =>
    Buffer.concat([
      Buffer.from(`${syscall("x")}\n`),
      ...records.flatMap((r) => [r, Buffer.from("\n")]),
      Buffer.from(`type=EOE msg=${stamp}:\n`),
    ]);

  it("a letter split over two quoted chunks in two records reads whole; bytes that are not UTF-8 keep their hex", async () => {
    const log = argLog(
      execve(Buffer.from('argc=3 a0="x" a1_len=6 a1[0]="caf\xC3"', "latin1")),
      execve(Buffer.from('a1[1]="\xA9\xFF!" a2[1]="cd" a2[0]=6162', "latin1")),
    );
    const r = await runAuditdParse(["-"], log);
    expect(r.code).toBe(0);
    const event = JSON.parse(r.stdout);
    expect(event.argv).toEqual(["x", "café\uFFFD!", "abcd"]);
    expect(event.argvRaw).toEqual({ 1: "636166C3A9FF21" });
  });
});
