import { ConfigError, escapeSlackText } from "@opsguard/core";

/**
 * Logic-less message templates: `{{name}}` inserts a value (escaped for Slack, so a GeoIP city or
 * a username cannot become a mention or a link), `{{#name}}…{{/name}}` keeps its text only when
 * the value is set and not false, `{{^name}}…{{/name}}` only when it is not. Nothing else: a
 * template can never run code.
 */

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
      renderNodes(root, context)
        .replace(/\n{3,}/g, "\n\n")
        .trim(),
  };
}

function renderNodes(nodes: readonly Node[], context: TemplateContext): string {
  let out = "";
  for (const node of nodes) {
    if ("text" in node) out += node.text;
    else if ("name" in node) out += escapeSlackText(String(context[node.name] ?? ""));
    else {
      const value = context[node.section];
      const on = value !== undefined && value !== false && value !== "";
      if (on !== node.inverted) out += renderNodes(node.body, context);
    }
  }
  return out;
}
