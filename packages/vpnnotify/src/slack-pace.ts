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
 * The worker's Slack client: posts to one channel at most once a second, and on a 429 holds
 * every call back for Retry-After and then makes it again, so a rate limit delays alerts instead
 * of failing them. A wait longer than `maxWaitMs` fails the call (the alert stays spooled and is
 * retried later).
 */
export class PacedSlackClient extends SlackClient {
  readonly #maxWaitMs: number;
  readonly #health: SlackHealth | undefined;
  #pausedUntil = 0;
  readonly #nextPost = new Map<string, number>();

  /** `health`: told of every post's outcome (a 429 is a failure there: Slack is not accepting posts right then). */
  constructor(options: SlackClientOptions & { maxWaitMs: number; health?: SlackHealth }) {
    // No retries of its own: the pause here covers every post, not only the one that hit the limit.
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
    // Only chat.postMessage has the per-channel pace; a 429 holds back every call (a user lookup too).
    const channel = method === "chat.postMessage" && typeof args.channel === "string" ? args.channel : undefined;
    for (;;) {
      await this.#turn(channel, giveUpAt);
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
        this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + wait);
        if (this.#pausedUntil > giveUpAt) throw error;
      }
    }
  }

  /** Waits until this channel may be posted to, and books the slot. */
  async #turn(channel: string | undefined, giveUpAt: number): Promise<void> {
    for (;;) {
      const now = Date.now();
      const at = Math.max(this.#pausedUntil, (channel && this.#nextPost.get(channel)) || 0);
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
