import { describeError, type Logger, readRegularFileSync, writeFileAtomic } from "@opsguard/core";
import { z } from "zod";

/**
 * Whether Slack is demonstrably accepting posts right now, as this process has seen it: the verdict a login
 * waiting on `onFailure: reject` gets when its own alert has not been sent yet (verdicts.ts). A post accepted is
 * the only proof; a post refused or failed (a 429 too) undoes it, and so does any call (a user's lookup, the first
 * of a new user's alert) that hangs past the stall bound, gets no answer, or is rate limited (T50 N3).
 *
 * It also remembers the channels (a user's id, for a DM) whose last post Slack refused for good: Slack accepting
 * other posts is not Slack accepting those (T50 N5). Given a file (beside the spool), those refusals, and the users
 * whose DMs they are, outlive the worker: it exits when idle, and the next one would have let such a user's next
 * login in as soon as another user's DM went through (T51 N5b). The same file hands a worker that ended idle Slack's
 * state to the next worker, once (handOver): otherwise that one's first logins had no proof but their own alerts (T50 N1).
 */
/**
 * chat.postMessage's `ok:false` errors about the channel posted to, which no retry fixes until someone acts on
 * Slack's side: channel_not_found, is_archived, not_in_channel (its error schema in Slack's Web API spec,
 * shared/contracts/slack/web-openapi-v2.json), and for a DM to a user id cannot_dm_bot, user_not_found,
 * user_disabled (https://docs.slack.dev/reference/methods/chat.postMessage, "Errors"). A token's errors are not
 * here: they refuse every post, and so already keep Slack from counting as accepting.
 */
const REFUSED_FOR_GOOD = new Set([
  "channel_not_found",
  "is_archived",
  "not_in_channel",
  "cannot_dm_bot",
  "user_not_found",
  "user_disabled",
]);
/** Channels remembered as refused: far more than a site's users. */
const MAX_REFUSED = 10_000;
/** Users whose Slack id is remembered (where their DMs go): as many. */
const MAX_USERS = 10_000;
/** The refusals' file at its bound (10,000 channels and users, ids and names of sane length) is far below this. */
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The refusals' file: channel (or user id) → Slack's code; user (as the verdicts key it) → their Slack id, when refused;
 * and, left by a worker that ended idle, its Slack state then (handOver): for the next worker only.
 */
const refusalsSchema = z.object({
  channels: z.record(z.string(), z.string()),
  users: z.record(z.string(), z.string()),
  lastPost: z
    .object({
      acceptedAt: z.number(),
      failedAt: z.number().optional(),
      failed: z.enum(["post", "call"]).optional(),
      error: z.string().optional(),
    })
    .optional(),
});

export interface RefusalsFile {
  file: string;
  log: Logger;
}

export class SlackHealth {
  /** A success this old proves nothing about now. */
  static readonly FRESH_MS = 30_000;
  /** Why a proof this old proves nothing. */
  readonly #stale = `no post accepted by Slack in the last ${Math.round(SlackHealth.FRESH_MS / 1000)} s`;
  readonly #stallMs: number;
  #lastOkAt: number | undefined;
  #lastFailAt: number | undefined;
  #lastError: string | undefined;
  /** What failed last: a post, or another call (a lookup). */
  #lastFailed: "post" | "call" = "post";
  /** Start times of the calls under way (by a token per call). */
  readonly #inFlight = new Map<symbol, number>();
  readonly #onAccepting = new Set<() => void>();
  /** Channel (or user id) → the code Slack refused its last post with, while that was a refusal for good. */
  readonly #refused = new Map<string, string>();
  /** A user (as the verdicts key them) → the Slack id their DMs go to. */
  readonly #slackIds = new Map<string, string>();
  readonly #keep: RefusalsFile | undefined;
  #didLoad = false;
  /** Why the refusals earlier workers kept could not be read: while so, none can be ruled out. */
  #unread: string | undefined;
  /** The file's content as last written (or read); a write queued and not yet started; the writes, in order. */
  #written: string | undefined;
  #queued = false;
  #writing: Promise<void> = Promise.resolve();
  /** The worker ends idle: the file keeps its Slack state for the next worker (handOver). */
  #handingOver = false;

  /**
   * `stallMs`: a post under way longer than this (the hook's own Slack timeout) counts as Slack not answering.
   * `keep`: the file the refusals are kept in for the next worker (read when first needed, written on each change).
   */
  constructor(stallMs: number, keep?: RefusalsFile) {
    this.#stallMs = stallMs;
    this.#keep = keep;
  }

