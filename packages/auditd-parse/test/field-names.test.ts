import { describe, expect, it } from "vitest";
import { fieldNamesKept, MAX_FIELD_NAMES } from "../src/fields";
import { type AuditEvent, AuditParser } from "../src/index";

describe("field-name table", () => {
  it("stays within its bound on arguments split into 1-byte chunks, and reads the names past it right", () => {
    // 40 arguments of 600 one-byte chunks: 24,000 distinct aN[i] names in one event, more than the bound
    const args = 40;
    const chunks = 600;
    const lines = [
      "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0",
      `type=EXECVE msg=audit(1.000:1): argc=${args}`,
    ];
    for (let a = 0; a < args; a++) {
      const letter = (a % 26) + 0x41;
      const pairs = Array.from({ length: chunks }, (_, i) => `a${a}[${i}]=${letter.toString(16).toUpperCase()}`);
      lines.push(`type=EXECVE msg=audit(1.000:1): a${a}_len=${chunks} ${pairs.join(" ")}`);
    }
    lines.push("type=EOE msg=audit(1.000:1):");
    const events: AuditEvent[] = [];
    const parser = new AuditParser((e) => events.push(e));
    parser.pushBytes(Buffer.from(`${lines.join("\n")}\n`));
    parser.end();
    expect(fieldNamesKept()).toBeLessThanOrEqual(MAX_FIELD_NAMES);
    expect(events).toHaveLength(1);
    expect(events[0]!.argv).toEqual(Array.from({ length: args }, (_, a) => String.fromCharCode((a % 26) + 0x41).repeat(chunks)));
  });
});
