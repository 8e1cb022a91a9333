import { join } from "node:path";
import { JsonStateFile, type Logger } from "@opsguard/core";
import { z } from "zod";

const stateSchema = z.object({
  version: z.literal(1),
  /** Per sink that has no readable state of its own (announcements, webhooks): who it last heard about. */
  announced: z.record(z.string(), z.object({ members: z.array(z.string()), at: z.string() })),
  /** email → Slack user id; ids never change, so each person is looked up once. */
  slackIds: z.record(z.string(), z.string()),
});
export type DeputizeStateData = z.output<typeof stateSchema>;

/**
 * deputize's memory between runs, in <stateDir>/state.json. Reads are free; writes happen only
 * after a sink applied its change, never in a dry run.
 */
export class DeputizeState {
  readonly #file: JsonStateFile<DeputizeStateData>;
  #data: DeputizeStateData | undefined;

  constructor(stateDir: string, log?: Logger) {
    this.#file = new JsonStateFile({
      path: join(stateDir, "state.json"),
      validate: stateSchema,
      empty: () => ({ version: 1, announced: {}, slackIds: {} }),
      ...(log ? { log } : {}),
    });
  }

  get path(): string {
    return this.#file.path;
  }

  async announced(sink: string): Promise<string[] | undefined> {
    return (await this.#load()).announced[sink]?.members;
  }

  async slackId(email: string): Promise<string | undefined> {
    return (await this.#load()).slackIds[email.toLowerCase()];
  }

  async recordAnnounced(sink: string, members: readonly string[], at: Date = new Date()): Promise<void> {
    this.#data = await this.#file.update((s) => {
      s.announced[sink] = { members: [...members].sort(), at: at.toISOString() };
    });
  }

  async recordSlackIds(ids: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(ids).length === 0) return;
    this.#data = await this.#file.update((s) => {
      for (const [email, id] of Object.entries(ids)) s.slackIds[email.toLowerCase()] = id;
    });
  }

  async #load(): Promise<DeputizeStateData> {
    this.#data ??= await this.#file.load();
    return this.#data;
  }
}