  /**
   * Reads the refusals earlier workers kept, the first time they matter: not when the notifier is made, so `status`
   * (which makes one and sends nothing) and a `flush` refused the spool directory say nothing of the file.
   */
  #loaded(): void {
    if (this.#keep === undefined || this.#didLoad) return;
    this.#didLoad = true;
    this.#load(this.#keep);
  }

  #load(keep: RefusalsFile): void {
    // Nothing to write until a refusal (or a refused user's id) changes: a lookup alone does not create the file.
    this.#written = this.#snapshot();
    const read = readRegularFileSync(keep.file, MAX_FILE_BYTES);
    if ("refused" in read) {
      if (read.refused.kind === "unreadable" && read.refused.code === "ENOENT") return;
      this.#unread = read.refused.kind === "unreadable" ? read.refused.code : read.refused.kind;
    } else {
      let parsed: ReturnType<typeof refusalsSchema.safeParse> | undefined;
      try {
        parsed = refusalsSchema.safeParse(JSON.parse(read.bytes.toString("utf8")));
      } catch (error) {
        this.#unread = describeError(error);
      }
      if (parsed?.success) {
        for (const [channel, code] of Object.entries(parsed.data.channels).slice(-MAX_REFUSED)) this.#refused.set(channel, code);
        for (const [user, slackId] of Object.entries(parsed.data.users).slice(-MAX_USERS)) this.#slackIds.set(user, slackId);
        this.#written = this.#snapshot();
        const last = parsed.data.lastPost;
        if (last) {
          this.#takeOver(last);
          // Taken by this worker alone, at once: should it be killed (a hang the stall bound would have caught), the
          // next one must not find the state an earlier worker saw.
          this.#written = undefined;
          this.#save();
        }
        return;
      }
      if (parsed) this.#unread = "not a refusals file";
    }
    // Read as empty would let in the very logins the file was there to hold: none is let in on Slack accepting
    // others' posts in this worker (each waits for its own alert's outcome); its first change replaces the file.
    keep.log.warn("cannot read the Slack refusals earlier workers kept: no login is let in before its own alert's outcome", {
      file: keep.file,
      error: this.#unread,
    });
  }

  /**
   * The Slack state the worker before this one ended with (it ended idle, nothing in flight): its last accepted
   * post, and a failure after it, counted as this worker's own, so a login queued right after a worker's idle exit is
   * judged as one queued just before it was (T50 N1), and not refused for want of a post accepted "in this worker"
   * when Slack answers each call in 0.9 s. The same rule applies: older than FRESH_MS, it proves nothing. A time
   * ahead of this clock (stepped back) is not taken.
   */
  #takeOver(last: z.infer<typeof refusalsSchema>["lastPost"] & {}): void {
    const now = Date.now();
    if (last.acceptedAt > now || (last.failedAt ?? 0) > now) return;
    this.#lastOkAt = last.acceptedAt;
    if (last.failedAt !== undefined) {
      this.#lastFailAt = last.failedAt;
      this.#lastFailed = last.failed ?? "post";
      this.#lastError = last.error ?? "unknown error";
    }
  }

  /**
   * The worker ends idle: the file keeps when Slack last accepted one of its posts (and failed since) for the next
   * worker. Not with a call still in flight (it may hang), and not for a worker stopped or killed: a worker that
   * finds none starts as before, with no post accepted yet.
   */
  handOver(): void {
    if (this.#keep === undefined || this.#lastOkAt === undefined || this.#inFlight.size > 0) return;
    this.#handingOver = true;
    this.#save();
  }

  /** The Slack id `user`'s DMs go to, as the directory found it: Slack refusing those for good is remembered by user. */
  recipient(user: string, slackId: string): void {
    this.#loaded();
    const was = this.#slackIds.get(user);
    this.#slackIds.delete(user);
    this.#slackIds.set(user, slackId);
    if (this.#slackIds.size > MAX_USERS) this.#slackIds.delete(this.#slackIds.keys().next().value as string);
    if (was !== slackId) this.#save();
  }

  /**
   * A post to `channel` is sent now; call the returned function with its outcome: nothing when Slack accepted it,
   * else the error and, for Slack's own `ok:false` answer, its code.
   */
  started(channel?: string): (error?: string, code?: string) => void {
    this.#loaded();
    const answered = this.#underWay();
    return (error, code) => {
      answered();
      if (error === undefined) {
        this.#lastOkAt = Date.now();
        if (channel !== undefined && this.#refused.delete(channel)) this.#save();
        for (const listener of this.#onAccepting) listener();
      } else {
        this.#failed("post", error);
        if (channel !== undefined && code !== undefined && REFUSED_FOR_GOOD.has(code)) {
          this.#refused.set(channel, code);
          // Bounded: the oldest refusal goes first (a storm of disabled users must not grow it without end).
          if (this.#refused.size > MAX_REFUSED) this.#refused.delete(this.#refused.keys().next().value as string);
          this.#save();
        }
      }
    };
  }

  /**
   * Any other call is sent now: its success proves nothing, but it counts while under way (a hang past the stall
   * bound), and an `error` given to the returned function (no answer, a 429; not Slack's own `ok:false` answer,
   * such as a lookup's users_not_found) undoes the proof as a failed post does.
   */
  calling(): (error?: string) => void {
    const answered = this.#underWay();
    return (error) => {
      answered();
      if (error !== undefined) this.#failed("call", error);
    };
  }

  /** A call goes to Slack now: timed for the stall bound until the returned function says it was answered. */
  #underWay(): () => void {
    const token = Symbol("call");
    this.#inFlight.set(token, Date.now());
    return () => this.#inFlight.delete(token);
  }

  /** A post or another call failed: Slack's last proof is undone until a post is accepted again. */
  #failed(what: "post" | "call", error: string): void {
    this.#lastFailAt = Date.now();
    this.#lastError = error;
    this.#lastFailed = what;
  }

  /** The code Slack refused this channel's (or user's DMs') last post with, when a retry cannot fix it; else undefined. */
  refusedForGood(channel: string): string | undefined {
    this.#loaded();
    return this.#refused.get(channel);
  }

  /** The code Slack refused `user`'s last DM with, for good (by the Slack id last found for them); else undefined. */
  refusedDm(user: string): string | undefined {
    this.#loaded();
    const slackId = this.#slackIds.get(user);
    return slackId === undefined ? undefined : this.#refused.get(slackId);
  }

  /** Why no refusal can be ruled out (the kept ones could not be read), else undefined. */
  unread(): string | undefined {
    this.#loaded();
    return this.#unread;
  }

  /** Resolves once the refusals' file holds every change made so far (the worker awaits it before it exits). */
  saved(): Promise<void> {
    return this.#writing;
  }

  /** The file's content: the refused channels, and only the users whose DMs are among them. */
  #snapshot(): string {
    const users = [...this.#slackIds].filter(([, slackId]) => this.#refused.has(slackId));
    const lastPost =
      this.#handingOver && this.#lastOkAt !== undefined
        ? {
            acceptedAt: this.#lastOkAt,
            ...(this.#lastFailAt !== undefined && this.#lastFailAt >= this.#lastOkAt
              ? { failedAt: this.#lastFailAt, failed: this.#lastFailed, error: this.#lastError }
              : {}),
          }
        : undefined;
    return `${JSON.stringify({ channels: Object.fromEntries(this.#refused), users: Object.fromEntries(users), ...(lastPost ? { lastPost } : {}) })}\n`;
  }

  /** Writes the file after the writes before it, with the state as it is then (changes in between share one write). */
  #save(): void {
    const keep = this.#keep;
    if (!keep || this.#queued) return;
    this.#queued = true;
    this.#writing = this.#writing.then(async () => {
      this.#queued = false;
      const data = this.#snapshot();
      if (data === this.#written) return;
      try {
        await writeFileAtomic(keep.file, data, { mode: 0o600 });
        this.#written = data;
      } catch (error) {
        keep.log.warn("cannot keep Slack's refusals for the next worker", { file: keep.file, error: describeError(error) });
      }
    });
  }

  /**
   * Accepting: its last post succeeded within FRESH_MS, none failed since, and none has hung past the stall
   * bound (a Slack that stopped answering mid-storm is no longer shown to accept anything).
   */
  accepting(now = Date.now()): boolean {
    return this.#notAccepting(now) === undefined;
  }

  /** Why it is not accepting, for the `answered 0` line. */
  why(now = Date.now()): string {
    return this.#notAccepting(now) ?? this.#stale;
  }

  /** Why Slack is not shown to accept posts now, else undefined: the one rule accepting() and why() read. */
  #notAccepting(now: number): string | undefined {
    // The state the worker before this one handed over counts from the start.
    this.#loaded();
    if (this.#lastFailAt !== undefined && (this.#lastOkAt === undefined || this.#lastFailAt >= this.#lastOkAt)) {
      return `Slack's last ${this.#lastFailed} failed: ${this.#lastError ?? "unknown error"}`;
    }
    for (const since of this.#inFlight.values()) {
      if (now - since > this.#stallMs) return `a Slack call has had no answer for ${now - since} ms`;
    }
    if (this.#lastOkAt === undefined) return "no post accepted by Slack yet";
    return now - this.#lastOkAt > SlackHealth.FRESH_MS ? this.#stale : undefined;
  }

  /** Called each time a post is accepted. */
  onAccepting(listener: () => void): void {
    this.#onAccepting.add(listener);
  }
}
