import { describe, expect, it } from "vitest";
import { AuditParser } from "../src/parser";

// Tester finding 4 (issue 23, Round 19): an event split into parts for the 1 MiB line bound gave lines 6.6 KB
// over it, the part's "types" list (one JSON string per record) not counted in the event's size.
describe("an event split for the 1 MiB line bound", () => {
  it("writes every part's line within 1 MiB, its types list counted, and the argument whole across the parts", () => {
    const stamp = "1700000000.001:77";
    const big = "B".repeat(1_500_000);
    const hex = Buffer.from(big).toString("hex").toUpperCase();
    const lines = [
      `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=1 ppid=1 pid=42 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="x" exe="/bin/x" key=(null)`,
      `type=EXECVE msg=audit(${stamp}): argc=1501 a0="x" a1_len=${hex.length}`,
    ];
    // short records, many of them: ~9 bytes of "types" each
    for (let c = 0; c * 2200 < hex.length; c++)
      lines.push(`type=EXECVE msg=audit(${stamp}): a1[${c}]=${hex.slice(c * 2200, (c + 1) * 2200)}`);
    for (let i = 2; i < 1501; i += 10)
      lines.push(
        `type=EXECVE msg=audit(${stamp}): ${Array.from({ length: Math.min(10, 1501 - i) }, (_, k) => `a${i + k}="v${i + k}"`).join(" ")}`,
      );
    lines.push(`type=EOE msg=audit(${stamp}): `);
    const out: { length: number; argv: string[]; types: number }[] = [];
    const parser = new AuditParser((event, json) => {
      out.push({ length: json.lineLength, argv: event.argv ?? [], types: event.types.length });
    });
    parser.pushBytes(Buffer.from(`${lines.join("\n")}\n`));
    parser.end();
    expect(out.length).toBeGreaterThan(1);
    expect(parser.stats.split).toBe(out.length - 1);
    for (const part of out) expect(part.length).toBeLessThanOrEqual(1_048_576);
    // the parts' lists of types are long enough that, uncounted, the fullest part went over
    expect(Math.max(...out.map((p) => p.types))).toBeGreaterThan(800);
    // the long argument's chunks, spread over parts, still join in index order
    expect(out.flatMap((p) => p.argv).join("")).toContain("B".repeat(1000));
    expect(
      out
        .flatMap((p) => p.argv)
        .filter((a) => a.startsWith("B"))
        .join(""),
    ).toBe(big);
  });

  it("counts an argument as its JSON, escapes and all: 2 MiB of control bytes are parts within 1 MiB, not 6 MB lines", () => {
    // T22 #2: 16 arguments of 128 KiB of \x01 as the kernel logs them (hex, aN_len + aN[i] chunks of 7,000 hex
    // digits): counted as 2 MiB of bytes, written as \u0001 each, they made lines of 6 MB and ECS alerts of 12 MB
    const stamp = "1764996000.100:970";
    const arg = Buffer.alloc(128 * 1024 - 1, 1)
      .toString("hex")
      .toUpperCase();
    const lines = [
      `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=900 pid=901 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="chmod" exe="/usr/bin/chmod" key=(null)`,
      `type=EXECVE msg=audit(${stamp}): argc=219 a0="chmod" a1="777" a2="/tmp/x"`,
    ];
    for (let i = 3; i < 19; i++)
      for (let c = 0; c * 7000 < arg.length; c++)
        lines.push(
          `type=EXECVE msg=audit(${stamp}): ${c === 0 ? `a${i}_len=${arg.length} ` : ""}a${i}[${c}]=${arg.slice(c * 7000, (c + 1) * 7000)}`,
        );
    // and plain hex arguments of control bytes (one EXECVE record each, as the kernel writes ones under 7,500)
    const short = Buffer.alloc(3700, 2).toString("hex").toUpperCase();
    for (let i = 0; i < 200; i++) lines.push(`type=EXECVE msg=audit(${stamp}): a${19 + i}=${short}`);
    lines.push(`type=EOE msg=audit(${stamp}): `);
    const out: number[] = [];
    const parser = new AuditParser((_event, json) => {
      out.push(json.lineLength);
    });
    parser.pushBytes(Buffer.from(`${lines.join("\n")}\n`));
    parser.end();
    expect(out.length).toBeGreaterThan(12);
    for (const length of out) expect(length).toBeLessThanOrEqual(1_048_576);
  });
});
