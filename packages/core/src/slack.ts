import { z } from "zod";
import { apiUrlSchema, secretRefSchema } from "./config";
import { type ErrorDetails, OpsguardError } from "./errors";
import { ExitCode } from "./exit";
import { HttpClient, type HttpClientOptions, HttpError, parseRetryAfter, sleep } from "./http";
import type { Logger } from "./log";
import { resolveHeaderSecret, type Secret, type SecretRef } from "./secret";

/**
 * A small Slack Web API client on core's HttpClient. The official @slack/web-api pulls in axios
 * and more; vpnnotify runs inside OpenVPN's connect path, where start-up time counts.
 */

export const SLACK_API_URL = "https://slack.com/api";

/** The `slack:` block of a tool's config. */
export const slackConfigSchema = z.strictObject({
  token: secretRefSchema,
  baseUrl: apiUrlSchema.optional(),
  timeoutMs: z.number().int().positive().max(120_000).optional(),
});
export type SlackConfig = z.output<typeof slackConfigSchema>;

/** Slack's `{ok:false}` answer, as a typed error. The token is never part of it. */
export class SlackApiError extends OpsguardError {
  readonly method: string;
  /** Slack's error code: "channel_not_found", "missing_scope"… */
  readonly code: string;
  /** For missing_scope: the scope the token needs. */
  readonly needed: string | undefined;

  constructor(method: string, code: string, exitCode: ExitCode, details: ErrorDetails & { needed?: string } = {}) {
    super(`Slack ${method} failed: ${code}`, exitCode, details);
    this.method = method;
    this.code = code;
    this.needed = details.needed;
  }
}

/** The token is invalid, revoked, or lacks a scope. */
export class SlackPermissionError extends SlackApiError {}

/** A channel, user, email or user group that Slack does not know. */
export class SlackNotFoundError extends SlackApiError {}

const AUTH_ERRORS = new Set([
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "no_permission",
  "missing_scope",
  "not_allowed_token_type",
  "ekm_access_denied",
  "access_denied",
]);
/**
 * The app may not act there, though its token is fine: not a member of the channel, or (usergroups.*, per Slack's
 * Web API spec, shared/contracts/slack) a workspace that does not let it manage user groups. Permission (77), as a
 * refused token is, not bad data: someone has to invite the app or change a setting.
 */
const NOT_ALLOWED_ERRORS = new Map([
  ["not_in_channel", "invite the app to the channel"],
  [
    "permission_denied",
    "Slack does not let this app do that here; for user groups a workspace setting decides who may change them: ask a Slack admin",
  ],
]);
const NOT_FOUND_ERRORS = new Set(["channel_not_found", "users_not_found", "user_not_found", "no_such_subteam"]);
const UNAVAILABLE_ERRORS = new Set(["fatal_error", "internal_error", "service_unavailable", "request_timeout"]);

export interface SlackUser {
  id: string;
  name: string;
  real_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  tz?: string;
  profile?: { email?: string; display_name?: string; real_name?: string };
}

export interface SlackTopic {
  value: string;
  creator: string;
  last_set: number;
}

export interface SlackChannel {
  id: string;
  name: string;
  is_private?: boolean;
  is_archived?: boolean;
  topic?: SlackTopic;
  purpose?: SlackTopic;
}

export interface PostMessage {
  /** Channel id, or a user id for a direct message from the app. */
  channel: string;
  /** Fallback/notification text; also what screen readers say. Escape untrusted parts with escapeSlackText. */
  text: string;
  blocks?: unknown[];
  unfurl_links?: boolean;
  unfurl_media?: boolean;
  /** Message metadata (https://docs.slack.dev/messaging/message-metadata): a marker a later reader of the history can find. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

/** A message as conversations.history lists it (the fields opsguard reads). */
export interface SlackMessage {
  ts: string;
  text?: string;
  user?: string;
  bot_id?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

export interface SlackClientOptions {
  token: Secret;
  baseUrl?: string;
  /** Per HTTP attempt; default 5 s. */
  timeoutMs?: number;
  /** Bounded retries for 429, `ratelimited` and 5xx on idempotent calls; default 2. */
  retries?: number;
  /** A Retry-After longer than this fails the call instead of waiting; default 30 s. */
  maxRetryAfterMs?: number;
  log?: Logger;
  onAttempt?: HttpClientOptions["onAttempt"];
}

type Args = Record<string, string | number | boolean | undefined>;
type Reply = { ok: boolean; error?: string; needed?: string; warning?: string } & Record<string, unknown>;

export class SlackClient {
  readonly #http: HttpClient;
  readonly #token: Secret;
  readonly #retries: number;
  readonly #maxRetryAfterMs: number;
  readonly #log: Logger | undefined;

  constructor(options: SlackClientOptions) {
    this.#token = options.token;
    this.#retries = options.retries ?? 2;
    this.#maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.#log = options.log;
    this.#http = new HttpClient({
      service: "Slack API",
      baseUrl: options.baseUrl ?? SLACK_API_URL,
      timeoutMs: options.timeoutMs ?? 5_000,
      retries: this.#retries,
      maxRetryAfterMs: this.#maxRetryAfterMs,
      ...(options.log ? { log: options.log } : {}),
      ...(options.onAttempt ? { onAttempt: options.onAttempt } : {}),
    });
  }

