#!/usr/bin/env node
// Builds every package: each bin into one self-contained CommonJS file (sshd runs authkeys on every
// login, so a tool must start without resolving hundreds of modules), and each package's library
// entry into dist/index.js for publishing. Core also gets its type declarations.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { brotliCompressSync } from "node:zlib";
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

/**
 * The most a bin with chunks may weigh, comments included. Measured on auditd-parse's parse of a 100 MiB log
 * (issue 23): the same bundle padded with a comment to 524,001 bytes peaked at 62.8 MB, to 524,601 bytes at
 * 66.3 MB; the difference is in the malloc arenas of V8's background (TurboFan) compiler threads, gone with
 * --no-concurrent-recompilation. Why (issue 23, round 18): node's CommonJS loader reads the bin into a string
 * that doubles as it grows, and glibc sets its trim threshold to twice the largest mmapped block freed, so
 * every malloc arena keeps up to 1 MB free for a bin under 512 KiB and 2 MB for one over it. So a bin over
 * 512 KiB fails its build instead of quietly costing 3.5 MB.
 */
const BIN_SOURCE_LIMIT = 512 * 1024;

/**
 * A bin's first lines. `#!/usr/bin/env node` unless its package names node start flags (package.json
 * opsguard.nodeFlags): V8 reads some options only when it starts (auditd-parse's --no-concurrent-recompilation,
 * issue 23: setting it later with v8.setFlagsFromString does nothing). `#!/usr/bin/env -S node --flag` would need
 * GNU coreutils 8.30+ or a BSD env (BusyBox's, on Alpine, has no -S), so such a bin is a script both sh and node
 * read: sh runs the second line (`:` and then exec node with the flags and this very file), node skips the #! line
 * and reads `':'` as a string statement before the bundle's "use strict" (still the directive prologue, so the
 * bundle stays strict) and the rest as a comment. `node <bin>` runs it without the flags, as before.
 */
