import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  ExtensibleFilter,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  PresenceFilter,
  SubstringFilter,
} from "ldapts";
import { describe, expect, it } from "vitest";
import { ConfigError, compileFilterTemplate, DataError, escapeFilterValue, normalizeDn, parseDn, parseFilter } from "../src/index";

// Edges of LDAP filter/DN parsing and escaping that mutation testing (scripts/mutation.mjs core-ldap-escape)
// showed no test pinned down: each expectation here is one a change to the code would break.

describe("escapeFilterValue edges", () => {
  it("escapes DEL (0x7f) and keeps the last printable character (~)", () => {
    expect(escapeFilterValue("~\x7f")).toBe("~\\7f");
    expect(escapeFilterValue(" \x1f")).toBe(" \\1f");
  });
});

describe("parseFilter: every assertion kind", () => {
  it.each([
    ["(cn~=Fred)", ApproximateFilter, "Fred"],
    ["(uidNumber<=1000)", LessThanEqualsFilter, "1000"],
    ["(uidNumber>=1000)", GreaterThanEqualsFilter, "1000"],
    ["(cn=Fred)", EqualityFilter, "Fred"],
  ])("%s", (text, kind, value) => {
    const filter = parseFilter(text);
    expect(filter).toBeInstanceOf(kind);
    expect(filter).toMatchObject({ attribute: text.slice(1).split(/[~<>=]/)[0], value });
    expect(filter.toString()).toBe(text);
  });

  it("presence and substrings: cn=* is presence, empty substring parts are dropped", () => {
    expect(parseFilter("(cn=*)")).toBeInstanceOf(PresenceFilter);
    expect(parseFilter("(cn=*)")).toMatchObject({ attribute: "cn" });
    const sub = parseFilter("(cn=a**b*c*)") as SubstringFilter;
    expect(sub).toBeInstanceOf(SubstringFilter);
    expect([sub.attribute, sub.initial, sub.any, sub.final]).toEqual(["cn", "a", ["b", "c"], ""]);
  });

  it("RFC 4515 extensible matches: rule, :dn, and no attribute", () => {
    const rule = parseFilter("(cn:caseExactMatch:=Fred Flintstone)") as ExtensibleFilter;
    expect(rule).toBeInstanceOf(ExtensibleFilter);
    expect(rule).toMatchObject({ matchType: "cn", rule: "caseExactMatch", dnAttributes: false, value: "Fred Flintstone" });
    expect(parseFilter("(cn:=Betty Rubble)")).toMatchObject({ matchType: "cn", dnAttributes: false, value: "Betty Rubble" });
    expect(parseFilter("(sn:dn:2.4.6.8.10:=Barney Rubble)")).toMatchObject({ matchType: "sn", dnAttributes: true, rule: "2.4.6.8.10" });
    expect(parseFilter("(o:dn:=Ace Industry)")).toMatchObject({ matchType: "o", dnAttributes: true });
    expect(parseFilter("(:1.2.3:=Wilma Flintstone)")).toMatchObject({ matchType: "", rule: "1.2.3", value: "Wilma Flintstone" });
  });

  it("refuses :dn or a matching rule without :=", () => {
    expect(() => parseFilter("(cn:dn=x)")).toThrow(/extensible match needs :=/);
    expect(() => parseFilter("(cn:caseExactMatch=x)")).toThrow(/extensible match needs :=/);
  });

  it("refuses an assertion without an attribute, except an extensible match", () => {
    expect(() => parseFilter("(=x)")).toThrow(/invalid attribute description ""/);
    expect(() => parseFilter("(~=x)")).toThrow(/invalid attribute description ""/);
  });

  // one test with a label per case rather than it.each: Stryker reported mutants these cases kill as survived
  it("accepts attribute descriptions of RFC 4512 form only (name or numeric OID, options)", () => {
    const cases: Array<[string, boolean]> = [
      ["(2.5.4.3=x)", true],
      ["(12.34=x)", true],
      ["(cn;lang-en=x)", true],
      ["(cn;lang-en;binary=x)", true],
      ["(2=x)", false],
      ["(2.=x)", false],
      ["(2.5a=x)", false],
      ["(1cn=x)", false],
      ["(cn;=x)", false],
      ["(cn;a b=x)", false],
    ];
    for (const [text, valid] of cases) {
      if (valid) expect(parseFilter(text), text).toBeInstanceOf(EqualityFilter);
      else expect(() => parseFilter(text), text).toThrow(/invalid attribute description/);
    }
  });

  it("accepts surrounding spaces and a filter without its outer parentheses", () => {
    expect(parseFilter("  (uid=a)  ").toString()).toBe("(uid=a)");
    expect(parseFilter("uid=a").toString()).toBe("(uid=a)");
    expect(parseFilter("&(uid=a)(cn=b)")).toBeInstanceOf(AndFilter);
  });

  it("names what is wrong, and where", () => {
    expect(() => parseFilter("(&(uid=a)")).toThrow('invalid LDAP filter "(&(uid=a)": expected ")" at offset 9');
    expect(() => parseFilter("(uid=a")).toThrow('invalid LDAP filter "(uid=a": missing ")" at offset 1');
    expect(() => parseFilter("(abc)")).toThrow('invalid LDAP filter "(abc)": expected attribute=value at offset 1');
    // only the whole item is an assertion: "b=c" further in does not make "a<b=c" valid
    expect(() => parseFilter("(a<b=c)")).toThrow(/expected attribute=value/);
  });

  it("a bad escape in a text-valued assertion is reported as the bad escape, not as bad UTF-8", () => {
    expect(() => parseFilter("(cn>=a\\zz)")).toThrow(/bad escape "\\zz"/);
    expect(() => parseFilter("(cn~=\\c4)")).toThrow(/escaped bytes are not valid UTF-8/);
  });
});

