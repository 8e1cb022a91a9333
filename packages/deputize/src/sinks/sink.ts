import type { Person } from "../people";

/** What one sink would change: computed from a read of its current state, applied only when not a dry run. */
export interface SinkPlan {
  /** Who is in the sink now (display names: uids, DNs, handles). */
  current: string[];
  /** Who is in it after apply. */
  desired: string[];
  add: string[];
  remove: string[];
  /** Other writes besides membership ("topic: … → …", "post hand-off message"). */
  updates: string[];
  /** People on call this sink could not place (unknown email, no account); the rest still apply. */
  unresolved: string[];
  /**
   * How many of the people on call the sink could place, when `unresolved` also holds other
   * problems (Slack); otherwise everyone not in `unresolved` counts as placed.
   */
  placed?: number;
  /** How the last run's writes went, per part (sinks that keep such records: Slack). */
  deliveries?: Record<
    string,
    { status: "delivered" | "already-posted" | "failed" | "gave-up" | "dropped"; at: string; error?: string | undefined }
  >;
  /**
   * Hand-off messages not delivered yet, per channel, and what the next run does with each: `retry` it,
   * `replace` it with the hand-off of the set on call now, or `drop` it (the set it announces is gone
   * and the one on call again was already announced).
   */
  pendingMessages?: Array<{
    channel: string;
    text: string;
    attempts: number;
    maxAttempts: number;
    since: string;
    next: "retry" | "replace" | "drop";
  }>;
  /**
   * Writes the change; a sink whose parts are independent (Slack) says how each went. A sink making
   * several writes calls `beforeWrite` (the lease fence) before each and stops when it throws.
   */
  apply(beforeWrite?: () => Promise<void>): Promise<PartOutcome[]> | Promise<void>;
}

/** One independently applied part of a sink's change ("topic", "usergroup", "message"). */
export interface PartOutcome {
  part: string;
  /** The error when it failed; the other parts were still applied. */
  error?: unknown;
  /** A hand-off found already in the channel (posted by this bot earlier, or the other host): nothing was written. */
  alreadyPosted?: boolean;
}

/**
 * Who a sink last announced (a webhook's delivery, a Slack hand-off), shared by the two hosts of a
 * lease.redis pair: the second host does not deliver a hand-off the first already delivered, and a
 * host that missed a shift compares with what the pair announced, not with its own older record.
 */
export interface AnnouncedLedger {
  announced(sink: string): Promise<string[] | undefined>;
  /** Only after the receiver (Slack) took the delivery. */
  record(sink: string, members: readonly string[]): Promise<void>;
}

/** What a run gives every sink besides who is on call. */
export interface PlanContext {
  /** The pair's shared delivery records (lease.redis); each host's state file otherwise. */
  announced?: AnnouncedLedger | undefined;
}

export interface Sink {
  readonly name: string;
  readonly kind: string;
  /** Schedules (as named in status) that feed this sink; all of them when undefined. */
  readonly schedules: readonly string[] | undefined;
  plan(people: readonly Person[], context?: PlanContext): Promise<SinkPlan>;
  /**
   * A directory sink (LDAP): the people on call whose uid and email are two different people there, each
   * with the line saying so; the run leaves them out of every sink.
   */
  identityConflicts?: (people: readonly Person[]) => Promise<Map<string, string>>;
}

export function hasChanges(plan: Pick<SinkPlan, "add" | "remove" | "updates">): boolean {
  return plan.add.length > 0 || plan.remove.length > 0 || plan.updates.length > 0;
}
