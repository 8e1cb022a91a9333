import type { Entry } from "ldapts";

/** One search result: its DN and attribute values, looked up case-insensitively as LDAP names are. */
export class LdapEntry {
  readonly dn: string;
  readonly #values = new Map<string, string[]>();
  /** lower-case → the name as the server spelled it, for output. */
  readonly #names = new Map<string, string>();

  constructor(dn: string, attributes: Readonly<Record<string, readonly string[]>>) {
    this.dn = dn;
    for (const [name, values] of Object.entries(attributes)) {
      this.#values.set(name.toLowerCase(), [...values]);
      this.#names.set(name.toLowerCase(), name);
    }
  }

  static fromLdapts(entry: Entry): LdapEntry {
    const attributes: Record<string, string[]> = {};
    for (const [name, value] of Object.entries(entry)) {
      if (name === "dn") continue;
      const list = Array.isArray(value) ? value : [value];
      attributes[name] = list.map((v) => (Buffer.isBuffer(v) ? v.toString("utf8") : v));
    }
    return new LdapEntry(entry.dn, attributes);
  }

  /** Every value of an attribute; empty when absent. */
  get(attribute: string): string[] {
    return [...(this.#values.get(attribute.toLowerCase()) ?? [])];
  }

  first(attribute: string): string | undefined {
    return this.#values.get(attribute.toLowerCase())?.[0];
  }

  has(attribute: string): boolean {
    return (this.#values.get(attribute.toLowerCase())?.length ?? 0) > 0;
  }

  get attributeNames(): string[] {
    return [...this.#names.values()];
  }

  toJSON(): { dn: string; attributes: Record<string, string[]> } {
    return { dn: this.dn, attributes: Object.fromEntries([...this.#values].map(([key, values]) => [this.#names.get(key) ?? key, values])) };
  }
}
