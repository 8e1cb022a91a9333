import type * as GH from "@octokit/graphql-schema";

/**
 * What the simulator's GraphQL resolvers may return, derived from GitHub's published schema types
 * (npm `@octokit/graphql-schema`, `schema.d.ts`: graphql-codegen's TypeScript output for the schema GitHub
 * serves). Each source type names the fields it serves with `Served<GitHubType, "field" | ...>`, so naming a
 * field GitHub's type does not have, giving a value of the wrong type or an enum value outside GitHub's enum
 * fails `tsc` (test/github-graphql-types.test.ts proves it). GitHub's custom scalars (DateTime, URI,
 * GitObjectID) are `any` in those types; the contract test (test/github-contract.ts) checks them at run time.
 */

/** A scalar or enum as the schema types it; lists element-wise; an object type as a `Source` of it. */
type Value<V> = V extends string | number | boolean | null | undefined
  ? V
  : V extends ReadonlyArray<infer E>
    ? Array<Value<E>>
    : V extends object
      ? Source<V>
      : V;

/**
 * A field as a resolver gives it: the value, or a function graphql-js's default resolver calls with the field's
 * arguments (typed per field where it is declared; `never` here accepts any argument type).
 */
type Field<V> = Value<V> | ((args: never) => Value<V>);

/** Some fields of GitHub type T (any selection a query may make), each as T declares it. */
export type Source<T> = T extends unknown ? { [K in keyof T]?: Field<T[K]> } : never;

/** The fields of GitHub type T the simulator serves, all present; `__typename` pins the concrete type. */
export type Served<T, K extends keyof T> = T extends unknown
  ? { [P in K]-?: P extends "__typename" ? NonNullable<T[P]> : Field<T[P]> }
  : never;

export type ActorSource = Served<GH.User | GH.Bot, "__typename" | "id" | "databaseId" | "login" | "url" | "resourcePath" | "avatarUrl">;

export type GitActorSource = Served<GH.GitActor, "name" | "email" | "date" | "avatarUrl" | "user"> & { user: UserSource | null };

/** `GitActor.user` is a User, never a Bot (see GitHubResolvers.gitActor). */
export type UserSource = Served<GH.User, "__typename" | "id" | "databaseId" | "login" | "url" | "resourcePath" | "avatarUrl">;

export type SignatureSource = Served<
  GH.GpgSignature,
  "__typename" | "isValid" | "state" | "email" | "payload" | "signature" | "signer" | "wasSignedByGitHub"
>;

export type CommitSource = Served<
  GH.Commit,
  | "__typename"
  | "id"
  | "oid"
  | "abbreviatedOid"
  | "message"
  | "messageHeadline"
  | "committedDate"
  | "authoredDate"
  | "url"
  | "author"
  | "committer"
  | "authors"
  | "parents"
  | "signature"
  | "associatedPullRequests"
  | "statusCheckRollup"
>;

export type CheckRunSource = Served<
  GH.CheckRun,
  "__typename" | "id" | "databaseId" | "name" | "status" | "conclusion" | "startedAt" | "completedAt" | "url" | "detailsUrl" | "checkSuite"
>;

export type StatusContextSource = Served<
  GH.StatusContext,
  "__typename" | "id" | "context" | "state" | "createdAt" | "creator" | "targetUrl" | "description"
>;

export type RollupSource = Served<GH.StatusCheckRollup, "id" | "state" | "commit" | "contexts">;

export type ReviewSource = Served<GH.PullRequestReview, "id" | "author" | "state" | "submittedAt" | "commit">;

export type PullRequestSource = Served<
  GH.PullRequest,
  | "__typename"
  | "id"
  | "number"
  | "title"
  | "body"
  | "url"
  | "state"
  | "closed"
  | "merged"
  | "mergedAt"
  | "createdAt"
  | "headRefName"
  | "headRefOid"
  | "baseRefName"
  | "author"
  | "mergedBy"
  | "mergeCommit"
  | "labels"
  | "reviews"
  | "commits"
  | "statusCheckRollup"
>;

export type PullRequestCommitSource = Served<GH.PullRequestCommit, "id" | "commit">;

export type RepositorySource = Served<
  GH.Repository,
  "id" | "name" | "nameWithOwner" | "isPrivate" | "defaultBranchRef" | "object" | "pullRequest"
>;

export type TeamSource = Served<GH.Team, "id" | "slug" | "members">;

export type OrganizationSource = Served<GH.Organization, "id" | "login" | "viewerIsAMember" | "team" | "membersWithRole">;

export type RootSource = Served<GH.Query, "repository" | "organization" | "viewer" | "rateLimit">;
