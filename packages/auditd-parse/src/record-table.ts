import { type FieldInfo, Kind } from "./fields";
import { JsonBytes } from "./json";

/** RecordTable.flags bits. */
export enum RecordFlag {
  /** Read on the text path, or a shape the table does not describe (a repeated name, ENRICHED braces). */
  Fallback = 1,
  /** A PROCTITLE whose proctitle= went to the event: the record has no fields. */
  NoFields = 2,
  /**
   * Its JSON was counted, not written (the interpreter's detect pass): its span in the records' JSON means
   * nothing, and only the members of its interpreted() fields are there. Rewritten when read (EventJson.full).
   */
  NoJson = 4,
}

/**
 * Kinds whose interpretation a rule reads under the upper-case name auditd's ENRICHED format gives it (SYSCALL,
 * UID …; sigma/document.ts): their members' JSON is written even when the rest of a record's is only counted.
 */
export function interpreted(kind: Kind | undefined): boolean {
  return kind === Kind.User || kind === Kind.Group || kind === Kind.Arch || kind === Kind.Syscall;
}

/** Per record: first token, body tokens, ENRICHED tokens, its JSON's start and end in the records' JSON, flags, layout, its body's start and end in `bytes`. */
const R = 9;
/** Per token: value start and end in `bytes`, its member's JSON start and end in the records' JSON. */
const T = 4;

/**
 * An event's records as the interpreter read them, for detect: each record's type, its tokens (field
 * name and where the value's bytes are, copied out of the input line) and where each field's JSON was
 * written in the event's records JSON. Sigma documents (sigma/table-doc.ts) read values from it when a rule
 * asks, so no record is written as JSON text and parsed back to be matched. Each record's body is kept
 * whole, so the event can be interpreted again with its JSON written (an alert prints it). Reused with its
 * event's buffers.
 */
export class RecordTable {
  /** The records' bodies, copied whole from the input (whose chunks are reused before the event completes). */
  bytes = new JsonBytes(4096);
  count = 0;
  recs = new Int32Array(16 * R);
  types: string[] = [];
  tokens = new Int32Array(64 * T);
  infos: FieldInfo[] = [];
  private tokenCount = 0;

  reset(): void {
    this.bytes.reset();
    this.count = 0;
    this.tokenCount = 0;
    // reused in place; what a long event grew is dropped, not held in the pool of event buffers
    if (this.types.length > 64) this.types = [];
    if (this.infos.length > 1024) this.infos = [];
    if (this.tokens.length > 1024 * T) this.tokens = new Int32Array(64 * T);
    if (this.recs.length > 256 * R) this.recs = new Int32Array(16 * R);
    // the bodies' copy is kept up to the 1 MiB the event's JSON buffers are pooled under (POOL_MAX_BYTES): at
    // 64 KB, each exec of 600 long arguments (~250 KB of bodies) grew a new one from 4 KB, ~0.5 MB of buffers
    // made and collected per event (detect on the second tester's `longargv`: 1.61 → 1.47 CPU s per 80 MiB)
    if (this.bytes.buf.length > 1 << 20) this.bytes = new JsonBytes(4096);
  }

  /** A record read on the text path, its body buf[from, to): only its JSON is known. */
  textRecord(type: string, buf: Buffer, from: number, to: number, jsonStart: number, jsonEnd: number): void {
    const line = this.bytes.length;
    this.bytes.append(buf, from, to);
    this.add(type, this.tokenCount, 0, 0, jsonStart, jsonEnd, RecordFlag.Fallback, line);
  }

  /**
   * A record read on the byte path, its body buf[from, to): its tokens (offsets as Interpreter.scan leaves
   * them: key start, key end, value start, value end; the ENRICHED ones after `body` up to a -1) and, per
   * body token, its member's JSON span (spans[2t], spans[2t+1]; equal when no member was written).
   */
  byteRecord(
    type: string,
    buf: Buffer,
    from: number,
    to: number,
    offsets: Int32Array,
    infos: readonly FieldInfo[],
    body: number,
    spans: Int32Array,
    jsonStart: number,
    jsonEnd: number,
    flags: number,
    layouts: Layouts,
  ): void {
    let all = body;
    while (offsets[all * 4] !== -1) all++;
    const first = this.tokenCount;
    this.reserveTokens(all);
    const tokens = this.tokens;
    // the body in one copy: its values are read from it, and the event interpreted again from it
    const line = this.bytes.length;
    const base = line - from;
    this.bytes.append(buf, from, to);
    let f = flags;
    for (let t = 0; t < all; t++) {
      const start = offsets[t * 4 + 2]!;
      const k = (first + t) * T;
      tokens[k] = start + base;
      tokens[k + 1] = offsets[t * 4 + 3]! + base;
      tokens[k + 2] = t < body ? spans[t * 2]! : 0;
      tokens[k + 3] = t < body ? spans[t * 2 + 1]! : 0;
      this.infos[first + t] = infos[t]!;
      // ENRICHED braces (SADDR={ … }) are an object in the JSON: that record is read from its JSON
      if (t >= body && buf[start] === 123) f |= RecordFlag.Fallback;
    }
    this.tokenCount += all;
    this.add(type, first, body, all - body, jsonStart, jsonEnd, f, line);
    this.recs[(this.count - 1) * R + 6] = layouts.of(type, infos, body, all);
  }

