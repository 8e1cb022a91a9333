import type { Recipient } from "./directory";
import type { VpnEvent } from "./event";
import { type GeoInfo, placeName } from "./geoip";
import type { Decision } from "./places";
import { cutField, type TemplateContext } from "./template";

/** "23 Nov 2026, 14:05 CET" in the given zone. */
export function formatTime(time: number, timeZone: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(time);
}

/** Why a login also goes to the security channel; empty when it does not. */
export function securityReasons(decision: Decision, recipient: Recipient, user: string): string[] {
  const why: string[] = [];
  const disowned = decision.disownedPlace;
  if (disowned) {
    why.push(`from where ${cutField(user)} said a login was NOT them (the login of ${new Date(disowned.login).toISOString()})`);
  }
  // One reason, however many logins: the fix is in the log and in `vpnnotify status`.
  if (decision.marksUnreadable !== undefined) why.push(`the 'not me' marks could not be read: ${decision.marksUnreadable}`);
  if (decision.newCountry) why.push("new country");
  if (decision.unplaced)
    why.push("unknown location: no GeoIP database places this public address, so the new-country and travel checks could not run");
  const travel = decision.impossibleTravel;
  if (travel) {
    const speed = Number.isFinite(travel.kmh)
      ? `${travel.kmh} km/h`
      : travel.beforeMs !== undefined
        ? `this login was ${formatDelay(travel.beforeMs)} before that one, which was reported first`
        : travel.duringSession
          ? "while that session was still connected"
          : "at the same moment";
    why.push(`impossible travel: ${travel.km} km from ${travel.from} (${speed})`);
  }
  if ("problem" in recipient) why.push(`nobody to tell: ${recipient.problem}`);
  return why;
}

export interface MessageFacts {
  event: Pick<VpnEvent, "source" | "user" | "port" | "vpnIp" | "time">;
  ip: string;
  geo: GeoInfo;
  decision: Decision;
  recipient: Recipient;
  server: { name: string; environment?: string | undefined };
  defaultTimeZone: string;
  /** Set when the message goes out late (from the spool): how long after the login. */
  delayedMs?: number;
  /** OpenVPN was told to refuse the login (onFailure reject). */
  loginRefused?: boolean;
}

/** "under a minute", "3 min", "2 h 5 min", "1 d 4 h": how late a spooled message is. */
export function formatDelay(ms: number): string {
  if (ms < 60_000) return "under a minute";
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return hours % 24 ? `${Math.floor(hours / 24)} d ${hours % 24} h` : `${Math.floor(hours / 24)} d`;
}

export function messageContext(facts: MessageFacts): TemplateContext {
  const { event, geo, decision, recipient } = facts;
  const timeZone = ("timeZone" in recipient && recipient.timeZone) || facts.defaultTimeZone;
  const travel = decision.impossibleTravel;
  return {
    user: event.user,
    slackUser: "slackId" in recipient ? recipient.slackId : undefined,
    ip: facts.ip,
    port: event.port,
    vpnIp: event.vpnIp,
    location: placeName(geo),
    city: geo.city,
    region: geo.region,
    country: geo.country,
    countryCode: geo.countryCode,
    asn: geo.asn ? `AS${geo.asn}` : undefined,
    org: geo.org,
    server: facts.server.name,
    environment: facts.server.environment,
    time: formatTime(event.time, timeZone),
    timeZone,
    newPlace: decision.newPlace,
    newCountry: decision.newCountry,
    impossibleTravel: travel !== undefined,
    travelKm: travel?.km,
    travelKmh: travel && Number.isFinite(travel.kmh) ? travel.kmh : undefined,
    previousLocation: decision.previous?.place,
    previousTime: decision.previous ? formatTime(decision.previous.time, timeZone) : undefined,
    flags: securityReasons(decision, recipient, event.user).join("; "),
    reason: decision.reason,
    source: event.source,
    delayed: facts.delayedMs === undefined ? undefined : formatDelay(facts.delayedMs),
    loginRefused: facts.loginRefused === true,
  };
}
