import type { Commit, PullRequest } from "@octokit/graphql-schema";
import { describe, expect, it } from "vitest";
import type { PullRequestSource, Served, Source, UserSource } from "../src/sim/github-graphql-source";

/**
 * The GitHub simulator's GraphQL resolvers are typed from GitHub's published schema (@octokit/graphql-schema):
 * each line below is a resolver mistake `tsc -p tsconfig.json` must reject. Were the types loosened (back to
 * Record<string, unknown>), a `@ts-expect-error` would go unused and tsc — the typecheck step of the suite — fails.
 * The `it` records the values so the file also runs under vitest.
 */

// A field GitHub's Commit does not have, named among the served ones.
// @ts-expect-error "reviewer" is not a field of GitHub's Commit
type ServedUnknownField = Served<Commit, "oid" | "reviewer">;

// A field GitHub's PullRequest does not have, returned by a resolver.
const extraField: Source<PullRequest> = {
  number: 7,
  // @ts-expect-error GitHub's PullRequest has no "approvedBy"
  approvedBy: "bob",
};

// A value of the wrong type: PullRequest.number is an Int.
// @ts-expect-error "7" is a string
const wrongType: Source<PullRequest> = { number: "7" };

// A value outside GitHub's enum: PullRequestState is OPEN, CLOSED or MERGED.
// @ts-expect-error "DRAFT" is not a PullRequestState
const wrongEnum: Source<PullRequest> = { state: "DRAFT" };

// A served field left out: the simulator's PullRequest source must carry every field it declares it serves.
// @ts-expect-error headRefOid (and the rest) missing
const missingField: PullRequestSource = { __typename: "PullRequest", number: 7 };

// A Bot where GitHub's schema has a User (GitActor.user, team members).
const botAsUser: UserSource = {
  // @ts-expect-error UserSource's __typename is "User"
  __typename: "Bot",
  id: "B_1",
  databaseId: 1,
  login: "dependabot",
  url: "https://github.com/apps/dependabot",
  resourcePath: "/apps/dependabot",
  avatarUrl: "https://avatars.githubusercontent.com/u/1?v=4",
};

describe("the GitHub simulator's GraphQL resolver types", () => {
  it("are GitHub's schema types: the mistakes above are tsc errors (this file is in the typecheck)", () => {
    const unused: ServedUnknownField | undefined = undefined;
    expect([extraField, wrongType, wrongEnum, missingField, botAsUser, unused].length).toBe(6);
  });
});
