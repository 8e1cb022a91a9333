import { describe, expect, it } from "vitest";
import { helpWidth, wrapHelp } from "../src/help-text";

const words = (text: string) => text.split(/\s+/).filter(Boolean);
const widest = (text: string) => Math.max(...text.split("\n").map((line) => line.length));

describe("wrapHelp", () => {
  it("keeps text that fits exactly as written", () => {
    const text = "Usage: tool [options]\n\nOptions:\n  -h, --help   show this help\n";
    expect(wrapHelp(text, 80)).toBe(text);
  });

  it("refills a paragraph at its margin, every word kept in order", () => {
    const text = `${"alpha beta gamma delta ".repeat(6).trim()}\n${"epsilon zeta eta ".repeat(5).trim()}\nLast: a labelled line.`;
    const wrapped = wrapHelp(text, 40);
    expect(widest(wrapped)).toBeLessThanOrEqual(40);
    expect(words(wrapped)).toEqual(words(text));
    expect(wrapped.split("\n").filter((line) => line.startsWith(" "))).toEqual([]);
    // "Last:" starts an item of its own: nothing flows into it.
    expect(wrapped.split("\n").at(-1)).toBe("Last: a labelled line.");
  });

  it("goes on at a row's description column and flows into the row's own continuation line", () => {
    const text = [
      "  ldap.urls        servers tried in order, e.g. [ldaps://ldap1.example.org, ldaps://ldap2.example.org]",
      "                   and more of the same description",
      "  ldap.baseDn      search base",
    ].join("\n");
    expect(wrapHelp(text, 60)).toBe(
      [
        "  ldap.urls        servers tried in order, e.g.",
        "                   [ldaps://ldap1.example.org,",
        "                   ldaps://ldap2.example.org] and more of",
        "                   the same description",
        "  ldap.baseDn      search base",
      ].join("\n"),
    );
  });

  it("never joins an indented command line to the next one: its overflow goes on, deeper, by itself", () => {
    const text = "  AuthorizedKeysCommand /usr/local/lib/opsguard/authkeys/authkeys lookup -- %u %f\n  AuthorizedKeysCommandUser authkeys";
    expect(wrapHelp(text, 80)).toBe(
      "  AuthorizedKeysCommand /usr/local/lib/opsguard/authkeys/authkeys lookup -- %u\n      %f\n  AuthorizedKeysCommandUser authkeys",
    );
  });

  it("breaks a long word after a comma, keeping the names in it whole", () => {
    const text = "  state.redis.{url,username,password,caFile,servername,keyPrefix,connectTimeoutMs,commandTimeoutMs}";
    const wrapped = wrapHelp(text, 60);
    expect(widest(wrapped)).toBeLessThanOrEqual(60);
    for (const name of ["username", "servername", "keyPrefix", "connectTimeoutMs", "commandTimeoutMs"]) expect(wrapped).toContain(name);
    expect(wrapped.replace(/\s/g, "")).toBe(text.replace(/\s/g, ""));
  });

  it("cuts a word longer than the line, so nothing exceeds the width, and always ends", () => {
    const text = `  --x   ${"y".repeat(150)}\n${" ".repeat(120)}z`;
    const wrapped = wrapHelp(text, 50);
    expect(widest(wrapped)).toBeLessThanOrEqual(50);
    expect(wrapped.replace(/\s/g, "")).toBe(text.replace(/\s/g, ""));
  });
});

describe("helpWidth", () => {
  it("is the terminal's width on a TTY (at least 40), else 80", () => {
    expect(helpWidth({ isTTY: true, columns: 132 })).toBe(132);
    expect(helpWidth({ isTTY: true, columns: 20 })).toBe(40);
    expect(helpWidth({ isTTY: false, columns: 132 })).toBe(80);
    expect(helpWidth({})).toBe(80);
  });
});