function binBanner(pkg) {
  const flags = pkg.opsguard?.nodeFlags ?? [];
  const unset = pkg.opsguard?.unsetEnv ?? [];
  if (flags.length === 0 && unset.length === 0) return "#!/usr/bin/env node";
  const bad = flags.find((flag) => !/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?$/.test(flag));
  if (bad !== undefined) throw new Error(`${pkg.name}: opsguard.nodeFlags: ${JSON.stringify(bad)} is not a plain --flag or --flag=value`);
  const badName = unset.find((name) => !/^[A-Z_][A-Z0-9_]*$/.test(name));
  if (badName !== undefined)
    throw new Error(`${pkg.name}: opsguard.unsetEnv: ${JSON.stringify(badName)} is not an environment variable name`);
  // opsguard.unsetEnv: what node would act on at start that the tool never uses (auditd-parse makes no TLS
  // connection, yet node parses NODE_EXTRA_CA_CERTS' whole bundle before any JS runs: 0.07 s and 1.7-2 MB of peak
  // RSS a run where it is set, docs/benchmark-history.md Round 25)
  const unsetting = unset.length > 0 ? `unset ${unset.join(" ")}; ` : "";
  return `#!/bin/sh\n':' //; ${unsetting}exec node ${flags.join(" ")} -- "$0" "$@"`;
}

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
    // a source file of the package by its path, a third-party package by its name (see buildWithChunks)
    const chunks = (pkg.opsguard?.chunks ?? []).map((src) => (isPackageName(src) ? src : join(dir, src)));
    for (const [out, entry] of bundles) {
      const options = {
        ...shared,
        entryPoints: [join(dir, entry)],
        outfile: join(dir, out),
        format: "cjs",
        minify: true,
        banner: { js: binBanner(pkg) },
        // A bin can tell files it made at install time from those of another build.
        define: { "import.meta.url": "__opsguardImportMetaUrl", __OPSGUARD_BUILD_ID__: JSON.stringify(buildId) },
        inject: [join(root, "scripts/build-shims/import-meta-url.js")],
        plugins: [englishZodOnly, withoutCosmiconfigExtras],
      };
      const isBin = Object.values(pkg.bin ?? {}).includes(out);
      // a bin is a program: executable, so it runs from a checkout as npm's install will run it (its #! line)
      const built = chunks.length > 0 ? buildWithChunks(options, chunks, pkg.name, dir) : build(options);
      jobs.push(built.then(() => (isBin ? chmodSync(join(dir, out), 0o755) : undefined)).then(() => out));
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

/**
 * A bin whose package lists lazily loaded chunks (package.json's opsguard.chunks: source files the bin's code
 * reaches only through `await import()`): esbuild keeps such a module in the one-file bundle and defers only its
 * evaluation, and V8 still parses all of it at every start. auditd-parse's Sigma machinery and ECS mapping (a
 * sixth of its bundle) cost its plain parse 0.8-1.5 MB of peak RSS that way (issue 23). So each chunk is built
 * on its own and carried in the bin compressed inside a comment, which V8 skips, then compiled on first import
 * (build-shims/lazy-chunk.js). One file still: npm's bin and the single executable (.deb) need nothing more.
 * A module the bin has anyway (core's errors …) is not copied into the chunk but handed to it by the bin, so
 * there is one of each class; a module only chunks use is copied into each chunk that uses it.
 * A chunk may also be a third-party package that the bin's code reaches only through `await import("name")`,
 * by name in opsguard.chunks: core's YAML parser, loaded for a YAML config only, which the plain parse never
 * runs, yet V8 parsed its 115 KB at every start (~5% of auditd-parse's start-up instructions, issue 23, Round 26).
 * Not ora (core's spinner, on a terminal): built so, its first frame threw a TypeError on the chalk the bin
 * handed it (`chalk[color]` not a function; not looked into further).
 */
async function buildWithChunks(options, chunks, name, dir) {
  // 1. what the bin holds without its chunks; and where each chunk named as a package resolves
  const paths = chunks.map((chunk) => (isPackageName(chunk) ? undefined : chunk));
  const bare = await build({
    ...options,
    write: false,
    metafile: true,
    plugins: [...options.plugins, chunkEntries(chunks, paths, () => "")],
  });
  const missing = chunks.find((_, i) => paths[i] === undefined);
  if (missing !== undefined) throw new Error(`${options.outfile}: chunk ${missing} is not imported by the bin's code`);
  const inBin = new Set(Object.keys(bare.metafile.inputs).map((p) => resolve(p)));
  // 2. each chunk on its own, taking from the bin what the bin holds
  const built = await Promise.all(paths.map((path, i) => buildChunk(path, options, inBin, isPackageName(chunks[i]))));
  // 3. the bin, each chunk's import() reaching a loader with the chunk's code as a placeholder
  const marker = (i) => `__OPSGUARD_CHUNK_${i}__`;
  const loader = (path) => {
    const i = paths.indexOf(path);
    const { exports, host } = built[i];
    const named = exports.filter((e) => e !== "default");
    const label = isPackageName(chunks[i]) ? chunks[i] : relative(dir, path);
    return [
      `import { hostModule, loadChunk } from ${JSON.stringify(join(root, "scripts/build-shims/lazy-chunk.js"))};`,
      ...host.map((path, h) => `import * as h${h} from ${JSON.stringify(path)};`),
      `function source() { return ${JSON.stringify(marker(i))}; }`,
      `const chunk = loadChunk(source, [${host.map((_, h) => `hostModule(h${h})`).join(", ")}], ${JSON.stringify(`${name}/${label}`)});`,
      `export const { ${named.join(", ")} } = chunk;`,
      // an ES module's default export, or a CommonJS module's exports object, as import() of it gives
      ...(exports.includes("default") ? ["export default chunk.__esModule ? chunk.default : chunk;"] : []),
    ].join("\n");
  };
  const result = await build({ ...options, write: false, plugins: [...options.plugins, chunkEntries(chunks, paths, loader)] });
  let text = result.outputFiles[0].text;
  built.forEach(({ code }, i) => {
    const quoted = JSON.stringify(marker(i));
    if (text.split(quoted).length !== 2)
      throw new Error(`${options.outfile}: the placeholder of chunk ${chunks[i]} is not there exactly once`);
    // brotli-compressed: the bin's whole source counts, comments included, against the 512 KiB above which
    // V8's background compiler took 3.5 MB more (README, issue 23); base64 holds no "*/" to end the comment early
    text = text.replace(quoted, () => `/*${brotliCompressSync(code).toString("base64")}*/""`);
  });
  if (text.length > BIN_SOURCE_LIMIT)
    throw new Error(
      `${options.outfile}: ${text.length} bytes, over the ${BIN_SOURCE_LIMIT} it is kept under (see BIN_SOURCE_LIMIT): move code its main path does not run into a chunk (package.json opsguard.chunks)`,
    );
  mkdirSync(dirname(options.outfile), { recursive: true });
  writeFileSync(options.outfile, text);
}

/** Resolves an import as esbuild would without the calling plugin (`marker` keeps it from seeing its own call). */
function resolveAsUsual(b, args, marker) {
  return b.resolve(args.path, {
    kind: args.kind,
    importer: args.importer,
    resolveDir: args.resolveDir,
    pluginData: { [marker]: true },
  });
}

/** A chunk named as a package ("yaml", "@scope/name"), not as a source file of the package. */
function isPackageName(chunk) {
  return /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/.test(chunk) && !/\.[cm]?[jt]s$/.test(chunk);
}

/**
 * Resolves each chunk's entry (an import() of it) to a module made by `contents(entryPath)`. `paths` holds each
 * chunk's entry path, found here for a chunk named as a package (its import as the bin's code resolves it).
 */
function chunkEntries(chunks, paths, contents) {
  return {
    name: "chunk-entries",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.chunkEntries || args.kind === "entry-point") return undefined;
        const r = await resolveAsUsual(b, args, "chunkEntries");
        const byName = chunks.indexOf(args.path);
        if (byName >= 0 && isPackageName(args.path)) {
          if (paths[byName] !== undefined && paths[byName] !== r.path)
            throw new Error(`chunk ${args.path}: resolves to both ${paths[byName]} and ${r.path}`);
          paths[byName] = r.path;
        }
        return paths.includes(r.path) ? { path: r.path, namespace: "chunk-entry" } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: "chunk-entry" }, ({ path }) => ({
        contents: contents(path),
        loader: "js",
        resolveDir: dirname(path),
      }));
    },
  };
}

