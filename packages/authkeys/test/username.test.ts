import { describe, expect, it } from "vitest";
import { printableUser } from "../src/username";

// printableUser keeps a log line about a refused login one line and short, whatever the client sent as a name.
describe("printableUser", () => {
  it("replaces every control, space, DEL and non-ASCII character with ?", () => {
    expect(printableUser("alice")).toBe("alice");
    expect(printableUser("a b\tc\nd\x7f\x1b[31m")).toBe("a?b?c?d??[31m");
    expect(printableUser("ålice\u2028")).toBe("?lice?");
    expect(printableUser("!~")).toBe("!~"); // both ends of printable ASCII stay
  });

  it("cuts at 64 characters", () => {
    expect(printableUser("x".repeat(65))).toBe("x".repeat(64));
    expect(printableUser(`${"y".repeat(64)}\n`)).toBe("y".repeat(64));
  });
});
