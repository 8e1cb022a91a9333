import { closeSync, existsSync, lstatSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
// cosmiconfig's ExplorerSync, not its cosmiconfigSync(): that one first reads a "meta config" from the
// working directory (package.json, .config/config.js, .config/config.ts ...) with every default loader, so
// a file in the directory a root tool runs in could run code, or add JS search places. The explorer gets
// exactly our places and loaders. Internal API, hence cosmiconfig pinned to ~9.0 in package.json.
import * as cosmiconfigExplorer from "cosmiconfig/dist/ExplorerSync.js";
import { syntaxProblem } from "./config-syntax";
import { ConfigError } from "./errors";
import { type FileRefusal, openRegularFileSync, readRegularFileSync } from "./regular-file";
import { decodeUtf8 } from "./text";

/**
 * Finding and reading a tool's config file, without validating it: zod-free, so a hot path can
 * check a file against a validated copy before it loads any schema.
 */

/** AUTHKEYS for authkeys, SOCK_CHECK for sock-check: the prefix of a tool's environment variables. */
export function envPrefix(tool: string): string {
  return tool.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

export interface ConfigFileOptions {
  tool: string;
  /** --config FILE; wins over every other place. */
  path?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** When false (the default) a missing config file is an error naming where it looked. */
  optional?: boolean;
  /**
   * "all" (the default): ./.<tool>rc*, $XDG_CONFIG_HOME/opsguard, ~/.config/opsguard, /etc/opsguard.
   * "system": /etc/opsguard only, for a tool run by sshd as a service user, whose own home must not be
   * able to replace the admin's config.
   */
  places?: "all" | "system";
  /**
   * Like sshd's StrictModes: the file and every directory above it must be owned by root and not
   * writable by group or others (a root-owned sticky directory such as /tmp excepted: others cannot
   * replace what root made there), else one ConfigError. For a config that decides access.
   */
  rootOwned?: boolean;
  /**
   * For a config the search found (not --config or $<TOOL>_CONFIG), only when the process runs as root: none is read
   * from the working directory, and one found elsewhere must pass the rootOwned check. For a tool an administrator
   * runs as root in any directory, where a ./.<tool>rc someone left (an evidence tree — which tar, run by root,
   * extracts with the archive's owners, root's too — or a home directory) would otherwise decide what it says.
   */
  searchedStrictAsRoot?: boolean;
}

export interface ConfigText {
  filepath: string;
  /** The file's text, without a byte-order mark. */
  text: string;
}

/** The directories searched after --config and $<TOOL>_CONFIG, each with the file names looked for there. */
function searchDirectories(
  tool: string,
  cwd: string | undefined,
  env: NodeJS.ProcessEnv,
  places: ConfigFileOptions["places"] = "all",
): { dir: string; names: string[] }[] {
  const names = [`${tool}.json`, `${tool}.yaml`, `${tool}.yml`];
  if (places === "system") return [{ dir: "/etc/opsguard", names }];
  const home = homeDirectory();
  const homeConfig = home ? join(home, ".config") : undefined;
  // XDG Base Directory: $XDG_CONFIG_HOME only when absolute; ~/.config (its default) is searched anyway.
  const xdg = env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : undefined;
  const userDirs = [...new Set([xdg, homeConfig].filter((d): d is string => d !== undefined))];
  return [
    ...(cwd === undefined ? [] : [{ dir: cwd, names: [`.${tool}rc`, `.${tool}rc.json`, `.${tool}rc.yaml`, `.${tool}rc.yml`] }]),
    ...userDirs.map((d) => ({ dir: join(d, "opsguard"), names })),
    { dir: "/etc/opsguard", names },
  ];
}

/** The user's home, or undefined for a user without one (HOME unset, no passwd entry: os.homedir() throws). */
function homeDirectory(): string | undefined {
  try {
    return homedir() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The working directory, or undefined when it has been removed (process.cwd() throws ENOENT): a tool run from a
 * deleted directory then has no ./.<tool>rc to find and looks in the other places (T27 #4: exit 70).
 */
function workingDirectory(): string | undefined {
  try {
    return process.cwd();
  } catch {
    return undefined;
  }
}

/** Where a tool's config is looked for, in order, after --config and $<TOOL>_CONFIG. */
export function configSearchPaths(
  tool: string,
  cwd: string | undefined = workingDirectory(),
  env: NodeJS.ProcessEnv = process.env,
  places: ConfigFileOptions["places"] = "all",
): string[] {
  return searchDirectories(tool, cwd, env, places).flatMap(({ dir, names }) => names.map((name) => join(dir, name)));
}

interface ExplorerResult {
  filepath: string;
  /** What the loader returned; undefined for an empty file. */
  config: ConfigText | undefined;
}
interface Explorer {
  search(from: string): ExplorerResult | null;
  load(filepath: string): ExplorerResult | null;
}
const { ExplorerSync } = cosmiconfigExplorer as unknown as { ExplorerSync: new (options: object) => Explorer };

/**
 * The only loader, for .json, .yaml, .yml, rc files without an extension and --config files: the text, checked to be
 * UTF-8, parsed later by parseConfigText. No JS/TS loader: a config file must never run code in a tool
 * that may run as root. Parsing waits so that authkeys' login can compare the bytes with its stored
 * validation without loading a YAML parser, and a config never reaches cosmiconfig's `$import` merging
 * (a file it pulled in would escape that comparison).
 */
function textLoader(filepath: string, content: string): ConfigText {
  // cosmiconfig decodes with replacement characters; only when one shows are the bytes read again, to
  // tell a broken byte (an error naming its line) from a real U+FFFD.
  const text = content.includes("\uFFFD") ? decodeUtf8(readFileSync(filepath), `config file ${filepath}`) : content;
  return { filepath, text: text.replace(/^\uFEFF/, "") };
}

function explorer(searchPlaces: string[]): Explorer {
  return new ExplorerSync({
    moduleName: "opsguard",
    searchPlaces,
    // One loader for every name, a --config file.conf too (YAML, as it always was): cosmiconfig's own JS
    // and TypeScript loaders are never registered.
    loaders: { default: textLoader },
    // An empty file is a config with no keys, as before cosmiconfig; a later place must not win over it.
    ignoreEmptySearchPlaces: false,
    // A long-running agent re-reads its config to notice edits.
    cache: false,
    transform: (result: unknown) => result,
    metaConfigFilePath: null,
    mergeImportArrays: false,
    mergeSearchPlaces: false,
    searchStrategy: "none",
  });
}

/**
 * The largest config file read, documented in core's README: a real config is a few KiB, and a huge one
 * (a pasted log, a runaway generator) would take minutes and gigabytes to parse before any error.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Refuses, before cosmiconfig reads it, a config that is not a regular file of at most MAX_CONFIG_BYTES:
 * a FIFO with no writer would block that read for ever (and every login through authkeys with it),
 * /dev/zero would fill memory, a directory reads as EISDIR. cosmiconfig then reads by path: only someone
 * who could rewrite the config anyway could swap the file in between.
 */
function checkRegularFile(file: string, hint: string): void {
  const opened = openRegularFileSync(file, MAX_CONFIG_BYTES);
  if ("refused" in opened) throw configRefusal(file, opened.refused, hint);
  closeSync(opened.fd);
}

/**
 * The text of a config-like file a tool reads itself (sock-check's --config policy), refused as loadConfig refuses
 * a config: not a regular file, over MAX_CONFIG_BYTES, unreadable or not UTF-8, each one ConfigError line (exit 78).
 * `hint` says how to point at another file ("check --config").
 */
export function readConfigFileSync(file: string, hint: string): string {
  const read = readRegularFileSync(file, MAX_CONFIG_BYTES);
  if ("refused" in read) throw configRefusal(file, read.refused, hint);
  return decodeUtf8(read.bytes, `config file ${file}`).replace(/^\uFEFF/, "");
}

function configRefusal(file: string, refused: FileRefusal, hint: string): ConfigError {
  if (refused.kind === "not-regular") return new ConfigError(`config file ${file} is ${refused.what}, not a regular file`, { hint });
  if (refused.kind === "too-large") {
    // read past the limit (a file that states a smaller size, as procfs files do): its size is not known, only more
    const size = refused.readPast ? `more than ${MAX_CONFIG_BYTES} bytes` : `${refused.size} bytes`;
    return new ConfigError(`config file ${file} is ${size}, over the ${MAX_CONFIG_BYTES}-byte (1 MiB) limit`, {
      hint: "a config holds settings, not data: shorten it",
    });
  }
  if (refused.code === "ENOENT") return new ConfigError(`config file ${file} does not exist`, { hint });
  return new ConfigError(`cannot read config file ${file} (${refused.code})`, { hint: "check that this user may read it" });
}

/** The config file's text: --config, then $<TOOL>_CONFIG, then the search paths; undefined when optional and none exists. */
export function readConfigText(options: ConfigFileOptions & { optional?: false }): ConfigText;
export function readConfigText(options: ConfigFileOptions): ConfigText | undefined;
export function readConfigText(options: ConfigFileOptions): ConfigText | undefined {
  const text = findConfigText(options);
  if (text && options.rootOwned) checkRootOwned(text.filepath);
  else if (text && options.searchedStrictAsRoot && process.getuid?.() === 0 && explicitPath(options) === undefined) {
    // only the working directory's place has the .<tool>rc names
    if (basename(text.filepath).startsWith(`.${options.tool}rc`)) {
      throw new ConfigError(
        `refusing config file ${text.filepath}: run as root, ${options.tool} reads no config from the working directory, where anyone who could write there may have left it`,
        { hint: "pass it with --config FILE to use it, or run from another directory" },
      );
    }
    checkRootOwned(text.filepath, "or pass --config FILE to use it");
  }
  return text;
}

/** The config named by --config or $<TOOL>_CONFIG, if any (else the search finds it). */
function explicitPath(options: ConfigFileOptions): string | undefined {
  return options.path ?? ((options.env ?? process.env)[`${envPrefix(options.tool)}_CONFIG`] || undefined);
}

function findConfigText(options: ConfigFileOptions): ConfigText | undefined {
  const env = options.env ?? process.env;
  const envName = `${envPrefix(options.tool)}_CONFIG`;
  const explicit = explicitPath(options);
  if (explicit) {
    if (!existsSync(explicit)) {
      throw new ConfigError(`config file ${explicit} does not exist`, {
        hint: options.path ? "check --config" : `check $${envName}`,
      });
    }
    checkRegularFile(explicit, `${options.path ? "--config" : `$${envName}`} must name a YAML or JSON file`);
    return found(explicit, () => explorer([]).load(explicit));
  }
  for (const { dir, names } of searchDirectories(options.tool, options.cwd ?? workingDirectory(), env, options.places)) {
    const first = names.map((name) => join(dir, name)).find((p) => existsSync(p));
    if (first === undefined) continue;
    // A FIFO someone left as ./.<tool>rc would block the read for ever.
    checkRegularFile(first, "remove it, or pass --config FILE");
    const result = found(dir, () => explorer(names).search(dir));
    // cosmiconfig skips a file it cannot read (EACCES, EISDIR) and goes on to the next place; a config
    // that decides access must not silently fall back to another one, so the first place that exists rules.
    if (first !== result?.filepath) return found(first, () => explorer([]).load(first));
    if (result) return result;
  }
  if (options.optional) return undefined;
  throw new ConfigError(`no config file found for ${options.tool}`, {
    hint: `pass --config FILE, set $${envName}, or create /etc/opsguard/${options.tool}.yaml`,
  });
}

/**
 * The file as named and as resolved (a symlink's own directory counts too): each path and directory
 * above it root-owned and not group/other-writable, a root-owned sticky directory excepted.
 */
function checkRootOwned(file: string, orElse?: string): void {
  const problems = new Set<string>();
  let real = file;
  try {
    real = realpathSync(file);
  } catch {}
  for (const start of new Set([resolve(file), real])) {
    for (let p = start; ; p = dirname(p)) {
      const info = lstatSync(p, { throwIfNoEntry: false });
      if (info) {
        const sticky = info.isDirectory() && (info.mode & 0o1000) !== 0;
        if (info.uid !== 0) problems.add(`${p} is owned by uid ${info.uid}, not root`);
        else if ((info.mode & 0o022) !== 0 && !sticky && !info.isSymbolicLink())
          problems.add(`${p} is writable by group or others (mode ${(info.mode & 0o777).toString(8)})`);
      }
      if (p === dirname(p)) break;
    }
  }
  if (problems.size > 0) {
    throw new ConfigError(`refusing config file ${file}: ${[...problems].join("; ")}; only root may be able to change it`, {
      hint: `chown root: ${file} and chmod go-w it and the directories above it${orElse === undefined ? "" : `, ${orElse}`}`,
    });
  }
}

/** A cosmiconfig answer as ConfigText; its errors (unreadable file, invalid UTF-8) as one ConfigError line. */
function found(where: string, find: () => ExplorerResult | null): ConfigText | undefined {
  let result: ExplorerResult | null;
  try {
    result = find();
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError(`cannot read config file ${where} (${code})`, { hint: "check that this user may read it" });
  }
  if (!result) return undefined;
  return result.config ?? { filepath: result.filepath, text: "" };
}

/**
 * Parses a config file: JSON for *.json, YAML otherwise (rc files without an extension too).
 * The config loader is deliberately tiny: a loader that can also read JS/TS config drags a
 * TypeScript compiler into every bundled bin, and sshd starts authkeys on every login. The YAML
 * parser is loaded only for a YAML file, so a JSON config does not pay for evaluating it.
 */
export async function parseConfigText({ filepath, text }: ConfigText): Promise<unknown> {
  const yaml = filepath.endsWith(".json") ? undefined : await import("yaml");
  try {
    let raw: unknown;
    if (yaml) {
      // parseDocument, not parse: parse prints each warning (an unknown tag such as !!js/function, read as
      // a plain string) as a raw process warning and goes on; a config meant for another parser is refused.
      const doc = yaml.parseDocument(text);
      const problem = doc.errors[0] ?? doc.warnings[0];
      if (problem) throw problem;
      raw = doc.toJS();
    } else {
      raw = JSON.parse(text);
    }
    return raw ?? {};
  } catch (error) {
    throw new ConfigError(`cannot parse config file ${filepath}: ${syntaxProblem(error, text, yaml?.YAMLError)}`, {
      hint: "fix the JSON/YAML syntax",
    });
  }
}
