import type { ViteUserConfig } from "vitest/config";

export const sourceResolve: Pick<ViteUserConfig, "resolve" | "ssr">;
export const sourceNodeOptions: string;
