/**
 * Escapes a string for use as an RFC 4514 attribute value inside a DN: `,+"\<>;=` and NUL anywhere,
 * `#` or space at the start, space at the end. `uid=${escapeDnValue(name)},ou=people,...` then
 * names exactly one entry whatever the input holds.
 */
export function escapeDnValue(value: string): string {
  let out = "";
  const chars = [...value];
  chars.forEach((char, i) => {
    if (char === "\0") out += "\\00";
    else if (',+"\\<>;='.includes(char)) out += `\\${char}`;
    else if ((i === 0 && (char === "#" || char === " ")) || (i === chars.length - 1 && char === " ")) out += `\\${char}`;
    else out += char;
  });
  return out;
}

/** Tagged template for DNs in code: ldapDn`uid=${user},${peopleDn}` — use dnRaw() for a trusted DN suffix. */
export function ldapDn(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number | TrustedDn>): string {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += (value instanceof TrustedDn ? value.dn : escapeDnValue(String(value))) + (strings[i + 1] ?? "");
  });
  return out;
}

export class TrustedDn {
  constructor(readonly dn: string) {}
}

/** Marks a DN from config (a base DN) as already well-formed, so ldapDn inserts it unescaped. */
export function dnRaw(dn: string): TrustedDn {
  return new TrustedDn(dn);
}

export interface Rdn {
  type: string;
  value: string;
}

/** Splits a DN string into RDNs (multi-valued RDNs keep their `+` parts as separate items), unescaping values. */
export function parseDn(dn: string): Rdn[][] {
  const rdns: Rdn[][] = [];
  let current: Rdn[] = [];
  let i = 0;
  const text = dn.trim();
  if (text === "") return [];
  while (i <= text.length) {
    const eq = text.indexOf("=", i);
    if (eq === -1) throw new Error(`invalid DN "${dn}": expected type=value`);
    const type = text.slice(i, eq).trim();
    if (!/^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)$/.test(type)) throw new Error(`invalid DN "${dn}": bad attribute type "${type}"`);
    i = eq + 1;
    while (text[i] === " ") i++;
    const bytes: number[] = [];
    let trailingSpaces = 0;
    for (; i < text.length; i++) {
      const char = text[i] ?? "";
      if (char === "," || char === "+" || char === ";") break;
      if (char === "\\") {
        const hex = text.slice(i + 1, i + 3);
        if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
          bytes.push(Number.parseInt(hex, 16));
          i += 2;
        } else if (i + 1 < text.length) {
          bytes.push(...Buffer.from(text[i + 1] ?? "", "utf8"));
          i += 1;
        } else {
          throw new Error(`invalid DN "${dn}": dangling backslash`);
        }
        trailingSpaces = 0;
      } else {
        bytes.push(...Buffer.from(char, "utf8"));
        trailingSpaces = char === " " ? trailingSpaces + 1 : 0;
      }
    }
    const value = Buffer.from(bytes.slice(0, bytes.length - trailingSpaces)).toString("utf8");
    current.push({ type, value });
    const sep = text[i];
    i++;
    if (sep !== "+") {
      rdns.push(current);
      current = [];
    }
    if (sep === undefined) break;
  }
  return rdns;
}

/**
 * A canonical form for comparing DNs (group member values, configured DNs): attribute types
 * lower-cased, values unescaped then re-escaped, multi-valued RDNs sorted. Values are lower-cased
 * too, as every naming attribute in use here (uid, cn, ou, dc) matches case-insensitively.
 */
export function normalizeDn(dn: string): string {
  return parseDn(dn)
    .map((rdn) =>
      rdn
        .map(({ type, value }) => `${type.toLowerCase()}=${escapeDnValue(value.toLowerCase())}`)
        .sort()
        .join("+"),
    )
    .join(",");
}

export function dnEquals(a: string, b: string): boolean {
  return normalizeDn(a) === normalizeDn(b);
}
