/**
 * Whether Slack is demonstrably accepting posts right now, as this process has seen it: the verdict a login
 * waiting on `onFailure: reject` gets when its own alert has not been sent yet (verdicts.ts). Only
 * chat.postMessage counts: a post accepted is the proof, a post refused or failed (a 429 too) undoes it.
 */
export class SlackHealth {
  /** A success this old proves nothing about now. */
  static readonly FRESH_MS = 30_000;
  readonly #stallMs: number;
  #lastOkAt: number | undefined;
  #lastFailAt: number | undefined;
  #lastError: string | undefined;
  /** Start times of the posts under way (by a token per call). */
  readonly #inFlight = new Map<symbol, number>();
  readonly #onAccepting = new Set<() => void>();

  /** `stallMs`: a post under way longer than this (the hook's own Slack timeout) counts as Slack not answering. */
  constructor(stallMs: number) {
    this.#stallMs = stallMs;
  }

  /** A post is sent now; call the returned function with its outcome. */
  started(): (error?: string) => void {
    const token = Symbol("post");
    this.#inFlight.set(token, Date.now());
    return (error) => {
      this.#inFlight.delete(token);
      if (error === undefined) {
        this.#lastOkAt = Date.now();
        for (const listener of this.#onAccepting) listener();
      } else {
        this.#lastFailAt = Date.now();
        this.#lastError = error;
      }
    };
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
      return `Slack's last post failed: ${this.#lastError ?? "unknown error"}`;
    }
    for (const since of this.#inFlight.values()) {
      if (now - since > this.#stallMs) return `a Slack post has had no answer for ${now - since} ms`;
    }
    if (this.#lastOkAt === undefined) return "no post accepted by Slack yet";
    return `no post accepted by Slack in the last ${Math.round(SlackHealth.FRESH_MS / 1000)} s`;
  }

  /** Called each time a post is accepted. */
  onAccepting(listener: () => void): void {
    this.#onAccepting.add(listener);
  }
}
