import { describe, expect, it } from "vitest";
import { csvCell } from "../src/text";

describe("csvCell", () => {
  it("keeps plain text as it is, and quotes a quote, a comma or edge spaces (RFC 4180)", () => {
    expect(csvCell("alice")).toBe("alice");
    expect(csvCell('say "hi", then go')).toBe('"say ""hi"", then go"');
    expect(csvCell(" padded ")).toBe('" padded "');
  });

  it("writes terminal escapes, newlines and tabs visibly: one row per line, nothing a terminal acts on", () => {
    const cell = csvCell("x\u001b[2J\r\nforged,row\tend\u202e");
    expect(cell).toBe('"x\\x1b[2J\\x0d\\nforged,row\\tend\\u{202e}"');
    expect(cell).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it("defuses a cell a spreadsheet would run as a formula", () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell("+1")).toBe("'+1");
    expect(csvCell("-2")).toBe("'-2");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    // a leading TAB or CR is written as \t or \x0d, which no spreadsheet runs
    expect(csvCell("\t=1")).toBe("\\t=1");
  });
});
