import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";

/**
 * What install copied, by sha256, written next to the bundles: doctor compares the installed files
 * with it, so a truncated or emptied bundle (which would compile and then serve nobody) is a failure.
 */
export const INSTALLED_FILES = "authkeys.installed-files.json";

export interface InstalledFiles {
  sha256: Record<string, string>;
}

export function installedFilesManifest(files: readonly string[]): InstalledFiles {
  return { sha256: Object.fromEntries(files.map((file) => [basename(file), fileSha256(file)])) };
}

export function fileSha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/** Each installed file against the manifest in its directory: the problems, [] when all match; undefined without a manifest. */
export function verifyInstalledFiles(dir: string): string[] | undefined {
  let manifest: InstalledFiles;
  try {
    manifest = JSON.parse(readFileSync(join(dir, INSTALLED_FILES), "utf8")) as InstalledFiles;
  } catch {
    return undefined;
  }
  const problems: string[] = [];
  for (const [name, expected] of Object.entries(manifest.sha256 ?? {})) {
    let actual: string;
    try {
      actual = fileSha256(join(dir, name));
    } catch (error) {
      problems.push(`${join(dir, name)} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
      continue;
    }
    if (actual !== expected) problems.push(`${join(dir, name)} is not the file install copied (damaged or replaced)`);
  }
  return problems;
}
