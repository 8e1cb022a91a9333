import { describe, expect, it } from "vitest";
import { nextCursor } from "../src/next-page";

// The connection pages GitHub's and GitLab's GraphQL answer with: `endCursor` is nullable in both schemas, so a
// page can say more follow and give no way to read them (T31 #1: read as the last page, a review requesting
// changes on the next one was never seen and the change passed).
describe("nextCursor", () => {
  it("follows a page that says more follow, with its cursor", () => {
    expect(nextCursor({ hasNextPage: true, endCursor: "Y3Vyc29yOjEwMA==" }, "PR #1's reviews", "GitHub")).toBe("Y3Vyc29yOjEwMA==");
  });

  it("ends on a page that says none follow, whatever its cursor", () => {
    expect(nextCursor({ hasNextPage: false, endCursor: "Y3Vyc29yOjEwMA==" }, "PR #1's reviews", "GitHub")).toBeNull();
    expect(nextCursor({ hasNextPage: false, endCursor: null }, "PR #1's reviews", "GitHub")).toBeNull();
  });

  it("refuses a page that says more follow but gives no cursor, and one without pageInfo: the list is incomplete", () => {
    for (const endCursor of [null, undefined, ""]) {
      expect(() => nextCursor({ hasNextPage: true, endCursor }, "PR #1's reviews", "GitHub")).toThrow(
        "GitHub says PR #1's reviews go on but gives no cursor to read them",
      );
    }
    expect(() => nextCursor(undefined, "the merge requests of acme/shop", "GitLab GraphQL")).toThrow(
      "GitLab GraphQL did not say whether the merge requests of acme/shop go on (no pageInfo)",
    );
  });
});
