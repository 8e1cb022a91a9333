import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SlapdComponent } from "../components";
import type { LabComponent, StartedComponent } from "../lab";
import { type SimRequest, type SimResponse, SimServer } from "./server";

/**
 * A Slack Web API simulator: the methods opsguard's tools call, with Slack's documented shapes —
 * HTTP 200 with {ok:false,error} for API errors (https://docs.slack.dev/apis/web-api/#evaluating-responses),
 * missing_scope with needed/provided, 429 with Retry-After for rate limits
 * (https://docs.slack.dev/apis/web-api/rate-limits), topic objects {value,creator,last_set}. Topics a
 * person typed in the Slack client carry Slack's link markup (<mailto:a@b|a@b>, <https://…>), seed
 * them that way; topics set through the API are stored as sent (see conversations.setTopic below).
 * The documented quirks can be switched off one by one with `quirks()`, to show a client's
 * behaviour with and without them.
 */

export interface SimSlackUser {
  id: string;
  name: string;
  email?: string;
  real_name?: string;
  tz?: string;
  deleted?: boolean;
  is_bot?: boolean;
}

export interface SimSlackChannel {
  id: string;
  name: string;
  is_private?: boolean;
  is_archived?: boolean;
  /** Whether the app's bot user is in the channel (posting and setTopic need it). */
  is_member?: boolean;
  topic?: string;
}

export interface SimSlackUsergroup {
  id: string;
  handle: string;
  name?: string;
  users?: string[];
}

export interface SimSlackMessage {
  /** Where it landed: the channel id, or the DM id for a message to a user. */
  channel: string;
  /** The channel or user id the caller addressed. */
  to: string;
  ts: string;
  text: string | undefined;
  blocks: unknown[] | undefined;
  /** Message metadata as posted ({event_type, event_payload}), returned by conversations.history with include_all_metadata. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> } | undefined;
  /** Who posted it, when not this app's bot (see postAs): a person (user only) or another app (bot_id too). */
  from?: { user: string; bot_id?: string } | undefined;
}

/**
 * Slack behaviour a client must cope with. All on by default, as the live service behaves; a
 * scenario may switch one off to compare.
 */
export interface SlackQuirks {
  /**
   * chat.postMessage answers msg_too_long when `text` is longer than this many characters; 0 turns
   * the check off. The method's docs (https://docs.slack.dev/reference/methods/chat.postMessage,
   * "Truncating content" and the errors table) say: keep text under 4,000 characters, text over
   * 40,000 is truncated, and list `msg_too_long` ("Message text is too long"). In practice Slack now
   * refuses text well under 40,000: a Slack developer-relations engineer confirmed that the 40K
   * truncation "is an old requirement and the platform now has a smaller limit", with msg_too_long
   * for ~4K text (https://github.com/seratch/ChatGPT-in-Slack/issues/102). Default 4,000, the
   * documented limit; 40,000 models the documented truncation ceiling.
   */
  maxTextChars: number;
  /**
   * conversations.info on a private channel the token's bot is not a member of answers
   * channel_not_found, as if it did not exist: private channels are visible only to members
   * (https://docs.slack.dev/reference/methods/conversations.info, errors: channel_not_found
   * "Value passed for channel was invalid"; https://docs.slack.dev/apis/web-api/using-the-conversations-api
   * "private channels … only visible to members"). Posting and setTopic there answer it too.
   */
  privateChannelsHidden: boolean;
}

export const SLACK_DEFAULT_QUIRKS: Readonly<SlackQuirks> = { maxTextChars: 4_000, privateChannelsHidden: true };

/**
 * Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks): up to 50 blocks in a
 * message; a section block's text at most 3,000 characters
 * (https://docs.slack.dev/reference/block-kit/blocks/section-block). chat.postMessage refuses a
 * message past them with invalid_blocks ("Blocks submitted with this message are not valid").
 */
const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3_000;

