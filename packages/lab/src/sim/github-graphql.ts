import {
  buildClientSchema,
  type DocumentNode,
  defaultFieldResolver,
  execute,
  type GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  type IntrospectionQuery,
  OverlappingFieldsCanBeMergedRule,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import type { GitHubData } from "./github-data";
import { formatError, GitHubGraphQLError, type GraphQLFault } from "./github-graphql-errors";
import { nodeLimitError } from "./github-graphql-paging";
import { GitHubResolvers } from "./github-graphql-resolvers";
import type { RateWindow } from "./github-limits";

export type { GraphQLFault } from "./github-graphql-errors";

/**
 * GitHub GraphQL v4 over the simulator's data. Queries are parsed, validated and executed against
 * GitHub's own published schema (npm `@octokit/graphql-schema`, the introspection GitHub serves), so
 * every type, nullability and enum value is GitHub's: a resolver here that returns null for a non-null
 * field, or a value outside an enum, fails exactly as a client would see GitHub fail — and a query that
 * GitHub would reject is rejected. Resolvers supply only the data; graphql-js does the rest.
 */

const GRAPHQL_DOCS = "https://docs.github.com/graphql";
// OverlappingFieldsCanBeMerged is quadratic in the number of aliases; batched queries carry hundreds of them.
const RULES = specifiedRules.filter((rule) => rule !== OverlappingFieldsCanBeMergedRule);

let schemaPromise: Promise<GraphQLSchema> | undefined;

/**
 * GitHub's schema, built once from the package's introspection JSON (its IDL file defines two
 * EnterpriseOwnerInfo fields twice, which graphql-js's SDL validation refuses). Loaded on first use.
 */
export function githubSchema(): Promise<GraphQLSchema> {
  schemaPromise ??= import("@octokit/graphql-schema").then(({ schema }) =>
    buildClientSchema(schema.json as unknown as IntrospectionQuery, { assumeValid: true }),
  );
  return schemaPromise;
}

export class GitHubGraphQL {
  readonly #resolvers: GitHubResolvers;
  readonly faults: GraphQLFault[] = [];

  constructor(data: GitHubData) {
    this.#resolvers = new GitHubResolvers(data);
  }

  /** Runs one POST /graphql body; returns GitHub's `{data, errors}` (HTTP 200 unless the body is not a query). */
  async run(body: unknown, window: RateWindow, viewer?: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const request = body as { query?: unknown; variables?: unknown } | undefined;
    const variablesGiven = request?.variables;
    // A body whose query is not a string, or whose variables are not an object, is not a GraphQL request: GitHub's
    // answer to an unreadable body (graphql-js would otherwise throw, a 500 GitHub does not give).
    const badVariables =
      variablesGiven !== undefined && variablesGiven !== null && (typeof variablesGiven !== "object" || Array.isArray(variablesGiven));
    if (!request || typeof request.query !== "string" || badVariables) {
      return { status: 400, body: { message: "Problems parsing JSON", documentation_url: GRAPHQL_DOCS } };
    }
    const schema = await githubSchema();
    let document: DocumentNode;
    try {
      document = parse(request.query);
    } catch (error) {
      return { status: 200, body: { errors: [formatError(error as GraphQLError)] } };
    }
    const invalid = validate(schema, document, RULES);
    if (invalid.length > 0) return { status: 200, body: { errors: invalid.map(formatError) } };
    const variables = (request.variables ?? {}) as Record<string, unknown>;
    const overLimit = nodeLimitError(schema, document, variables);
    if (overLimit) return { status: 200, body: { errors: [{ type: "MAX_NODE_LIMIT_EXCEEDED", message: overLimit }] } };
    const result = await execute({
      schema,
      document,
      rootValue: this.#resolvers.root(window, viewer),
      variableValues: variables,
      fieldResolver: this.#fieldResolver,
    });
    const errors = (result.errors ?? []).map(formatError);
    return {
      status: 200,
      body: { ...(result.data === undefined ? {} : { data: result.data }), ...(errors.length > 0 ? { errors } : {}) },
    };
  }

  readonly #fieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args, context, info) => {
    const fault = this.faults.find(
      (f) =>
        f.typeName === info.parentType.name &&
        f.fieldName === info.fieldName &&
        (!f.when || f.when((source ?? {}) as Record<string, unknown>)),
    );
    if (fault) {
      throw new GitHubGraphQLError(
        fault.message ?? `Resource not accessible by integration (${info.parentType.name}.${info.fieldName})`,
        fault.type === undefined ? "FORBIDDEN" : (fault.type ?? undefined),
      );
    }
    return defaultFieldResolver(source, args, context, info);
  };
}
