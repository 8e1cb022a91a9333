/**
 * The Sigma condition language (sigma-specification, specification/sigma-rules-specification.md,
 * "Condition"): `and`, `or`, `not`, parentheses, `1 of PATTERN`, `all of PATTERN`, `1 of them`, `all of
 * them`, search identifiers; precedence or < and < not < x of < ( ). Patterns match identifiers with `*`;
 * `them` and patterns leave out identifiers that start with `_`, as the specification says.
 */

export type Condition =
  | { op: "and" | "or"; items: Condition[] }
  | { op: "not"; item: Condition }
  | { op: "id"; name: string }
  | { op: "of"; count: "all" | number; names: string[] };

export class ConditionError extends Error {}

const TOKEN = /\s*(\(|\)|[A-Za-z0-9_*.-]+|\S)/y;

/**
 * Nesting (parentheses and `not`s) a condition may have. The parser and the matcher recurse once per level,
 * so 5000 `(` overflowed the stack (exit 70, no alerts from the valid rules); real rules nest 3 or 4 deep.
 */
export const MAX_CONDITION_DEPTH = 100;

/** Parses one condition string against the rule's search identifiers; throws ConditionError with the reason. */
export function parseCondition(text: string, identifiers: readonly string[]): Condition {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m !== null; m = TOKEN.exec(text)) tokens.push(m[1]!);
  if (tokens.includes("|"))
    throw new ConditionError("aggregations in the condition (`| count()` …) are not supported: use a correlation rule");
  // a hostile condition can be megabytes long: error messages quote its start only
  const quoted = `"${text.length > 80 ? `${text.slice(0, 77)}…` : text}"`;
  let pos = 0;
  let depth = 0;
  const deeper = (): void => {
    if (++depth > MAX_CONDITION_DEPTH)
      throw new ConditionError(`condition nests parentheses and "not" more than ${MAX_CONDITION_DEPTH} deep`);
  };
  const peek = () => tokens[pos]?.toLowerCase();
  const next = () => tokens[pos++];

  const orExpr = (): Condition => {
    const items = [andExpr()];
    while (peek() === "or") {
      pos++;
      items.push(andExpr());
    }
    return items.length === 1 ? items[0]! : { op: "or", items };
  };
  const andExpr = (): Condition => {
    const items = [notExpr()];
    while (peek() === "and") {
      pos++;
      items.push(notExpr());
    }
    return items.length === 1 ? items[0]! : { op: "and", items };
  };
  const notExpr = (): Condition => {
    if (peek() === "not") {
      pos++;
      deeper();
      const item = notExpr();
      depth--;
      return { op: "not", item };
    }
    return primary();
  };
  const primary = (): Condition => {
    const token = next();
    if (token === undefined) throw new ConditionError(`condition ${quoted} ends too early`);
    if (token === "(") {
      deeper();
      const inner = orExpr();
      depth--;
      if (next() !== ")") throw new ConditionError(`condition ${quoted} has an unclosed "("`);
      return inner;
    }
    const lower = token.toLowerCase();
    if (peek() === "of" && (lower === "all" || lower === "any" || /^[1-9][0-9]*$/.test(token))) {
      pos++;
      const target = next();
      if (target === undefined) throw new ConditionError(`"${token} of" needs a pattern or "them"`);
      const names = target.toLowerCase() === "them" ? identifiers.filter((n) => !n.startsWith("_")) : matching(target, identifiers);
      if (names.length === 0) throw new ConditionError(`"${token} of ${target}" matches no search identifier`);
      return { op: "of", count: lower === "all" ? "all" : lower === "any" ? 1 : Number(token), names };
    }
    if (["and", "or", "not", "of", ")"].includes(lower)) throw new ConditionError(`unexpected "${token}" in condition ${quoted}`);
    if (!identifiers.includes(token)) throw new ConditionError(`condition names "${token}", which the detection does not define`);
    return { op: "id", name: token };
  };

  const result = orExpr();
  if (pos < tokens.length) throw new ConditionError(`unexpected "${tokens[pos]}" in condition ${quoted}`);
  return result;
}

/** Identifiers a `x of` pattern names: `*` matches any run of characters (and `_`-prefixed ones too when named so). */
function matching(pattern: string, identifiers: readonly string[]): string[] {
  const re = new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`);
  return identifiers.filter((n) => re.test(n));
}
