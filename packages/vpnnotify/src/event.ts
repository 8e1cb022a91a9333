/**
 * A VPN session event as the hooks of OpenVPN, strongSwan/libreswan and ocserv describe it in
 * their environment.
 */

/** How far from this host's clock a login's own time may be and still be believed (a day: any clock skew). */
export const CLOCK_SKEW_MS = 86_400_000;

export type VpnEventKind = "connect" | "disconnect";
export type HookSource = "openvpn" | "updown" | "ocserv";
export type VpnSource = HookSource | "cli";

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

/**
 * A user name as vpnnotify takes it from a hook or from `notify --user`: trimmed, and none at all when nothing
 * visible is left (only spaces, control or format characters): nobody could be told, and every such login
 * would share one history. parseHookEnv carries the same test inline (it must stay self-contained).
 */
export function vpnUser(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v && /[^\p{White_Space}\p{Cc}\p{Cf}]/u.test(v) ? v : undefined;
}

/**
 * The key of a user's history: OpenVPN, LDAP's caseIgnoreMatch and Slack's email lookup treat
 * "Alice", " alice" and "alice" as one person, so their logins share one memory of places.
 */
export function historyKey(user: string): string {
  return user.normalize("NFC").trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * Which hook called, and its event; no event for a phase with nothing to do (OpenVPN's `up`),
 * `problem` for unusable input. `refuse`: the hook's exit code is a verdict vpnnotify cannot give
 * (OpenVPN's auth-user-pass-verify), so it must exit non-zero instead of letting the login pass.
 */
export interface HookCall {
  source: HookSource;
  event?: VpnEvent;
  problem?: string;
  refuse?: boolean;
}

/**
 * Reads a hook call from the environment; undefined when no VPN server called us. It is
 * self-contained (no reference to anything outside its body) because `vpnnotify install` copies
 * its source into the launcher, which answers hooks without loading the bundle.
 */
export function parseHookEnv(env: Env, now: number): HookCall | undefined {
  const text = (value: string | undefined): string | undefined => {
    const v = value?.trim();
    return v ? v : undefined;
  };
  // vpnUser's test: a name with nothing visible is no name.
  const name = (value: string | undefined): string | undefined => {
    const v = text(value);
    return v && /[^\p{White_Space}\p{Cc}\p{Cf}]/u.test(v) ? v : undefined;
  };
  const int = (value: string | undefined): number | undefined =>
    value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
  const defined = <T extends object>(fields: T): T => {
    for (const key of Object.keys(fields) as (keyof T)[]) if (fields[key] === undefined) delete fields[key];
    return fields;
  };
  if (env.script_type) {
    // There exit 0 means "the password is right": a notifier answering 0 would accept any password.
    if (env.script_type === "user-pass-verify") {
      return {
        source: "openvpn",
        refuse: true,
        problem:
          "OpenVPN runs vpnnotify as auth-user-pass-verify, where exit 0 means the password is right; vpnnotify checks no password, so it refuses every login there (wire it as client-connect instead)",
      };
    }
    const kind: VpnEventKind | undefined =
      env.script_type === "client-connect" ? "connect" : env.script_type === "client-disconnect" ? "disconnect" : undefined;
    if (!kind) return { source: "openvpn" };
    const user = name(env.username) ?? name(env.common_name);
    if (!user) return { source: "openvpn", problem: "OpenVPN gave neither username nor common_name" };
    const ip = text(env.trusted_ip) ?? text(env.trusted_ip6);
    if (!ip) return { source: "openvpn", problem: "OpenVPN gave neither trusted_ip nor trusted_ip6" };
    const started = int(env.time_unix);
    const duration = kind === "disconnect" ? int(env.time_duration) : undefined;
    const told = started === undefined ? undefined : (started + (duration ?? 0)) * 1000;
    // OpenVPN stamps time_unix with this host's clock as the client connects: a time a day or more away from now
    // is not one (a Date cannot even hold 8640000000001, and such a login's alert could never be written), so the
    // login is stamped now, as for a time_unix that is no number at all.
    // 86_400_000 is CLOCK_SKEW_MS, written out: this function is copied into the launcher alone (launcherFastPath)
    const time = told !== undefined && Math.abs(told - now) < 86_400_000 ? told : now;
    const event: VpnEvent = defined({
      kind,
      source: "openvpn" as const,
      user,
      ip,
      port: int(env.trusted_port),
      vpnIp: text(env.ifconfig_pool_remote_ip) ?? text(env.ifconfig_pool_remote_ip6),
      time,
      durationSec: duration,
      deferredFile: kind === "connect" ? text(env.client_connect_deferred_file) : undefined,
    });
    return { source: "openvpn", event };
  }
  if (env.PLUTO_VERB) {
    const verb = env.PLUTO_VERB;
    const kind: VpnEventKind | undefined = /^up-(client|host)(-v6)?$/.test(verb)
      ? "connect"
      : /^down-(client|host)(-v6)?$/.test(verb)
        ? "disconnect"
        : undefined;
    if (!kind) return { source: "updown" };
    const id = name(env.PLUTO_XAUTH_ID) ?? name(env.PLUTO_PEER_EAP_IDENTITY) ?? name(env.PLUTO_PEER_ID);
    if (!id) return { source: "updown", problem: "updown gave none of PLUTO_XAUTH_ID, PLUTO_PEER_EAP_IDENTITY, PLUTO_PEER_ID" };
    const ip = text(env.PLUTO_PEER);
    if (!ip) return { source: "updown", problem: "updown gave no PLUTO_PEER" };
    // A certificate subject as peer id names its owner by its CN. strongSwan prints a DN as "C=CH, O=strongSwan,
    // CN=moon.strongswan.org": each attribute "type=value", joined by ", ", the value as the certificate has it, with no
    // escaping (libstrongswan identification.c, dntoa); libreswan escapes RFC 4514 style ("O=Global\, Support"). So the
    // CN is the user only when the subject has one CN both ways: read with the escapes honoured, and read as strongSwan
    // prints it, where an "O=Ex\, CN=bob" may be an O ending in a backslash and a second CN. Any other subject with a
    // "CN=" stays the user as it is: SlackDirectory.find tells nobody but the security channel (who is meant is unknown).
    // RFC 4514 joins the attributes of a multi-valued RDN by an unescaped "+" ("CN=bob+UID=x"), which strongSwan would
    // print unescaped inside a value as well: a CN beside a "+" is taken neither way.
    const cns: string[] = [];
    let multiValued = false;
    for (const attribute of id.match(/(?:\\.|[^\\,])+/g) ?? []) {
      const at = attribute.indexOf("=");
      if (at < 0 || !/^\s*(?:CN|2\.5\.4\.3)\s*$/i.test(attribute.slice(0, at))) continue;
      const raw = attribute.slice(at + 1);
      if (/^(?:\\.|[^\\+])*\+/s.test(raw)) multiValued = true;
      try {
        // \HH is a byte of the value's UTF-8, \c the character c (RFC 4514 section 2.4).
        cns.push(
          decodeURIComponent(
            raw.replace(/\\([0-9a-f]{2})|\\(.)|([^\\])/gis, (_m, hex: string, char: string, plain: string) =>
              hex ? `%${hex}` : encodeURIComponent(char ?? plain),
            ),
          ),
        );
      } catch {
        // Bytes that are not UTF-8: the value as printed.
        cns.push(raw);
      }
    }
    const printed = id.match(/(?:^|[,+])\s*(?:CN|2\.5\.4\.3)\s*=/gi)?.length ?? 0;
    // A control character (an escaped \00 or \0A) is never part of a user name: such a CN names nobody.
    const cn = cns.length === 1 && printed === 1 && !multiValued && !/\p{Cc}/u.test(cns[0] ?? "") ? name(cns[0]) : undefined;
    return {
      source: "updown",
      event: defined({ kind, source: "updown" as const, user: cn ?? id, ip, vpnIp: text(env.PLUTO_PEER_SOURCEIP), time: now }),
    };
  }
  if (env.REASON && (env.IP_REAL !== undefined || env.USERNAME !== undefined)) {
    const kind: VpnEventKind | undefined = env.REASON === "connect" ? "connect" : env.REASON === "disconnect" ? "disconnect" : undefined;
    if (!kind) return { source: "ocserv" };
    const user = name(env.USERNAME);
    if (!user) return { source: "ocserv", problem: "ocserv gave no USERNAME" };
    const ip = text(env.IP_REAL);
    if (!ip) return { source: "ocserv", problem: "ocserv gave no IP_REAL" };
    const durationSec = kind === "disconnect" ? int(env.STATS_DURATION) : undefined;
    return {
      source: "ocserv",
      event: defined({ kind, source: "ocserv" as const, user, ip, vpnIp: text(env.IP_REMOTE), time: now, durationSec }),
    };
  }
  return undefined;
}
