// Shared by vitest.config.ts and vitest.mutation.config.ts.

/**
 * Workspace packages resolve to their TypeScript sources through the "@opsguard/source" condition of
 * their exports maps (tsconfig.base.json and scripts/build.mjs name it too); consumers of the tarballs get
 * dist/. The other conditions are Vite's defaults for Node, which a custom list would otherwise replace.
 */
const conditions = ["@opsguard/source", "module", "node", "development|production"];

export const sourceResolve = {
  resolve: { conditions },
  ssr: { resolve: { conditions } },
};

/**
 * CLIs that tests spawn through `node --import tsx` resolve with Node's own resolver, which reads
 * conditions from its command line or NODE_OPTIONS only (tsx ignores tsconfig's customConditions).
 */
export const sourceNodeOptions = [process.env.NODE_OPTIONS, "--conditions=@opsguard/source"].filter(Boolean).join(" ");
