import { join } from "node:path";

/** The built bundle of a tool, as `pnpm lab` prints it in the command to try (relative to the repo root). */
export function toolBin(tool: string): string {
  return join("packages", tool, "dist", `${tool}.cjs`);
}

/** A section the components offered, typed as its builder expects; undefined when its component did not start. */
export function section<T>(sections: Readonly<Record<string, unknown>>, name: string): T | undefined {
  return sections[name] as T | undefined;
}

export interface LdapDirectorySection {
  peopleDn: string;
  groupsDn: string;
  oncallGroupDn: string;
}
