import { isUtf8 } from "node:buffer";
import { escapeControls } from "./escape";
import type { AuditEvent, OutputRecord } from "./event";

export interface Connection {
  time: string;
  id: string;
  node?: string;
  /** outbound: connect/sendto/sendmsg/sendmmsg; inbound: accept/accept4, recvfrom/recvmsg/recvmmsg; listen: bind. */
  direction: "outbound" | "inbound" | "listen";
  syscall: string;
  success: boolean | undefined;
  /** errno name when the syscall failed (ECONNREFUSED …). */
  exit?: string;
  /** A nonblocking connect that returned EINPROGRESS: the connection is under way, not failed. */
  inProgress?: true;
  pid?: string;
  comm?: string;
  exe?: string;
  auid?: string;
  uid?: string;
  ses?: string;
  family: string;
  /** The peer (outbound, inbound) or the bound local address (listen). Audit does not log the other end. */
  address: string;
  /**
   * Hex of a unix socket path's bytes when they are not UTF-8 (address has U+FFFD in their place), as the event JSON
   * keeps `proctitleRaw`, `nodeRaw`: two paths that differ only in such bytes stay two (T57 F7).
   */
  addressRaw?: string;
  port?: number;
}

const DIRECTIONS: Readonly<Record<string, Connection["direction"]>> = {
  connect: "outbound",
  sendto: "outbound",
  sendmsg: "outbound",
  sendmmsg: "outbound",
  accept: "inbound",
  accept4: "inbound",
  // the kernel logs the sender of a datagram received (move_addr_to_user) as it logs accept's peer; ausearch names
  // these SOCKADDR records, laurel keeps them: an inbound UDP peer left out of the list was no connection unsaid (T57 F8)
  recvfrom: "inbound",
  recvmsg: "inbound",
  recvmmsg: "inbound",
  bind: "listen",
};

/** Address families net lists without decoding their addresses (linux/socket.h), and those too short to decode. */
const FAMILY_NAMES: Readonly<Record<number, string>> = {
  1: "unix",
  2: "inet",
  10: "inet6",
  16: "netlink",
  17: "packet",
  29: "can",
  30: "tipc",
  31: "bluetooth",
  38: "alg",
  40: "vsock",
  44: "xdp",
};

/**
 * The network connection an event records, if any (a socket syscall with a sockaddr). A 32-bit program's socket calls
 * are socketcall(2), the call in its a0 (read as its name: args.ts): `records` gives the event's records for those,
 * and the connection's syscall reads as ausearch writes it, `socketcall(connect)` (T35 N7: left out).
 */
export function connectionOf(e: AuditEvent, records?: () => readonly OutputRecord[]): Connection | undefined {
  const call = e.syscall === "socketcall" ? socketcallOf(records?.() ?? e.records) : undefined;
  const syscall = call === undefined ? e.syscall : `socketcall(${call})`;
  const direction = syscall === undefined ? undefined : DIRECTIONS[call ?? syscall];
  if (syscall === undefined || direction === undefined || e.id === null || e.time === null) return undefined;
  const sa = e.sockaddr ?? unreadableSaddr(e, records);
  if (sa === undefined) return undefined;
  let address: string;
  let addressRaw: string | undefined;
  let port: number | undefined;
  let family = typeof sa === "string" ? "unreadable" : sa.family;
  if (typeof sa === "string") {
    // a saddr that is no hex, or of an odd length (a damaged or forged log): listed with the value as logged, as
    // ausearch lists it (`malformed-host(ZZZZ)`, `sockaddr len too short`), never dropped unsaid (T57 F5)
    address = sa;
  } else if (sa.family === "inet") {
    address = sa.address;
    port = sa.port;
  } else if (sa.family === "inet6") {
    address = sa.scope === undefined ? sa.address : `${sa.address}%${sa.scope}`;
    port = sa.port;
  } else if (sa.family === "unix") {
    address = sa.abstract ? `@${sa.path}` : sa.path;
    if (sa.path.includes("\uFFFD")) addressRaw = unixPathRaw(e, records);
  } else if (sa.family === "netlink") {
    address = `pid ${sa.pid}`;
  } else if (sa.family === "unspec") {
    // connect(AF_UNSPEC) dissolves a datagram socket's peer: no address, but the call is the process's all the same
    address = "-";
  } else {
    // a family not decoded (packet, vsock …) or an address too short for its family: listed with its bytes, not
    // left out unsaid (T34 #7)
    family = FAMILY_NAMES[sa.familyNumber] ?? `family ${sa.familyNumber}`;
    address = `undecoded ${sa.bytes}`;
  }
  const c: Connection = { time: e.time, id: e.id, direction, syscall, success: e.success, family, address };
  if (addressRaw !== undefined) c.addressRaw = addressRaw;
  if (port !== undefined) c.port = port;
  if (e.success === false && e.exit !== undefined) c.exit = e.exit;
  if (e.success === false && e.exit === "EINPROGRESS" && (call ?? syscall) === "connect") c.inProgress = true;
  if (e.node !== undefined) c.node = e.node;
  for (const key of ["pid", "comm", "exe", "auid", "uid", "ses"] as const) {
    const v = e[key];
    if (v !== undefined) c[key] = v;
  }
  return c;
}

