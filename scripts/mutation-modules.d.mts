import type { MutateEntry } from "./mutation-anchors.mjs";

export interface MutationModule {
  what: string;
  mutate: MutateEntry[];
  tests: string[];
}

export const MODULES: Record<string, MutationModule>;
export function moduleNamed(name: string | undefined): MutationModule;
