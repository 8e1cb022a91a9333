import { EventJson } from "./event-json";

/** Bytes of lines a chunk takes; a longer line gets a chunk of its own. */
const CHUNK_BYTES = 64 << 10;
/**
 * Emptied chunks kept for reuse, at most (the rest are left to the collector): as many as the grouping's bound on
 * held bytes (4 MiB) fills, so a burst of held lines however large reuses the chunks of the one before. 8 were too
 * few for the 256 events held behind an open one on `mixed` (~1.9 KB lines): 57 made, 3.6 MB of garbage waiting for
 * a mark-compact. 16 were too few for T25's `relay.log`, where up to 512 events of 2-14 KB wait behind a lone
 * LOGIN: 565 chunks made (35 MB of garbage), peak RSS 64-66 MiB; 50 made with 64 kept, -2 MiB (issue 23).
 */
const SPARE_CHUNKS = 64;

/** Part of the store: lines side by side, and how many of them are still to be read. */
export interface LineChunk {
  readonly buf: Buffer;
  used: number;
  lines: number;
}

/**
 * The NDJSON lines of events the grouping holds back for order (Interpreter.settle), side by side in chunks of
 * 64 KiB, so a held event keeps its line's bytes rather than its buffer set (8.7 KB at least). Held events leave
 * in about the order they came, so a chunk empties soon after the next one starts. Not a line per allocation: on
 * the heap (strings) or as a buffer each, the lines of ~100,000 held events cost more memory than they saved.
 */
export class HeldLines {
  private current: LineChunk = { buf: Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0, lines: 0 };
  private readonly spare: LineChunk[] = [];
  /** Chunks of CHUNK_BYTES made: a long run makes a few, not one per burst of held events. */
  chunksMade = 1;

  /** Copies the line in (without its newline); returns its chunk, the line at [used - length, used) then. */
  put(json: EventJson): LineChunk {
    const length = json.lineLength;
    let chunk = this.current;
    if (length > CHUNK_BYTES) {
      chunk = { buf: Buffer.allocUnsafeSlow(length), used: 0, lines: 0 };
    } else if (chunk.used + length > CHUNK_BYTES) {
      this.retire(chunk);
      chunk = this.spare.pop() ?? this.newChunk();
      this.current = chunk;
    }
    chunk.used = json.copyLine(chunk.buf, chunk.used) - 1;
    chunk.lines++;
    return chunk;
  }

  /**
   * The line at [start, end) of the chunk, read where it lies: copied once more (into a line buffer, then into the
   * output) it cost a copy and a view per held event, and most events are held on multi-host logs (issue 23:
   * 112,926 of 163,918 on the testers' `avc`). Valid until free(chunk).
   */
  line(chunk: LineChunk, start: number, end: number): EventJson {
    return EventJson.held(chunk.buf, start, end);
  }

  /** After its line was read: frees its place in the chunk. */
  free(chunk: LineChunk): void {
    if (--chunk.lines > 0) return;
    // the chunk written to, emptied, starts again at its beginning
    if (chunk === this.current) chunk.used = 0;
    else this.retire(chunk);
  }

  private newChunk(): LineChunk {
    this.chunksMade++;
    return { buf: Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0, lines: 0 };
  }

  /** A chunk no longer written to: back to the spares once all its lines are read. */
  private retire(chunk: LineChunk): void {
    if (chunk.lines > 0 || chunk.buf.length !== CHUNK_BYTES) return;
    chunk.used = 0;
    if (this.spare.length < SPARE_CHUNKS) this.spare.push(chunk);
  }
}
