/**
 * One host's open events by log time: a binary min-heap of (event, key) whose entries are dropped lazily, when
 * they reach the top and `open` no longer holds that event under that key. It answers "the earliest log time of
 * the host's open events" in O(log n) however many are open, where a scan of the host's queue cost O(n) per
 * completed event — the reason the grouping gave up ordering a host with more than 64 events open (T21 #1: one
 * host's USER_END written before its 66 older commands without EOE).
 */
export class OpenByTime<E extends { readonly timeMs: number }> {
  private events: E[] = [];
  private keys: string[] = [];

  push(event: E, key: string): void {
    const events = this.events;
    const keys = this.keys;
    let at = events.length;
    events.push(event);
    keys.push(key);
    while (at > 0) {
      const up = (at - 1) >> 1;
      const parent = events[up] as E;
      if (parent.timeMs <= event.timeMs) break;
      events[at] = parent;
      keys[at] = keys[up] as string;
      at = up;
    }
    events[at] = event;
    keys[at] = key;
  }

  /** The earliest log time of the entries still in `open`, Infinity when none is. */
  oldestMs(open: ReadonlyMap<string, E>): number {
    const events = this.events;
    while (events.length > 0) {
      const top = events[0] as E;
      if (open.get(this.keys[0] as string) === top) return top.timeMs;
      this.pop();
    }
    return Number.POSITIVE_INFINITY;
  }

  /** Takes the earliest entry still in `open` out of the heap and out of `open`; undefined when none is. */
  takeOldest(open: Map<string, E>): E | undefined {
    if (this.oldestMs(open) === Number.POSITIVE_INFINITY) return undefined;
    const event = this.events[0] as E;
    open.delete(this.keys[0] as string);
    this.pop();
    return event;
  }

  /** Entries, done ones included (the caller compacts past twice its open events). */
  get size(): number {
    return this.events.length;
  }

  /** Keeps only the entries still in `open`. */
  compact(open: ReadonlyMap<string, E>): void {
    const events = this.events;
    const keys = this.keys;
    this.events = [];
    this.keys = [];
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as E;
      const k = keys[i] as string;
      if (open.get(k) === e) this.push(e, k);
    }
  }

  private pop(): void {
    const events = this.events;
    const keys = this.keys;
    const lastEvent = events.pop() as E;
    const lastKey = keys.pop() as string;
    const n = events.length;
    if (n === 0) return;
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && (events[right] as E).timeMs < (events[left] as E).timeMs ? right : left;
      if ((events[child] as E).timeMs >= lastEvent.timeMs) break;
      events[at] = events[child] as E;
      keys[at] = keys[child] as string;
      at = child;
    }
    events[at] = lastEvent;
    keys[at] = lastKey;
  }
}