export interface SlackSimOptions {
  /** Accepted tokens and their scopes; default one bot token with every scope the tools use. */
  tokens?: Record<string, string[]>;
  teamId?: string;
  botUserId?: string;
  quirks?: Partial<SlackQuirks>;
}

export const SLACK_SIM_TOKEN = "xoxb-1111-2222-simulatortoken";
export const SLACK_ALL_SCOPES = [
  "chat:write",
  "channels:history",
  "groups:history",
  "users:read",
  "users:read.email",
  "channels:read",
  "groups:read",
  "channels:manage",
  "groups:write",
  "usergroups:read",
  "usergroups:write",
];

interface Topic {
  value: string;
  creator: string;
  last_set: number;
}

interface Channel extends SimSlackChannel {
  topicObj: Topic;
  created: number;
}

interface Usergroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
  date_update: number;
}

type Args = Record<string, unknown>;

/** Read methods take GET query or form arguments; writes may also take a JSON body. */
const METHODS: Record<string, { scope: (args: Args, sim: SlackSim) => string | undefined; write: boolean }> = {
  // https://docs.slack.dev/reference/methods/auth.test: "No scope required"; any valid token.
  "auth.test": { scope: () => undefined, write: false },
  "chat.postMessage": { scope: () => "chat:write", write: true },
  "users.lookupByEmail": { scope: () => "users:read.email", write: false },
  "users.info": { scope: () => "users:read", write: false },
  "conversations.info": { scope: (a, sim) => (sim.isPrivate(a.channel) ? "groups:read" : "channels:read"), write: false },
  // https://docs.slack.dev/reference/methods/conversations.history: channels:history, or groups:history for a private channel.
  "conversations.history": { scope: (a, sim) => (sim.isPrivate(a.channel) ? "groups:history" : "channels:history"), write: false },
  "conversations.setTopic": { scope: (a, sim) => (sim.isPrivate(a.channel) ? "groups:write" : "channels:manage"), write: true },
  "usergroups.users.list": { scope: () => "usergroups:read", write: false },
  "usergroups.users.update": { scope: () => "usergroups:write", write: true },
};

export class SlackSim extends SimServer {
  readonly teamId: string;
  readonly botUserId: string;
  /** The app's bot id (B…): auth.test gives it for a bot token, and conversations.history on the bot's messages. */
  readonly botId = "B0SIM0001";
  readonly messages: SimSlackMessage[] = [];
  readonly #tokens: Map<string, string[]>;
  readonly #users = new Map<string, SimSlackUser>();
  readonly #channels = new Map<string, Channel>();
  readonly #usergroups = new Map<string, Usergroup>();
  #delayMs = 0;
  /** method → how many more of its answers to lose after doing the work. */
  readonly #lostAnswers = new Map<string, number>();
  /** method → what its next answer waits for (hold). */
  readonly #held = new Map<string, Promise<void>>();
  #limitedUntil = 0;
  #limitedMethod: string | undefined;
  /** channel → until when chat.postMessage to it is over its per-channel limit (rateLimitChannelFor). */
  readonly #limitedChannels = new Map<string, number>();
  #clock = 1_700_000_000;
  #quirks: SlackQuirks;

  constructor(options: SlackSimOptions = {}) {
    super("Slack");
    this.#tokens = new Map(Object.entries(options.tokens ?? { [SLACK_SIM_TOKEN]: SLACK_ALL_SCOPES }));
    this.teamId = options.teamId ?? "T0SIM0001";
    this.botUserId = options.botUserId ?? "U0BOT0001";
    this.#quirks = { ...SLACK_DEFAULT_QUIRKS, ...options.quirks };
    for (const [method, spec] of Object.entries(METHODS)) {
      const handler = (req: SimRequest) => this.#dispatch(method, spec, req);
      this.route("GET", `/api/${method}`, handler);
      this.route("POST", `/api/${method}`, handler);
    }
  }

