import { Chalk, type ChalkInstance } from "chalk";
import { type OutStream, redactingStream } from "./iostreams";

/** Colour and spinners only for a person at a terminal: stderr is a TTY, NO_COLOR unset, no --no-color. */
export function colorEnabled(stream: NodeJS.WriteStream = process.stderr, flag = true, env: NodeJS.ProcessEnv = process.env): boolean {
  if (!flag) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

export function createStyle(enabled: boolean): ChalkInstance {
  return new Chalk({ level: enabled ? 1 : 0 });
}

export interface Spinner {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

const silentSpinner: Spinner = { update() {}, succeed() {}, fail() {}, stop() {} };

/**
 * An ora spinner on a TTY; a no-op otherwise, so callers never branch on it. Given the run's stderr, it draws
 * through that stream's redacting writer.
 */
export async function startSpinner(text: string, enabled: boolean, stream?: OutStream): Promise<Spinner> {
  if (!enabled) return silentSpinner;
  const { default: ora } = await import("ora");
  // isEnabled: the caller decided it is a terminal (ora alone would go quiet whenever $CI is set, even on a
  // TTY); discardStdin off: a tool reading its input from a terminal must not have ora switch it to raw mode.
  // Always through a redacting writer, whose width is never 0 (see OutStream.writable): ora divides by it.
  const spinner = ora({
    text,
    stream: (stream ?? redactingStream(process.stderr)).writable as NodeJS.WriteStream,
    isEnabled: true,
    discardStdin: false,
  }).start();
  return {
    update: (t) => {
      spinner.text = t;
    },
    succeed: (t) => spinner.succeed(t),
    fail: (t) => spinner.fail(t),
    stop: () => spinner.stop(),
  };
}
