import type { Logger } from "@opsguard/core";
import { historyKey } from "./alert";
import { answerDeferred } from "./deferred";
import type { SlackHealth } from "./slack-health";
import { cutField } from "./template";

export type Answer = "0" | "1";

/** Given this long before the hook's deadline, so the file is written within it even on a busy event loop. */
const MARGIN_MS = 100;
/** Answers remembered, so a login is never answered twice; a storm's worth, far more than one run handles. */
const MAX_REMEMBERED = 10_000;

interface Waiting {
  file: string;
  by: number;
  user: string;
  ip: string;
  timer: NodeJS.Timeout;
  answered: Promise<Answer>;
  resolve: (answer: Answer) => void;
}

/**
 * The verdicts OpenVPN waits on (deferred client-connect, `onFailure: reject`), one per login, given once:
 *
 * - `1` once its alert went out (or needed none), or as soon as the login is in the spool (durably queued:
 *   the hook put it there) while Slack is demonstrably accepting posts (SlackHealth: the last post accepted,
 *   recently, none failed or hung since) — its DM may go out later, behind a storm's queue or the security
 *   channel's pace of one post a second, but it is on its way. Not while the security channel's last post was
 *   refused for good (channel_not_found, is_archived…), nor for a user whose last DM was (cannot_dm_bot…): Slack
 *   accepting other posts does not show those alerts to be on their way (T50 N5), so such a login waits for its
 *   own outcome or its deadline;
 * - `0` once its alert failed, or at its deadline (the hook's deadlineMs) when Slack was not shown to be
 *   accepting posts by then: fail closed, an alert that cannot be shown to be on its way refuses the login.
 *
 * A long queue alone never refuses anyone (T48 F4: 46 of 50 clients refused although each alert went out).
 * Every answer is one log line, `answered 1` or `warn: answered 0`, with the reason.
 */
export class Verdicts {
  readonly #log: Logger;
  readonly #health: SlackHealth | undefined;
  readonly #waiting = new Map<string, Waiting>();
  readonly #given = new Map<string, Answer>();
  readonly #securityChannel: string | undefined;

  /**
   * Without `health` (a process that does not drain for long) only a login's own outcome or its deadline answers it.
   * `securityChannel`: where every alert's security post goes.
   */
  constructor(log: Logger, health?: SlackHealth, securityChannel?: string) {
    this.#log = log;
    this.#health = health;
    this.#securityChannel = securityChannel;
    health?.onAccepting(() => {
      for (const [id, waiting] of [...this.#waiting]) {
        if (this.#unshown(waiting.user) === undefined) this.#give(id, "1", "queued, and Slack is accepting posts");
      }
    });
  }

  /** The Slack user `user`'s DMs go to, as the directory found it: Slack refusing those for good is remembered by it. */
  recipient(user: string, slackId: string): void {
    this.#health?.recipient(historyKey(user), slackId);
  }

  /** The worker ends idle: the next one starts from the Slack state it saw (SlackHealth.handOver). */
  handOver(): void {
    this.#health?.handOver();
  }

  /** Resolves once the refusals Slack gave are kept for the next worker (SlackHealth's file). */
  saved(): Promise<void> {
    return this.#health?.saved() ?? Promise.resolve();
  }

  /**
   * Why Slack accepting posts does not show this user's alert to be on its way (undefined when it does): the
   * security channel's last post, or the user's last DM, was refused for good — in this worker or an earlier one
   * (kept beside the spool) — or the refusals earlier workers kept could not be read.
   */
  #unshown(user: string): string | undefined {
    const unread = this.#health?.unread();
    if (unread) return `the Slack refusals earlier workers kept could not be read: ${unread}`;
    const channel = this.#securityChannel === undefined ? undefined : this.#health?.refusedForGood(this.#securityChannel);
    if (channel) return `Slack refuses posts to the security channel for good: ${channel}`;
    const dm = this.#health?.refusedDm(historyKey(user));
    if (dm) return `Slack refuses this user's direct messages for good: ${dm}`;
    return undefined;
  }

  /** The answer given to this login, if any. */
  given(id: string): Answer | undefined {
    return this.#given.get(id);
  }

  /**
   * A login OpenVPN waits on, as its spool entry says: answered now when Slack is accepting posts (or its deadline
   * has passed), else at its deadline unless its own outcome (settle) comes first. Resolves with the answer.
   */
  watch(id: string, answer: { file: string; by: number }, who: { user: string; ip: string }): Promise<Answer> {
    const given = this.#given.get(id);
    if (given) return Promise.resolve(given);
    const known = this.#waiting.get(id);
    if (known) return known.answered;
    const answered = this.#track(id, answer, who).answered;
    if (this.#health?.accepting() && this.#unshown(who.user) === undefined) this.#give(id, "1", "queued, and Slack is accepting posts");
    return answered;
  }

  #track(id: string, answer: { file: string; by: number }, who: { user: string; ip: string }): Waiting {
    let resolve: (answer: Answer) => void = () => {};
    const answered = new Promise<Answer>((r) => {
      resolve = r;
    });
    const timer = setTimeout(() => this.#atDeadline(id), Math.max(0, answer.by - MARGIN_MS - Date.now()));
    const waiting = { file: answer.file, by: answer.by, user: who.user, ip: who.ip, timer, answered, resolve };
    this.#waiting.set(id, waiting);
    return waiting;
  }

  /** The login's own outcome: its alert went out (or needed none), or failed. A login answered already keeps its answer. */
  settle(id: string, answer: Answer, reason: string): void {
    this.#give(id, answer, reason);
  }

  /**
   * `answer` now for a login not answered yet, whatever Slack's state: a worker stopped (SIGTERM, SIGINT) with it under
   * way answers `0`. Returns false when it had its answer already (that one stands).
   */
  giveNow(id: string, target: { file: string; by: number }, who: { user: string; ip: string }, answer: Answer, reason: string): boolean {
    if (this.#given.has(id)) return false;
    if (!this.#waiting.has(id)) this.#track(id, target, who);
    this.#give(id, answer, reason);
    return true;
  }

  #atDeadline(id: string): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    const unshown = this.#unshown(waiting.user);
    if (unshown === undefined && this.#health?.accepting()) this.#give(id, "1", "queued, and Slack is accepting posts");
    else
      this.#give(id, "0", `its alert was not shown to be on its way by the deadline: ${unshown ?? this.#health?.why() ?? "not sent yet"}`);
  }

  #give(id: string, answer: Answer, reason: string): void {
    const waiting = this.#waiting.get(id);
    if (!waiting) return;
    this.#waiting.delete(id);
    clearTimeout(waiting.timer);
    this.#given.set(id, answer);
    if (this.#given.size > MAX_REMEMBERED) this.#given.delete(this.#given.keys().next().value as string);
    const unwritable = answerDeferred(waiting.file, answer);
    const fields = { user: cutField(waiting.user), ip: waiting.ip, reason, ...(unwritable ? { error: unwritable } : {}) };
    if (answer === "1" && !unwritable) this.#log.info("answered 1", fields);
    else this.#log.warn(`answered ${answer}`, fields);
    waiting.resolve(answer);
  }
}