  /** chat.postMessage; returns the channel it landed in (a DM id for a user) and the message ts. */
  async postMessage(message: PostMessage): Promise<{ channel: string; ts: string }> {
    const reply = await this.call("chat.postMessage", { ...message }, { write: true, retryUnsafe: false });
    return { channel: String(reply.channel), ts: String(reply.ts) };
  }

  /**
   * auth.test (no scope needed): who the token is. For a bot token Slack also gives the bot's id
   * (https://docs.slack.dev/reference/methods/auth.test), which is what marks the bot's own messages.
   */
  async authTest(): Promise<{ userId: string; botId: string | undefined }> {
    const reply = await this.call("auth.test", {});
    return { userId: String(reply.user_id ?? ""), botId: typeof reply.bot_id === "string" ? reply.bot_id : undefined };
  }

  /** users.lookupByEmail (scope users:read.email); SlackNotFoundError when no such user. */
  async lookupUserByEmail(email: string): Promise<SlackUser> {
    return (await this.call("users.lookupByEmail", { email })).user as SlackUser;
  }

  async userInfo(user: string): Promise<SlackUser> {
    return (await this.call("users.info", { user })).user as SlackUser;
  }

  async conversationInfo(channel: string): Promise<SlackChannel> {
    return (await this.call("conversations.info", { channel })).channel as SlackChannel;
  }

  /**
   * conversations.setTopic. Slack stores what is sent without formatting or linkification, but a
   * topic a person typed carries Slack's link markup: compare topics with slackPlainText.
   */
  async setTopic(channel: string, topic: string): Promise<SlackChannel> {
    return (await this.call("conversations.setTopic", { channel, topic }, { write: true, retryUnsafe: true })).channel as SlackChannel;
  }

  /**
   * The newest `limit` messages of a channel, newest first, with their metadata (conversations.history
   * with include_all_metadata; scope channels:history, groups:history for a private channel).
   */
  async history(channel: string, options: { limit?: number; oldest?: string } = {}): Promise<SlackMessage[]> {
    const reply = await this.call("conversations.history", {
      channel,
      limit: options.limit ?? 100,
      include_all_metadata: true,
      ...(options.oldest ? { oldest: options.oldest } : {}),
    });
    return Array.isArray(reply.messages) ? (reply.messages as SlackMessage[]) : [];
  }

  async usergroupMembers(usergroup: string): Promise<string[]> {
    return (await this.call("usergroups.users.list", { usergroup })).users as string[];
  }

  /** usergroups.users.update replaces the whole member list; Slack refuses an empty one. */
  async setUsergroupMembers(usergroup: string, users: readonly string[]): Promise<string[]> {
    const reply = await this.call("usergroups.users.update", { usergroup, users: users.join(",") }, { write: true, retryUnsafe: true });
    return ((reply.usergroup as { users?: string[] } | undefined)?.users ?? []) as string[];
  }

  /**
   * Any Web API method. Reads go as GET with query arguments, writes as a JSON POST; the token
   * travels only in the Authorization header.
   */
  async call(
    method: string,
    args: Args | Record<string, unknown>,
    options: { write?: boolean; retryUnsafe?: boolean } = {},
  ): Promise<Reply> {
    const headers = { authorization: `Bearer ${this.#token.reveal()}` };
    for (let attempt = 0; ; attempt++) {
      let response: { body: unknown; headers: Headers };
      try {
        response = options.write
          ? await this.#http.request({ method: "POST", url: method, body: args, headers, retryUnsafe: options.retryUnsafe === true })
          : await this.#http.request({ url: method, query: args as Args, headers });
      } catch (error) {
        throw this.#fromHttpError(method, error);
      }
      const reply = response.body as Reply | undefined;
      if (!reply || typeof reply !== "object" || typeof reply.ok !== "boolean") {
        throw new SlackApiError(method, "unexpected_response", ExitCode.UNAVAILABLE, { hint: "check slack.baseUrl" });
      }
      if (reply.ok) {
        if (reply.warning) this.#log?.debug("Slack warning", { method, warning: reply.warning });
        return reply;
      }
      if (reply.error === "ratelimited" && attempt < this.#retries) {
        const wait = parseRetryAfter(response.headers.get("retry-after")) ?? 1_000 * (attempt + 1);
        if (wait <= this.#maxRetryAfterMs) {
          this.#log?.debug("Slack rate limited; retrying", { method, waitMs: wait });
          await sleep(wait);
          continue;
        }
      }
      throw slackError(method, reply);
    }
  }

  #fromHttpError(method: string, error: unknown): unknown {
    if (!(error instanceof HttpError)) return error;
    const body = error.body as Reply | undefined;
    if (body && typeof body === "object" && body.ok === false && typeof body.error === "string") {
      if (body.error === "ratelimited") {
        return new SlackApiError(method, "ratelimited", ExitCode.TEMP_FAIL, { hint: "Slack rate limit; retry later", cause: error });
      }
      return slackError(method, body);
    }
    return error;
  }
}

