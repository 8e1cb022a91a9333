import { ConfigError, escapeSlackText } from "@opsguard/core";

/**
 * Logic-less message templates: `{{name}}` inserts a value (escaped for Slack, so a GeoIP city or
 * a username cannot become a mention or a link), `{{#name}}…{{/name}}` keeps its text only when
 * the value is set and not false, `{{^name}}…{{/name}}` only when it is not. Nothing else: a
 * template can never run code.
 */

/**
 * Slack's chat.postMessage: keep text under 4,000 characters (its docs, "Truncating content"); a
 * longer text is refused with msg_too_long, and the alert would be lost. Counted in characters
 * (code points), as Slack counts.
 */
export const SLACK_TEXT_LIMIT = 4_000;

/** The most characters one value puts in a message: a 100,000-character user name still leaves room for the rest. */
export const MAX_FIELD_CHARS = 200;

export type TemplateValue = string | number | boolean | undefined;
export type TemplateContext = Readonly<Record<string, TemplateValue>>;

type Node = { text: string } | { name: string } | { section: string; inverted: boolean; body: Node[] };

export interface Template {
  render(context: TemplateContext): string;
}

const TAG = /\{\{\s*([#^/]?)\s*([A-Za-z][A-Za-z0-9_]*)\s*\}\}/g;

export function compileTemplate(source: string, names: readonly string[], keyPath: string): Template {
  const root: Node[] = [];
  const stack: { name: string; body: Node[] }[] = [];
  let current = root;
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    const [tag, kind = "", name = ""] = match;
    if (match.index > last) current.push({ text: source.slice(last, match.index) });
    last = match.index + tag.length;
    if (!names.includes(name)) {
      throw new ConfigError(`${keyPath}: unknown placeholder {{${name}}}`, { hint: `use one of ${names.join(", ")}` });
    }
    if (kind === "/") {
      const open = stack.pop();
      if (open?.name !== name) throw new ConfigError(`${keyPath}: {{/${name}}} closes a section that is not open`);
      current = stack.at(-1)?.body ?? root;
    } else if (kind === "#" || kind === "^") {
      const body: Node[] = [];
      current.push({ section: name, inverted: kind === "^", body });
      stack.push({ name, body });
      current = body;
    } else {
      current.push({ name });
    }
  }
  if (stack.length > 0) throw new ConfigError(`${keyPath}: section {{#${stack.at(-1)?.name}}} is never closed`);
  if (last < source.length) current.push({ text: source.slice(last) });
  return {
    render: (context) =>
      capText(
        renderNodes(root, context)
          .replace(/\n{3,}/g, "\n\n")
          .trim(),
        SLACK_TEXT_LIMIT,
      ),
  };
}

function renderNodes(nodes: readonly Node[], context: TemplateContext): string {
  let out = "";
  for (const node of nodes) {
    if ("text" in node) out += node.text;
    else if ("name" in node) out += escapeSlackText(fieldText(String(context[node.name] ?? "")));
    else {
      const value = context[node.section];
      const on = value !== undefined && value !== false && value !== "";
      if (on !== node.inverted) out += renderNodes(node.body, context);
    }
  }
  return out;
}

// Line breaks (a raw newline would forge a line of the message), other control characters, and
// bidirectional overrides (which reorder what the reader sees).
const UNSAFE = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;
const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/**
 * One interpolated value as it may appear in a message: control characters shown as escapes
 * (`\n`, `\u001b`), at most MAX_FIELD_CHARS characters, and a cut value says how long it was.
 */
export function fieldText(value: string): string {
  return cutField(value).replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.codePointAt(0)?.toString(16).padStart(4, "0")}`);
}

/** At most MAX_FIELD_CHARS characters of `value`; a cut value says how long it was. Also for log lines. */
export function cutField(value: string): string {
  const chars = [...value];
  return chars.length > MAX_FIELD_CHARS ? `${chars.slice(0, MAX_FIELD_CHARS).join("")}… (${chars.length} characters)` : value;
}

/** At most `limit` characters, ending in "…" when cut, never inside an entity (&amp;) or a <@mention>. */
export function capText(text: string, limit: number): string {
  const chars = [...text];
  if (chars.length <= limit) return text;
  const head = chars
    .slice(0, limit - 1)
    .join("")
    .replace(/&[a-z]*$|<[^<>]*$/, "");
  return `${head}…`;
}
