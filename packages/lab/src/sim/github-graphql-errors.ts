import type { GraphQLError } from "graphql";

/** An error as GitHub reports it in `errors[]`: `type` names the class (NOT_FOUND, FORBIDDEN, ...). */
export class GitHubGraphQLError extends Error {
  readonly type: string | undefined;
  constructor(message: string, type?: string) {
    super(message);
    this.type = type;
  }
}

/**
 * An injected field failure: GitHub answers HTTP 200 with partial `data` and an `errors[]` entry whose path
 * names the field ("Partial data is returned for fields that resolved" — https://spec.graphql.org/October2021/#sec-Errors,
 * and GitHub e.g. for a co-author it cannot resolve or a resource the token may not read). The field becomes
 * null; for a non-null field, null propagates to the nearest nullable parent as the schema dictates.
 */
export interface GraphQLFault {
  /** Schema type name, e.g. "GitActor". */
  typeName: string;
  /** Field of that type, e.g. "user". */
  fieldName: string;
  /** Only for sources this accepts (the simulator's object for that type); all when absent. */
  when?: (source: Record<string, unknown>) => boolean;
  message?: string;
  /**
   * GitHub's error type; FORBIDDEN by default. `null` sends none, as GitHub does for an internal error: "Something
   * went wrong while executing your query. Please include `…` when reporting this issue." carries only a message
   * (GitHub's answer quoted in graphql/graphql-spec#934; hygieia/hygieia#2843 handles such an error without `type`).
   */
  type?: string | null;
}

/** GitHub's error entries: message, locations, path, and `type` where GitHub classifies the error. */
export function formatError(error: GraphQLError): Record<string, unknown> {
  const type = error.originalError instanceof GitHubGraphQLError ? error.originalError.type : undefined;
  return {
    ...(type ? { type } : {}),
    ...(error.path ? { path: error.path } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
    message: error.message,
  };
}
