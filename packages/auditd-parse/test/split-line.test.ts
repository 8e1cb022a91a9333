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
});
