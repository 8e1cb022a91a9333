import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { makeTempDir, onProcessExit, removeDir } from "./process";

/** A running lab part (slapd, sshd, redis, a SaaS simulator). */
export interface StartedComponent {
  /** Lines for people: what runs where and how to log in. */
  describe(): string[];
  /**
   * Config sections this part offers the tools, keyed by section name ("ldap", "redis", "pagerduty"):
   * they are written to lab.yaml and handed to the tool config builders.
   */
  sections?(): Record<string, unknown>;
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
  start(ctx: LabContext): Promise<T>;
}

/** Builds a ready-to-use config file for one tool from the sections the components offer. */
export interface ToolConfigBuilder {
  tool: string;
  /** Returns undefined when a section it needs is missing (its component was not started). */
  build(sections: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined;
}

export interface RunningLab {
  dir: string;
  components: ReadonlyMap<string, StartedComponent>;
  /** Every section offered, as written to lab.yaml. */
  sections: Readonly<Record<string, unknown>>;
  /** tool name → path of its ready config file (<dir>/<tool>.yaml). */
  configFiles: Readonly<Record<string, string>>;
  get<T extends StartedComponent>(name: string): T;
  stop(): Promise<void>;
}

export interface StartLabOptions {
  components: readonly LabComponent[];
  tools?: readonly ToolConfigBuilder[];
}

/**
 * Starts components in order (a later one may use an earlier one), writes lab.yaml and one config
 * file per tool, and stops everything, in reverse order, on stop() or if a start fails.
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
  try {
    for (const component of options.components) started.set(component.name, await component.start({ dir, started }));
  } catch (error) {
    await stopAll();
    unregister();
    throw error;
  }
  const sections: Record<string, unknown> = {};
  for (const component of started.values()) Object.assign(sections, component.sections?.() ?? {});
  writeFileSync(join(dir, "lab.yaml"), stringify(sections));
  const configFiles: Record<string, string> = {};
  for (const builder of options.tools ?? []) {
    const config = builder.build(sections);
    if (!config) continue;
    const path = join(dir, `${builder.tool}.yaml`);
    writeFileSync(path, `# ${builder.tool} config for the opsguard lab; use: --config ${path}\n${stringify(config)}`);
    configFiles[builder.tool] = path;
  }
  let stopped = false;
  return {
    dir,
    components: started,
    sections,
    configFiles,
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