function slackError(method: string, reply: Reply): SlackApiError {
  const code = reply.error ?? "unknown_error";
  if (AUTH_ERRORS.has(code)) {
    const needed = typeof reply.needed === "string" ? reply.needed : undefined;
    const hint = needed
      ? `the Slack token lacks scope ${needed}; add it to the app and reinstall`
      : "check the Slack token (slack.token) and that the app is installed";
    return new SlackPermissionError(method, code, ExitCode.NO_PERM, { hint, ...(needed ? { needed } : {}) });
  }
  const notAllowed = NOT_ALLOWED_ERRORS.get(code);
  if (notAllowed !== undefined) {
    return new SlackPermissionError(method, code, ExitCode.NO_PERM, { hint: notAllowed });
  }
  if (NOT_FOUND_ERRORS.has(code)) {
    // A private channel the app is not in answers channel_not_found, as if it did not exist.
    const hint =
      code === "channel_not_found"
        ? "check the channel id; a private channel stays invisible until the app is invited"
        : "check the id, name or email";
    return new SlackNotFoundError(method, code, ExitCode.DATA_ERR, { hint });
  }
  if (UNAVAILABLE_ERRORS.has(code))
    return new SlackApiError(method, code, ExitCode.UNAVAILABLE, { hint: "Slack is having trouble; retry later" });
  if (code === "ratelimited") return new SlackApiError(method, code, ExitCode.TEMP_FAIL, { hint: "Slack rate limit; retry later" });
  if (code === "msg_too_long")
    return new SlackApiError(method, code, ExitCode.DATA_ERR, {
      hint: "the message text is too long for Slack; keep it under 4,000 characters",
    });
  return new SlackApiError(method, code, ExitCode.DATA_ERR);
}

/** A SlackClient from a validated `slack:` config block. */
export function createSlackClient(
  config: SlackConfig,
  options: { keyPath?: string; log?: Logger; env?: NodeJS.ProcessEnv } & Omit<
    SlackClientOptions,
    "token" | "baseUrl" | "timeoutMs" | "log"
  >,
): SlackClient {
  const { keyPath = "slack.token", env, ...rest } = options;
  return new SlackClient({
    ...rest,
    token: resolveHeaderSecret(config.token as SecretRef, keyPath, env),
    ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}),
    ...(config.timeoutMs ? { timeoutMs: config.timeoutMs } : {}),
  });
}

/**
 * Escapes the three characters Slack treats as markup, so untrusted text (a GeoIP city, a
 * commit title) cannot become a mention like <!channel> or a disguised link.
 */
export function escapeSlackText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * Text as a person reads it, for comparing what Slack stored with what we sent: links become
 * their label (or target), mailto: is dropped, entities are decoded. Mentions like <@U123>
 * stay as they are, since callers write them in that form.
 */
export function slackPlainText(text: string): string {
  return text
    .replace(/<((?:[@#!])[^>]*)>/g, "\u0000$1\u0001")
    .replace(/<([^<>|]*)\|([^<>]*)>/g, "$2")
    .replace(/<(?:mailto:)?([^<>]*)>/g, "$1")
    .replace(/\u0000/g, "<")
    .replace(/\u0001/g, ">")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

export interface SlackRequestCheck {
  signingSecret: Secret;
  /** X-Slack-Request-Timestamp. */
  timestamp: string | undefined;
  /** X-Slack-Signature: "v0=" and the hex HMAC. */
  signature: string | undefined;
  /** The raw request body, exactly as received. */
  body: Buffer;
  now?: number;
}

/**
 * Whether a request really comes from Slack (interactivity, slash commands, events), as Slack's
 * "Verifying requests from Slack" describes: HMAC-SHA256 with the app's signing secret over
 * `v0:<timestamp>:<body>`, compared in constant time, and a timestamp within five minutes so a
 * recorded request cannot be replayed later. Returns why not, or undefined when it is genuine.
 */
export function slackRequestProblem(check: SlackRequestCheck): string | undefined {
  const { createHmac, timingSafeEqual } = process.getBuiltinModule("node:crypto");
  if (!check.timestamp || !/^\d+$/.test(check.timestamp)) return "no X-Slack-Request-Timestamp";
  const age = Math.abs((check.now ?? Date.now()) / 1000 - Number(check.timestamp));
  if (age > 300) return `timestamp ${Math.round(age)} s away from now (over 5 minutes: a replay, or a wrong clock)`;
  const match = /^v0=([0-9a-f]{64})$/.exec(check.signature ?? "");
  if (!match?.[1]) return "no valid X-Slack-Signature";
  const hmac = createHmac("sha256", check.signingSecret.reveal());
  hmac.update(`v0:${check.timestamp}:`);
  hmac.update(check.body);
  const expected = hmac.digest();
  return timingSafeEqual(expected, Buffer.from(match[1], "hex")) ? undefined : "signature does not match the signing secret";
}
