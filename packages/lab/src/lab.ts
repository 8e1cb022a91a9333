import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { OfferedSections } from "./configs/sections";
import { makeTempDir, onProcessExit, removeDir } from "./process";

/** A running lab part (slapd, sshd, redis, a SaaS simulator). */
export interface StartedComponent {
  /** Lines for people: what runs where and how to log in. */
  describe(): string[];
  /**
   * Config sections this part offers the tools, keyed by section name ("ldap", "redis", "pagerduty"):
   * they are written to lab.yaml and handed to the tool config builders.
   */
  sections?(): OfferedSections;
  stop(): Promise<void>;
}

export interface LabContext {
  /** The lab's temp dir; components make their own subdirectory in it. */
  dir: string;
  /** Components started before this one, by name. */
  started: ReadonlyMap<string, StartedComponent>;
}

export interface LabComponent<T extends StartedComponent = StartedComponent> {
  name: string;
  /** Components this one uses from ctx.started; it starts once they are up, everything else in parallel. */
  needs?: readonly string[];
  start(ctx: LabContext): Promise<T>;
}

/**
 * Builds a ready-to-use config file for one tool from the sections the components offer. `Config` is the
 * tool's config as its own schema reads it (`z.input` of the schema, see configs/sections.ts).
 */
export interface ToolConfigBuilder<Config = unknown> {
  tool: string;
  /**
   * Returns undefined when a section it needs is missing (its component was not started). May write
   * side files (a rotation file, a token file) into dir.
   */
  build(sections: OfferedSections, dir: string): Config | undefined;
  /** The one command line that tries the tool against the lab with this config file. */
  tryCommand?(configFile: string, sections: OfferedSections): string;
}

export interface RunningLab {
  dir: string;
  components: ReadonlyMap<string, StartedComponent>;
  /** Every section offered, as written to lab.yaml. */
  sections: OfferedSections;
  /** tool name → path of its ready config file (<dir>/<tool>.yaml). */
  configFiles: Readonly<Record<string, string>>;
  /** tool name → the command line that tries it against the lab. */
  tryCommands: Readonly<Record<string, string>>;
  get<T extends StartedComponent>(name: string): T;
  stop(): Promise<void>;
}

export interface StartLabOptions {
  components: readonly LabComponent[];
  tools?: readonly ToolConfigBuilder[];
}

/**
 * Starts components in parallel, each after the ones it needs, writes lab.yaml and one config file
 * per tool, and stops everything, in reverse list order, on stop() or if a start fails.
 */
export async function startLab(options: StartLabOptions): Promise<RunningLab> {
  const dir = makeTempDir("lab");
  const started = new Map<string, StartedComponent>();
  const stopAll = async (): Promise<void> => {
    for (const component of [...started.values()].reverse()) await component.stop().catch(() => {});
    started.clear();
    removeDir(dir);
  };
  const unregister = onProcessExit(() => removeDir(dir));
  const results = await Promise.allSettled(startInDependencyOrder(options.components, dir, started));
  // Listed order, so describe() and stop() do not depend on which start finished first.
  const inOrder = options.components.flatMap((c) => {
    const component = started.get(c.name);
    return component ? [[c.name, component] as const] : [];
  });
  started.clear();
  for (const [name, component] of inOrder) started.set(name, component);
  const sections: Record<string, unknown> & OfferedSections = {};
  const configFiles: Record<string, string> = {};
  const tryCommands: Record<string, string> = {};
  try {
    const failure = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failure) throw failure.reason;
    for (const component of started.values()) Object.assign(sections, component.sections?.() ?? {});
    writeFileSync(join(dir, "lab.yaml"), stringify(sections));
    for (const builder of options.tools ?? []) {
      const config = builder.build(sections, dir);
      if (!config) continue;
      const path = join(dir, `${builder.tool}.yaml`);
      writeFileSync(path, `# ${builder.tool} config for the opsguard lab; use: --config ${path}\n${stringify(config)}`);
      configFiles[builder.tool] = path;
      const command = builder.tryCommand?.(path, sections);
      if (command) tryCommands[builder.tool] = command;
    }
  } catch (error) {
    await stopAll();
    unregister();
    throw error;
  }
  let stopped = false;
  return {
    dir,
    components: started,
    sections,
    configFiles,
    tryCommands,
    get<T extends StartedComponent>(name: string): T {
      const component = started.get(name);
      if (!component) throw new Error(`lab component "${name}" is not running`);
      return component as T;
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopAll();
      unregister();
    },
  };
}

/** One start promise per component; a component waits for the ones it needs (those not listed are skipped). */
function startInDependencyOrder(components: readonly LabComponent[], dir: string, started: Map<string, StartedComponent>): Promise<void>[] {
  const pending = new Map<string, Promise<void>>();
  const startOne = (component: LabComponent): Promise<void> => {
    const existing = pending.get(component.name);
    if (existing) return existing;
    const needs = component.needs ?? [];
    const needed = components.filter((c) => needs.includes(c.name));
    const promise = Promise.all(needed.map(startOne)).then(async () => {
      started.set(component.name, await component.start({ dir, started }));
    });
    pending.set(component.name, promise);
    return promise;
  };
  return components.map(startOne);
}
