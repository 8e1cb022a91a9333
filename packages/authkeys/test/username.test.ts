import { describe, expect, it } from "vitest";
import { printableUser } from "../src/username";

// printableUser keeps a log line about a refused login one line and short, whatever the client sent as a name,
// and shows two different odd names differently (a trailing space is not an invalid byte).
describe("printableUser", () => {
  it("escapes every control, space, DEL, backslash and non-ASCII character distinctly", () => {
    expect(printableUser("alice")).toBe("alice");
    expect(printableUser("a b\tc\nd\x7f\x1b[31m")).toBe("a\\x20b\\x09c\\x0ad\\x7f\\x1b[31m");
    expect(printableUser("ålice\u2028")).toBe("\\xe5lice\\u{2028}");
    expect(printableUser("al\\ice")).toBe("al\\\\ice");
    expect(printableUser("alice ")).not.toBe(printableUser("alice\ufffd"));
    expect(printableUser("!~")).toBe("!~"); // both ends of printable ASCII stay
  });

  it("cuts at 64 characters and says so", () => {
    expect(printableUser("x".repeat(64))).toBe("x".repeat(64));
    expect(printableUser("x".repeat(65))).toBe(`${"x".repeat(64)}\\...`);
    expect(printableUser(`${"y".repeat(64)}\n`)).toBe(`${"y".repeat(64)}\\...`);
  });
});
