/**
 * Just enough of the DNS wire format (RFC 1035 §4) for one SRV query (RFC 2782) and its answer, TTLs
 * included — Node's resolver drops the TTL of SRV records. Hand-written rather than dns-packet: that
 * library added 33 KB (27%) to the login bundle sshd loads on every login, for one record type.
 * Every read is bounds-checked; a malformed reply throws (the caller then treats DNS as failed).
 */

const TYPE_SRV = 33;
const CLASS_IN = 1;
const FLAG_RESPONSE = 0x8000;
const FLAG_TRUNCATED = 0x0200;
const FLAG_RECURSION_DESIRED = 0x0100;

export interface WireSrv {
  name: string;
  ttl: number;
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export type WireAnswer = { rcode: number; truncated: boolean; records: WireSrv[] };

export function encodeSrvQuery(id: number, name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".");
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(FLAG_RECURSION_DESIRED, 2);
  header.writeUInt16BE(1, 4);
  const parts = labels.map((label) => {
    const bytes = Buffer.from(label, "ascii");
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`invalid DNS name ${JSON.stringify(name)}`);
    return Buffer.concat([Buffer.from([bytes.length]), bytes]);
  });
  const tail = Buffer.alloc(5);
  tail.writeUInt16BE(TYPE_SRV, 1);
  tail.writeUInt16BE(CLASS_IN, 3);
  return Buffer.concat([header, ...parts, tail]);
}

export function decodeSrvAnswer(message: Buffer, id: number): WireAnswer {
  const reader = new Reader(message);
  if (reader.u16() !== id) throw new Error("DNS reply for another query");
  const flags = reader.u16();
  if ((flags & FLAG_RESPONSE) === 0) throw new Error("DNS message is not a reply");
  const [questions, answers] = [reader.u16(), reader.u16()];
  reader.skip(4);
  for (let i = 0; i < questions; i++) {
    reader.name();
    reader.skip(4);
  }
  const records: WireSrv[] = [];
  for (let i = 0; i < answers; i++) {
    const name = reader.name();
    const [type, klass, ttl, length] = [reader.u16(), reader.u16(), reader.u32(), reader.u16()];
    const end = reader.offset + length;
    if (end > message.length) throw new Error("DNS record runs past the message");
    if (type === TYPE_SRV && klass === CLASS_IN) {
      const [priority, weight, port] = [reader.u16(), reader.u16(), reader.u16()];
      records.push({ name, ttl, priority, weight, port, target: reader.name() });
    }
    reader.offset = end;
  }
  return { rcode: flags & 0x0f, truncated: (flags & FLAG_TRUNCATED) !== 0, records };
}

class Reader {
  offset = 0;
  constructor(private readonly buf: Buffer) {}

  #need(n: number, at = this.offset): void {
    if (at + n > this.buf.length) throw new Error("DNS message is truncated");
  }
  u16(): number {
    this.#need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  skip(n: number): void {
    this.#need(n);
    this.offset += n;
  }
  /** A possibly compressed name (RFC 1035 §4.1.4); pointers may only point backwards, so a loop cannot form. */
  name(): string {
    const labels: string[] = [];
    let at = this.offset;
    let resumeAt: number | undefined;
    let length = 0;
    while (true) {
      this.#need(1, at);
      const size = this.buf[at] ?? 0;
      if (size === 0) {
        at += 1;
        break;
      }
      if ((size & 0xc0) === 0xc0) {
        this.#need(2, at);
        const target = this.buf.readUInt16BE(at) & 0x3fff;
        if (target >= at) throw new Error("DNS name pointer does not point backwards");
        resumeAt ??= at + 2;
        at = target;
        continue;
      }
      if (size > 63) throw new Error("DNS label too long");
      this.#need(1 + size, at);
      labels.push(this.buf.toString("latin1", at + 1, at + 1 + size));
      length += size + 1;
      if (length > 255) throw new Error("DNS name too long");
      at += 1 + size;
    }
    this.offset = resumeAt ?? at;
    return labels.join(".");
  }
}
