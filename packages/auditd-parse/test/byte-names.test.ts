import { describe, expect, it } from "vitest";
import { ByteNames } from "../src/byte-names";

/** A table of `names`, each looked up `rounds` times; how many times it made a value (1 per name when it remembers). */
function makesFor(names: string[], rounds: number, slots = 1024): number {
  let made = 0;
  const table = new ByteNames((name) => {
    made++;
    return name;
  }, slots);
  const bufs = names.map((n) => Buffer.from(` ${n} `));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < bufs.length; i++) expect(table.get(bufs[i]!, 1, bufs[i]!.length - 1)).toBe(names[i]);
  }
  return made;
}

describe("ByteNames", () => {
  // node= names of a fleet differ in a few digits inside a long common tail: each line of a host missed
  // the table and made its name string again when the slot came from the hash's low bits alone
  it.each([
    ["host-%.example.net", 200],
    ["node%", 200],
    ["srv%.prod.corp.example.com", 300],
    ["ip-10-0-1-%.ec2.internal", 250],
    ["%", 250],
  ])("remembers every one of a fleet's names (%s, %i names)", (shape, count) => {
    const names = Array.from({ length: count }, (_, i) => shape.replace("%", String(i).padStart(3, "0")));
    expect(makesFor(names, 5)).toBe(count);
  });

  it("stays bounded past its slots, and still answers every name right", () => {
    const names = Array.from({ length: 3000 }, (_, i) => `host-${i}.example.net`);
    const made = makesFor(names, 2, 1024);
    // at most half the slots are kept: the rest are made on every lookup
    expect(made).toBeGreaterThanOrEqual(3000 + (3000 - 512));
  });
});

// Names past eight bytes are hashed and compared four bytes at a time, the last one to three read as the word that
// ends with the name (T25's `relay.log`: node= names of up to 252 bytes on every line, issue 23). Names that differ
// in any one byte must still be told apart, wherever the name lies in its buffer, up to the buffer's last byte.
describe("ByteNames on long names", () => {
  it("tells apart names of 9-260 bytes that differ in one byte only, at every position past the eighth", () => {
    for (const length of [9, 10, 11, 12, 13, 16, 17, 31, 64, 65, 66, 67, 252, 260]) {
      const base = Array.from({ length }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26)));
      const names = [base.join("")];
      for (let at = 8; at < length; at++) {
        const other = [...base];
        other[at] = "Z";
        names.push(other.join(""));
      }
      let made = 0;
      const table = new ByteNames((name) => {
        made++;
        return name;
      }, 1024);
      for (let round = 0; round < 3; round++) {
        names.forEach((name, i) => {
          // at the buffer's end (nothing to read past it) and after 0-3 other bytes (each word alignment)
          const lead = "x".repeat((i + round) % 4);
          const buf = Buffer.from(round === 2 ? `${lead}${name}` : `${lead}${name}  `);
          expect(table.get(buf, lead.length, lead.length + name.length), `length ${length}, name ${i}`).toBe(name);
        });
      }
      expect(made, `length ${length}`).toBe(names.length);
    }
  });
});

// Round 40: get() reads a name's first eight bytes as two words where eight bytes lie in the buffer, masked to the
// name's length; the bytes after a short name (the rest of its line) must not reach the key, and near the buffer's
// end the byte loops read it as before.
describe("ByteNames.get on names of 0-12 bytes", () => {
  it("finds a name by its own bytes whatever follows it and wherever it lies, up to the buffer's last byte", () => {
    let made = 0;
    const table = new ByteNames((name) => {
      made++;
      return { name };
    }, 1024);
    const names = Array.from({ length: 13 }, (_, n) => "abcdefghijkl".slice(0, n)).concat(["x", "xy", "AVC", "SYSCALL", "selinux07"]);
    const seen = new Map<string, { name: string }>();
    for (const name of names) {
      for (const before of [0, 1, 2, 3, 5]) {
        for (const after of ["", "=", " =1", "=0 pid=1234", "ZZZZZZZZZZZZ", "\u00ff\u00fe\u00fd\u00fc\u00fb\u00fa\u00f9\u00f8"]) {
          const buf = Buffer.from(`${"#".repeat(before)}${name}${after}`, "latin1");
          const value = table.get(buf, before, before + name.length);
          expect(value.name).toBe(name);
          const first = seen.get(name) ?? value;
          seen.set(name, first);
          // the same entry: what followed the name did not make a second one
          expect(value).toBe(first);
        }
      }
    }
    expect(made).toBe(new Set(names).size);
  });
});
