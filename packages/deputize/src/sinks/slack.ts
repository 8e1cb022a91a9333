import { createHash } from "node:crypto";
import {
  describeError,
  escapeSlackText,
  exitCodeOf,
  type Logger,
  OpsguardError,
  SlackApiError,
  type SlackClient,
  type SlackMessage,
  SlackNotFoundError,
  SlackPermissionError,
  slackPlainText,
} from "@opsguard/core";
import { handleOf, type Person } from "../people";
import { type DeputizeState, MAX_MESSAGE_ATTEMPTS, type PendingMessage } from "../state";
import type { AnnouncedLedger, PartOutcome, PlanContext, Sink, SinkPlan } from "./sink";

export interface SlackSinkOptions {
  name: string;
  slack: SlackClient;
  state: DeputizeState;
  channel: string;
  /** Keep "On call: @a, @b | <rest>" as the channel topic. */
  topic: boolean;
  /** Post a hand-off message in the channel when the on-call set changes. */
  announce: boolean;
  /** More channels for the same hand-off message. */
  announceChannels?: readonly string[] | undefined;
  /** A user group (S…) whose members are the people on call. */
  usergroup?: string | undefined;
  schedules?: readonly string[] | undefined;
  log?: Logger | undefined;
}

/** The metadata event_type deputize marks its hand-off messages with. */
export const HANDOFF_EVENT = "deputize_handoff";
/** How many of a channel's newest messages are searched for the last hand-off. */
const HISTORY_LIMIT = 50;

const TOPIC_PREFIX = "On call: ";
const TOPIC_MAX = 250;
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * Slack: the channel topic, a hand-off message and an optional user group. The topic is compared
 * after undoing Slack's own link markup, so an unchanged schedule never rewrites it; the message
 * goes out only when the set of people differs from the one last announced.
 */
export class SlackSink implements Sink {
  readonly kind = "slack";
  readonly name: string;
  readonly schedules: readonly string[] | undefined;
  readonly #o: SlackSinkOptions;
  /** This bot, from auth.test: only its own messages count as hand-offs. */
  #me: { userId: string; botId: string | undefined } | undefined;

  constructor(options: SlackSinkOptions) {
    this.#o = options;
    this.name = options.name;
    this.schedules = options.schedules;
  }