/**
 * One chunk as a CommonJS module body: its code, its entry's export names, and the bin's modules it uses (host:
 * their paths, in the order the loader passes them as `__opsguardHost`).
 */
async function buildChunk(chunk, options, inBin, isPackage) {
  const host = [];
  const fromBin = {
    name: "from-bin",
    setup(b) {
      b.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.fromBin || args.kind === "entry-point") return undefined;
        const r = await resolveAsUsual(b, args, "fromBin");
        if (r.errors.length > 0 || r.external || !inBin.has(r.path)) return undefined;
        if (!host.includes(r.path)) host.push(r.path);
        return { path: r.path, namespace: "from-bin" };
      });
      b.onLoad({ filter: /.*/, namespace: "from-bin" }, ({ path }) => ({
        contents: `module.exports = __opsguardHost[${host.indexOf(path)}];`,
        loader: "js",
      }));
    },
  };
  const { banner: _banner, outfile: _outfile, ...rest } = options;
  const [result, exports] = await Promise.all([
    build({ ...rest, entryPoints: [chunk], write: false, plugins: [...options.plugins, fromBin] }),
    // a package's exports as node's import() gives them (a CommonJS one's too); a source file's own export list
    // (its named exports: an `export *` would hide them)
    isPackage
      ? import(pathToFileURL(chunk).href).then((namespace) => Object.keys(namespace))
      : build({
          entryPoints: [chunk],
          bundle: false,
          format: "esm",
          write: false,
          metafile: true,
          outfile: "chunk.js",
          logLevel: "warning",
        }).then((names) => Object.values(names.metafile.outputs)[0].exports),
  ]);
  if (exports.length === 0) throw new Error(`${chunk}: a chunk's entry must name its exports (export { … } from …)`);
  return { code: result.outputFiles[0].text, exports, host };
}

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
