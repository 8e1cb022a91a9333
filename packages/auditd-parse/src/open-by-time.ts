/**
 * One host's open events by log time: a binary min-heap of events whose entries are dropped lazily, when they
 * reach the top and `open` no longer holds them. It answers "the earliest log time of the host's open events" in
 * O(log n) however many are open, where a scan of the host's queue cost O(n) per completed event — the reason the
 * grouping gave up ordering a host with more than 64 events open (T21 #1: one host's USER_END written before its
 * 66 older commands without EOE).
 */
export class OpenByTime<E extends { readonly timeMs: number }> {
  private events: E[] = [];

  push(event: E): void {
    const events = this.events;
    let at = events.length;
    events.push(event);
    while (at > 0) {
      const up = (at - 1) >> 1;
      const parent = events[up] as E;
      if (parent.timeMs <= event.timeMs) break;
      events[at] = parent;
      at = up;
    }
    events[at] = event;
  }

  /** The earliest log time of the entries still in `open`, Infinity when none is. */
  oldestMs(open: ReadonlySet<E>): number {
    const events = this.events;
    while (events.length > 0) {
      const top = events[0] as E;
      if (open.has(top)) return top.timeMs;
      this.pop();
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Takes the earliest entry still in `open` out of the heap and out of `open`; undefined when none is. */
  takeOldest(open: Set<E>): E | undefined {
    if (this.oldestMs(open) === Number.POSITIVE_INFINITY) return undefined;
    const event = this.events[0] as E;
    open.delete(event);
    this.pop();
    return event;
  }

  /** Entries, done ones included (the caller compacts past twice its open events). */
  get size(): number {
    return this.events.length;
  }

  /** Keeps only the entries still in `open`. */
  compact(open: ReadonlySet<E>): void {
    const events = this.events;
    this.events = [];
    for (const e of events) if (open.has(e)) this.push(e);
  }

  private pop(): void {
    const events = this.events;
    const last = events.pop() as E;
    const n = events.length;
    if (n === 0) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (events[right] as E).timeMs < (events[left] as E).timeMs ? right : left;
      if ((events[child] as E).timeMs >= last.timeMs) break;
      events[at] = events[child] as E;
      at = child;
    }
    events[at] = last;
  }
}
