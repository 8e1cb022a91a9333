import { escapeControls } from "./escape";
import type { AuditEvent, OutputRecord } from "./event";

export interface Connection {
  time: string;
  id: string;
  node?: string;
  /** outbound: connect/sendto/sendmsg; inbound: accept; listen: bind. */
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
  port?: number;
}

const DIRECTIONS: Readonly<Record<string, Connection["direction"]>> = {
  connect: "outbound",
  sendto: "outbound",
  sendmsg: "outbound",
  sendmmsg: "outbound",
  accept: "inbound",
  accept4: "inbound",
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
  const sa = e.sockaddr;
  if (syscall === undefined || direction === undefined || sa === undefined || e.id === null || e.time === null) return undefined;
  let address: string;
  let port: number | undefined;
  let family: string = sa.family;
  if (sa.family === "inet") {
    address = sa.address;
    port = sa.port;
  } else if (sa.family === "inet6") {
    address = sa.scope === undefined ? sa.address : `${sa.address}%${sa.scope}`;
    port = sa.port;
  } else if (sa.family === "unix") {
    address = sa.abstract ? `@${sa.path}` : sa.path;
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

/** The call a socketcall(2) made (its SYSCALL record's a0, read as a name), if the records say. */
function socketcallOf(records: readonly OutputRecord[] | undefined): string | undefined {
  const a0 = records?.find((r) => r.type === "SYSCALL")?.fields.a0;
  return typeof a0 === "string" && DIRECTIONS[a0] !== undefined ? a0 : undefined;
}

/** One line for people, control characters escaped (see escapeControls). */
export function formatConnection(c: Connection): string {
  return escapeControls(connectionText(c));
}

/** formatConnection() before escaping, for callers that escape the whole line they build. */
export function connectionText(c: Connection): string {
  const arrow = c.direction === "outbound" ? "->" : c.direction === "inbound" ? "<-" : "listen";
  const where = c.port === undefined ? c.address : c.family === "inet6" ? `[${c.address}]:${c.port}` : `${c.address}:${c.port}`;
  const result = c.inProgress
    ? " (in progress: nonblocking connect)"
    : c.success === false
      ? ` (failed${c.exit === undefined ? "" : `: ${c.exit}`})`
      : "";
  return `${c.time} ${c.auid ?? "?"} ${c.comm ?? "?"}[${c.pid ?? "?"}] ${c.syscall} ${arrow} ${c.family} ${where}${result}`;
}
