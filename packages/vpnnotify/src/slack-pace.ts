import {
  describeError,
  ExitCode,
  HttpError,
  parseRetryAfter,
  SlackApiError,
  SlackClient,
  type SlackClientOptions,
  SlackPermissionError,
  TempFailError,
} from "@opsguard/core";
import type { SlackHealth } from "./slack-health";

/**
 * Slack documents chat.postMessage's limit as about one message per second per channel, with
 * short bursts tolerated, on top of a workspace-wide limit; over it Slack answers HTTP 429 with
 * Retry-After, the seconds to wait (https://docs.slack.dev/apis/web-api/rate-limits, "Special
 * rate limits" and "Responding to rate limiting conditions"; chat.postMessage's page:
 * https://docs.slack.dev/reference/methods/chat.postMessage, "Rate limits: Special").
 */
const PER_CHANNEL_MS = 1_000;

/**
 * Slack applies its limits "per API method per workspace/team per app", and chat.postMessage's per channel: "one
 * message per second per channel, while also maintaining a workspace-wide limit"
 * (https://docs.slack.dev/apis/web-api/rate-limits, "Overview" and its table's "Web API Special Tier"). A 429 does not
 * say which limit it is. So what a 429 holds back is what Slack scopes the limit to: a post's 429, the posts to that
 * channel; any other method's, that method. A 429 on the security channel (a storm's escalations, paced at a post a
 * second there) then no longer holds back every user's DM for up to 30 s (T50 N4); should it have been the
 * workspace-wide limit, each other channel's next post gets its own 429 and waits its own Retry-After.
 */
function pauseKey(method: string, channel: string | undefined): string {
  return channel === undefined ? method : `${method} ${channel}`;
}

/** Paused methods and channels remembered: far more than a storm's channels; past ones are dropped first. */
const MAX_PAUSED = 1_000;

/**
 * The worker's Slack client: posts to one channel at most once a second, and on a 429 holds back
 * what the limit covers (pauseKey) for Retry-After and then makes the call again, so a rate limit
 * delays alerts instead of failing them. A wait longer than `maxWaitMs` fails the call (the alert
 * stays spooled and is retried later).
 */
export class PacedSlackClient extends SlackClient {
  readonly #maxWaitMs: number;
  readonly #health: SlackHealth | undefined;
  /** pauseKey → until when Slack asked us to wait (its Retry-After). */
  readonly #pausedUntil = new Map<string, number>();
  readonly #nextPost = new Map<string, number>();

  /** `health`: told of every post's outcome (a 429 is a failure there: Slack is not accepting posts right then). */
  constructor(options: SlackClientOptions & { maxWaitMs: number; health?: SlackHealth }) {
    // No retries of its own: the pause here covers every call the limit covers, not only the one that hit it.
    super({ ...options, retries: 0 });
    this.#maxWaitMs = options.maxWaitMs;
    this.#health = options.health;
  }

  override async call(
    method: string,
    args: Record<string, unknown>,
    options: { write?: boolean; retryUnsafe?: boolean } = {},
  ): ReturnType<SlackClient["call"]> {
    const giveUpAt = Date.now() + this.#maxWaitMs;
    // Only chat.postMessage has the per-channel pace.
    const channel = method === "chat.postMessage" && typeof args.channel === "string" ? args.channel : undefined;
    const key = pauseKey(method, channel);
    for (;;) {
      await this.#turn(key, channel, giveUpAt);
      // Timed from when it goes to Slack, not while it waits for its turn here.
      const post = method === "chat.postMessage";
      const done = post ? this.#health?.started(channel) : undefined;
      const other = post ? undefined : this.#health?.calling();
      try {
        const reply = await super.call(method, args, options);
        done?.();
        other?.();
        return reply;
      } catch (error) {
        const wait = retryAfterMs(error);
        done?.(describeError(error), error instanceof SlackApiError ? error.code : undefined);
        other?.(slackSaidNo(error) ? undefined : describeError(error));
        if (wait === undefined) throw error;
        const until = Math.max(this.#pausedUntil.get(key) ?? 0, Date.now() + wait);
        this.#pause(key, until);
        if (until > giveUpAt) throw error;
      }
    }
  }

  /** Holds back what `key` names until `until`; the map stays as small as what is paused now. */
  #pause(key: string, until: number): void {
    this.#pausedUntil.set(key, until);
    if (this.#pausedUntil.size <= MAX_PAUSED) return;
    const now = Date.now();
    for (const [k, t] of this.#pausedUntil) if (t <= now) this.#pausedUntil.delete(k);
  }

  /** Waits until this call may be made (its method, or channel, not paused) and, for a post, books the channel's slot. */
  async #turn(key: string, channel: string | undefined, giveUpAt: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      const at = Math.max(this.#pausedUntil.get(key) ?? 0, (channel && this.#nextPost.get(channel)) || 0);
      if (at <= now) break;
      if (at > giveUpAt) {
        throw new TempFailError(`Slack rate limit: no turn to post within ${this.#maxWaitMs} ms`, { hint: "the alert is retried later" });
      }
      await new Promise((resolve) => setTimeout(resolve, at - now));
    }
    if (!channel) return;
    const now = Date.now();
    this.#nextPost.set(channel, now + PER_CHANNEL_MS);
    // Slots in the past are free anyway: keep the map as small as the channels posted to this second.
    if (this.#nextPost.size > 1_000) for (const [c, t] of this.#nextPost) if (t <= now) this.#nextPost.delete(c);
  }
}

/** How long Slack asked us to wait, for a rate-limited call; undefined for any other error. */
function retryAfterMs(error: unknown): number | undefined {
  if (!(error instanceof SlackApiError) || error.code !== "ratelimited") return undefined;
  const headers = error.cause instanceof HttpError ? error.cause.headers : undefined;
  // Without the header, Slack's guidance is to back off; a second is its per-channel pace.
  return parseRetryAfter(headers?.get("retry-after") ?? null) ?? PER_CHANNEL_MS;
}

/**
 * Slack answered a call other than a post with its own "no" about what was asked (users_not_found for a lookup): it is
 * answering, so this says nothing against it. No answer, an HTTP or server error, a 429 and a token refused are.
 */
function slackSaidNo(error: unknown): boolean {
  return error instanceof SlackApiError && !(error instanceof SlackPermissionError) && error.exitCode === ExitCode.DATA_ERR;
}
