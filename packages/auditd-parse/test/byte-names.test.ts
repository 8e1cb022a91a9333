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
