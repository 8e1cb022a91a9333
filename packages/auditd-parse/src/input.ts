import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { createGunzip } from "node:zlib";
import { NoInputError } from "@opsguard/core/errors";

const CHUNK = 64 * 1024;

/**
 * Rotated logs in the order they were written: audit.log.3 … audit.log.1, then audit.log. Arguments that are
 * not part of a rotation set keep their place.
 */
export function rotationOrder(files: readonly string[]): string[] {
  const rank = (file: string): number => {
    const m = /\.(\d+)(\.gz)?$/.exec(basename(file));
    return m ? Number(m[1]) : 0;
  };
  return [...files].sort((a, b) => rank(b) - rank(a));
}

/** Feeds every chunk of a file (gunzipped when it is gzip) or of stdin ("-") to onChunk. */
export async function readInput(file: string, onChunk: (chunk: Buffer) => void | Promise<void>): Promise<void> {
  let stream: Readable;
  if (file === "-") {
    stream = process.stdin;
  } else {
    checkReadable(file);
    stream = createReadStream(file, { highWaterMark: CHUNK });
    if (isGzip(file)) stream = stream.pipe(createGunzip({ chunkSize: CHUNK }));
  }
  try {
    for await (const chunk of stream) await onChunk(chunk as Buffer);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code?.startsWith("Z_"))
      throw new NoInputError(`${file}: corrupt gzip data (${code})`, { hint: "check the file or decompress it by hand" });
    throw error;
  }
}

function checkReadable(file: string): void {
  try {
    if (statSync(file).isDirectory())
      throw new NoInputError(`${file} is a directory`, { hint: "pass the log files, e.g. /var/log/audit/audit.log*" });
  } catch (error) {
    if (error instanceof NoInputError) throw error;
    throw new NoInputError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: "check the path and that you may read it (audit logs are usually root-only)",
    });
  }
}

function isGzip(file: string): boolean {
  if (file.endsWith(".gz")) return true;
  const fd = openSync(file, "r");
  try {
    const magic = Buffer.alloc(2);
    return readSync(fd, magic, 0, 2, 0) === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

export interface FollowOptions {
  /** Start at the end of the file (like tail -F) instead of the beginning. */
  fromEnd: boolean;
  intervalMs?: number;
  signal: AbortSignal;
  /** Called after every poll, new data or not (to complete events on a wall clock). */
  onTick: () => void | Promise<void>;
}

/**
 * tail -F: reads what is appended to `file`; when the file is rotated (new inode) or truncated, finishes the
 * old one and continues with the new file from its start. Polls, so it works on every filesystem.
 */
export async function followFile(file: string, onChunk: (chunk: Buffer) => void | Promise<void>, options: FollowOptions): Promise<void> {
  const interval = options.intervalMs ?? 250;
  const buffer = Buffer.alloc(CHUNK);
  let fd: number | undefined;
  let ino = -1;
  let pos = 0;
  const open = (fromEnd: boolean): void => {
    try {
      fd = openSync(file, "r");
      const st = statSync(file);
      ino = st.ino;
      pos = fromEnd ? st.size : 0;
    } catch {
      fd = undefined;
    }
  };
  const drain = async (): Promise<void> => {
    if (fd === undefined) return;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, pos);
      if (n <= 0) return;
      pos += n;
      await onChunk(Buffer.from(buffer.subarray(0, n)));
    }
  };
  open(options.fromEnd);
  if (fd === undefined && !options.signal.aborted) checkReadable(file);
  try {
    while (!options.signal.aborted) {
      await drain();
      let st: { ino: number; size: number } | undefined;
      try {
        st = statSync(file);
      } catch {
        st = undefined;
      }
      if (st && (st.ino !== ino || st.size < pos)) {
        await drain();
        if (fd !== undefined) closeSync(fd);
        open(false);
        continue;
      }
      await options.onTick();
      await delay(interval, undefined, { signal: options.signal }).catch(() => undefined);
    }
    await drain();
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
