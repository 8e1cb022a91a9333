#!/usr/bin/env node
// Builds every package: each bin into one self-contained CommonJS file (sshd runs authkeys on every
// login, so a tool must start without resolving hundreds of modules), and each package's library
// entry into dist/index.js for publishing. Core also gets its type declarations.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const SOURCE_CONDITION = "@opsguard/source";
const only = process.argv.slice(2);

const packages = readdirSync(join(root, "packages"))
  .map((dir) => ({ dir: join(root, "packages", dir), pkg: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")) }))
  .filter(({ pkg }) => !pkg.private)
  .filter(({ pkg }) => only.length === 0 || only.some((name) => pkg.name.endsWith(name)));

const shared = {
  bundle: true,
  platform: "node",
  target: "node20",
  logLevel: "warning",
  legalComments: "none",
  // ssh2 tries its optional native binding first and falls back to pure JS.
  external: ["cpu-features", "*.node"],
  // Workspace packages from their TypeScript sources (the exports maps' source condition), never from a
  // dist/ that this very build is rewriting. Namespaced, so no third-party package's "source" applies;
  // "module" is esbuild's default, which custom conditions would otherwise drop.
  conditions: [SOURCE_CONDITION, "module"],
};

/**
 * zod re-exports its ~50 translated error-message sets as `z.locales`, and a namespace export keeps
 * all of them in a bundle and evaluates them at every start (about 10% of authkeys' start-up). Our
 * messages are English (zod's default, which it registers itself), so the bins get only that one.
 */
const englishZodOnly = {
  name: "english-zod-only",
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, ({ path, resolveDir }) =>
      /[\\/]zod[\\/]v4[\\/]/.test(resolveDir) ? { path: join(resolveDir, path), namespace: "zod-en" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-en" }, ({ path }) => ({
      contents: `export { default as en } from ${JSON.stringify(join(path, "../en.js"))};`,
      resolveDir: dirname(path),
    }));
  },
};

/**
 * core reads configs through cosmiconfig's explorer with its own text loader, in given directories only. Two
 * modules cosmiconfig loads at start serve what core never uses, and the bins get empty ones instead:
 * - its loaders (JS, TypeScript, JSON, YAML), which require() a TypeScript compiler, import-fresh, parse-json
 *   and js-yaml and hold a dynamic import(): none of that is bundled or evaluated;
 * - env-paths, for its "global" search, which calls os.homedir() as it loads: that throws for a user
 *   without a home (a command user with HOME unset and no passwd entry) and would stop every start.
 */
const COSMICONFIG_UNUSED = [
  { importer: /[\\/]cosmiconfig[\\/]dist[\\/]defaults\.js$/, spec: "./loaders" },
  { importer: /[\\/]cosmiconfig[\\/]dist[\\/]ExplorerBase\.js$/, spec: "env-paths" },
];
const withoutCosmiconfigExtras = {
  name: "without-cosmiconfig-extras",
  setup(b) {
    b.onResolve({ filter: /^(\.\/loaders|env-paths)$/ }, ({ path, importer }) =>
      COSMICONFIG_UNUSED.some((u) => u.spec === path && u.importer.test(importer)) ? { path, namespace: "cosmiconfig-unused" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "cosmiconfig-unused" }, () => ({ contents: "", loader: "js" }));
  },
};

await Promise.all(
  packages.map(async ({ dir, pkg }) => {
    rmSync(join(dir, "dist"), { recursive: true, force: true });
    const jobs = [];
    // One id for all of a package's bundles: authkeys' login bundle reads what its full bundle stored.
    const buildId = randomUUID();
    // The bin, and any further bundle the package names (authkeys-login.cjs: its login path alone).
    const bundles = [
      ...Object.values(pkg.bin ?? {}).map((out) => [out, pkg.opsguard?.entry ?? "src/cli.ts"]),
      ...Object.entries(pkg.opsguard?.bundles ?? {}),
    ];
    for (const [out, entry] of bundles) {
      jobs.push(
        build({
          ...shared,
          entryPoints: [join(dir, entry)],
          outfile: join(dir, out),
          format: "cjs",
          minify: true,
          banner: { js: "#!/usr/bin/env node" },
          // A bin can tell files it made at install time from those of another build.
          define: { "import.meta.url": "__opsguardImportMetaUrl", __OPSGUARD_BUILD_ID__: JSON.stringify(buildId) },
          inject: [join(root, "scripts/build-shims/import-meta-url.js")],
          plugins: [englishZodOnly, withoutCosmiconfigExtras],
        }).then(() => out),
      );
    }
    const entries = libraryEntries(pkg).filter((src) => existsSync(join(dir, src)));
    if (entries.length > 0) {
      jobs.push(
        build({
          ...shared,
          // dist/<path>.js for src/<path>.ts, so each export's declarations (tsc) sit next to it; shared
          // modules go to chunks, so an error class is the same class through every entry point.
          entryPoints: entries.map((src) => ({ in: join(dir, src), out: src.replace(/^\.\/src\//, "").replace(/\.ts$/, "") })),
          outdir: join(dir, "dist"),
          splitting: entries.length > 1,
          chunkNames: "chunks/[name]-[hash]",
          format: "esm",
          packages: "external",
        }),
      );
    }
    await Promise.all(jobs);
  }),
);

/** The package's library entry points: every source its exports map names (core has one per module). */
function libraryEntries(pkg) {
  return Object.values(pkg.exports ?? {})
    .map((entry) => entry?.[SOURCE_CONDITION])
    .filter((src) => typeof src === "string" && src.startsWith("./src/"));
}

/**
 * The sources import "./log" (bundler style), and tsc copies those specifiers into the declarations as
 * written; a consumer on `moduleResolution: nodenext` then fails with TS2835. Each relative specifier is
 * rewritten to the .js file it names (./log.js, ./ldap/index.js), which both nodenext and bundler accept.
 */
function withDeclarationExtensions(dir) {
  for (const entry of readdirSync(dir, { recursive: true })) {
    if (!entry.endsWith(".d.ts")) continue;
    const file = join(dir, entry);
    const text = readFileSync(file, "utf8").replace(/((?:from|import)\s*\(?\s*)"(\.\.?\/[^"]*)"/g, (whole, head, spec) => {
      if (/\.js$/.test(spec)) return whole;
      const base = join(dirname(file), spec);
      if (existsSync(`${base}.d.ts`)) return `${head}"${spec}.js"`;
      if (existsSync(join(base, "index.d.ts"))) return `${head}"${spec}/index.js"`;
      throw new Error(`${file}: cannot resolve ${spec}`);
    });
    writeFileSync(file, text);
  }
}

if (packages.some(({ pkg }) => pkg.name === "@opsguard/core")) {
  const tsc = spawnSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "packages/core/tsconfig.build.json")], { stdio: "inherit" });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
  withDeclarationExtensions(join(root, "packages/core/dist"));
}
console.error(`built ${packages.map(({ pkg }) => pkg.name).join(", ")}`);
