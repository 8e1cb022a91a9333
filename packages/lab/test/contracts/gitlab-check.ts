import { join } from "node:path";
import ts from "typescript";

/**
 * Checks JSON bodies against the TypeScript response types in gitlab-types.ts (which build on
 * @gitbeaker/core's) with the TypeScript compiler itself: each body becomes a typed constant in an
 * in-memory file, so a wrong type, a missing field or a wrong enum value is a compile error; then every
 * key of the body is looked up among the type's declared properties, so a field the contract does not
 * have (gitbeaker's types end in an open `Record<string, unknown>`, which would let anything through) is
 * reported too. Why the compiler and not a JSON schema: gitbeaker publishes types only, and generating a
 * schema from them would add a generator with its own reading of the types; the compiler is the reading.
 */

export interface ContractCase {
  /** Where the body came from, e.g. "GET /users (ordinary token)". */
  label: string;
  /** An exported type of gitlab-types.ts, e.g. "ListedUser[]". */
  type: string;
  body: unknown;
}

const HERE = import.meta.dirname;
const FILE = join(HERE, "__gitlab_contract_check__.ts");

/** Problems per case label; an empty list means every body fits its type. */
export function checkGitLabContract(cases: readonly ContractCase[]): string[] {
  // One constant per case, each on one line, so a diagnostic's line is its case.
  const lines = ['import type * as C from "./gitlab-types";'];
  cases.forEach((c, i) => {
    lines.push(`export const r${i}: C.${c.type} = ${JSON.stringify(c.body)};`);
  });
  const text = lines.join("\n");
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2023.d.ts"],
    types: [],
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === FILE ? text : read(name));
  host.fileExists = (
    (exists) => (name: string) =>
      name === FILE || exists(name)
  )(host.fileExists.bind(host));
  host.getSourceFile = (name, version, onError, create) =>
    name === FILE ? ts.createSourceFile(name, text, version) : getSourceFile(name, version, onError, create);
  const program = ts.createProgram([FILE], options, host);
  const source = program.getSourceFile(FILE);
  if (!source) throw new Error("contract check: the generated file was not compiled");
  const caseAt = (pos: number) => cases[source.getLineAndCharacterOfPosition(pos).line - 1]?.label ?? "?";
  const problems: string[] = [];
  // The contract types themselves must compile, or every check against them would pass.
  for (const d of program.getSemanticDiagnostics().filter((d) => d.file && d.file !== source && d.file.fileName.startsWith(HERE))) {
    problems.push(`${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
  }
  for (const d of [...program.getSemanticDiagnostics(source), ...program.getSyntacticDiagnostics(source)]) {
    problems.push(`${d.start === undefined ? "?" : caseAt(d.start)}: ${ts.flattenDiagnosticMessageText(d.messageText, " ")}`);
  }
  const checker = program.getTypeChecker();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const decl = statement.declarationList.declarations[0];
    if (!decl?.type || !ts.isIdentifier(decl.name)) continue;
    const index = Number(decl.name.text.slice(1));
    const c = cases[index];
    if (!c) continue;
    for (const path of unknownKeys(checker, checker.getTypeFromTypeNode(decl.type), c.body, "")) {
      problems.push(`${c.label}: ${path} is not in the contract type ${c.type}`);
    }
  }
  return problems;
}

/** Paths of keys in `value` that `type` does not declare. */
function unknownKeys(checker: ts.TypeChecker, type: ts.Type, value: unknown, path: string): string[] {
  if (value === null || typeof value !== "object") return [];
  const members = (type.isUnion() ? type.types : [type]).filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)));
  if (Array.isArray(value)) {
    const elements = members.filter((t) => checker.isArrayType(t)).map((t) => checker.getTypeArguments(t as ts.TypeReference)[0]);
    return bestOf(
      elements
        .filter((t): t is ts.Type => t !== undefined)
        .map((t) => value.flatMap((v, i) => unknownKeys(checker, t, v, `${path}[${i}]`))),
    );
  }
  const objects = members.filter((t) => !checker.isArrayType(t));
  return bestOf(
    objects.map((t) => {
      if (t.flags & (ts.TypeFlags.Unknown | ts.TypeFlags.Any)) return [];
      const props = checker.getPropertiesOfType(t);
      // A pure map (Record<string, X>) names no properties: any key is its contract.
      if (props.length === 0) return [];
      const out: string[] = [];
      for (const [key, v] of Object.entries(value)) {
        const prop = props.find((p) => p.name === key);
        if (!prop) out.push(`${path}.${key}`);
        else out.push(...unknownKeys(checker, checker.getTypeOfSymbol(prop), v, `${path}.${key}`));
      }
      return out;
    }),
  );
}

/** With a union, the value fits if one member fits; report the member with the fewest strays. */
function bestOf(results: string[][]): string[] {
  if (results.length === 0) return [];
  return results.reduce((best, r) => (r.length < best.length ? r : best));
}
