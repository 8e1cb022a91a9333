import { parseAllDocuments } from "yaml";
import { compileDetection, type Detection, LEVELS, type Level, MAX_RUN_VALUES, RuleError, valuesCompiled } from "./compile";

/**
 * Sigma rule files → compiled rules, following sigma-specification's
 * specification/sigma-rules-specification.md: `title`, `id`, `level`, `tags`, `logsource` and `detection`.
 * A rule that cannot be compiled is returned as a failure naming its id (or file) and the reason, never
 * dropped; a rule for another log source is returned as skipped, with the reason.
 */

export interface SigmaRule extends Detection {
  id: string;
  title: string;
  level: Level;
  /** Level as a number for comparisons (informational 0 … critical 4). */
  rank: number;
  tags: string[];
  /** ATT&CK technique ids from the tags (`attack.t1059.004` → T1059.004). */
  attack: string[];
  author: string | undefined;
  /** Where it came from: a file path, or `sigmahq:` and its path in the built-in set. */
  source: string;
}

export interface RuleProblem {
  /** The rule's id, else its title, else the file. */
  rule: string;
  source: string;
  reason: string;
  /** The file could not be read at all (a FIFO, a device, no permission): said as such, not as a compile error. */
  unread?: boolean;
}

export interface RuleSet {
  rules: SigmaRule[];
  /** Every rule file read (by the path it was found by): an -o must not be one of them, by any name (same-file.ts). */
  files?: string[];
  failed: RuleProblem[];
  /** Rules for another log source than Linux auditd (`logsource`), not run. */
  skipped: RuleProblem[];
  /**
   * Files of a --rules directory that hold no rule (0 bytes, or only comments and `---`): said on stderr, so a
   * rule file emptied by mistake is not a rule silently gone.
   */
  empty?: string[];
  /** Values its rules hold, bounded by MAX_RUN_VALUES (compile.ts). */
  values?: number;
}

export function levelRank(level: string): number {
  return LEVELS.indexOf(level as Level);
}

/**
 * Compiles the rules in one file's text (a YAML stream may hold several documents) into the set; false when it
 * added nothing to it, no rule nor failure nor skip: the file is empty, or only comments and `---`.
 */
export function compileRuleText(text: string, source: string, into: RuleSet): boolean {
  const before = into.rules.length + into.failed.length + into.skipped.length;
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // YAML 1.1's explicit tags (!!binary, !!set, !!timestamp) not made objects: a tag is a compile failure (below)
    docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true, resolveKnownTags: false });
  } catch (error) {
    into.failed.push({ rule: source, source, reason: `not YAML: ${(error as Error).message}` });
    return true;
  }
  if (!Array.isArray(docs)) docs = [docs];
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      into.failed.push({ rule: source, source, reason: `not valid YAML: ${firstLine(doc.errors[0]!.message)}` });
      continue;
    }
    let value: unknown;
    try {
      // aliases bounded: a "billion laughs" file must fail, not fill memory
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      into.failed.push({ rule: source, source, reason: `not usable YAML: ${firstLine((error as Error).message)}` });
      continue;
    }
    if (value === null || value === undefined) continue;
    // the parser reads a value under a tag it does not know as the plain text: `a0: !foo bar` matched "bar"
    const unknownTag = doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
    if (unknownTag !== undefined) {
      into.failed.push({
        rule: ruleName(asRule(value), source),
        source,
        reason: `${firstLine(unknownTag.message)} (Sigma rules use no YAML tags)`,
      });
      continue;
    }
    compileRule(value, source, into);
  }
  return into.rules.length + into.failed.length + into.skipped.length > before;
}

/** A rule as read from YAML, if it is one (a map). */
function asRule(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** What a rule is named by in messages: its id, else its title, else its file. */
function ruleName(rule: Record<string, unknown> | undefined, source: string): string {
  return rule ? String(rule.id ?? rule.title ?? source) : source;
}

/** Compiles one rule (as read from YAML) into the set; false when it failed or was skipped (the set says why). */
export function compileRule(value: unknown, source: string, into: RuleSet): boolean {
  const rule = asRule(value);
  const name = ruleName(rule, source);
  const fail = (reason: string) => into.failed.push({ rule: name, source, reason }) < 0;
  if (rule === undefined) return fail("not a Sigma rule (a YAML map)");
  if (rule.action !== undefined)
    return fail(`rule collections ("action: ${String(rule.action)}") are not supported: one rule per document`);
  if (rule.correlation !== undefined) return fail("correlation rules are not supported");
  if (rule.filter !== undefined && rule.detection === undefined) return fail("Sigma filters are not supported");
  if (typeof rule.title !== "string" || rule.title.trim() === "") return fail("no title");
  if (rule.detection === undefined) return fail("no detection");
  const level = rule.level === undefined ? "medium" : String(rule.level).toLowerCase();
  if (levelRank(level) < 0) return fail(`level "${String(rule.level)}" is not one of ${LEVELS.join(", ")}`);
  const logsource = rule.logsource;
  if (typeof logsource !== "object" || logsource === null) return fail("no logsource");
  const reason = otherSource(logsource as Record<string, unknown>);
  if (reason !== undefined) {
    into.skipped.push({ rule: name, source, reason });
    return false;
  }
  let detection: Detection;
  try {
    detection = compileDetection(rule.detection, MAX_RUN_VALUES - (into.values ?? 0));
    into.values = (into.values ?? 0) + valuesCompiled();
  } catch (error) {
    if (error instanceof RuleError) return fail(error.message);
    throw error;
  }
  const tags = Array.isArray(rule.tags) ? rule.tags.map(String) : [];
  into.rules.push({
    ...detection,
    id: typeof rule.id === "string" ? rule.id : name,
    title: rule.title,
    level: level as Level,
    rank: levelRank(level),
    tags,
    attack: tags.filter((t) => /^attack\.t\d{4}(\.\d{3})?$/i.test(t)).map((t) => t.slice(7).toUpperCase()),
    author: typeof rule.author === "string" ? rule.author : undefined,
    source,
  });
  return true;
}

/**
 * Why a rule's logsource is not Linux auditd, or undefined when it is: product absent or `linux`, service
 * absent or `auditd`, and no category (Linux categories such as process_creation describe other sensors'
 * events, e.g. Sysmon for Linux, whose fields audit records do not have).
 */
function otherSource(logsource: Record<string, unknown>): string | undefined {
  const product = logsource.product === undefined ? undefined : String(logsource.product).toLowerCase();
  const service = logsource.service === undefined ? undefined : String(logsource.service).toLowerCase();
  if (product !== undefined && product !== "linux") return `logsource product "${product}" is not linux`;
  if (service !== undefined && service !== "auditd") return `logsource service "${service}" is not auditd`;
  if (logsource.category !== undefined) return `logsource category "${String(logsource.category)}" is not auditd's records`;
  if (product === undefined && service === undefined) return "logsource names neither product linux nor service auditd";
  return undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0]!;
}
