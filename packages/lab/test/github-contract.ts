import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { schema as published } from "@octokit/graphql-schema";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
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
 * OpenAPI 3.0's `nullable: true` beside `oneOf`/`allOf`/`$ref` (no `type`) means "or null"; Ajv only reads
 * `nullable` next to `type`, so those become an explicit `anyOf` with null.
 */
function nullableWithoutType(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) nullableWithoutType(item);
    return;
  }
  if (!node || typeof node !== "object") return;
  const object = node as Json;
  for (const value of Object.values(object)) nullableWithoutType(value);
  if (object.nullable === true && object.type === undefined) {
    const { nullable: _nullable, ...rest } = object;
    for (const key of Object.keys(object)) delete object[key];
    object.anyOf = [rest, { type: "null" }];
  }
}

/** GitHub's REST description, api.github.com flavour, from the package's generated files. */
export class RestContract {
  readonly #spec: Json;
  readonly #ajv: Ajv;
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #routes: Array<{ template: string; pattern: RegExp }>;

  constructor() {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve("@octokit/openapi/package.json"));
    this.#spec = JSON.parse(readFileSync(join(dir, "generated", "api.github.com.json"), "utf8")) as Json;
    nullableWithoutType(this.#spec);
    // strict: false — GitHub's description carries keywords Ajv does not know (example, x-github, discriminator).
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.#ajv);
    this.#ajv.addSchema(this.#spec, "github");
    this.#routes = Object.keys(this.#spec.paths as Json).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
    }));
  }

  /** Problems with one answer (empty when the description allows it). */
  check(method: string, path: string, status: number, body: unknown): string[] {
    const template = this.#routes.find((r) => r.pattern.test(path))?.template;
    if (!template) return [`${method} ${path}: no such route in GitHub's description`];
    const responses = ((this.#spec.paths as Record<string, Json>)[template]?.[method.toLowerCase()] as Json | undefined)?.responses as
      | Json
      | undefined;
    if (!responses) return [`${method} ${template}: no such operation`];
    if (!(String(status) in responses)) return [`${method} ${template}: HTTP ${status} is not an answer GitHub describes`];
    // A response is described in place, or by reference to a shared one (#/components/responses/not_found).
    const described = responses[String(status)] as Json;
    const base =
      typeof described.$ref === "string"
        ? described.$ref.slice(1)
        : `/${["paths", template, method.toLowerCase(), "responses", String(status)].map(pointerSegment).join("/")}`;
    const schema = this.#resolve(described)?.content as Json | undefined;
    const bodySchema = (schema?.["application/json"] as Json | undefined)?.schema as Json | undefined;
    if (!bodySchema)
      return body === undefined || body === "" ? [] : [`${method} ${template}: HTTP ${status} has no JSON body in GitHub's description`];
    const key = `${method} ${template} ${status}`;
    let validator = this.#compiled.get(key);
    if (!validator) {
      validator = this.#ajv.compile({ $ref: `github#${base}/content/${pointerSegment("application/json")}/schema` });
      this.#compiled.set(key, validator);
    }
    const problems = validator(body) ? [] : (validator.errors ?? []).map((e) => `${e.instancePath || "(body)"} ${e.message}`);
    problems.push(...this.#undeclared(body, bodySchema, ""));
    return problems;
  }

  #resolve(schema: Json | undefined): Json | undefined {
    // "#/components/schemas/x" (or a shared response) → that object of the description.
    let s = schema;
    for (let i = 0; i < 20 && typeof s?.$ref === "string"; i++) {
      s = (s.$ref as string)
        .slice(2)
        .split("/")
        .reduce<Json | undefined>((node, part) => node?.[part] as Json | undefined, this.#spec);
    }
    return s;
  }

  /** Properties the body carries that the schema (or one of its alternatives) does not declare: made-up fields. */
  #undeclared(value: unknown, raw: Json | undefined, at: string): string[] {
    const schema = this.#resolve(raw);
    if (!schema || value === null || typeof value !== "object") return [];
    if (Array.isArray(value)) return value.flatMap((item, i) => this.#undeclared(item, schema.items as Json, `${at}/${i}`));
    const alternatives = [...((schema.oneOf ?? schema.anyOf ?? []) as Json[]), ...((schema.allOf ?? []) as Json[])].map((s) =>
      this.#resolve(s),
    );
    const declared = new Map<string, Json>();
    for (const s of [schema, ...alternatives]) {
      for (const [k, v] of Object.entries((s?.properties ?? {}) as Json)) declared.set(k, v as Json);
    }
    if (declared.size === 0) return [];
    return Object.entries(value as Json).flatMap(([k, v]) =>
      declared.has(k) ? this.#undeclared(v, declared.get(k), `${at}/${k}`) : [`${at}/${k} is not a property GitHub describes`],
    );
  }
}

/** One JSON-pointer segment, escaped for use in a URI fragment. */
function pointerSegment(segment: string): string {
  return encodeURIComponent(segment.replace(/~/g, "~0").replace(/\//g, "~1"));
}
