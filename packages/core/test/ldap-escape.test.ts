import { EqualityFilter, type Filter, SubstringFilter } from "ldapts";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  compileFilterTemplate,
  DataError,
  dnEquals,
  dnRaw,
  escapeDnValue,
  escapeFilterValue,
  fillFilterTemplate,
  ldapDn,
  ldapFilter,
  normalizeDn,
  parseDn,
  parseFilter,
} from "../src/index";

/** The assertion value as the bytes that go on the wire. */
function wireValue(filter: Filter): Buffer {
  if (!(filter instanceof EqualityFilter)) throw new Error(`expected an equality filter, got ${filter.constructor.name}`);
  return Buffer.isBuffer(filter.value) ? filter.value : Buffer.from(filter.value, "utf8");
}

describe("escapeFilterValue (RFC 4515)", () => {
  // Each pair: the raw value and the escaped form from RFC 4515 §4's examples (hex case is free).
  const rfcExamples: Array<[string, string, string]> = [
    ["o", "Parens R Us (for all your parenthetical needs)", "Parens R Us \\28for all your parenthetical needs\\29"],
    ["cn", "*", "\\2A"],
    ["filename", "C:\\MyFile", "C:\\5cMyFile"],
    ["bin", "\0\0\0\x04", "\\00\\00\\00\\04"],
    ["sn", "Lučić", "Lu\\c4\\8di\\c4\\87"],
  ];

  it.each(rfcExamples)("escapes the RFC example for %s", (_attr, raw, escaped) => {
    expect(escapeFilterValue(raw).toLowerCase()).toBe(escaped.toLowerCase());
  });

  it.each(rfcExamples)("parses the RFC example for %s back to the raw bytes", (attr, raw, escaped) => {
    expect(wireValue(parseFilter(`(${attr}=${escaped})`))).toEqual(Buffer.from(raw, "utf8"));
  });

  it("leaves ordinary printable ASCII alone so logged filters stay readable", () => {
    expect(escapeFilterValue("alice.smith-2@example.com")).toBe("alice.smith-2@example.com");
  });

  it("turns every special character into an escape, so the output has no structure of its own", () => {
    const nasty = "*)(uid=*))(|(uid=*\\\0é";
    const escaped = escapeFilterValue(nasty);
    expect(escaped).not.toMatch(/[()*\0]|\\(?![0-9a-f]{2})/);
    expect(escaped).toMatch(/^[\x20-\x7e]*$/);
    expect(wireValue(parseFilter(`(uid=${escaped})`))).toEqual(Buffer.from(nasty, "utf8"));
  });

  it("round-trips arbitrary strings through escape and parse", () => {
    const alphabet = ["a", "Z", "*", "(", ")", "\\", "\0", "\n", "é", "中", "🙂", " ", "=", "&", "|", "!", "~", "<", ">", ":"];
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 500; i++) {
      const value = Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join("");
      expect(wireValue(parseFilter(`(cn=${escapeFilterValue(value)})`))).toEqual(Buffer.from(value, "utf8"));
    }
  });
});

describe("filter templates", () => {
  it("fills placeholders with escaped values", () => {
    const template = compileFilterTemplate("(&(objectClass=posixAccount)(uid={user}))", ["user"]);
    expect(template.fill({ user: "alice" })).toBe("(&(objectClass=posixAccount)(uid=alice))");
    expect(template.fill({ user: "*)(uid=*" })).toBe("(&(objectClass=posixAccount)(uid=\\2a\\29\\28uid=\\2a))");
  });

  it("rejects an unknown placeholder at compile time, naming the config key", () => {
    expect(() => compileFilterTemplate("(uid={usr})", ["user"], "authkeys.filter")).toThrow(ConfigError);
    expect(() => compileFilterTemplate("(uid={usr})", ["user"], "authkeys.filter")).toThrow(
      /authkeys\.filter: unknown placeholder \{usr\}/,
    );
  });

  it("rejects a template that is not a valid filter", () => {
    expect(() => compileFilterTemplate("(&(uid={user})", ["user"])).toThrow(ConfigError);
    expect(() => compileFilterTemplate("uid={user})(cn=x", ["user"])).toThrow(ConfigError);
  });

  it("refuses to fill a template with a missing value", () => {
    expect(() => compileFilterTemplate("(uid={user})", ["user"]).fill({})).toThrow(DataError);
  });

  it("fillFilterTemplate and the ldapFilter tag escape the same way", () => {
    const user = "a*b(c)\\";
    expect(fillFilterTemplate("(uid={user})", { user })).toBe(ldapFilter`(uid=${user})`);
  });
});

