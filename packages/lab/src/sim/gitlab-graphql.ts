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
 *
 * MergeRequest.reviewers (MergeRequestReviewerConnection): the users a review was asked of, each with
 * `mergeRequestInteraction` (UserMergeRequestInteraction, nullable) whose `reviewState` (MergeRequestReviewState,
 * nullable) says where their review stands now; REQUESTED_CHANGES is a "Request changes" that still stands, which
 * also withdraws that reviewer's approval (docs.gitlab.com/user/project/merge_requests/reviews/#request-changes).
 * A GitLab from before `reviewState` has no such field: `reviewState: false` answers with its schema.
 *
 * MergeRequest.commits (CommitConnection, newest first: https://docs.gitlab.com/api/graphql/reference/#mergerequestcommits):
 * each Commit's `sha`, `authorEmail`, `authorName` and `author` (UserCore, nullable: "Author of the commit",
 * https://docs.gitlab.com/api/graphql/reference/#commit) — the account GitLab links the author's address to, by the
 * e-mails of that account (a private one too, which the REST user search shows only to administrators), or null.
 */
const SDL = (reviewState: boolean) => `
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
  reviewers(first: Int, after: String, last: Int, before: String): MergeRequestReviewerConnection
  commits(first: Int, after: String, last: Int, before: String): CommitConnection
}

type CommitConnection {
  count: Int!
  nodes: [Commit]
  pageInfo: PageInfo!
}

type Commit {
  id: ID!
  sha: String!
  authorEmail: String
  authorName: String
  author: UserCore
}

type MergeRequestReviewerConnection {
  count: Int!
  nodes: [MergeRequestReviewer]
  pageInfo: PageInfo!
}

type MergeRequestReviewer {
  id: ID!
  username: String!
  name: String!
  bot: Boolean!
  mergeRequestInteraction: UserMergeRequestInteraction
}

type UserMergeRequestInteraction {
  canMerge: Boolean!
  ${reviewState ? "reviewState: MergeRequestReviewState" : ""}
}

enum MergeRequestReviewState { UNREVIEWED REVIEWED REQUESTED_CHANGES APPROVED UNAPPROVED REVIEW_STARTED }

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
  /** The MR's commits oldest first: sha, the author's address and name, and the account that address belongs to. */
  commits(mr: GitLabMergeRequest): Array<{ sha: string; authorEmail: string; authorName: string; author: string | null }>;
}

const schemas = new Map<boolean, GraphQLSchema>();

/** Answers one GraphQL POST; errors come back as HTTP 200 with `errors`, as GitLab sends them. */
export async function gitlabGraphQL(
  req: SimRequest,
  projects: readonly GitLabGraphQLData[],
  options: { reviewState: boolean } = { reviewState: true },
): Promise<SimResponse> {
  const schema = schemas.get(options.reviewState) ?? buildSchema(SDL(options.reviewState));
  schemas.set(options.reviewState, schema);
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
    commits: (args: { first?: number; after?: string }) =>
      page(
        data
          .commits(mr)
          .reverse()
          .map((c) => ({
            id: `gid://gitlab/CommitPresenter/${c.sha}`,
            sha: c.sha,
            authorEmail: c.authorEmail,
            authorName: c.authorName,
            author:
              c.author === null
                ? null
                : {
                    id: `gid://gitlab/User/${data.userId(c.author)}`,
                    username: c.author,
                    name: data.userName(c.author),
                    bot: data.userBot(c.author),
                  },
          })),
        args,
      ),
    reviewers: (args: { first?: number; after?: string }) =>
      page(
        (mr.reviewers ?? []).map((r) => ({
          id: `gid://gitlab/User/${data.userId(r.username)}`,
          username: r.username,
          name: data.userName(r.username),
          bot: data.userBot(r.username),
          mergeRequestInteraction: { canMerge: false, reviewState: r.reviewState },
        })),
        args,
      ),
  };
}
