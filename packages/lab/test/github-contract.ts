import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { schema as published } from "@octokit/graphql-schema";
import {
  buildClientSchema,
  type GraphQLAbstractType,
  type GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLSchema,
  graphql,
  type IntrospectionQuery,
  isObjectType,
  parse,
  validate,
} from "graphql";
import { Contract } from "./contract";

/**
 * GitHub's contracts, checked independently of the simulator's own code:
 * - GraphQL: the query must be valid against GitHub's published schema (`@octokit/graphql-schema`), and the
 *   answer must be one that query can get: every selected field, nothing else; non-null fields not null;
 *   enum values, Int/Boolean/String and GitHub's scalars (DateTime, GitObjectID, URI) as the schema defines.
 *   The answer is replayed through graphql-js on that schema, which enforces exactly those rules.
 * - REST: the body must validate against the response schema GitHub's OpenAPI description (`@octokit/openapi`,
 *   api.github.com) gives for that route and status, and carry no property the schema does not declare.
 */

type Json = Record<string, unknown>;

let strictSchema: GraphQLSchema | undefined;

/** GitHub's schema with its custom scalars made strict, so the replay rejects a malformed DateTime or oid. */
function contractSchema(): GraphQLSchema {
  if (strictSchema) return strictSchema;
  const schema = buildClientSchema(published.json as unknown as IntrospectionQuery);
  const rules: Record<string, (value: unknown) => boolean> = {
    // "An ISO-8601 encoded UTC date string." (schema description of DateTime)
    DateTime: (v) => typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v),
    GitTimestamp: (v) => typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v),
    // "A Git object ID." — a full SHA-1 (or SHA-256) in hex.
    GitObjectID: (v) => typeof v === "string" && /^([0-9a-f]{40}|[0-9a-f]{64})$/.test(v),
    URI: (v) => typeof v === "string" && URL.canParse(v),
  };
  for (const [name, ok] of Object.entries(rules)) {
    const type = schema.getType(name);
    if (type instanceof GraphQLScalarType) {
      (type as { serialize: (value: unknown) => unknown }).serialize = (value) => {
        if (!ok(value)) throw new TypeError(`${name} cannot represent ${JSON.stringify(value)}`);
        return value;
      };
    }
  }
  strictSchema = schema;
  return schema;
}

/** Problems with one GraphQL exchange (empty when GitHub's contract allows it). */
export async function graphqlViolations(query: string, variables: Json, answer: unknown): Promise<string[]> {
  const schema = contractSchema();
  const queryErrors = validate(schema, parse(query));
  if (queryErrors.length > 0) return queryErrors.map((e) => `query: ${e.message}`);
  if (typeof answer !== "object" || answer === null) return ["answer: not a JSON object"];
  const { data, errors, ...rest } = answer as { data?: unknown; errors?: unknown };
  const problems: string[] = Object.keys(rest).length > 0 ? [`answer: unexpected top-level keys ${Object.keys(rest).join(", ")}`] : [];
  if (errors !== undefined) {
    if (!Array.isArray(errors) || errors.length === 0) problems.push("errors: must be a non-empty list when present");
    for (const e of Array.isArray(errors) ? errors : []) {
      if (typeof (e as Json)?.message !== "string") problems.push(`errors: an entry without a message: ${JSON.stringify(e)}`);
      const path = (e as Json)?.path;
      if (path !== undefined && !(Array.isArray(path) && path.every((p) => typeof p === "string" || Number.isInteger(p)))) {
        problems.push(`errors: a path that is not a list of keys and indexes: ${JSON.stringify(path)}`);
      }
    }
  }
  if (data === undefined) {
    if (errors === undefined) problems.push("answer: neither data nor errors");
    return problems;
  }
  if (data === null) return problems;
  const replay = await graphql({
    schema,
    source: query,
    variableValues: variables,
    rootValue: data,
    // Each field's value is what the answer holds under its response key (the alias, if any).
    fieldResolver: (source, _args, _context, info) => (source as Json | null)?.[info.path.key as string],
    typeResolver: (value, _context, info, abstractType) => typeOf(value as Json, info.schema, abstractType),
  });
  for (const error of replay.errors ?? []) problems.push(`${(error.path ?? []).join(".")}: ${error.message}`);
  if (problems.length === 0 && JSON.stringify(sortKeys(replay.data)) !== JSON.stringify(sortKeys(data))) {
    problems.push("data: carries fields the query did not select, or values GitHub's types would not give");
  }
  return problems;
}

/** The concrete type of an object in the answer: its __typename, or the one possible type whose fields cover its keys. */
function typeOf(value: Json, schema: GraphQLSchema, abstractType: GraphQLAbstractType): string | undefined {
  if (typeof value.__typename === "string") return value.__typename;
  const keys = Object.keys(value);
  const candidates = schema.getPossibleTypes(abstractType).filter((t): t is GraphQLObjectType => isObjectType(t));
  return candidates.find((t) => keys.every((k) => k in t.getFields()))?.name;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value as Json)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

/**
 * GitHub's REST description, api.github.com flavour, from the package's generated files; checked by the lab's
 * one contract helper like every other vendor's.
 */
export class RestContract extends Contract {
  constructor() {
    const dir = dirname(createRequire(import.meta.url).resolve("@octokit/openapi/package.json"));
    super(join(dir, "generated", "api.github.com.json"), { style: "openapi3" });
  }
}
