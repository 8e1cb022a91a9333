#!/usr/bin/env node
// Packs every public package into npm tarballs (node scripts/package/npm.mjs [--out DIR], default dist/npm), from
// the last build (node scripts/build.mjs), with each tool's man page (scripts/package/man.mjs). pnpm pack, not npm pack: it turns "workspace:*" into the real version.
// Core's one exports map serves both sides: consumers get dist/ through types/default, the workspace its src/
// through the "@opsguard/source" condition (see tsconfig.base.json).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseCommandLine } from "./args.mjs";
import { writeManPage } from "./man.mjs";

const root = new URL("../..", import.meta.url).pathname;
const USAGE = "usage: node scripts/package/npm.mjs [--out DIR]   (npm tarballs of every public package; default dist/npm)";

/** The public packages: name, directory, and what its tarball must contain to run. */
export function publicPackages() {
  return readdirSync(join(root, "packages"))
    .map((dir) => ({
      dir: join(root, "packages", dir),
      pkg: JSON.parse(readFileSync(join(root, "packages", dir, "package.json"), "utf8")),
    }))
    .filter(({ pkg }) => !pkg.private);
}

function main() {
  const { values } = parseCommandLine("npm", USAGE, { out: { type: "string" } }, ({ positionals }) =>
    positionals.length > 0 ? `unexpected argument ${JSON.stringify(positionals[0])}` : undefined,
  );
  const out = resolve(values.out ?? join(root, "dist/npm"));
  mkdirSync(out, { recursive: true });
  for (const { dir, pkg } of publicPackages()) {
    for (const file of Object.values(pkg.bin ?? {})) {
      if (!existsSync(join(dir, file))) fail(`${pkg.name}: ${file} is missing: run node scripts/build.mjs first`);
    }
    // The man page npm links into <prefix>/share/man (the "man" field), made from this build's --help.
    if (pkg.man) writeManPage(pkg.name.replace(/^@opsguard\//, ""));
    if (pkg.types && !existsSync(join(dir, pkg.types))) fail(`${pkg.name}: no type declarations: run node scripts/build.mjs first`);
    const r = spawnSync(process.execPath, [join(root, "scripts/pnpm.mjs"), "pack", "--pack-destination", out], {
      cwd: dir,
      encoding: "utf8",
    });
    if (r.status !== 0) fail(`${pkg.name}: pnpm pack failed: ${r.stderr.trim().split("\n").pop()}`);
    console.log(join(out, `${pkg.name.replace(/^@/, "").replace("/", "-")}-${pkg.version}.tgz`));
  }
}

function fail(message) {
  console.error(`package/npm: ${message}`);
  process.exit(1);
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) main();
