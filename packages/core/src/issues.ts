import type { z } from "zod";

/** "ldap.urls[1]: expected ..."; at most three issues, so the error stays one line. */
export function formatIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((issue) => `${keyPath(issue.path) || "(top level)"}: ${describeIssue(issue)}`);
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : "";
  return shown.join("; ") + more;
}

export function keyPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, part) => (typeof part === "number" ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)),
    "",
  );
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys")
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  // Zod keeps the input out of issues unless asked, so a missing key is told by its message.
  if (issue.code === "invalid_type" && issue.message.endsWith("received undefined")) return `required ${issue.expected} is missing`;
  // Zod 4 messages never echo the input value, so a mistyped secret cannot end up in the error.
  return issue.message.replace(/^Invalid input: /, "");
}
