import {
  AndFilter,
  ApproximateFilter,
  EqualityFilter,
  ExtensibleFilter,
  type Filter,
  GreaterThanEqualsFilter,
  LessThanEqualsFilter,
  NotFilter,
  OrFilter,
  PresenceFilter,
  SubstringFilter,
} from "ldapts";
import { ConfigError, DataError } from "../errors";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Escapes a value for an RFC 4515 filter assertion. Besides the mandatory `*()\` and NUL, every
 * control and non-ASCII character is written as its UTF-8 bytes in hex (RFC 4515 §4's `Lu\c4\8di\c4\87`),
 * so the result is printable ASCII that can be logged and can never change the filter's structure.
 */
export function escapeFilterValue(value: string): string {
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0x20 && code < 0x7f && char !== "*" && char !== "(" && char !== ")" && char !== "\\") {
      out += char;
    } else {
      for (const byte of Buffer.from(char, "utf8")) out += `\\${byte.toString(16).padStart(2, "0")}`;
    }
  }
  return out;
}

/** Tagged template for filters in code: ldapFilter`(uid=${user})` escapes every interpolated value. */
export function ldapFilter(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number>): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += escapeFilterValue(String(value)) + (strings[i + 1] ?? "");
  });
  parseFilter(out);
  return out;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/**
 * A filter template from config, such as `(&(objectClass=posixAccount)(uid={user}))`, checked once
 * (syntax and placeholder names) so a typo fails at startup rather than at the first login.
 */
export interface FilterTemplate {
  readonly template: string;
  readonly placeholders: readonly string[];
  fill(values: Readonly<Record<string, string>>): string;
}

export function compileFilterTemplate(template: string, allowed: readonly string[], keyPath = "filter"): FilterTemplate {
  const placeholders = [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ""))];
  const unknown = placeholders.filter((p) => !allowed.includes(p));
  if (unknown.length > 0) {
    throw new ConfigError(`${keyPath}: unknown placeholder {${unknown[0]}} in filter template`, {
      hint: `use ${allowed.map((a) => `{${a}}`).join(", ") || "no placeholders"}`,
    });
  }
  const fill = (values: Readonly<Record<string, string>>): string =>
    template.replace(PLACEHOLDER, (_m, name: string) => {
      const value = values[name];
      if (value === undefined) throw new DataError(`no value for placeholder {${name}} in LDAP filter template`);
      return escapeFilterValue(value);
    });
  try {
    parseFilter(fill(Object.fromEntries(allowed.map((a) => [a, "x"]))));
  } catch (error) {
    throw new ConfigError(`${keyPath}: ${(error as Error).message}`, {
      hint: 'write an RFC 4515 filter such as "(&(objectClass=posixAccount)(uid={user}))"',
    });
  }
  return { template, placeholders, fill };
}

/** Fills a one-off template; prefer compileFilterTemplate for templates read from config. */
export function fillFilterTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return compileFilterTemplate(template, Object.keys(values)).fill(values);
}

class FilterSyntaxError extends DataError {}

/**
 * A strict RFC 4515 parser producing ldapts filters. ldapts' own parser decodes `\xx` escapes one
 * byte per character, which corrupts escaped UTF-8 (`\c4\8d`); here escapes become bytes and the
 * assertion value is sent as exactly those bytes.
 */
export function parseFilter(text: string): Filter {
  const input = text.trim();
  const parser = new Parser(input.startsWith("(") ? input : `(${input})`);
  const filter = parser.filter();
  if (!parser.done()) parser.fail("unexpected text after the closing parenthesis");
  return filter;
}

const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)(?:;[A-Za-z0-9-]+)*$/;

class Parser {
  #pos = 0;
  constructor(readonly input: string) {}

  done(): boolean {
    return this.#pos === this.input.length;
  }

  fail(problem: string): never {
    throw new FilterSyntaxError(`invalid LDAP filter ${JSON.stringify(this.input)}: ${problem} at offset ${this.#pos}`);
  }

  filter(): Filter {
    this.#expect("(");
    const kind = this.input[this.#pos];
    let result: Filter;
    if (kind === "&" || kind === "|") {
      this.#pos++;
      const filters: Filter[] = [];
      while (this.input[this.#pos] === "(") filters.push(this.filter());
      result = kind === "&" ? new AndFilter({ filters }) : new OrFilter({ filters });
    } else if (kind === "!") {
      this.#pos++;
      result = new NotFilter({ filter: this.filter() });
    } else {
      result = this.#item();
    }
    this.#expect(")");
    return result;
  }

  #expect(char: string): void {
    if (this.input[this.#pos] !== char) this.fail(`expected "${char}"`);
    this.#pos++;
  }

  #item(): Filter {
    const end = this.input.indexOf(")", this.#pos);
    if (end === -1) this.fail('missing ")"');
    const body = this.input.slice(this.#pos, end);
    const match = /^([^=~<>:]*)(:dn)?(?::([A-Za-z0-9.-]+))?(=|~=|<=|>=|:=)(.*)$/s.exec(body);
    if (!match) this.fail("expected attribute=value");
    const [, attribute = "", dn, rule, op, raw = ""] = match;
    if (op !== ":=" && (dn || rule)) this.fail("extensible match needs :=");
    if (attribute !== "" || op !== ":=") {
      if (!ATTRIBUTE.test(attribute)) this.fail(`invalid attribute description "${attribute}"`);
    }
    if (raw.includes("(")) this.fail('unescaped "(" in value');
    this.#pos = end;
    switch (op) {
      case "~=":
        return new ApproximateFilter({ attribute, value: this.#text(raw) });
      case "<=":
        return new LessThanEqualsFilter({ attribute, value: this.#text(raw) });
      case ">=":
        return new GreaterThanEqualsFilter({ attribute, value: this.#text(raw) });
      case ":=":
        return new ExtensibleFilter({ matchType: attribute, dnAttributes: dn !== undefined, rule, value: this.#text(raw) });
      default:
        if (raw === "*") return new PresenceFilter({ attribute });
        if (raw.includes("*")) {
          const parts = raw.split("*").map((p) => this.#text(p));
          return new SubstringFilter({
            attribute,
            initial: parts[0] ?? "",
            final: parts.at(-1) ?? "",
            any: parts.slice(1, -1).filter(Boolean),
          });
        }
        return new EqualityFilter({ attribute, value: this.#textOrBytes(raw) });
    }
  }

  #bytes(raw: string): Buffer {
    const parts: Buffer[] = [];
    let plain = "";
    for (let i = 0; i < raw.length; i++) {
      const char = raw[i];
      if (char === "\\") {
        const hex = raw.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) this.fail(`bad escape "\\${hex}" (write \\2a for *, \\28 for (, \\29 for ), \\5c for \\)`);
        parts.push(Buffer.from(plain, "utf8"), Buffer.from([Number.parseInt(hex, 16)]));
        plain = "";
        i += 2;
      } else {
        plain += char;
      }
    }
    parts.push(Buffer.from(plain, "utf8"));
    return Buffer.concat(parts);
  }

  // Valid UTF-8 goes as text (readable in logs and toString); other bytes as an octet string.
  #textOrBytes(raw: string): string | Buffer {
    const bytes = this.#bytes(raw);
    try {
      return utf8.decode(bytes);
    } catch {
      return bytes;
    }
  }

  // ldapts writes these assertion kinds as strings; an escaped value must still be valid UTF-8 for them.
  #text(raw: string): string {
    try {
      return utf8.decode(this.#bytes(raw));
    } catch (error) {
      if (error instanceof FilterSyntaxError) throw error;
      return this.fail("escaped bytes are not valid UTF-8");
    }
  }
}