  /** Record r's first token, body and ENRICHED token counts, JSON span and flags. */
  firstToken(r: number): number {
    return this.recs[r * R]!;
  }
  bodyTokens(r: number): number {
    return this.recs[r * R + 1]!;
  }
  enrichedTokens(r: number): number {
    return this.recs[r * R + 2]!;
  }
  jsonStart(r: number): number {
    return this.recs[r * R + 3]!;
  }
  jsonEnd(r: number): number {
    return this.recs[r * R + 4]!;
  }
  flags(r: number): number {
    return this.recs[r * R + 5]!;
  }
  /** Record r's layout (Layouts), 0 for a record read on the text path. */
  layout(r: number): number {
    return this.recs[r * R + 6]!;
  }
  /** Record r's body in `bytes`, as it was logged. */
  lineStart(r: number): number {
    return this.recs[r * R + 7]!;
  }
  lineEnd(r: number): number {
    return this.recs[r * R + 8]!;
  }
  /** Token k's value bytes in `bytes`, and its member's JSON span. */
  valueStart(k: number): number {
    return this.tokens[k * T]!;
  }
  valueEnd(k: number): number {
    return this.tokens[k * T + 1]!;
  }
  memberStart(k: number): number {
    return this.tokens[k * T + 2]!;
  }
  memberEnd(k: number): number {
    return this.tokens[k * T + 3]!;
  }

  private add(
    type: string,
    first: number,
    body: number,
    enriched: number,
    jsonStart: number,
    jsonEnd: number,
    flags: number,
    line: number,
  ): void {
    if ((this.count + 1) * R > this.recs.length) {
      const grown = new Int32Array(this.recs.length * 2);
      grown.set(this.recs);
      this.recs = grown;
    }
    const k = this.count * R;
    const recs = this.recs;
    recs[k] = first;
    recs[k + 1] = body;
    recs[k + 2] = enriched;
    recs[k + 3] = jsonStart;
    recs[k + 4] = jsonEnd;
    recs[k + 5] = flags;
    recs[k + 6] = 0;
    recs[k + 7] = line;
    recs[k + 8] = this.bytes.length;
    this.types[this.count++] = type;
  }

  private reserveTokens(n: number): void {
    const need = (this.tokenCount + n) * T;
    if (need <= this.tokens.length) return;
    let size = this.tokens.length * 2;
    while (size < need) size *= 2;
    const grown = new Int32Array(size);
    grown.set(this.tokens);
    this.tokens = grown;
  }
}

/** Layout numbers are unique in the process: a rule engine may read the tables of several parsers. */
let nextLayout = 1;

/**
 * Numbers the layouts of records read on the byte path: records of one type with the same fields in the
 * same order (the same FieldInfo objects, ENRICHED part included) share a number, so where a field is in
 * them is worked out once per layout (sigma/table-doc.ts), not per record. Layouts are found by a hash of
 * their names: a log's records of one type come in a few layouts, interleaved (the corpus has ~5 per type).
 */
export class Layouts {
  private readonly byHash = new Map<number, Layout[]>();
  private count = 0;
  /** The layout of the last record of each type (a log interleaves its types: SYSCALL, EXECVE, PATH …). */
  private readonly lastOf = new Map<string, Layout>();

  of(type: string, infos: readonly FieldInfo[], body: number, all: number): number {
    // most records repeat the layout of the last of their type: checked first, without hashing
    const last = this.lastOf.get(type);
    if (last !== undefined && same(last, infos, body, all)) return last.id;
    let h = body;
    for (let i = 0; i < type.length; i++) h = (Math.imul(h, 31) + type.charCodeAt(i)) | 0;
    for (let t = 0; t < all; t++) {
      const info = infos[t]!;
      h = (Math.imul(h, 31) + (info.head ^ Math.imul(info.mid, 7) ^ info.bytes.length)) | 0;
    }
    const list = this.byHash.get(h);
    if (list !== undefined)
      for (const l of list)
        if (l.type === type && same(l, infos, body, all)) {
          this.remember(l);
          return l.id;
        }
    // corrupt input could invent endless layouts (and types): a bounded number is remembered
    if (this.count >= 8192) {
      this.byHash.clear();
      this.lastOf.clear();
      this.count = 0;
    }
    const id = nextLayout++;
    const layout = { id, type, body, infos: infos.slice(0, all) };
    if (list === undefined) this.byHash.set(h, [layout]);
    else list.push(layout);
    this.count++;
    this.remember(layout);
    return id;
  }

  private remember(layout: Layout): void {
    if (this.lastOf.size >= 1024 && !this.lastOf.has(layout.type)) this.lastOf.clear();
    this.lastOf.set(layout.type, layout);
  }
}

interface Layout {
  id: number;
  type: string;
  body: number;
  infos: FieldInfo[];
}

function same(l: Layout, infos: readonly FieldInfo[], body: number, all: number): boolean {
  if (l.body !== body || l.infos.length !== all) return false;
  for (let t = 0; t < all; t++) if (l.infos[t] !== infos[t]) return false;
  return true;
}
