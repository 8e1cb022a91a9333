import { buildSchema, type GraphQLSchema, graphql } from "graphql";
import type { GitLabMergeRequest } from "./gitlab-merge-requests";
import type { SimRequest, SimResponse } from "./server";

/**
 * The part of GitLab's GraphQL API (POST /api/graphql, https://docs.gitlab.com/api/graphql/) the tools
 * use, with the names, types and nullability of GitLab's reference
 * (https://docs.gitlab.com/api/graphql/reference/): Query.project(fullPath), Project.mergeRequests(iids,
 * state, first, after) → MergeRequestConnection, MergeRequest.iid (String!) and approvedBy
 * (UserCoreConnection, the users whose approval stands now), UserCore.username and bot (true for a project or
 * group access token's bot user and a service account, not for the Ghost User). Queries are executed
 * against this schema, so a field GitLab does not have is a validation error, as on GitLab.
 */
const SDL = `
"""Time as an ISO 8601 string."""
scalar Time

type Query {
  project(fullPath: ID!): Project
}

type Project {
  id: ID!
  fullPath: ID!
  mergeRequests(iids: [String!], state: MergeRequestState, first: Int, after: String, last: Int, before: String): MergeRequestConnection
}

enum MergeRequestState { all closed locked merged opened }

type PageInfo {
  endCursor: String
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
}

type MergeRequestConnection {
  count: Int!
  nodes: [MergeRequest]
  pageInfo: PageInfo!
}

type MergeRequest {
  id: ID!
  iid: String!
  title: String!
  state: MergeRequestState!
  mergedAt: Time
  approvedBy(first: Int, after: String, last: Int, before: String): UserCoreConnection
}

type UserCoreConnection {
  count: Int!
  nodes: [UserCore]
  pageInfo: PageInfo!
}

type UserCore {
  id: ID!
  username: String!
  name: String!
  """Indicates if the user is a bot."""
  bot: Boolean!
}
`;

/** GitLab's largest page (https://docs.gitlab.com/api/graphql/#max-page-size): `first` above it is cut to it. */
const MAX_PAGE = 100;

export interface GitLabGraphQLData {
  projectPath: string;
  projectId: number;
  mergeRequests(): Iterable<GitLabMergeRequest>;
  approvers(mr: GitLabMergeRequest): string[];
  userId(username: string): number;
  userName(username: string): string;
  userBot(username: string): boolean;
}

let schema: GraphQLSchema | undefined;

/** Answers one GraphQL POST; errors come back as HTTP 200 with `errors`, as GitLab sends them. */
export async function gitlabGraphQL(req: SimRequest, projects: readonly GitLabGraphQLData[]): Promise<SimResponse> {
  schema ??= buildSchema(SDL);
  const body = (req.body ?? {}) as { query?: unknown; variables?: unknown };
  if (typeof body.query !== "string") return { status: 400, body: { errors: [{ message: "No query string was present" }] } };
  const result = await graphql({
    schema,
    source: body.query,
    variableValues: (body.variables ?? {}) as Record<string, unknown>,
    rootValue: {
      project: ({ fullPath }: { fullPath: string }) => {
        const data = projects.find((p) => p.projectPath === fullPath);
        return data ? project(data) : null;
      },
    },
  });
  return { body: result };
}

function page<T>(items: readonly T[], args: { first?: number; after?: string }) {
  const start = args.after ? Number(Buffer.from(args.after, "base64").toString("utf8")) + 1 : 0;
  const size = Math.min(args.first ?? MAX_PAGE, MAX_PAGE);
  const nodes = items.slice(start, start + size);
  const cursor = (i: number) => Buffer.from(String(i)).toString("base64");
  return {
    count: items.length,
    nodes,
    pageInfo: {
      startCursor: nodes.length > 0 ? cursor(start) : null,
      endCursor: nodes.length > 0 ? cursor(start + nodes.length - 1) : null,
      hasNextPage: start + nodes.length < items.length,
      hasPreviousPage: start > 0,
    },
  };
}

function project(data: GitLabGraphQLData) {
  return {
    id: `gid://gitlab/Project/${data.projectId}`,
    fullPath: data.projectPath,
    mergeRequests: (args: { iids?: string[]; state?: string; first?: number; after?: string }) => {
      const mrs = [...data.mergeRequests()]
        .filter((mr) => !args.iids || args.iids.includes(String(mr.iid)))
        .filter((mr) => !args.state || args.state === "all" || args.state === mr.state)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.iid - a.iid)
        .map((mr) => mergeRequest(mr, data));
      return page(mrs, args);
    },
  };
}

function mergeRequest(mr: GitLabMergeRequest, data: GitLabGraphQLData) {
  const approvers = data.approvers(mr);
  return {
    id: `gid://gitlab/MergeRequest/${1000 + mr.iid}`,
    iid: String(mr.iid),
    title: mr.title,
    state: mr.state,
    mergedAt: mr.mergedAt,
    approvedBy: (args: { first?: number; after?: string }) =>
      page(
        approvers.map((username) => ({
          id: `gid://gitlab/User/${data.userId(username)}`,
          username,
          name: data.userName(username),
          bot: data.userBot(username),
        })),
        args,
      ),
  };
}
