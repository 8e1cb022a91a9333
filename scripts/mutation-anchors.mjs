// A mutation module names the code it covers by anchors, resolved to line ranges each time a run starts, so a
// range cannot drift onto other code when its file changes (three `file:12-80` ranges had). An entry of a
// module's `mutate` list is either a whole file ("packages/x/src/y.ts") or
//   { file, from, to?, covers? }
// from/to: a declaration's name (a function, class, method, const/let, interface, type or enum; it must be
//   the only declaration of that name in the file), or else a piece of source text that occurs once in the file
//   and starts a statement or a property (`"if (unverified !== undefined)"`, `"verdict: verdictOf("`). The
//   range runs from the first line of `from` to the last line of `to` (default: `from`), which must be siblings,
//   so a range is always whole statements.
// covers: source text each of which must lie inside the range: the decision the entry is there for. A check
//   moved out of the named function fails the check (test/scripts/mutation-modules.test.ts), not silently
//   leaves the mutation run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** The file an entry mutates. */
export function entryFile(entry) {
  return typeof entry === "string" ? entry : entry.file;
}

/**
 * One `mutate` entry resolved against the source under `root`: the file, its first and last line (1-based,
 * whole file for a string entry), and the Stryker pattern (`file` or `file:first-last`). Throws an Error that
 * names the entry and what to fix when an anchor does not resolve.
 */
export function resolveEntry(root, entry, readSource = (file) => readFileSync(join(root, file), "utf8")) {
  const file = entryFile(entry);
  if (typeof file !== "string" || file === "") throw new Error(`a mutate entry needs a file: ${JSON.stringify(entry)}`);
  if (/:\d+-\d+$/.test(file))
    throw new Error(`${file}: a line range drifts when the file changes; name the code by anchors ({ file, from, to })`);
  let text;
  try {
    text = readSource(file);
  } catch (error) {
    throw new Error(`${file}: cannot be read (${error.code ?? error.message})`);
  }
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (pos) => source.getLineAndCharacterOfPosition(pos).line + 1;
  if (typeof entry === "string") {
    return { file, first: 1, last: lineOf(text.length), pattern: file, text };
  }
  const from = anchorNode(source, text, file, entry.from);
  const to = entry.to === undefined ? from : anchorNode(source, text, file, entry.to);
  if (from.parent !== to.parent)
    throw new Error(`${file}: "${entry.from}" and "${entry.to}" are not in the same block, so the range would cut statements`);
  if (to.getStart(source) < from.getStart(source)) throw new Error(`${file}: "${entry.to}" comes before "${entry.from}"`);
  const start = from.getStart(source);
  const end = to.getEnd();
  const first = lineOf(start);
  const last = lineOf(end);
  for (const piece of entry.covers ?? []) {
    const at = text.indexOf(piece, start);
    if (at < 0 || at + piece.length > end)
      throw new Error(
        `${file}: "${piece}" is no longer inside ${describe(entry)} (lines ${first}-${last}): the decision moved; name where it is now`,
      );
  }
  return { file, first, last, pattern: `${file}:${first}-${last}`, text: text.slice(start, end) };
}

function describe(entry) {
  return entry.to === undefined ? `"${entry.from}"` : `"${entry.from}" to "${entry.to}"`;
}

/** The node an anchor names; throws when there is none or more than one. */
function anchorNode(source, text, file, anchor) {
  if (typeof anchor !== "string" || anchor === "") throw new Error(`${file}: an anchor must be a name or a piece of source text`);
  if (IDENTIFIER.test(anchor)) {
    const found = [];
    const visit = (node) => {
      const named = declarationNamed(node, anchor);
      if (named) found.push(named);
      ts.forEachChild(node, visit);
    };
    visit(source);
    if (found.length === 1) return found[0];
    throw new Error(
      found.length === 0
        ? `${file}: no declaration named "${anchor}" (renamed or removed? update scripts/mutation-modules.mjs)`
        : `${file}: ${found.length} declarations named "${anchor}": anchor on a unique name or a piece of source text`,
    );
  }
  const at = text.indexOf(anchor);
  if (at < 0) throw new Error(`${file}: "${anchor}" is not in the file (changed? update scripts/mutation-modules.mjs)`);
  if (text.indexOf(anchor, at + 1) >= 0) throw new Error(`${file}: "${anchor}" occurs more than once: make the anchor longer`);
  // the outermost node that starts where the text does: the statement or property, not its first identifier
  let node = source;
  for (;;) {
    const child = node.getChildren(source).find((c) => c.getStart(source) <= at && at < c.getEnd());
    if (!child) break;
    if (child.getStart(source) === at && child.kind !== ts.SyntaxKind.SyntaxList) {
      if (isListMember(child)) return child;
      break;
    }
    node = child;
  }
  throw new Error(`${file}: "${anchor}" does not start a statement or property`);
}

/** Whether a node is one of a list of statements, properties or members: what a range may start or end at. */
function isListMember(node) {
  const p = node.parent;
  return (
    ts.isBlock(p) ||
    ts.isSourceFile(p) ||
    ts.isModuleBlock(p) ||
    ts.isCaseOrDefaultClause(p) ||
    ts.isObjectLiteralExpression(p) ||
    ts.isClassLike(p) ||
    ts.isInterfaceDeclaration(p) ||
    ts.isEnumDeclaration(p)
  );
}

/** The statement-level node `node` declares under `name`, if it does. */
function declarationNamed(node, name) {
  if (
    (ts.isFunctionDeclaration(node) ||
      ts.isClassDeclaration(node) ||
      ts.isMethodDeclaration(node) ||
      ts.isInterfaceDeclaration(node) ||
      ts.isTypeAliasDeclaration(node) ||
      ts.isEnumDeclaration(node)) &&
    node.name?.getText() === name
  )
    return node;
  if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.name.text === name) {
    // the whole `const x = …;`, so the range starts at `const` (or `export`) like the other declarations
    const statement = node.parent?.parent;
    return statement && ts.isVariableStatement(statement) && node.parent.declarations.length === 1 ? statement : node;
  }
  return undefined;
}

/** Every entry of a module resolved, in order; throws on the first that does not resolve. */
export function resolveModule(root, module) {
  return module.mutate.map((entry) => resolveEntry(root, entry));
}
