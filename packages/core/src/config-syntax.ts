import type { ErrorCode, YAMLError } from "yaml";

/**
 * What is wrong with a config file's syntax, and where, on one line — never a character of the file's text. The
 * parsers' own messages quote it: yaml names the tag or alias it could not resolve (`Unresolved tag: !S3cret…`, a
 * bind password that starts with `!`) and V8 the ten characters either side of an unexpected token (`..."assword":
 * S3cret"...`, a password left unquoted), and the broken line is as likely as any to hold a secret (T58). So each
 * problem is told in words of our own, picked by the parser's error code (yaml) or message kind (V8), with the
 * place as line and column.
 */
export function syntaxProblem(error: unknown, text: string, yamlError: typeof YAMLError | undefined): string {
  if (yamlError && error instanceof yamlError) {
    const at = error.linePos?.[0];
    const what = YAML_PROBLEMS[error.code] ?? "a YAML syntax error";
    return at ? `${what} at line ${at.line}, column ${at.col}` : what;
  }
  const message = error instanceof Error ? error.message : "";
  // yaml throws a plain ReferenceError, outside its error list, for an alias whose anchor is not set
  if (yamlError && error instanceof ReferenceError && /alias/i.test(message)) return ALIAS;
  const what = JSON_PROBLEMS.find(([kind]) => kind.test(message))?.[1] ?? "invalid JSON";
  const position = jsonPosition(message, text);
  if (position === undefined) return what;
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return `${what} at line ${line}, column ${before.length - before.lastIndexOf("\n")}`;
}

const ALIAS = "an alias to no anchor (a value that starts with * is read as an alias: quote it)";

/** Every yaml ErrorCode, in words that quote nothing of the file. */
const YAML_PROBLEMS: Record<ErrorCode, string> = {
  ALIAS_PROPS: "an alias with an anchor or tag",
  BAD_ALIAS: ALIAS,
  BAD_DIRECTIVE: "a bad directive (a line that starts with % is one: quote the value)",
  BAD_DQ_ESCAPE: "an invalid escape sequence in a double-quoted string",
  BAD_INDENT: "bad indentation",
  BAD_PROP_ORDER: "an anchor or tag in the wrong place",
  BAD_SCALAR_START: "a plain value that starts with a reserved character (@ or `): quote it",
  BLOCK_AS_IMPLICIT_KEY: "a block value used as a key",
  BLOCK_IN_FLOW: "a block value inside [ ] or { }",
  DUPLICATE_KEY: "a key given twice (map keys must be unique)",
  IMPOSSIBLE: "a YAML syntax error",
  KEY_OVER_1024_CHARS: "a key over 1024 characters",
  MISSING_CHAR: "a missing closing quote, comma, colon or space",
  MULTILINE_IMPLICIT_KEY: "a key over more than one line",
  MULTIPLE_ANCHORS: "a value with two anchors",
  MULTIPLE_DOCS: "more than one YAML document",
  MULTIPLE_TAGS: "a value with two tags",
  NON_STRING_KEY: "a key that is not a string",
  RESOURCE_EXHAUSTION: "too many aliases",
  TAB_AS_INDENT: "a tab used as indentation",
  TAG_RESOLVE_FAILED: "an unknown tag (a value that starts with ! is read as a tag: quote it)",
  UNEXPECTED_TOKEN: "an unexpected character",
  BAD_COLLECTION_TYPE: "a tag for another kind of value",
};

/** V8's JSON.parse messages by kind (its messages.h templates), in words that quote nothing of the file. */
const JSON_PROBLEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/^Unexpected end of JSON input/, "the JSON ends too early"],
  [/^Unterminated string/, "a string with no closing quote"],
  [/^Bad control character/, "a control character inside a string"],
  [/^Bad (escaped character|Unicode escape)/, "an invalid escape sequence in a string"],
  [/^Expected (double-quoted )?property name/, "a property name not in double quotes"],
  [/^Expected ',' or '}'/, "a missing comma or } after a value"],
  [/^Expected ',' or ']'/, "a missing comma or ] after a value"],
  [/^Expected ':'/, "a missing colon after a property name"],
  [/^Unexpected non-whitespace character after JSON/, "text after the JSON value"],
  [/^(Unexpected token|Unexpected number|Unexpected string)/, "an unexpected character (a string value needs double quotes)"],
];

/**
 * Where in `text` V8's error is: `at position N`, or, for an unexpected token (no position named), where the excerpt
 * it quotes lies — the token ten characters in when the excerpt starts with `...`, else the token's first place in
 * it. Undefined when that place does not hold the token.
 */
function jsonPosition(message: string, text: string): number | undefined {
  const at = /at position (\d+)/.exec(message);
  if (at) return Number(at[1]);
  const quoted = /^Unexpected token '([\s\S]{1,2}?)', (\.\.\.)?"([\s\S]*?)"(?:\.\.\.)? is not valid JSON$/.exec(message);
  if (!quoted) return undefined;
  const [, token = "", cut, excerpt = ""] = quoted;
  const start = text.indexOf(excerpt);
  if (start < 0) return undefined;
  const position = cut ? start + 10 : text.indexOf(token, start);
  return text.startsWith(token, position) ? position : undefined;
}
