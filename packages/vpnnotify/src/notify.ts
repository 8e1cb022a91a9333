import { DataError, describeError, type Logger, type SlackClient } from "@opsguard/core";
import { normalizeIp } from "./address";
import type { SlackDirectory } from "./directory";
import type { VpnEvent } from "./event";
import { type GeoInfo, type GeoIp, placeName } from "./geoip";
import { messageContext, securityReasons } from "./message";
import { type Decision, decide, type PlacePolicy, recordLogin, recordSessionEnd, releaseClaim, type UserHistory } from "./places";
import type { PlaceStore } from "./store";
import type { Template } from "./template";

/** Everything a login notification needs, built once per process from the config. */
export interface Notifier {
  geo: GeoIp;
  store: PlaceStore;
  directory: SlackDirectory;
  slack: SlackClient;
  securityChannel: string;
  templates: { user: Template; security: Template };
  policy: PlacePolicy;
  server: { name: string; environment?: string | undefined };
  timeZone: string;
  log: Logger;
}

export type Verdict = "notified" | "suppressed" | "escalated" | "failed" | "ended";

export interface Outcome {
  verdict: Verdict;
  reason: string;
  user: string;
  ip: string;
  place: string;
  /** The Slack user who got the direct message. */
  dm?: string;
  securityChannel?: string;
  flags: string[];
  /** Set when the place store could not be used (the login was notified anyway). */
  stateError?: string;
  errors: string[];
}

/** Handles one connect: decide, tell the user and/or the security channel, remember the place. */
export async function handleConnect(event: VpnEvent, n: Notifier): Promise<Outcome> {
  const ip = normalizeIp(event.ip);
  if (!ip) throw new DataError(`"${event.ip}" is not an IP address`, { hint: "pass the client's public address" });
  const geo = lookup(n, ip);
  const login = { time: event.time, geo, place: placeName(geo) };
  const recipientLookup = n.directory.find(event.user);

  let before: UserHistory | undefined;
  let decision: Decision | undefined;
  let stateError: string | undefined;
  try {
    await n.store.update(event.user, (history) => {
      before = history;
      decision = decide(history, login, n.policy);
      return recordLogin(history, login, decision, n.policy);
    });
  } catch (error) {
    stateError = describeError(error);
  }
  const final = stateError || !decision ? decide(undefined, login, n.policy, false) : decision;
  const recipient = await recipientLookup;
  const facts = { event, ip, geo, decision: final, recipient, server: n.server, defaultTimeZone: n.timeZone };
  const context = messageContext(facts);
  const flags = securityReasons(final, recipient);
  const wantsDm = final.notify && "slackId" in recipient;
  const wantsSecurity = flags.length > 0 && (final.notify || final.suspicious);

  const errors: string[] = [];
  const send = async (channel: string, template: Template): Promise<boolean> => {
    try {
      await n.slack.postMessage({ channel, text: template.render(context), unfurl_links: false, unfurl_media: false });
      return true;
    } catch (error) {
      errors.push(describeError(error));
      return false;
    }
  };
  const [dmSent, securitySent] = await Promise.all([
    wantsDm && "slackId" in recipient ? send(recipient.slackId, n.templates.user) : Promise.resolve(false),
    wantsSecurity ? send(n.securityChannel, n.templates.security) : Promise.resolve(false),
  ]);
  if (final.notify && !stateError && !dmSent && !securitySent) {
    // Nobody was told: forget the claim so the next login from here tries again.
    await n.store.update(event.user, (history) => releaseClaim(history, before, final)).catch(() => {});
  }

  const outcome: Outcome = {
    verdict: verdictOf(final, wantsDm, dmSent, wantsSecurity, securitySent),
    reason: final.reason,
    user: event.user,
    ip,
    place: login.place,
    ...(dmSent && "slackId" in recipient ? { dm: recipient.slackId } : {}),
    ...(securitySent ? { securityChannel: n.securityChannel } : {}),
    flags,
    ...(stateError ? { stateError } : {}),
    errors,
  };
  logOutcome(n.log, outcome);
  return outcome;
}

/** A disconnect: the log line with the session's length, and its end in the store for the next travel check. */
export async function handleDisconnect(event: VpnEvent, n: Pick<Notifier, "store" | "log">): Promise<Outcome> {
  const ip = normalizeIp(event.ip) ?? event.ip;
  let stateError: string | undefined;
  try {
    await n.store.update(event.user, (history) => recordSessionEnd(history, ip, event.time));
  } catch (error) {
    stateError = describeError(error);
  }
  const outcome: Outcome = {
    verdict: "ended",
    reason: "disconnect",
    user: event.user,
    ip,
    place: "",
    flags: [],
    ...(stateError ? { stateError } : {}),
    errors: [],
  };
  n.log.info("session ended", {
    user: event.user,
    ip,
    duration: event.durationSec === undefined ? undefined : `${event.durationSec}s`,
    state: stateError ? `unavailable (${stateError})` : undefined,
  });
  return outcome;
}

function lookup(n: Notifier, ip: string): GeoInfo {
  try {
    return n.geo.lookup(ip);
  } catch (error) {
    n.log.warn("GeoIP lookup failed; the message will say unknown location", { error: describeError(error) });
    return { ip, network: ip };
  }
}

function verdictOf(decision: Decision, wantsDm: boolean, dmSent: boolean, wantsSecurity: boolean, securitySent: boolean): Verdict {
  if ((wantsDm && !dmSent) || (wantsSecurity && !securitySent)) return "failed";
  if (securitySent) return "escalated";
  if (dmSent) return "notified";
  return decision.notify ? "failed" : "suppressed";
}

/** One line per decision, in a form that reads well in OpenVPN's log and greps well in syslog. */
export function logOutcome(log: Logger, o: Outcome): void {
  const fields = {
    user: o.user,
    ip: o.ip,
    place: o.place,
    reason: o.reason,
    dm: o.dm,
    security: o.securityChannel ? o.flags.join("; ") : undefined,
    state: o.stateError ? `unavailable (${o.stateError})` : undefined,
    error: o.errors.length > 0 ? o.errors.join("; ") : undefined,
  };
  if (o.verdict === "failed") log.error(o.verdict, fields);
  else if (o.verdict === "escalated" || o.stateError) log.warn(o.verdict, fields);
  else log.info(o.verdict, fields);
}
