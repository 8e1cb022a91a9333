import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type LabComponent, type StartedComponent, startLab } from "../src/lab";

/** A component that records when it starts and stops and what it saw started before it. */
function part(name: string, events: string[], options: { needs?: string[]; startMs?: number; fail?: boolean } = {}): LabComponent {
  return {
    name,
    ...(options.needs ? { needs: options.needs } : {}),
    async start(ctx) {
      events.push(`start ${name} (saw ${[...ctx.started.keys()].sort().join(",") || "none"})`);
      await new Promise((resolve) => setTimeout(resolve, options.startMs ?? 0));
      if (options.fail) throw new Error(`${name} would not start`);
      events.push(`up ${name}`);
      const started: StartedComponent = {
        describe: () => [name],
        sections: () => ({ [name]: { up: true } }),
        stop: async () => {
          events.push(`stop ${name}`);
        },
      };
      return started;
    },
  };
}

describe("startLab", () => {
  it("starts independent parts together, a part after the ones it needs, and stops in reverse list order", async () => {
    const events: string[] = [];
    const lab = await startLab({
      components: [part("db", events, { startMs: 50 }), part("app", events, { needs: ["db"] }), part("cache", events, { startMs: 10 })],
    });
    expect(events.slice(0, 2)).toEqual(["start db (saw none)", "start cache (saw none)"]);
    expect(events).toContain("start app (saw cache,db)");
    expect([...lab.components.keys()]).toEqual(["db", "app", "cache"]);
    expect(lab.sections).toEqual({ db: { up: true }, app: { up: true }, cache: { up: true } });
    events.length = 0;
    await lab.stop();
    expect(events).toEqual(["stop cache", "stop app", "stop db"]);
    expect(existsSync(lab.dir)).toBe(false);
  });

  it("when a part fails, stops the ones that started, skips the ones that needed it, and rethrows", async () => {
    const events: string[] = [];
    const start = startLab({
      components: [part("db", events, { fail: true, startMs: 20 }), part("app", events, { needs: ["db"] }), part("cache", events)],
    });
    await expect(start).rejects.toThrow("db would not start");
    expect(events).toContain("stop cache");
    expect(events.some((e) => e.startsWith("start app"))).toBe(false);
  });

  it("stops what started when a tool's config cannot be written", async () => {
    const events: string[] = [];
    const start = startLab({
      components: [part("db", events)],
      tools: [
        {
          tool: "broken",
          build: () => {
            throw new Error("no room for the rotation file");
          },
        },
      ],
    });
    await expect(start).rejects.toThrow("no room for the rotation file");
    expect(events).toContain("stop db");
  });

  it("writes each tool's config and its try command from the sections offered, skipping a tool whose section is missing", async () => {
    const lab = await startLab({
      components: [part("db", [])],
      tools: [
        { tool: "dbtool", build: (s) => (s.db ? { db: s.db } : undefined), tryCommand: (file) => `dbtool --config ${file}` },
        { tool: "mailtool", build: (s) => (s.mail ? { mail: s.mail } : undefined) },
      ],
    });
    try {
      expect(Object.keys(lab.configFiles)).toEqual(["dbtool"]);
      expect(lab.tryCommands).toEqual({ dbtool: `dbtool --config ${lab.configFiles.dbtool}` });
    } finally {
      await lab.stop();
    }
  });
});
