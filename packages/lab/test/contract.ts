import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Ajv, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

/**
 * Checks simulator answers against the vendors' own API descriptions: ../shared/contracts (beside the
 * repository; never copied into it), or one a vendor publishes on npm (GitHub's, see github-contract.ts).
 * The lab's one Ajv helper. Ajv validates a body against the response schema
 * the spec gives for that path, method and status; then every object property the body carries
 * must be one the schema declares, since most vendor schemas leave additionalProperties open and
 * a made-up field would otherwise pass.
 */

type Json = Record<string, unknown>;

/** ../shared/contracts beside the repository (the main checkout, when this is a git worktree). */
export function contractsDir(): string | undefined {
  const git = (...args: string[]): string | undefined => {
    try {
      return execFileSync("git", args, { cwd: import.meta.dirname, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    } catch {
      return undefined; // not a git checkout (an unpacked tarball): only the working directory's parent is tried
    }
  };
  const top = git("rev-parse", "--show-toplevel") ?? process.cwd();
  const candidates = [join(top, "..", "shared", "contracts")];
  // A worktree's top level is elsewhere; the main checkout sits beside the common git directory.
  const common = git("rev-parse", "--path-format=absolute", "--git-common-dir");
  if (common) candidates.push(join(dirname(resolve(common)), "..", "shared", "contracts"));
  const found = candidates.find((dir) => existsSync(dir));
  if (!found && process.env.CI === "true") {
    throw new Error(`vendor contracts missing: none of ${candidates.join(", ")} exists; check out ../shared beside the repository`);
  }
  return found;
}

export interface ContractOptions {
  /** "openapi3" bodies live under content["application/json"].schema, "swagger2" under schema. */
  style: "openapi3" | "swagger2";
  /** Prefix the simulator serves the spec's paths under ("/api" for Slack). */
  basePath?: string;
  /** Picks the response entry when the status alone does not (Slack: ok:false is the "default" entry at HTTP 200). */
  responseKey?: (status: number, body: unknown) => string;
}

export class Contract {
  readonly #spec: Json;
  readonly #ajv: Ajv;
  readonly #options: ContractOptions;
  readonly #compiled = new Map<string, ValidateFunction>();
  readonly #paths: { template: string; pattern: RegExp }[];

  constructor(specFile: string, options: ContractOptions) {
    this.#spec = JSON.parse(readFileSync(specFile, "utf8")) as Json;
    if (options.style === "openapi3") nullableWithoutType(this.#spec);
    this.#options = options;
    // strict: false — vendor specs carry keywords Ajv does not know (example, x-…, discriminator).
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(this.#ajv);
    // Vendor-specific formats (PagerDuty's time zone names, a bare time of day): strings, not checked further.
    for (const name of ["tzinfo", "activesupport-time-zone", "partial-time", "url"]) this.#ajv.addFormat(name, true);
    this.#ajv.addSchema(this.#spec, "spec");
    this.#paths = Object.keys(this.#spec.paths as Json).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
    }));
  }

  /** The spec as loaded, for adding what the vendor's live docs say beyond it. */
  get spec(): Json {
    return this.#spec;
  }

  /** Problems with one answer (empty when the contract allows it). */
  check(method: string, path: string, status: number, body: unknown): string[] {
    const local = this.#options.basePath && path.startsWith(this.#options.basePath) ? path.slice(this.#options.basePath.length) : path;
    // A literal path ("/schedules/{id}" never matches "/schedules") wins over a templated one.
    const template = this.#paths.find((p) => p.template === local)?.template ?? this.#paths.find((p) => p.pattern.test(local))?.template;
    if (!template) return [`${method} ${path}: no such path in the contract`];
    const operation = (this.#spec.paths as Record<string, Json>)[template]?.[method.toLowerCase()] as Json | undefined;
    if (!operation) return [`${method} ${template}: no such operation in the contract`];
    const responses = operation.responses as Json;
    const key = this.#options.responseKey?.(status, body) ?? (String(status) in responses ? String(status) : "default");
    if (!(key in responses)) return [`${method} ${template}: HTTP ${status} is not an answer the contract lists`];
    let pointer = `/paths/${pointerSegment(template)}/${method.toLowerCase()}/responses/${pointerSegment(key)}`;
    let response = responses[key] as Json;
    if (typeof response.$ref === "string") {
      pointer = response.$ref.slice(1);
      response = this.#resolve(response.$ref) as Json;
    }
    const schemaPointer = this.#options.style === "openapi3" ? `${pointer}/content/application~1json/schema` : `${pointer}/schema`;
    const schema = this.#resolve(`#${schemaPointer}`);
    if (schema === undefined) return body === undefined || body === "" ? [] : [`${method} ${template} ${key}: the contract gives no body`];
    let validate = this.#compiled.get(schemaPointer);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `spec#${schemaPointer}` });
      this.#compiled.set(schemaPointer, validate);
    }
    const where = `${method} ${template} ${key}`;
    if (!validate(body))
      return (validate.errors ?? []).map((e) => `${where}: ${e.instancePath || "body"} ${e.message} ${JSON.stringify(e.params)}`);
    return this.#undeclared(schema, body, "").map((p) => `${where}: ${p}`);
  }

  #resolve(ref: string): unknown {
    let node: unknown = this.#spec;
    for (const part of ref.replace(/^#\//, "").split("/")) {
      if (!node || typeof node !== "object") return undefined;
      node = (node as Json)[part.replace(/~1/g, "/").replace(/~0/g, "~")];
    }
    return node;
  }

  /** The schema behind a $ref chain. */
  #deref(schema: unknown): Json | undefined {
    let node = schema as Json | undefined;
    for (let i = 0; node && typeof node.$ref === "string" && i < 20; i++) node = this.#resolve(node.$ref) as Json | undefined;
    return node && typeof node === "object" ? node : undefined;
  }

  /** All alternatives a value may be validated by: the schema and its allOf/anyOf/oneOf members. */
  #members(schema: unknown): Json[] {
    const node = this.#deref(schema);
    if (!node) return [];
    const nested = ["allOf", "anyOf", "oneOf"].flatMap((k) => (Array.isArray(node[k]) ? (node[k] as unknown[]) : []));
    return [node, ...nested.flatMap((s) => this.#members(s))];
  }

  /** Properties present in `data` that no schema declares (where none allows extra ones). */
  #undeclared(schema: unknown, data: unknown, at: string): string[] {
    if (!data || typeof data !== "object") return [];
    const members = this.#members(schema);
    if (Array.isArray(data)) {
      const items = members.map((m) => m.items).filter(Boolean);
      return items.length === 0 ? [] : data.flatMap((d, i) => items.flatMap((s) => this.#undeclared(s, d, `${at}/${i}`)));
    }
    const declared = new Map<string, unknown[]>();
    let open = false;
    for (const m of members) {
      for (const [name, sub] of Object.entries((m.properties as Json | undefined) ?? {}))
        declared.set(name, [...(declared.get(name) ?? []), sub]);
      if (m.additionalProperties && typeof m.additionalProperties === "object") open = true;
      if (m.additionalProperties === true) open = true;
    }
    if (declared.size === 0) return [];
    return Object.entries(data as Json).flatMap(([name, value]) => {
      const subs = declared.get(name);
      if (!subs) return open ? [] : [`${at}/${name} is not a field the contract declares`];
      // Alternatives (oneOf…) may declare the field differently: it is fine if one of them allows it.
      const found = subs.map((s) => this.#undeclared(s, value, `${at}/${name}`));
      return found.some((f) => f.length === 0) ? [] : (found[0] ?? []);
    });
  }
}

/**
 * OpenAPI 3.0's `nullable: true` beside `oneOf`/`allOf`/`$ref` (no `type`) means "or null"; Ajv only reads
 * `nullable` next to `type`, so those become an explicit `anyOf` with null (GitHub's description relies on it).
 */
function nullableWithoutType(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) nullableWithoutType(item);
    return;
  }
  if (!node || typeof node !== "object") return;
  const object = node as Json;
  for (const value of Object.values(object)) nullableWithoutType(value);
  if (object.nullable === true && object.type === undefined) {
    const { nullable: _nullable, ...rest } = object;
    for (const key of Object.keys(object)) delete object[key];
    object.anyOf = [rest, { type: "null" }];
  }
}

function pointerSegment(segment: string): string {
  return segment.replace(/~/g, "~0").replace(/\//g, "~1");
}