  async plan(people: readonly Person[], context: PlanContext = {}): Promise<SinkPlan> {
    const { slack, channel, state } = this.#o;
    const sink = this.name;
    const handles = people.map(handleOf);
    const updates: string[] = [];
    const unresolved: string[] = [];
    // Each part is written on its own: a topic the bot may not set must not cost the message or the user group.
    const parts: Part[] = [];
    const ids = await this.#slackIds(people, unresolved);
    // A real mention (<@U…>) where Slack knows the person, so the name is clickable and notifies.
    const mentions = people.map((p) => mention(ids.byKey[p.key], handleOf(p)));

    let topicTags: string[] | undefined;
    if (this.#o.topic) {
      const info = await readPart("topic", unresolved, () => slack.conversationInfo(channel));
      if (info) {
        const raw = info.topic?.value ?? "";
        const current = slackPlainText(raw);
        topicTags = parseTopic(current).names;
        // The rest is kept as Slack stored it, so its links (and their labels) and entities survive.
        const desired = composeTopic(mentions, parseTopic(raw).rest);
        if (slackPlainText(desired) !== current) {
          updates.push(`topic: "${current}" → "${slackPlainText(desired)}"`);
          parts.push({ part: "topic", run: () => slack.setTopic(channel, desired) });
        }
      }
    }

    if (this.#o.usergroup) {
      const usergroup = this.#o.usergroup;
      const current = await readPart("usergroup", unresolved, () => slack.usergroupMembers(usergroup));
      const desired = [...new Set(Object.values(ids.byKey))].sort();
      const add = desired.filter((id) => !current?.includes(id));
      const remove = (current ?? []).filter((id) => !desired.includes(id));
      if (!current) {
        // Unreadable: reported above, left as it is.
      } else if (desired.length === 0 && current.length > 0) {
        unresolved.push(`user group ${usergroup}: Slack does not allow an empty user group; left as it is`);
      } else if (add.length > 0 || remove.length > 0) {
        updates.push(`user group ${usergroup}: ${[...add.map((id) => `+${id}`), ...remove.map((id) => `-${id}`)].join(" ")}`);
        parts.push({ part: "usergroup", run: () => slack.setUsergroupMembers(usergroup, desired) });
      }
    }

    const keys = people.map((p) => p.key).sort();
    // With lease.redis and hand-offs on, the pair's record of what the channel was told comes first: a
    // host that missed a shift must not compare with its own older record and stay silent (T59 N6).
    // No shared record yet (the first run with it): this host's file. Without hand-offs nothing is
    // posted, so nothing would ever write the shared record: this host's file.
    const shared = this.#o.announce ? context.announced : undefined;
    const own = await state.announced(sink);
    const pairs = await shared?.announced(sink);
    // A hand-off this host gave up on counts as announced here (no new message for it), though Slack never
    // took it, so the pair's record does not have it: this host does not start another 5 attempts.
    const deliveries = await state.deliveries(sink);
    const gaveUp = deliveries.message?.status === "gave-up" && own?.join("\n") === keys.join("\n");
    const announced = gaveUp ? own : (pairs ?? own);
    // With no record yet, the topic tells who was announced last (a fresh state dir must not re-announce).
    const named = (p: Person, tag: string) => tag === ids.byKey[p.key] || tag === handleOf(p);
    const inTopic = (p: Person) => topicTags?.some((t) => named(p, t)) ?? false;
    const changed = announced
      ? announced.join("\n") !== keys.join("\n")
      : topicTags === undefined || topicTags.length !== people.length || !people.every(inTopic);
    const channels = this.#o.announce ? [channel, ...(this.#o.announceChannels ?? []).filter((c) => c !== channel)] : [];
    const pendings = new Map<string, PendingMessage | undefined>();
    for (const ch of channels) pendings.set(ch, await state.pending(this.#pendingKey(ch)));
    let text: string | undefined;
    for (const ch of channels) {
      const part = ch === channel ? "message" : `message ${ch}`;
      const pending = pendings.get(ch);
      if (pending && pending.members.join("\n") === keys.join("\n")) {
        // A message for this very set that did not get through is sent again (the topic may already say it).
        updates.push(`${part} (attempt ${pending.attempts + 1} of ${MAX_MESSAGE_ATTEMPTS}): "${pending.text}"`);
        parts.push({ part, run: (fence) => this.#post(ch, part, pending, fence, shared) });
      } else if (changed) {
        // A pending message for another set is replaced by this one (recordPending overwrites it).
        if (text === undefined) {
          const offDuty = announced
            ? await Promise.all(
                announced.filter((k) => !keys.includes(k)).map(async (k) => mention(await state.slackId(k), handleOfKey(k))),
              )
            : (topicTags ?? []).filter((t) => !people.some((p) => named(p, t))).map(tagMention);
          text = handoffText(mentions, offDuty);
        }
        const message = { members: keys, text, attempts: 0, since: new Date().toISOString() };
        updates.push(`${part}: "${text}"`);
        parts.push({ part, run: (fence) => this.#post(ch, part, message, fence, shared) });
      } else if (pending) {
        // The source went back to the set last announced: that hand-off is out of date and is never
        // posted. Dropped by the next run (said once), so status does not promise a retry (T56 F1).
        updates.push(`${part}: drop the unsent hand-off "${pending.text}" (on call again: the set last announced)`);
        parts.push({ part, run: () => state.dropPending(this.#pendingKey(ch), sink, part) });
      }
    }
    if (channels.length === 0 && changed) parts.push({ part: "announced", run: () => state.recordAnnounced(sink, keys) });

    // Membership as last announced (the topic may show only the first names of a long list).
    const byId = new Map(people.flatMap((p) => (ids.byKey[p.key] ? [[ids.byKey[p.key], handleOf(p)] as const] : [])));
    const before = announced?.map(handleOfKey) ?? (topicTags ?? []).map((t) => byId.get(t) ?? t);
    const previous = new Set(announced ?? []);
    // What the next run does with each: retry it, post a newer hand-off instead, or drop it (see above).
    const nextFor = (p: PendingMessage): "retry" | "replace" | "drop" =>
      p.members.join("\n") === keys.join("\n") ? "retry" : changed ? "replace" : "drop";
    const pendingList = [...pendings].flatMap(([ch, p]) =>
      p ? [{ channel: ch, text: p.text, attempts: p.attempts, maxAttempts: MAX_MESSAGE_ATTEMPTS, since: p.since, next: nextFor(p) }] : [],
    );
    // A failed hand-off dropped unsent is shown as dropped, with its last attempt: nothing retries it.
    const shown = Object.fromEntries(
      Object.entries(deliveries).map(([part, { dropped, ...d }]) => [
        part,
        dropped === undefined
          ? d
          : {
              status: "dropped" as const,
              at: dropped,
              error: `never sent (on call again: the set last announced); last attempt failed ${d.at}${d.error ? `: ${d.error}` : ""}`,
            },
      ]),
    );
    return {
      ...(Object.keys(shown).length > 0 ? { deliveries: shown } : {}),
      ...(pendingList.length > 0 ? { pendingMessages: pendingList } : {}),
      current: before,
      desired: handles,
      add: announced ? people.filter((p) => !previous.has(p.key)).map(handleOf) : handles.filter((h) => !before.includes(h)),
      remove: announced ? announced.filter((k) => !keys.includes(k)).map(handleOfKey) : before.filter((h) => !handles.includes(h)),
      updates,
      unresolved,
      // Someone without a Slack user is only a plain @handle: nobody with a user means nobody placed.
      placed: people.filter((p) => ids.byKey[p.key]).length,
      apply: async (beforeWrite = async () => {}) => {
        if (Object.keys(ids.looked).length > 0) await state.recordSlackIds(ids.looked);
        const outcomes: PartOutcome[] = [];
        for (const { part, run } of parts) {
          try {
            // The message part fences itself right before posting (after its history check).
            if (!part.startsWith("message")) await beforeWrite();
            const done = await run(beforeWrite);
            if (part !== "announced" && !part.startsWith("message")) await state.recordDelivery(sink, part, { status: "delivered" });
            outcomes.push(done === ALREADY_POSTED ? { part, alreadyPosted: true } : { part });
          } catch (error) {
            if (!part.startsWith("message")) await state.recordDelivery(sink, part, { status: "failed", error: describeError(error) });
            outcomes.push({ part, error });
          }
        }
        return outcomes;
      },
    };
  }

  /**
   * Posts a hand-off message, kept as pending first so that a failure (or a crash) leaves it to
   * be sent on the next run, for at most MAX_MESSAGE_ATTEMPTS attempts; never recorded as
   * delivered unless Slack took it. Order: keep it pending → read the channel history → fence (the
   * lease is still this run's, so nobody else posted since the read) → post.
   */
  async #post(
    ch: string,
    part: string,
    message: PendingMessage,
    beforeWrite: () => Promise<void>,
    shared: AnnouncedLedger | undefined,
  ): Promise<typeof ALREADY_POSTED | undefined> {
    const { slack, state } = this.#o;
    const key = this.#pendingKey(ch);
    const set = handoffSet(message.members);
    await state.recordPending(key, message);
    let already: boolean;
    try {
      already = await this.#lastHandoffIs(ch, set);
    } catch (error) {
      // Not checked, not posted: kept pending (no attempt used) and tried again next run.
      await state.recordDelivery(this.name, part, {
        status: "failed",
        error: `${describeError(error)}; the channel history could not be checked, so nothing was posted; retried on the next run`,
      });
      throw error;
    }
    // Already there: posted by this host whose answer was lost, or by the other host of a pair.
    if (already) {
      // The channel has it (this bot posted it): the pair's record may say so too.
      await shared?.record(this.name, message.members);
      await state.recordAnnounced(this.name, message.members);
      await state.recordDelivery(this.name, part, { status: "already-posted" }, key);
      return ALREADY_POSTED;
    }
    await beforeWrite();
    try {
      await slack.postMessage({
        channel: ch,
        text: message.text,
        unfurl_links: false,
        metadata: { event_type: HANDOFF_EVENT, event_payload: { sink: this.name, set } },
      });
    } catch (error) {
      const attempts = message.attempts + 1;
      const reason = describeError(error);
      if (attempts >= MAX_MESSAGE_ATTEMPTS) {
        // Given up: the set counts as announced (so no new message is made for it), the record says it was not
        // delivered and keeps its text, for `status` and the warning of every later run. Giving up is documented
        // behaviour, not a bug: the run fails with the Slack error's own code, as the attempts before did.
        const gaveUp = `${reason}; gave up after ${attempts} attempts, not retried: "${message.text}"`;
        await state.recordAnnounced(this.name, message.members);
        await state.recordDelivery(this.name, part, { status: "gave-up", error: gaveUp }, key);
        throw new OpsguardError(gaveUp, exitCodeOf(error), { cause: error });
      }
      await state.recordPending(key, { ...message, attempts });
      await state.recordDelivery(this.name, part, {
        status: "failed",
        error: `${reason}; retried on the next run (${attempts} of ${MAX_MESSAGE_ATTEMPTS})`,
      });
      throw error;
    }
    // Recorded for the pair only now that Slack took it: a failed post is posted by whichever host runs next.
    await shared?.record(this.name, message.members);
    await state.recordAnnounced(this.name, message.members);
    await state.recordDelivery(this.name, part, { status: "delivered" }, key);
    return undefined;
  }

  /**
   * Whether the channel's newest hand-off message of this sink, posted by this very bot (the message's
   * bot_id / user against auth.test: anyone in the channel can post a message with the same metadata),
   * among the last HISTORY_LIMIT messages, announces this very set. Only a missing history scope lets
   * the message go out unchecked (a warning; posted at least once); any other error (rate limit after
   * the client's bounded Retry-After waits, Slack trouble, not_in_channel) throws: not posted this run.
   */
  async #lastHandoffIs(ch: string, set: string): Promise<boolean> {
    let messages: SlackMessage[];
    try {
      messages = await this.#o.slack.history(ch, { limit: HISTORY_LIMIT });
    } catch (error) {
      if (!(error instanceof SlackPermissionError && error.code === "missing_scope")) throw error;
      this.#o.log?.warn(`${this.name}: cannot read ${ch}'s history to avoid a double hand-off (${describeError(error)}); posting`);
      return false;
    }
    this.#me ??= await this.#o.slack.authTest();
    const me = this.#me;
    const ours = (m: SlackMessage) => (me.botId !== undefined && m.bot_id === me.botId) || (me.userId !== "" && m.user === me.userId);
    const last = messages.find((m) => m.metadata?.event_type === HANDOFF_EVENT && m.metadata.event_payload?.sink === this.name && ours(m));
    return last?.metadata?.event_payload?.set === set;
  }

  /** Where a channel's undelivered message is kept: the sink's name for its own channel, else "<sink> <channel>". */
  #pendingKey(ch: string): string {
    return ch === this.#o.channel ? this.name : `${this.name} ${ch}`;
  }

  /** Slack user ids by email: from the state cache, else users.lookupByEmail (each person once, ever). */
  async #slackIds(
    people: readonly Person[],
    unresolved: string[],
  ): Promise<{ byKey: Record<string, string>; looked: Record<string, string> }> {
    const byKey: Record<string, string> = {};
    const looked: Record<string, string> = {};
    for (const p of people) {
      if (!p.email) {
        unresolved.push(`${p.key}: no email to find the Slack user by`);
        continue;
      }
      const cached = await this.#o.state.slackId(p.email);
      if (cached) {
        byKey[p.key] = cached;
        continue;
      }
      try {
        const user = await this.#o.slack.lookupUserByEmail(p.email);
        byKey[p.key] = user.id;
        looked[p.email] = user.id;
      } catch (error) {
        if (!(error instanceof SlackNotFoundError)) throw error;
        unresolved.push(`${p.email}: no Slack user with this email`);
      }
    }
    return { byKey, looked };
  }
}

interface Part {
  part: string;
  run: (beforeWrite: () => Promise<void>) => Promise<unknown>;
}

/** What #post returns when the hand-off was already in the channel and nothing was posted. */
const ALREADY_POSTED = Symbol("already posted");

/** A read one part needs; when Slack refuses it, that part is reported and left alone, the others go on. */
async function readPart<T>(part: string, unresolved: string[], read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof SlackApiError)) throw error;
    unresolved.push(`${part}: ${describeError(error)}; left as it is`);
    return undefined;
  }
}

/**
 * "On call: <@U1>, @b | rest" → tags (Slack user ids of mentions, else handles) and rest; a topic
 * of ours without a rest, or someone else's topic kept whole.
 */
export function parseTopic(topic: string): { names: string[]; rest: string } {
  if (!topic.startsWith(TOPIC_PREFIX)) return { names: [], rest: topic.trim() };
  const body = topic.slice(TOPIC_PREFIX.length);
  const bar = body.indexOf(" | ");
  const list = bar === -1 ? body : body.slice(0, bar);
  const names =
    list === "nobody"
      ? []
      : list
          .split(",")
          .map((n) =>
            n
              .trim()
              .replace(/ \+\d+ more$/, "")
              .replace(/^<@([^>|]+)(?:\|[^>]*)?>$/, "$1")
              .replace(/^@/, ""),
          )
          .filter(Boolean);
  return { names, rest: bar === -1 ? "" : body.slice(bar + 3).trim() };
}

/** The topic within Slack's 250 characters: the rest is shortened first, then the list of mentions. */
export function composeTopic(mentions: readonly string[], rest: string): string {
  let head = `${TOPIC_PREFIX}${mentions.length === 0 ? "nobody" : mentions.join(", ")}`;
  for (let shown = mentions.length - 1; head.length > TOPIC_MAX && shown > 0; shown--) {
    head = `${TOPIC_PREFIX}${mentions.slice(0, shown).join(", ")} +${mentions.length - shown} more`;
  }
  if (!rest) return head;
  const room = TOPIC_MAX - head.length - 3;
  if (room <= 1) return head;
  return `${head} | ${rest.length > room ? `${cutMarkup(rest.slice(0, room - 1))}…` : rest}`;
}

/** The on-call set a hand-off announces, as a short digest: the metadata names no one. */
function handoffSet(members: readonly string[]): string {
  return createHash("sha256")
    .update([...members].sort().join("\n"))
    .digest("hex")
    .slice(0, 16);
}

/** A cut topic must not end inside a link (<…) or an entity (&amp;), which Slack would show broken. */
function cutMarkup(text: string): string {
  const open = text.lastIndexOf("<");
  const cut = open > text.lastIndexOf(">") ? text.slice(0, open) : text;
  return cut.replace(/&[a-z]*$/, "");
}

function handoffText(mentions: readonly string[], offDuty: readonly string[]): string {
  const now = mentions.length === 0 ? "nobody is on call" : `on call now: ${mentions.join(", ")}`;
  return `On-call hand-off: ${now}${offDuty.length > 0 ? ` (off duty: ${offDuty.join(", ")})` : ""}`;
}

/** <@U…> for a Slack user id, else "@handle" as escaped text (a handle comes from a source and may hold markup). */
export function mention(slackId: string | undefined, handle: string): string {
  return slackId && SLACK_USER_ID.test(slackId) ? `<@${slackId}>` : escapeSlackText(`@${handle}`);
}

/** A tag read back from the topic: a user id becomes a mention again, a handle stays text. */
function tagMention(tag: string): string {
  return mention(SLACK_USER_ID.test(tag) ? tag : undefined, tag);
}

function handleOfKey(key: string): string {
  return key.split("@")[0] ?? key;
}
