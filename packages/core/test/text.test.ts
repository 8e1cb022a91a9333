import { describe, expect, it } from "vitest";
import { escapeControlChars, redactedJson, Secret } from "../src/index";

describe("escapeControlChars", () => {
  it("makes terminal controls visible and keeps newlines, tabs and ordinary text", () => {
    expect(escapeControlChars("a\u001b[31mred\u0007\r\nnext\tcol ü ✓")).toBe("a\\x1b[31mred\\x07\\x0d\nnext\tcol ü ✓");
    expect(escapeControlChars("\u009b2J \u007f \u202eevil \u2028")).toBe("\\x9b2J \\x7f \\u{202e}evil \\u{2028}");
  });
});

describe("redactedJson", () => {
  it("redacts secrets inside strings before encoding, and escapes what JSON leaves raw", () => {
    new Secret('pw"with\\quote-1', "test");
    const json = redactedJson({ error: 'echo pw"with\\quote-1', odd: "\u009b\u2028" });
    expect(json).not.toContain("pw");
    expect(JSON.parse(json)).toEqual({ error: "echo [redacted]", odd: "\u009b\u2028" });
    expect(json).toContain("\\u009b\\u2028");
  });
});