describe("filter templates: messages and hints", () => {
  const failure = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error as ConfigError;
    }
    throw new Error("expected a failure");
  };

  it("an unknown placeholder names the key (default: filter) and lists the allowed ones", () => {
    const unknown = failure(() => compileFilterTemplate("(uid={usr})", ["user", "group"]));
    expect(unknown).toBeInstanceOf(ConfigError);
    expect(unknown.message).toBe("filter: unknown placeholder {usr} in filter template");
    expect(unknown.hint).toBe("use {user}, {group}");
    expect(failure(() => compileFilterTemplate("(uid={usr})", [])).hint).toBe("use no placeholders");
  });

  it("a template that is not a filter names the key and shows a valid one", () => {
    const bad = failure(() => compileFilterTemplate("(&(uid={user})", ["user"], "authkeys.filter"));
    expect(bad.message).toMatch(/^authkeys\.filter: invalid LDAP filter "\(&\(uid=x\)": expected "\)"/);
    expect(bad.hint).toBe('write an RFC 4515 filter such as "(&(objectClass=posixAccount)(uid={user}))"');
  });

  it("a missing value names the placeholder", () => {
    expect(() => compileFilterTemplate("(uid={user})", ["user"]).fill({})).toThrow(
      new DataError("no value for placeholder {user} in LDAP filter template"),
    );
  });
});

describe("parseDn / normalizeDn edges", () => {
  it("an empty or blank DN is the root: no RDNs", () => {
    expect(parseDn("")).toEqual([]);
    expect(parseDn("   ")).toEqual([]);
  });

  it("skips spaces around values but keeps escaped ones", () => {
    expect(parseDn("cn=  a b  ,dc=x")[0]).toEqual([{ type: "cn", value: "a b" }]);
    expect(parseDn("cn=a\\ ,dc=x")[0]).toEqual([{ type: "cn", value: "a " }]);
    expect(parseDn("cn=a  ")).toEqual([[{ type: "cn", value: "a" }]]);
  });

  it("splits at , + and ; (the old separator), and refuses a trailing separator", () => {
    expect(parseDn("cn=a;dc=b")).toEqual([[{ type: "cn", value: "a" }], [{ type: "dc", value: "b" }]]);
    expect(() => parseDn("cn=a,")).toThrow(/invalid DN "cn=a,": expected type=value/);
  });

  it("accepts attribute types of RFC 4514 form only (name or numeric OID)", () => {
    const cases: Array<[string, boolean]> = [
      ["cn=a", true],
      ["2.5.4.3=a", true],
      ["12.34=a", true],
      ["2=a", true],
      ["1cn=a", false],
      ["2.5.=a", false],
      ["2.x=a", false],
      ["c n=a", false],
    ];
    for (const [dn, valid] of cases) {
      if (valid) expect(parseDn(dn), dn).toHaveLength(1);
      else expect(() => parseDn(dn), dn).toThrow(`invalid DN "${dn}": bad attribute type "${dn.split("=")[0]}"`);
    }
  });

  it("normal form: types and values lower-cased, multi-valued RDNs sorted, escapes made uniform", () => {
    expect(normalizeDn("UID=Alice , OU=People,DC=Opsguard")).toBe("uid=alice,ou=people,dc=opsguard");
    expect(normalizeDn("ou=Sales+cn=J Smith,dc=x")).toBe("cn=j smith+ou=sales,dc=x");
    expect(normalizeDn("cn=J Smith+ou=Sales,dc=x")).toBe(normalizeDn("ou=Sales+cn=J Smith,dc=x"));
    expect(normalizeDn("cn=a\\2cb")).toBe("cn=a\\,b");
  });
});
