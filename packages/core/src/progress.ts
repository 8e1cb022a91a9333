import type { OutStream } from "./iostreams";
import { type Spinner, startSpinner } from "./tty";

/**
 * Progress on stderr for long runs (issue #25): one mechanism for every tool. It rides on core's ora spinner,
 * so the TTY rules are the spinner's: nothing when stderr is not a terminal, under NO_COLOR, TERM=dumb or
 * --no-color (`ctx.color` already says all of that) and nothing with --quiet.
 */
export function progressEnabled(ctx: { color: boolean; opts: { quiet?: boolean } }): boolean {
  return ctx.color && ctx.opts.quiet !== true;
}

export interface ProgressOptions {
  enabled: boolean;
  /** Nothing is drawn for runs shorter than this: a spinner flashing for 50 ms is noise (default 1 s). */
  delayMs?: number;
  /** The run's stderr (redacting); process.stderr when not given. */
  stream?: OutStream | undefined;
}

/** A line of progress text that can change while the run goes on; stop() clears it. */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

/**
 * A spinner that appears only once the run has lasted `delayMs`, showing the latest text given. Callers update
 * it as often as they like: ora redraws on its own timer, so an update is one assignment.
 */
export function startProgress(text: string, options: ProgressOptions): Progress {
  if (!options.enabled) return { update() {}, stop() {} };
  let current = text;
  let spinner: Spinner | undefined;
  let stopped = false;
  const timer = setTimeout(() => {
    void startSpinner(current, true, options.stream).then((s) => {
      if (stopped) s.stop();
      else spinner = s;
    });
  }, options.delayMs ?? 1000);
  // A finished run must not wait for the timer to exit.
  timer.unref();
  return {
    update(t) {
      current = t;
      spinner?.update(t);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      spinner?.stop();
    },
  };
}

export interface ByteProgress {
  /** `bytes` more read. */
  add(bytes: number): void;
  /** Where a new input starts, with its size when known (a file; not a pipe). */
  input(name: string, size: number | undefined): void;
  stop(): void;
}

/**
 * Progress over inputs read in chunks: bytes read (of the total when known), items per second, and an ETA when
 * the size is known. The text is rebuilt at most every 200 ms, so a fast reader pays almost nothing; `items`
 * (events parsed so far …) is asked only then.
 */
export function startByteProgress(
  label: string,
  itemName: string,
  items: () => number,
  options: ProgressOptions & { now?: () => number },
): ByteProgress {
  const progress = startProgress(label, options);
  if (!options.enabled) return { add() {}, input() {}, stop() {} };
  const now = options.now ?? (() => performance.now());
  const started = now();
  let bytes = 0;
  let inputStart = 0;
  let size: number | undefined;
  let name = "";
  let last = 0;
  return {
    add(b) {
      bytes += b;
      const t = now();
      if (t - last < 200) return;
      last = t;
      progress.update(
        `${label}${name ? ` ${name}` : ""}: ${progressText({ bytes: bytes - inputStart, size, items: items(), elapsedMs: t - started, itemName })}`,
      );
    },
    input(n, s) {
      name = n;
      size = s;
      inputStart = bytes;
    },
    stop: () => progress.stop(),
  };
}

export interface ProgressFigures {
  /** Bytes of the current input read so far, and its size when known. */
  bytes: number;
  size: number | undefined;
  /** Items done since the start of the run, over elapsedMs. */
  items: number;
  elapsedMs: number;
  itemName: string;
}

/** "12.0 MiB of 100 MiB (12%), 52,310 events/s, ETA 0:41": the figures of one progress line. */
export function progressText(f: ProgressFigures): string {
  const seconds = f.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(f.items / seconds) : 0;
  const parts = [
    f.size !== undefined && f.size > 0 ? `${mib(f.bytes)} of ${mib(f.size)} (${Math.floor((100 * f.bytes) / f.size)}%)` : `${mib(f.bytes)}`,
  ];
  parts.push(`${rate.toLocaleString("en-US")} ${f.itemName}/s`);
  if (f.size !== undefined && f.size > 0 && f.bytes > 0 && seconds > 0) {
    const left = ((f.size - f.bytes) / f.bytes) * seconds;
    parts.push(`ETA ${clock(Math.max(0, left))}`);
  }
  return parts.join(", ");
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}
