import { join } from "node:path";
import { JsonStateFile, type Logger, redactSecrets } from "@opsguard/core";
import { z } from "zod";

/** Attempts at one hand-off message (this run's included) before it is given up, so a broken channel cannot retry forever. */
export const MAX_MESSAGE_ATTEMPTS = 5;

const deliverySchema = z.object({
  status: z.enum(["delivered", "already-posted", "failed", "gave-up"]),
  at: z.string(),
  /** Why it failed: one line, no secrets. */
  error: z.string().optional(),
});
export type Delivery = z.output<typeof deliverySchema>;

const pendingSchema = z.object({
  /** The on-call set the message announces. */
  members: z.array(z.string()),
  text: z.string(),
  /** Failed attempts so far. */
  attempts: z.number().int().nonnegative(),
  since: z.string(),
});
export type PendingMessage = z.output<typeof pendingSchema>;

const stateSchema = z.object({
  version: z.literal(1),
  /** Per sink that has no readable state of its own (announcements, webhooks): who it last heard about. */
  announced: z.record(z.string(), z.object({ members: z.array(z.string()), at: z.string() })),
  /** email → Slack user id; ids never change, so each person is looked up once. */
  slackIds: z.record(z.string(), z.string()),
  /** Per sink, per part ("topic", "usergroup", "message"): how its last write went. */
  deliveries: z.record(z.string(), z.record(z.string(), deliverySchema)).default({}),
  /** Per sink (and "<sink> <channel>" for its extra channels): a hand-off message not delivered yet, retried on the next runs (at most MAX_MESSAGE_ATTEMPTS). */
  pending: z.record(z.string(), pendingSchema).default({}),
  /** Look-ahead DMs Slack took, per shift ("source schedule person start"), until the shift ends. */
  dms: z.record(z.string(), z.object({ until: z.string() })).default({}),
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
      empty: () => ({ version: 1, announced: {}, slackIds: {}, deliveries: {}, pending: {}, dms: {} }),
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

  async deliveries(sink: string): Promise<Record<string, Delivery>> {
    return { ...(await this.#load()).deliveries[sink] };
  }

  async pending(sink: string): Promise<PendingMessage | undefined> {
    return (await this.#load()).pending[sink];
  }

  /** How one part of a sink's change went; `settled` names a pending message it delivered (or gave up). */
  async recordDelivery(sink: string, part: string, delivery: Omit<Delivery, "at">, settled?: string, at: Date = new Date()): Promise<void> {
    this.#data = await this.#file.update((s) => {
      // An error can echo a request header (a 500 body quoting Authorization): never persist a secret.
      const error = delivery.error === undefined ? {} : { error: redactSecrets(delivery.error) };
      s.deliveries[sink] = { ...s.deliveries[sink], [part]: { ...delivery, ...error, at: at.toISOString() } };
      if (settled !== undefined) delete s.pending[settled];
    });
  }

  /** A message about to be sent is kept first, so a failure (or a crash) leaves it to be retried. */
  async recordPending(sink: string, message: PendingMessage): Promise<void> {
    this.#data = await this.#file.update((s) => {
      s.pending[sink] = message;
    });
  }

  async dmSent(shift: string): Promise<boolean> {
    return (await this.#load()).dms[shift] !== undefined;
  }

  /** A look-ahead DM Slack took; shifts that ended a day ago are forgotten, so the file does not grow. */
  async recordDm(shift: string, until: Date, now: Date = new Date()): Promise<void> {
    this.#data = await this.#file.update((s) => {
      for (const [key, dm] of Object.entries(s.dms)) if (Date.parse(dm.until) < now.getTime() - 86_400_000) delete s.dms[key];
      s.dms[shift] = { until: until.toISOString() };
    });
  }

  async #load(): Promise<DeputizeStateData> {
    this.#data ??= await this.#file.load();
    return this.#data;
  }
}
