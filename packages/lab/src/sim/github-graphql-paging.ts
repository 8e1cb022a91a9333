import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from "graphql";
import { GitHubGraphQLError } from "./github-graphql-errors";

/** GitHub's paging and size rules for GraphQL queries: connections, cursors and the node limit. */

export interface PageArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
}

export interface Connection<T> {
  totalCount: number;
  nodes: T[];
  edges: Array<{ node: T; cursor: string }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/**
 * A GraphQL connection with GitHub's paging rules: `first` or `last` is required and at most 100
 * (https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api#node-limit).
 */
export function connection<T>(items: readonly T[], args: PageArgs, name: string): Connection<T> {
  const first = args.first ?? undefined;
  const last = args.last ?? undefined;
  if (first === undefined && last === undefined) {
    throw new GitHubGraphQLError(`You must provide a \`first\` or \`last\` value to properly paginate the \`${name}\` connection.`);
  }
  for (const [key, n] of [
    ["first", first],
    ["last", last],
  ] as const) {
    if (n !== undefined && (n < 0 || n > 100)) {
      throw new GitHubGraphQLError(`Requesting ${n} records on the \`${name}\` connection exceeds the \`${key}\` limit of 100 records.`);
    }
  }
  let start = args.after ? decodeCursor(args.after) + 1 : 0;
  let end = args.before ? decodeCursor(args.before) : items.length;
  if (first !== undefined) end = Math.min(end, start + first);
  if (last !== undefined) start = Math.max(start, end - last);
  const nodes = items.slice(start, end);
  return {
    totalCount: items.length,
    nodes,
    edges: nodes.map((node, i) => ({ node, cursor: encodeCursor(start + i) })),
    pageInfo: {
      hasNextPage: end < items.length,
      hasPreviousPage: start > 0,
      startCursor: nodes.length > 0 ? encodeCursor(start) : null,
      endCursor: nodes.length > 0 ? encodeCursor(end - 1) : null,
    },
  };
}

function encodeCursor(index: number): string {
  return Buffer.from(`cursor:v2:${index}`).toString("base64");
}

function decodeCursor(cursor: string): number {
  const match = /^cursor:v2:(\d+)$/.exec(Buffer.from(cursor, "base64").toString("utf8"));
  if (!match) throw new GitHubGraphQLError(`\`${cursor}\` does not appear to be a valid cursor.`);
  return Number(match[1]);
}

/**
 * GitHub's node limit: "Individual calls cannot request more than 500,000 total nodes", counted as the
 * product of `first`/`last` down each chain of connections and summed over the query —
 * https://docs.github.com/graphql/overview/rate-limits-and-node-limits-for-the-graphql-api#node-limit
 */
const NODE_LIMIT = 500_000;

export function nodeLimitError(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown>): string | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let total = 0;
  let error: string | undefined;
  const size = (field: FieldNode): number | undefined => {
    for (const arg of field.arguments ?? []) {
      if (arg.name.value !== "first" && arg.name.value !== "last") continue;
      const value =
        arg.value.kind === Kind.INT
          ? Number(arg.value.value)
          : arg.value.kind === Kind.VARIABLE
            ? variables[arg.value.name.value]
            : undefined;
      if (typeof value === "number") return value;
    }
    return undefined;
  };
  const walk = (selections: SelectionSetNode | undefined, type: GraphQLNamedType, multiplier: number): void => {
    for (const selection of selections?.selections ?? []) {
      if (error) return;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        walk(selection.selectionSet, on ?? type, multiplier);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const on = fragment ? schema.getType(fragment.typeCondition.name.value) : undefined;
        if (fragment && on) walk(fragment.selectionSet, on, multiplier);
      } else {
        const fields = isObjectType(type) || isInterfaceType(type) ? type.getFields() : {};
        const definition = fields[selection.name.value];
        if (!definition) continue;
        const n = size(selection);
        const next = n === undefined ? multiplier : multiplier * n;
        if (n !== undefined) {
          total += next;
          if (total > NODE_LIMIT) {
            error = `By the time this query traverses to the ${selection.name.value} connection, it is requesting up to ${total.toLocaleString("en-US")} possible nodes which exceeds the maximum limit of ${NODE_LIMIT.toLocaleString("en-US")}.`;
            return;
          }
        }
        walk(selection.selectionSet, getNamedType(definition.type), next);
      }
    }
  };
  for (const d of document.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION) {
      const root = d.operation === "query" ? schema.getQueryType() : d.operation === "mutation" ? schema.getMutationType() : null;
      if (root) walk(d.selectionSet, root, 1);
    }
  }
  return error;
}
