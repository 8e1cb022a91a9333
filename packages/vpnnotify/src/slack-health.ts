/**
 * Whether Slack is demonstrably accepting posts right now, as this process has seen it: the verdict a login
 * waiting on `onFailure: reject` gets when its own alert has not been sent yet (verdicts.ts). A post accepted is
 * the only proof; a post refused or failed (a 429 too) undoes it, and so does any call (a user's lookup, the first
 * of a new user's alert) that hangs past the stall bound, gets no answer, or is rate limited (T50 N3).
 *
 * It also remembers the channels (a user's id, for a DM) whose last post Slack refused for good: Slack accepting
 * other posts is not Slack accepting those (T50 N5).
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

export class SlackHealth {
  /** A success this old proves nothing about now. */
  static readonly FRESH_MS = 30_000;
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

  /** `stallMs`: a post under way longer than this (the hook's own Slack timeout) counts as Slack not answering. */
  constructor(stallMs: number) {
    this.#stallMs = stallMs;
  }

  /**
   * A post to `channel` is sent now; call the returned function with its outcome: nothing when Slack accepted it,
   * else the error and, for Slack's own `ok:false` answer, its code.
   */
  started(channel?: string): (error?: string, code?: string) => void {
    const token = Symbol("post");
    this.#inFlight.set(token, Date.now());
    return (error, code) => {
      this.#inFlight.delete(token);
      if (error === undefined) {
        this.#lastOkAt = Date.now();
        if (channel !== undefined) this.#refused.delete(channel);
        for (const listener of this.#onAccepting) listener();
      } else {
        this.#lastFailAt = Date.now();
        this.#lastError = error;
        this.#lastFailed = "post";
        if (channel !== undefined && code !== undefined && REFUSED_FOR_GOOD.has(code)) {
          this.#refused.set(channel, code);
          // Bounded: the oldest refusal goes first (a storm of disabled users must not grow it without end).
          if (this.#refused.size > MAX_REFUSED) this.#refused.delete(this.#refused.keys().next().value as string);
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
    const token = Symbol("call");
    this.#inFlight.set(token, Date.now());
    return (error) => {
      this.#inFlight.delete(token);
      if (error === undefined) return;
      this.#lastFailAt = Date.now();
      this.#lastError = error;
      this.#lastFailed = "call";
    };
  }

  /** The code Slack refused this channel's (or user's DMs') last post with, when a retry cannot fix it; else undefined. */
  refusedForGood(channel: string): string | undefined {
    return this.#refused.get(channel);
  }

  /**
   * Accepting: its last post succeeded within FRESH_MS, none failed since, and none has hung past the stall
   * bound (a Slack that stopped answering mid-storm is no longer shown to accept anything).
   */
  accepting(now = Date.now()): boolean {
    if (this.#lastOkAt === undefined || now - this.#lastOkAt > SlackHealth.FRESH_MS) return false;
    if (this.#lastFailAt !== undefined && this.#lastFailAt >= this.#lastOkAt) return false;
    for (const since of this.#inFlight.values()) if (now - since > this.#stallMs) return false;
    return true;
  }

  /** Why it is not accepting, for the `answered 0` line. */
  why(now = Date.now()): string {
    if (this.#lastFailAt !== undefined && (this.#lastOkAt === undefined || this.#lastFailAt >= this.#lastOkAt)) {
      return `Slack's last ${this.#lastFailed} failed: ${this.#lastError ?? "unknown error"}`;
    }
    for (const since of this.#inFlight.values()) {
      if (now - since > this.#stallMs) return `a Slack call has had no answer for ${now - since} ms`;
    }
    if (this.#lastOkAt === undefined) return "no post accepted by Slack yet";
    return `no post accepted by Slack in the last ${Math.round(SlackHealth.FRESH_MS / 1000)} s`;
  }

  /** Called each time a post is accepted. */
  onAccepting(listener: () => void): void {
    this.#onAccepting.add(listener);
  }
}