/**
 * Whether connectionOf may read the event's records: an i386 socketcall (which call it was), a socket call whose
 * SOCKADDR was logged but could not be read (the value as logged is in its record only), or a unix path that may not
 * be UTF-8 (its bytes are in the record's raw hex only).
 */
export function connectionReadsRecords(e: AuditEvent): boolean {
  if (e.syscall === "socketcall") return true;
  const sa = e.sockaddr;
  if (sa !== undefined) return sa.family === "unix" && sa.path.includes("\uFFFD");
  return e.syscall !== undefined && DIRECTIONS[e.syscall] !== undefined && e.types.includes("SOCKADDR");
}

/** The saddr value of an event's SOCKADDR record that was no address (not hex, an odd length), as logged. */
function unreadableSaddr(e: AuditEvent, records: (() => readonly OutputRecord[]) | undefined): string | undefined {
  if (!e.types.includes("SOCKADDR")) return undefined;
  const saddr = (records?.() ?? e.records).find((r) => r.type === "SOCKADDR")?.fields.saddr;
  return typeof saddr === "string" ? saddr : undefined;
}

/** Hex of the unix path's bytes in the event's SOCKADDR record, when they are not UTF-8. */
function unixPathRaw(e: AuditEvent, records: (() => readonly OutputRecord[]) | undefined): string | undefined {
  const hex = (records?.() ?? e.records).find((r) => r.type === "SOCKADDR")?.raw?.saddr;
  if (hex === undefined) return undefined;
  const bytes = Buffer.from(hex, "hex");
  // the path as decodeSockaddr reads it: after the family (and an abstract name's leading NUL), up to a NUL
  const start = bytes.length > 2 && bytes[2] === 0 ? 3 : 2;
  let end = start;
  while (end < bytes.length && bytes[end] !== 0) end++;
  const path = bytes.subarray(start, end);
  return isUtf8(path) ? undefined : path.toString("hex").toUpperCase();
}

/** The call a socketcall(2) made (its SYSCALL record's a0, read as a name), if the records say. */
function socketcallOf(records: readonly OutputRecord[] | undefined): string | undefined {
  const a0 = records?.find((r) => r.type === "SYSCALL")?.fields.a0;
  return typeof a0 === "string" && DIRECTIONS[a0] !== undefined ? a0 : undefined;
}

/**
 * One line for people, control characters escaped (see escapeControls), with the host (`node=`) of a multi-host log's
 * connection (T57 F8). A unix path that is not UTF-8 shows its bytes: those above 0x7f as `\377`, as ausearch escapes
 * a control byte, so two paths that differ only there read apart (T57 F7).
 */
export function formatConnection(c: Connection): string {
  const [before, where, after] = connectionParts(c);
  const head = escapeControls(`${c.time}${c.node === undefined ? "" : ` node=${c.node}`} ${before}`);
  const address = c.addressRaw === undefined ? escapeControls(where) : `${c.address.startsWith("@") ? "@" : ""}${octalBytes(c.addressRaw)}`;
  return `${head}${address}${escapeControls(after)}`;
}

/** formatConnection() before escaping, without the host, for callers that escape the whole line they build. */
export function connectionText(c: Connection): string {
  const [before, where, after] = connectionParts(c);
  return `${c.time} ${before}${where}${after}`;
}

/** A connection's line after its time: what comes before the address, the address (and port), the result. */
function connectionParts(c: Connection): [string, string, string] {
  const arrow = c.direction === "outbound" ? "->" : c.direction === "inbound" ? "<-" : "listen";
  const where = c.port === undefined ? c.address : c.family === "inet6" ? `[${c.address}]:${c.port}` : `${c.address}:${c.port}`;
  const result = c.inProgress
    ? " (in progress: nonblocking connect)"
    : c.success === false
      ? ` (failed${c.exit === undefined ? "" : `: ${c.exit}`})`
      : "";
  return [`${c.auid ?? "?"} ${c.comm ?? "?"}[${c.pid ?? "?"}] ${c.syscall} ${arrow} ${c.family} `, where, result];
}

/** Hex bytes as text: ASCII escaped as escapeControls does, every other byte as a backslash and three octal digits. */
function octalBytes(hex: string): string {
  let out = "";
  let ascii = "";
  for (const b of Buffer.from(hex, "hex")) {
    if (b < 0x80) {
      ascii += String.fromCharCode(b);
      continue;
    }
    out += `${escapeControls(ascii)}\\${b.toString(8)}`;
    ascii = "";
  }
  return out + escapeControls(ascii);
}
