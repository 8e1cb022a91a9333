import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import {
  ConfigError,
  cutUtf8,
  DataError,
  decodeUtf8,
  escapeControlChars,
  readConfigText,
  redactedJson,
  reportError,
  Secret,
} from "../src/index";

describe("escapeControlChars", () => {
  it("makes terminal controls visible and keeps newlines, tabs and ordinary text", () => {
    expect(escapeControlChars("a\u001b[31mred\u0007\r\nnext\tcol ü ✓")).toBe("a\\x1b[31mred\\x07\\x0d\nnext\tcol ü ✓");
    expect(escapeControlChars("\u009b2J \u007f \u202eevil \u2028")).toBe("\\x9b2J \\x7f \\u{202e}evil \\u{2028}");
  });

  it("makes invisible format characters (Unicode Cf) visible too: an address with a zero-width space must not read as valid", () => {
    expect(escapeControlChars('"carol@example.com\u200b" is not a valid e-mail address')).toBe(
      '"carol@example.com\\u{200b}" is not a valid e-mail address',
    );
    expect(escapeControlChars("a\u200db\ufeffc\u00add\u{e0041}e")).toBe("a\\u{200d}b\\u{feff}c\\xadd\\u{e0041}e");
  });
});

describe("cutUtf8", () => {
  it("keeps text within the bound as it is, and cuts longer text at a character boundary, saying how many bytes are gone", () => {
    expect(cutUtf8("ab€", 5)).toBe("ab€");
    // 60 bytes into 40: the bound falls inside the sixth €, which goes whole; 15 + 24 bytes of marker
    expect(cutUtf8("€".repeat(20), 40)).toBe(`${"€".repeat(5)}… (cut: 45 more bytes)`);
    // as much text as the marker's actual length leaves room for
    expect(cutUtf8("c".repeat(7169), 7168)).toBe(`${"c".repeat(7144)}… (cut: 25 more bytes)`);
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

describe("decodeUtf8", () => {
  it("decodes UTF-8 and names the first line that is not", () => {
    expect(decodeUtf8(Buffer.from("zoë: ✓\n"), "x")).toBe("zoë: ✓\n");
    const bad = Buffer.concat([Buffer.from("a: 1\nb: 2\nc: al"), Buffer.from([0xff]), Buffer.from("ice\n")]);
    expect(() => decodeUtf8(bad, "rotation file /r.yaml")).toThrow("rotation file /r.yaml is not valid UTF-8 (line 3)");
    const truncated = Buffer.from("é").subarray(0, 1);
    expect(() => decodeUtf8(truncated, "f")).toThrow("f is not valid UTF-8 (line 1)");
  });
});

describe("config files", () => {
  it("a config file that is not UTF-8 is refused with its line, exit 78", () => {
    const dir = mkdtempSync(join(tmpdir(), "opsguard-utf8-"));
    try {
      const path = join(dir, "tool.yaml");
      writeFileSync(path, Buffer.concat([Buffer.from("ldap:\n  bindDn: cn=r"), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]));
      expect(() => readConfigText({ tool: "tool", path })).toThrow(`config file ${path} is not valid UTF-8 (line 2)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("reportError", () => {
  it("shortens a huge quoted value to its first 80 characters, keeping the line and the exit code", () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const value = `/${"A".repeat(5_000_000)}`;
      expect(reportError("ogtest", new ConfigError(`cannot read ${value} (ENOENT)`))).toBe(78);
      expect(write).toHaveBeenCalledTimes(1);
      expect(write.mock.calls[0]?.[0]).toBe(`ogtest: cannot read /${"A".repeat(79)}… (ENOENT)\n`);
      // A path or name of ordinary length is quoted whole.
      write.mockClear();
      const path = `/etc/opsguard/${"b".repeat(150)}.yaml`;
      reportError("ogtest", new ConfigError(`cannot read ${path} (ENOENT)`));
      expect(write.mock.calls[0]?.[0]).toBe(`ogtest: cannot read ${path} (ENOENT)\n`);
    } finally {
      write.mockRestore();
    }
  });

  it("keeps an error that quotes an API's line break on one line: the API cannot forge a line of ours (T41 F6)", () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      reportError("ogtest", new DataError("PagerDuty API answered HTTP 500: boom\nogtest: all sinks match"));
      expect(write.mock.calls[0]?.[0]).toBe("ogtest: PagerDuty API answered HTTP 500: boom\\nogtest: all sinks match\n");
    } finally {
      write.mockRestore();
    }
  });
});
