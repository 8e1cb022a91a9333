export type MutateEntry = string | { file: string; from: string; to?: string; covers?: string[] };

export interface ResolvedEntry {
  file: string;
  first: number;
  last: number;
  /** what Stryker's `mutate` takes: `file` or `file:first-last` */
  pattern: string;
  /** the source text the range covers */
  text: string;
}

export function entryFile(entry: MutateEntry): string;
export function resolveEntry(root: string, entry: MutateEntry, readSource?: (file: string) => string): ResolvedEntry;
export function resolveModule(root: string, module: { mutate: MutateEntry[] }): ResolvedEntry[];