describe("parseFilter", () => {
  it("parses compound filters", () => {
    const text = "(&(objectClass=posixAccount)(|(uid=a)(!(uid=b))))";
    expect(parseFilter(text).toString()).toBe(text);
  });

  it("parses substring filters with escapes in each part", () => {
    const filter = parseFilter("(cn=Lu\\c4\\8d*x\\2ay*\\29)");
    expect(filter).toBeInstanceOf(SubstringFilter);
    const sub = filter as SubstringFilter;
    expect([sub.initial, sub.any, sub.final]).toEqual(["Luč", ["x*y"], ")"]);
  });

  it.each([
    ["(uid=a)(uid=b)", /after the closing/],
    ["(uid=a", /expected "\)"|missing/],
    ["(uid=a\\zz)", /bad escape/],
    ["(uid=a(b)", /unescaped "\("/],
    ["(u id=a)", /attribute description/],
    ["(uid=\\ff)", null],
  ])("rejects %s", (text, message) => {
    if (message === null) {
      // A lone 0xff byte is a valid octet-string assertion for equality; only text kinds need UTF-8.
      expect(wireValue(parseFilter(text))).toEqual(Buffer.from([0xff]));
      expect(() => parseFilter("(uid>=\\ff)")).toThrow(/UTF-8/);
    } else {
      expect(() => parseFilter(text)).toThrow(message);
    }
  });
});

describe("escapeDnValue (RFC 4514)", () => {
  it.each([
    ['James "Jim" Smith, III', 'James \\"Jim\\" Smith\\, III'],
    ["#lead", "\\#lead"],
    ["mid#dle", "mid#dle"],
    [" lead", "\\ lead"],
    ["trail ", "trail\\ "],
    ["in side", "in side"],
    [" ", "\\ "],
    ['a,b+c"d\\e<f>g;h=i', 'a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h\\=i'],
    ["nul\0byte", "nul\\00byte"],
    ["Lučić", "Lučić"],
  ])("escapes %j", (raw, escaped) => {
    expect(escapeDnValue(raw)).toBe(escaped);
  });

  it("round-trips arbitrary values: one RDN in, the same value out", () => {
    const alphabet = [",", "+", '"', "\\", "<", ">", ";", "=", "#", " ", "\0", "a", "é", "中"];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 500; i++) {
      const value = Array.from({ length: 1 + (next() % 10) }, () => alphabet[next() % alphabet.length]).join("");
      const rdns = parseDn(ldapDn`cn=${value},${dnRaw("ou=groups,dc=example,dc=com")}`);
      expect(rdns).toHaveLength(4);
      expect(rdns[0]).toEqual([{ type: "cn", value }]);
    }
  });
});

describe("parseDn / normalizeDn", () => {
  it("parses the RFC 4514 examples", () => {
    expect(parseDn("CN=Steve Kille,O=Isode Limited,C=GB")).toEqual([
      [{ type: "CN", value: "Steve Kille" }],
      [{ type: "O", value: "Isode Limited" }],
      [{ type: "C", value: "GB" }],
    ]);
    expect(parseDn("OU=Sales+CN=J.  Smith,DC=example,DC=net")[0]).toEqual([
      { type: "OU", value: "Sales" },
      { type: "CN", value: "J.  Smith" },
    ]);
    expect(parseDn('CN=James \\"Jim\\" Smith\\, III,DC=example,DC=net')[0]).toEqual([{ type: "CN", value: 'James "Jim" Smith, III' }]);
    expect(parseDn("CN=Before\\0dAfter,DC=example,DC=net")[0]).toEqual([{ type: "CN", value: "Before\rAfter" }]);
    expect(parseDn("CN=Lu\\C4\\8Di\\C4\\87")[0]).toEqual([{ type: "CN", value: "Lučić" }]);
  });

  it("compares DNs the way the server does for member values", () => {
    expect(dnEquals("uid=Alice, ou=People,dc=opsguard,dc=test", "UID=alice,OU=people,DC=opsguard,DC=test")).toBe(true);
    expect(dnEquals("uid=alice,ou=people,dc=opsguard,dc=test", "uid=alice2,ou=people,dc=opsguard,dc=test")).toBe(false);
    expect(normalizeDn("cn=a\\2cb,dc=x")).toBe(normalizeDn("cn=a\\,b,dc=x"));
  });

  it("rejects malformed DNs", () => {
    expect(() => parseDn("no-equals-sign")).toThrow(/invalid DN/);
    expect(() => parseDn("cn=trailing\\")).toThrow(/invalid DN/);
  });
});
