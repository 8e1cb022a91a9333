import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { formatIssues, IoError, JsonStateFile, type Logger, PermissionError, redactSecrets } from "@opsguard/core";
import { z } from "zod";

/** Attempts at one hand-off message (this run's included) before it is given up, so a broken channel cannot retry forever. */
export const MAX_MESSAGE_ATTEMPTS = 5;

const deliverySchema = z.object({
  status: z.enum(["delivered", "already-posted", "failed", "gave-up"]),
  at: z.string(),
  /** Why it failed: one line, no secrets. */
  error: z.string().optional(),
  /**
   * When a failed hand-off was dropped unsent (the set it announced went off call again): it is not retried.
   * An optional field rather than a new status, so that a state file stays version 1 and an older deputize
   * (rolled back) still reads it: its schema strips a key it does not know, where an unknown status would
   * make it set the whole file aside as corrupt (T59 N2).
   */
  dropped: z.string().optional(),
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
  readonly #log: Logger | undefined;
  readonly #readOnly: boolean;
  #data: DeputizeStateData | undefined;

  /**
   * `readOnly` (status, run --dry-run): a state file that cannot be read is reported and left where it
   * is, never moved aside, and nothing is written; only a real run may set it aside (T56 F7).
   */
  constructor(stateDir: string, log?: Logger, options: { readOnly?: boolean } = {}) {
    this.#log = log;
    this.#readOnly = options.readOnly ?? false;
    this.#file = new JsonStateFile({
      path: join(stateDir, "state.json"),
      validate: stateSchema,
      empty: emptyState,
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
    this.#data = await this.#update((s) => {
      s.announced[sink] = { members: [...members].sort(), at: at.toISOString() };
    });
  }

  async recordSlackIds(ids: Readonly<Record<string, string>>): Promise<void> {
    if (Object.keys(ids).length === 0) return;
    this.#data = await this.#update((s) => {
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
    this.#data = await this.#update((s) => {
      // An error can echo a request header (a 500 body quoting Authorization): never persist a secret.
      const error = delivery.error === undefined ? {} : { error: redactSecrets(delivery.error) };
      s.deliveries[sink] = { ...s.deliveries[sink], [part]: { ...delivery, ...error, at: at.toISOString() } };
      if (settled !== undefined) delete s.pending[settled];
    });
  }

  /** A message about to be sent is kept first, so a failure (or a crash) leaves it to be retried. */
  async recordPending(sink: string, message: PendingMessage): Promise<void> {
    this.#data = await this.#update((s) => {
      s.pending[sink] = message;
    });
  }

  /** A pending message that will never be sent (the set it announces went back before it got through). */
  async dropPending(key: string, sink: string, part: string, at: Date = new Date()): Promise<void> {
    this.#data = await this.#update((s) => {
      delete s.pending[key];
      // The part's last attempt stays as it went; it no longer promises a retry (T59 N2).
      const last = s.deliveries[sink]?.[part];
      if (last?.status === "failed") {
        const error = last.error?.replace(RETRY_PROMISE, "");
        s.deliveries[sink] = {
          ...s.deliveries[sink],
          [part]: { ...last, ...(error === undefined ? {} : { error }), dropped: at.toISOString() },
        };
      }
    });
  }

  async dmSent(shift: string): Promise<boolean> {
    return (await this.#load()).dms[shift] !== undefined;
  }

  /** A look-ahead DM Slack took; shifts that ended a day ago are forgotten, so the file does not grow. */
  async recordDm(shift: string, until: Date, now: Date = new Date()): Promise<void> {
    this.#data = await this.#update((s) => {
      for (const [key, dm] of Object.entries(s.dms)) if (Date.parse(dm.until) < now.getTime() - 86_400_000) delete s.dms[key];
      s.dms[shift] = { until: until.toISOString() };
    });
  }

  async #load(): Promise<DeputizeStateData> {
    this.#data ??= this.#readOnly ? await this.#peek() : await this.#file.load();
    return this.#data;
  }

  async #update(change: (state: DeputizeStateData) => void): Promise<DeputizeStateData> {
    // A read-only command reaching a write is a bug: the file must stay exactly as it was.
    if (this.#readOnly) throw new Error(`a read-only command tried to write ${this.path}`);
    return this.#file.update(change);
  }

  /**
   * The state as a read-only command sees it: read without following a symlink or blocking on a FIFO (as
   * core's state file does); one that cannot be used is reported and left in place, and the command
   * goes on from empty state, which is what the next real run will do after moving it aside.
   */
  async #peek(): Promise<DeputizeStateData> {
    let text: string | undefined;
    try {
      const handle = await open(this.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
      try {
        if ((await handle.stat()).isFile()) text = await handle.readFile("utf8");
      } finally {
        await handle.close();
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return emptyState();
      if (code === "EACCES" || code === "EPERM")
        throw new PermissionError(`cannot read ${this.path}: permission denied`, {
          hint: "check the owner and mode of the state directory",
        });
      if (code !== "ELOOP")
        throw new IoError(`cannot read ${this.path} (${code ?? "error"})`, { hint: "check the disk and the state directory" });
    }
    const checked = text === undefined ? { ok: false as const, problem: "not a regular file" } : parseState(text);
    if (checked.ok) return checked.state;
    this.#log?.warn("state file cannot be used; left as it is (the next real run moves it aside and starts from empty state)", {
      file: this.path,
      problem: checked.problem,
    });
    return emptyState();
  }
}

/** The end of a failed attempt's line that says the next run retries it (see SlackSink#post). */
const RETRY_PROMISE =
  /; (?:the channel history could not be checked, so nothing was posted; )?retried on the next run(?: \(\d+ of \d+\))?$/;

function emptyState(): DeputizeStateData {
  return { version: 1, announced: {}, slackIds: {}, deliveries: {}, pending: {}, dms: {} };
}

function parseState(text: string): { ok: true; state: DeputizeStateData } | { ok: false; problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `invalid JSON: ${(error as Error).message}` };
  }
  const parsed = stateSchema.safeParse(raw);
  return parsed.success ? { ok: true, state: parsed.data } : { ok: false, problem: formatIssues(parsed.error) };
}
