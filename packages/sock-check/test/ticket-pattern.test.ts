import { ConfigError } from "@opsguard/core";
import { describe, expect, it } from "vitest";
import { ticketsIn } from "../src/evaluate";
import { parsePolicy } from "../src/index";

/**
 * T63 A1: a ticket pattern that matches zero-width inside any text (`\b`, a lookaround) found an empty "ticket" in
 * every change, so every change passed. T63 A2: an inline flag (`(?i)`, as PCRE, Python and Go write it) stopped the
 * run with exit 70, "internal error", instead of a policy error naming the key.
 */
const refusal = (pattern: string): ConfigError => {
  try {
    parsePolicy(`ticket:\n  pattern: ${JSON.stringify(pattern)}\n`, "test.yml");
  } catch (error) {
    return error as ConfigError;
  }
  throw new Error(`${pattern} was accepted`);
};

describe("ticket.pattern", () => {
  it.each(["\\b", "(?<=\\w)", "(?=SHOP)", "\\b(?:^|$)", "(?=x)\\B"])(
    "%s, which can only match empty, is refused at load (78)",
    (pattern) => {
      const error = refusal(pattern);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.exitCode).toBe(78);
      expect(error.message).toContain("ticket.pattern: can only match an empty string");
    },
  );

  it("is accepted when it can match text, assertions around it included", () => {
    for (const pattern of ["\\bSHOP-\\d+\\b", "(?<=#)\\d+", "SHOP-\\d+|\\b(?=x)"]) {
      expect(parsePolicy(`ticket:\n  pattern: ${JSON.stringify(pattern)}\n`, "test.yml").ticket.pattern).toBe(pattern);
    }
  });

  it("finds only non-empty references: an alternative that matches empty finds no ticket", () => {
    const policy = parsePolicy(`ticket:\n  pattern: ${JSON.stringify("SHOP-\\d+|\\b(?=x)")}\n`, "test.yml");
    expect(ticketsIn("x-ray tweak", policy)).toEqual([]);
    expect(ticketsIn("SHOP-7 x-ray tweak", policy)).toEqual(["SHOP-7"]);
  });

  it("with an inline flag is a policy error naming the key and what JavaScript takes instead (78, not 70)", () => {
    const error = refusal("(?i)shop-\\d+");
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.exitCode).toBe(78);
    expect(error.message).toContain("ticket.pattern: (?i) is an inline flag, which JavaScript regular expressions");
    expect(error.message).toContain('"[A-Za-z]+-\\d+"');
  });

  it("that does not compile otherwise says why, as a policy error", () => {
    const error = refusal("SHOP-(\\d+");
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/ticket\.pattern: not a valid JavaScript regular expression \(.*Unterminated group\)/);
  });
});
