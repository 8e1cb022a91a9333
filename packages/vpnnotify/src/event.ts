/**
 * A VPN session event as the hooks of OpenVPN, strongSwan/libreswan and ocserv describe it in
 * their environment. This module has no dependencies: the hook's fast path loads it on every connect.
 */

export type VpnEventKind = "connect" | "disconnect";
export type VpnSource = "openvpn" | "updown" | "ocserv" | "cli";

export interface VpnEvent {
  kind: VpnEventKind;
  source: VpnSource;
  user: string;
  /** The client's public address, as the VPN server saw it. */
  ip: string;
  port?: number;
  /** The address the client got inside the tunnel. */
  vpnIp?: string;
  /** Epoch milliseconds. */
  time: number;
  /** Session length, on disconnect, when the server reports it. */
  durationSec?: number;
  /** OpenVPN's client_connect_deferred_file, when the server offers deferred client-connect. */
  deferredFile?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Why an environment is not a usable hook call; the CLI turns it into one line and exit 64. */
export class EventError extends Error {}

/** Which hook called us, from the environment; undefined when none did. */
export function detectSource(env: Env): Exclude<VpnSource, "cli"> | undefined {
  if (env.script_type) return "openvpn";
  if (env.PLUTO_VERB) return "updown";
  if (env.REASON && (env.IP_REAL !== undefined || env.USERNAME !== undefined)) return "ocserv";
  return undefined;
}

/** The event of a hook call, or undefined for a hook phase vpnnotify has nothing to do in (e.g. OpenVPN's `up`). */
export function eventFromEnv(source: Exclude<VpnSource, "cli">, env: Env, now: number = Date.now()): VpnEvent | undefined {
  switch (source) {
    case "openvpn":
      return openvpnEvent(env, now);
    case "updown":
      return updownEvent(env, now);
    case "ocserv":
      return ocservEvent(env, now);
  }
}

function openvpnEvent(env: Env, now: number): VpnEvent | undefined {
  const kind = env.script_type === "client-connect" ? "connect" : env.script_type === "client-disconnect" ? "disconnect" : undefined;
  if (!kind) return undefined;
  const user = nonEmpty(env.username) ?? nonEmpty(env.common_name);
  if (!user) throw new EventError("OpenVPN gave neither username nor common_name");
  const ip = nonEmpty(env.trusted_ip) ?? nonEmpty(env.trusted_ip6);
  if (!ip) throw new EventError("OpenVPN gave neither trusted_ip nor trusted_ip6");
  const seconds = integer(env.time_unix);
  return {
    kind,
    source: "openvpn",
    user,
    ip,
    ...optional("port", integer(env.trusted_port)),
    ...optional("vpnIp", nonEmpty(env.ifconfig_pool_remote_ip) ?? nonEmpty(env.ifconfig_pool_remote_ip6)),
    time: seconds === undefined ? now : seconds * 1000 + (kind === "disconnect" ? (integer(env.time_duration) ?? 0) * 1000 : 0),
    ...optional("durationSec", kind === "disconnect" ? integer(env.time_duration) : undefined),
    ...optional("deferredFile", kind === "connect" ? nonEmpty(env.client_connect_deferred_file) : undefined),
  };
}

function updownEvent(env: Env, now: number): VpnEvent | undefined {
  const verb = env.PLUTO_VERB ?? "";
  const kind = /^up-(client|host)(-v6)?$/.test(verb) ? "connect" : /^down-(client|host)(-v6)?$/.test(verb) ? "disconnect" : undefined;
  if (!kind) return undefined;
  const id = nonEmpty(env.PLUTO_XAUTH_ID) ?? nonEmpty(env.PLUTO_PEER_EAP_IDENTITY) ?? nonEmpty(env.PLUTO_PEER_ID);
  if (!id) throw new EventError("updown gave none of PLUTO_XAUTH_ID, PLUTO_PEER_EAP_IDENTITY, PLUTO_PEER_ID");
  const ip = nonEmpty(env.PLUTO_PEER);
  if (!ip) throw new EventError("updown gave no PLUTO_PEER");
  return {
    kind,
    source: "updown",
    user: userFromPeerId(id),
    ip,
    ...optional("vpnIp", nonEmpty(env.PLUTO_PEER_SOURCEIP)),
    time: now,
  };
}

/** A certificate subject as the peer id ("C=DE, O=Example, CN=alice") names its owner by CN. */
function userFromPeerId(id: string): string {
  const cn = /(?:^|[,/]\s*)CN=([^,/]+)/i.exec(id);
  return cn?.[1]?.trim() ?? id;
}

function ocservEvent(env: Env, now: number): VpnEvent | undefined {
  const kind = env.REASON === "connect" ? "connect" : env.REASON === "disconnect" ? "disconnect" : undefined;
  if (!kind) return undefined;
  const user = nonEmpty(env.USERNAME);
  if (!user) throw new EventError("ocserv gave no USERNAME");
  const ip = nonEmpty(env.IP_REAL);
  if (!ip) throw new EventError("ocserv gave no IP_REAL");
  return {
    kind,
    source: "ocserv",
    user,
    ip,
    ...optional("vpnIp", nonEmpty(env.IP_REMOTE)),
    time: now,
    ...optional("durationSec", kind === "disconnect" ? integer(env.STATS_DURATION) : undefined),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function integer(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