  /** The base URL a SlackClient should use. */
  get apiUrl(): string {
    return `${this.url}/api`;
  }

  // ---- seeding ----

  addUser(user: SimSlackUser): this {
    this.#users.set(user.id, user);
    return this;
  }

  addChannel(channel: SimSlackChannel): this {
    this.#channels.set(channel.id, {
      is_member: true,
      ...channel,
      topicObj: { value: channel.topic ?? "", creator: channel.topic ? this.botUserId : "", last_set: channel.topic ? this.#clock : 0 },
      created: this.#clock,
    });
    return this;
  }

  addUsergroup(group: SimSlackUsergroup): this {
    this.#usergroups.set(group.id, {
      id: group.id,
      handle: group.handle,
      name: group.name ?? group.handle,
      users: [...(group.users ?? [])],
      date_update: this.#clock,
    });
    return this;
  }

  /**
   * Someone else posts in a channel: a person in the Slack client (`user` only) or another app
   * (`bot_id` too), optionally with message metadata, which any app may attach
   * (https://docs.slack.dev/messaging/message-metadata). conversations.history shows it with that
   * poster's user / bot_id, not this app's.
   */
  postAs(from: { user: string; bot_id?: string }, channel: string, text: string, metadata?: SimSlackMessage["metadata"]): this {
    this.messages.push({ channel, to: channel, ts: this.#nextTs(), text, blocks: undefined, metadata, from });
    return this;
  }

  // ---- inspection ----

  /** Messages addressed to a channel id or user id (DMs are found by the user id too). */
  messagesTo(channelOrUser: string): SimSlackMessage[] {
    return this.messages.filter((m) => m.to === channelOrUser || m.channel === channelOrUser);
  }

  /** The stored topic value, with Slack's link markup. */
  topic(channel: string): string | undefined {
    return this.#channels.get(channel)?.topicObj.value;
  }

  usergroupMembers(usergroup: string): string[] | undefined {
    const group = this.#usergroups.get(usergroup);
    return group ? [...group.users] : undefined;
  }

  /** Requests to one Web API method. */
  callsTo(method: string): typeof this.requests {
    return this.requests.filter((r) => r.path === `/api/${method}`);
  }

  // ---- quirks and faults ----

  /** Switch documented Slack behaviours on or off (see SlackQuirks); returns the quirks now in force. */
  quirks(change: Partial<SlackQuirks> = {}): Readonly<SlackQuirks> {
    this.#quirks = { ...this.#quirks, ...change };
    return { ...this.#quirks };
  }

  /** The next `times` calls get HTTP 429 {ok:false,error:"ratelimited"} with Retry-After. */
  rateLimit(times: number, retryAfterSeconds = 1, method?: string): this {
    return this.fault(
      { status: 429, headers: { "retry-after": String(retryAfterSeconds) }, body: { ok: false, error: "ratelimited" } },
      { times, ...(method ? { path: `/api/${method}` } : {}) },
    );
  }

  /**
   * The next `times` calls of `method` are carried out but never answered (the connection stays open
   * until the client gives up): what a client sees when the reply is lost after Slack stored a post.
   */
  loseAnswers(method: string, times = 1): this {
    this.#lostAnswers.set(method, times);
    return this;
  }

  /**
   * The next call of `method` is carried out and recorded at once, but its answer is held until the
   * returned function is called. A test waits for the call (untilRequest), acts while the client is
   * known to be waiting for that answer, then lets it go: a fixed slow() delay instead would race a
   * loaded machine, where the test may act only after the answer came. The client's own timeout keeps
   * running while the answer is held.
   */
  hold(method: string): () => void {
    let release = () => {};
    this.#held.set(
      method,
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    return release;
  }

  /**
   * For the next `ms` milliseconds every call (or every call to `method`) is over the limit: HTTP 429
   * with Retry-After, the whole seconds until the limit lifts, and {ok:false,error:"ratelimited"}.
   * Slack: "you'll receive a HTTP 429 Too Many Requests error, and a Retry-After HTTP header
   * containing the number of seconds until you can retry"; limits apply "per API method per
   * workspace/team per app" (https://docs.slack.dev/apis/web-api/rate-limits, Overview and "Responding
   * to rate limiting conditions"). For chat.postMessage this is its workspace-wide limit, which holds
   * posts to every channel at once; its per-channel limit is `rateLimitChannelFor`.
   */
  rateLimitFor(ms: number, method?: string): this {
    this.#limitedUntil = Date.now() + ms;
    this.#limitedMethod = method;
    return this;
  }

  /**
   * For the next `ms` milliseconds posts (chat.postMessage) to `channel` are over its limit: HTTP 429 with
   * Retry-After, as rateLimitFor; posts to any other channel, and other methods, are not. Slack: "chat.postMessage
   * generally allows posting one message per second per channel, while also maintaining a workspace-wide limit"
   * (https://docs.slack.dev/apis/web-api/rate-limits, Overview, "Web API Special Tier"). `ms` 0 lifts it.
   */
  rateLimitChannelFor(ms: number, channel: string): this {
    this.#limitedChannels.set(channel, Date.now() + ms);
    return this;
  }

  /** Every API answer waits this long (a slow Slack); 0 to stop. */
  slow(delayMs: number): this {
    this.#delayMs = delayMs;
    return this;
  }

  /** Slack is down: 503 service_unavailable until up(). */
  down(): this {
    return this.fault({ status: 503, body: { ok: false, error: "service_unavailable" } }, { times: Number.POSITIVE_INFINITY });
  }

  up(): this {
    this.clearFaults();
    this.#delayMs = 0;
    this.#limitedUntil = 0;
    this.#limitedChannels.clear();
    return this;
  }

  /** Whether `channel` names a private channel (for the scope a method needs). */
  isPrivate(channel: unknown): boolean {
    return typeof channel === "string" && this.#channels.get(channel)?.is_private === true;
  }

  // ---- the API ----

  async #dispatch(method: string, spec: (typeof METHODS)[string], req: SimRequest): Promise<SimResponse> {
    const now = Date.now();
    const workspaceWide = !this.#limitedMethod || this.#limitedMethod === method ? this.#limitedUntil - now : 0;
    const channel = method === "chat.postMessage" ? this.#channelOf(req) : undefined;
    const perChannel = channel === undefined ? 0 : (this.#limitedChannels.get(channel) ?? 0) - now;
    const limited = Math.max(workspaceWide, perChannel);
    let answer: SimResponse;
    if (limited > 0) {
      answer = { status: 429, headers: { "retry-after": String(Math.ceil(limited / 1000)) }, body: { ok: false, error: "ratelimited" } };
    } else {
      answer = this.#answer(method, spec, req);
      const lose = this.#lostAnswers.get(method) ?? 0;
      if (lose > 0) {
        this.#lostAnswers.set(method, lose - 1);
        answer = { ...answer, hang: true };
      }
    }
    const held = this.#held.get(method);
    if (held) {
      this.#held.delete(method);
      answer = { ...answer, heldUntil: held };
    }
    return this.#delayMs > 0 ? { ...answer, delayMs: this.#delayMs } : answer;
  }

  /** The `channel` argument of a call, from its body (JSON or form) or its query string. */
  #channelOf(req: SimRequest): string | undefined {
    const body = req.body && typeof req.body === "object" ? (req.body as Args) : {};
    const channel = body.channel ?? req.query.get("channel");
    return typeof channel === "string" ? channel : undefined;
  }

  #answer(method: string, spec: (typeof METHODS)[string], req: SimRequest): SimResponse {
    const contentType = String(req.headers["content-type"] ?? "");
    const isJson = req.method === "POST" && contentType.includes("application/json");
    const bodyArgs = req.body && typeof req.body === "object" ? (req.body as Args) : {};
    if (isJson && !spec.write) {
      // Slack's read methods do not accept JSON bodies: the arguments are simply not seen.
      return this.#error("invalid_arguments");
    }
    const args: Args = { ...Object.fromEntries(req.query), ...bodyArgs };
    const warnings = isJson && !/charset=utf-8/i.test(contentType) ? ["missing_charset"] : [];

    const header = String(req.headers.authorization ?? "");
    // JSON bodies cannot carry the token; form bodies may (legacy), query strings no longer may.
    const token = header.startsWith("Bearer ") ? header.slice(7) : !isJson && typeof bodyArgs.token === "string" ? bodyArgs.token : "";
    if (!token) return this.#error("not_authed");
    const scopes = this.#tokens.get(token);
    if (!scopes) return this.#error("invalid_auth");
    const needed = spec.scope(args, this);
    if (needed !== undefined && !scopes.includes(needed)) {
      return this.#reply({ ok: false, error: "missing_scope", needed, provided: scopes.join(",") }, scopes);
    }

    const result = this.#methods[method]?.(args);
    if (!result) return this.#error("unknown_method");
    if (!result.ok) return this.#reply(result, scopes);
    return this.#reply(warnings.length > 0 ? { ...result, warning: warnings.join(","), response_metadata: { warnings } } : result, scopes);
  }

  #reply(body: Args, scopes: string[]): SimResponse {
    return { status: 200, headers: { "x-oauth-scopes": scopes.join(",") }, body };
  }

  #error(error: string): SimResponse {
    return { status: 200, body: { ok: false, error } };
  }

  readonly #methods: Record<string, (args: Args) => Args> = {
    // https://docs.slack.dev/reference/methods/auth.test (and the "auth.test success schema" of Slack's OpenAPI
    // description): for a bot token, user_id is the bot user and bot_id the bot.
    "auth.test": () => ({
      ok: true,
      url: "https://opsguard-sim.slack.com/",
      team: "opsguard-sim",
      user: "opsguard-bot",
      team_id: this.teamId,
      user_id: this.botUserId,
      bot_id: this.botId,
      is_enterprise_install: false,
    }),
    "chat.postMessage": (args) => {
      const target = str(args.channel);
      if (!target) return { ok: false, error: "channel_not_found" };
      const blocks = parseBlocks(args.blocks);
      // "invalid_blocks_format: The blocks is not a valid JSON object or doesn't match the Block Kit syntax." (chat.postMessage docs)
      if (blocks === null) return { ok: false, error: "invalid_blocks_format" };
      const text = str(args.text);
      if (!text && (!blocks || blocks.length === 0)) return { ok: false, error: "no_text" };
      const limit = this.#quirks.maxTextChars;
      // Characters, not UTF-16 units: an emoji counts once.
      if (limit > 0 && text !== undefined && [...text].length > limit) return { ok: false, error: "msg_too_long" };
      if (blocks && !blocksValid(blocks)) return { ok: false, error: "invalid_blocks" };
      const metadata = parseMetadata(args.metadata);
      // "invalid_metadata_format: Invalid metadata format provided", "invalid_metadata_schema: Invalid metadata
      // schema provided" (chat.postMessage errors; the shape is https://docs.slack.dev/messaging/message-metadata).
      if (metadata === "format") return { ok: false, error: "invalid_metadata_format" };
      if (metadata === "schema") return { ok: false, error: "invalid_metadata_schema" };
      let channelId: string;
      const user = this.#users.get(target);
      if (user) {
        if (user.deleted) return { ok: false, error: "user_disabled" };
        // A DM's id: "D" and at least 8 more letters or digits, as Slack's ids are (defs_dm_id in the spec).
        channelId = `D${user.id.slice(1).padEnd(8, "0")}`;
      } else {
        const channel = this.#visible(this.#findChannel(target));
        if (!channel) return { ok: false, error: "channel_not_found" };
        if (channel.is_archived) return { ok: false, error: "is_archived" };
        if (!channel.is_member) return { ok: false, error: "not_in_channel" };
        channelId = channel.id;
      }
      const ts = this.#nextTs();
      this.messages.push({ channel: channelId, to: target, ts, text, blocks, metadata });
      return {
        ok: true,
        channel: channelId,
        ts,
        message: { type: "message", user: this.botUserId, text: text ?? "", ts, ...(blocks ? { blocks } : {}) },
      };
    },

    "users.lookupByEmail": (args) => {
      const email = str(args.email)?.toLowerCase();
      if (!email) return { ok: false, error: "invalid_arguments" };
      const user = [...this.#users.values()].find((u) => u.email?.toLowerCase() === email && !u.deleted);
      return user ? { ok: true, user: this.#userObject(user) } : { ok: false, error: "users_not_found" };
    },

    "users.info": (args) => {
      const user = this.#users.get(str(args.user) ?? "");
      return user ? { ok: true, user: this.#userObject(user) } : { ok: false, error: "user_not_found" };
    },

    "conversations.info": (args) => {
      const channel = this.#visible(this.#channels.get(str(args.channel) ?? ""));
      return channel ? { ok: true, channel: this.#channelObject(channel) } : { ok: false, error: "channel_not_found" };
    },

    /**
     * https://docs.slack.dev/reference/methods/conversations.history: newest first; `limit` (default 100,
     * at most 999), `oldest`/`latest` (exclusive unless `inclusive`), cursor paging with
     * response_metadata.next_cursor and has_more; `include_all_metadata` adds each message's metadata.
     * A public channel the bot is not in answers not_in_channel, a hidden private one channel_not_found.
     */
    "conversations.history": (args) => {
      const channel = this.#visible(this.#channels.get(str(args.channel) ?? ""));
      if (!channel) return { ok: false, error: "channel_not_found" };
      if (!channel.is_member) return { ok: false, error: "not_in_channel" };
      const limit = Math.min(Math.max(Number(str(args.limit) ?? 100) || 100, 1), 999);
      const inclusive = str(args.inclusive) === "true" || args.inclusive === true;
      const oldest = Number(str(args.oldest) ?? 0);
      const latest = str(args.latest) === undefined ? Number.POSITIVE_INFINITY : Number(str(args.latest));
      if (Number.isNaN(oldest)) return { ok: false, error: "invalid_ts_oldest" };
      if (Number.isNaN(latest)) return { ok: false, error: "invalid_ts_latest" };
      const withMeta = str(args.include_all_metadata) === "true" || args.include_all_metadata === true;
      const all = this.messages
        .filter((m) => m.channel === channel.id)
        .filter((m) => {
          const ts = Number(m.ts);
          return (inclusive ? ts >= oldest : ts > oldest) && (inclusive ? ts <= latest : ts < latest);
        })
        .reverse();
      const cursor = str(args.cursor);
      const offset = cursor
        ? Number(
            Buffer.from(cursor, "base64")
              .toString("utf8")
              .replace(/^next_ts:/, ""),
          ) || 0
        : 0;
      const page = all.slice(offset, offset + limit);
      const more = offset + limit < all.length;
      return {
        ok: true,
        messages: page.map((m) => ({
          type: "message",
          // The bot's own posts carry its user and bot_id; someone else's carry theirs.
          ...(m.from ? m.from : { user: this.botUserId, bot_id: this.botId }),
          text: m.text ?? "",
          ts: m.ts,
          ...(m.blocks ? { blocks: m.blocks } : {}),
          ...(withMeta && m.metadata ? { metadata: m.metadata } : {}),
        })),
        has_more: more,
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
        ...(more ? { response_metadata: { next_cursor: Buffer.from(`next_ts:${offset + limit}`).toString("base64") } } : {}),
      };
    },

    "conversations.setTopic": (args) => {
      const channel = this.#visible(this.#channels.get(str(args.channel) ?? ""));
      if (!channel) return { ok: false, error: "channel_not_found" };
      if (channel.is_archived) return { ok: false, error: "is_archived" };
      if (!channel.is_member) return { ok: false, error: "not_in_channel" };
      const topic = str(args.topic) ?? "";
      // "Does not support formatting or linkification" (https://docs.slack.dev/reference/methods/conversations.setTopic,
      // argument topic): stored exactly as sent, so a bare URL or e-mail stays bare; 250 characters at most (error too_long).
      if ([...topic].length > 250) return { ok: false, error: "too_long" };
      channel.topicObj = { value: topic, creator: this.botUserId, last_set: this.#tick() };
      return { ok: true, channel: this.#channelObject(channel) };
    },

    "usergroups.users.list": (args) => {
      const group = this.#usergroups.get(str(args.usergroup) ?? "");
      return group ? { ok: true, users: [...group.users] } : { ok: false, error: "no_such_subteam" };
    },

    "usergroups.users.update": (args) => {
      const group = this.#usergroups.get(str(args.usergroup) ?? "");
      if (!group) return { ok: false, error: "no_such_subteam" };
      const raw = Array.isArray(args.users) ? args.users.map(String).join(",") : str(args.users);
      if (raw === undefined) return { ok: false, error: "no_users_provided" };
      const users = raw
        .split(",")
        .map((u) => u.trim())
        .filter(Boolean);
      if (users.length === 0 || users.some((u) => !this.#users.has(u))) return { ok: false, error: "invalid_users" };
      group.users = [...new Set(users)];
      group.date_update = this.#tick();
      return { ok: true, usergroup: this.#usergroupObject(group) };
    },
  };

  /** A channel as the bot may see it: private ones it is not in do not exist for it. */
  #visible(channel: Channel | undefined): Channel | undefined {
    if (channel?.is_private && !channel.is_member && this.#quirks.privateChannelsHidden) return undefined;
    return channel;
  }

  #findChannel(target: string): Channel | undefined {
    const name = target.replace(/^#/, "");
    return this.#channels.get(target) ?? [...this.#channels.values()].find((c) => c.name === name);
  }

  #userObject(user: SimSlackUser): Args {
    return {
      id: user.id,
      team_id: this.teamId,
      name: user.name,
      deleted: user.deleted ?? false,
      real_name: user.real_name ?? user.name,
      tz: user.tz ?? "UTC",
      is_bot: user.is_bot ?? false,
      profile: {
        real_name: user.real_name ?? user.name,
        display_name: user.name,
        ...(user.email ? { email: user.email } : {}),
      },
    };
  }

  #channelObject(channel: Channel): Args {
    return {
      id: channel.id,
      name: channel.name,
      is_channel: true,
      is_private: channel.is_private ?? false,
      is_archived: channel.is_archived ?? false,
      is_member: channel.is_member ?? true,
      created: channel.created,
      topic: { ...channel.topicObj },
      purpose: { value: "", creator: "", last_set: 0 },
    };
  }

  #usergroupObject(group: Usergroup): Args {
    return {
      id: group.id,
      team_id: this.teamId,
      is_usergroup: true,
      name: group.name,
      handle: group.handle,
      date_update: group.date_update,
      users: [...group.users],
      user_count: group.users.length,
    };
  }

  #tick(): number {
    this.#clock += 1;
    return this.#clock;
  }

  #nextTs(): string {
    return `${this.#tick()}.${String(this.messages.length + 1).padStart(6, "0")}`;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}

/** Blocks as a form field (a JSON string) or in a JSON body; null when they are not a JSON array. */
function parseBlocks(raw: unknown): unknown[] | undefined | null {
  if (raw === undefined) return undefined;
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  return Array.isArray(value) ? value : null;
}

/** Within Block Kit's documented limits (MAX_BLOCKS, MAX_SECTION_TEXT). */
function blocksValid(blocks: unknown[]): boolean {
  if (blocks.length > MAX_BLOCKS) return false;
  return blocks.every((block) => {
    if (!block || typeof block !== "object") return false;
    const { type, text } = block as { type?: unknown; text?: { text?: unknown } };
    if (typeof type !== "string") return false;
    return type !== "section" || typeof text?.text !== "string" || [...text.text].length <= MAX_SECTION_TEXT;
  });
}

export interface SlackComponent extends StartedComponent {
  slack: SlackSim;
}

/** The lab's channels and user group; the on-call tools point their config at these ids. */
export const SLACK_LAB = { oncallChannel: "C0ONCALL01", securityChannel: "C0SECURITY", oncallGroup: "S0ONCALL01" } as const;

/**
 * The Slack simulator as a lab part: the directory's people (from slapd, when it runs first) as
 * Slack users with their slackId and mail, #oncall, #security and an @oncall user group.
 */
export const slackComponent: LabComponent<SlackComponent> = {
  name: "slack",
  needs: ["slapd"],
  async start(ctx) {
    const slack = new SlackSim();
    const directory = (ctx.started.get("slapd") as SlapdComponent | undefined)?.slapd.users;
    for (const user of Object.values(directory ?? {})) {
      slack.addUser({ id: user.slackId, name: user.slackName, email: user.mail, real_name: user.cn, deleted: user.disabled });
    }
    slack
      .addChannel({ id: SLACK_LAB.oncallChannel, name: "oncall", topic: oncallTopic(directory?.bob?.slackId) })
      .addChannel({ id: SLACK_LAB.securityChannel, name: "security", is_private: true })
      .addUsergroup({ id: SLACK_LAB.oncallGroup, handle: "oncall", name: "On call" });
    await slack.start();
    const tokenFile = join(ctx.dir, "slack.token");
    writeFileSync(tokenFile, `${SLACK_SIM_TOKEN}\n`, { mode: 0o600 });
    return {
      slack,
      describe: () => [
        `Slack API sim   ${slack.apiUrl}  token file ${tokenFile}`,
        `  channels      #oncall ${SLACK_LAB.oncallChannel}, #security ${SLACK_LAB.securityChannel}; user group @oncall ${SLACK_LAB.oncallGroup}`,
        `  try           curl -s -H "Authorization: Bearer $(cat ${tokenFile})" "${slack.apiUrl}/conversations.info?channel=${SLACK_LAB.oncallChannel}"`,
      ],
      sections: () => ({ slack: { token: `file:${tokenFile}`, baseUrl: slack.apiUrl }, slackLab: { ...SLACK_LAB } }),
      stop: () => slack.stop(),
    };
  },
};

/** The #oncall topic as it stands before deputize runs: the directory's on-call group holds bob. */
function oncallTopic(bobSlackId: string | undefined): string {
  const runbook = "Runbook: <https://wiki.example/oncall|runbook>";
  return bobSlackId ? `On call: <@${bobSlackId}> | ${runbook}` : runbook;
}

/**
 * chat.postMessage's `metadata`: a JSON object (or its string) with a string `event_type` and an object
 * `event_payload` (https://docs.slack.dev/messaging/message-metadata). "format" when it is not JSON,
 * "schema" when it lacks those fields; undefined when none was given.
 */
function parseMetadata(raw: unknown): { event_type: string; event_payload: Record<string, unknown> } | "format" | "schema" | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return "format";
    }
  }
  if (typeof value !== "object" || value === null) return "format";
  const { event_type, event_payload } = value as Record<string, unknown>;
  if (typeof event_type !== "string" || !event_type || typeof event_payload !== "object" || event_payload === null) return "schema";
  return { event_type, event_payload: event_payload as Record<string, unknown> };
}
