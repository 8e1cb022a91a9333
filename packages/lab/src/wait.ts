// Waiting in tests for something to happen, on the event that makes it happen, never on a fixed sleep: a
// sleep is too short on a loaded machine and wasted time on a quiet one. Each wait is bounded and says what
// it was waiting for when it gives up.
import { watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";

const DEFAULT_TIMEOUT_MS = 15_000;

interface Emitter {
  on(event: string, listener: () => void): unknown;
  off(event: string, listener: () => void): unknown;
}

/**
 * Resolves once `ready()` holds: checked now and after each `event` from `emitter` (e.g. "data" on a child's
 * stdout, after the test's own listener has collected it). Rejects when the emitter closes first or after
 * `timeoutMs`, naming `what`.
 */
export function untilEvent(
  emitter: Emitter,
  event: string,
  ready: () => boolean,
  what: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      emitter.off(event, check);
      emitter.off("close", closed);
      if (error) reject(error);
      else resolve();
    };
    const check = () => {
      if (ready()) done();
    };
    const closed = () => {
      if (!ready()) done(new Error(`closed before ${what}`));
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    emitter.on(event, check);
    emitter.on("close", closed);
    check();
  });
}

/**
 * The text of `path` once `ready(text)` holds (`text` is undefined while the file does not exist): read now
 * and after each change inotify reports in its directory, so a file created, appended to, or replaced by a
 * rename is seen. Rejects after `timeoutMs`, naming `what`.
 */
export function untilFile(
  path: string,
  ready: (text: string | undefined) => boolean,
  what: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let finished = false;
    let last: string | undefined;
    // watching the directory, not the file: the file may not exist yet, or be renamed away and made again
    const watcher = watch(dirname(path), (_event, name) => {
      if (name === null || name === basename(path)) void check();
    });
    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error);
      else resolve(last ?? "");
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(`timed out after ${timeoutMs} ms waiting for ${what} in ${path} (last read: ${JSON.stringify(last?.slice(-500))})`),
        ),
      timeoutMs,
    );
    let reading = Promise.resolve();
    // reads one at a time, in the order the events came, so a late read never overtakes a newer one
    const check = () => {
      reading = reading.then(async () => {
        if (finished) return;
        last = await readFile(path, "utf8").catch(() => undefined);
        if (ready(last)) finish();
      });
      return reading;
    };
    watcher.on("error", (error) => finish(error));
    void check();
  });
}
