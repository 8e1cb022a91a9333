import type { GeoInfo } from "./geoip";

/**
 * The memory of where each user has connected from, and the decision it drives: tell the user
 * about a new place (or a known one after the renotify window), stay quiet otherwise, and flag a
 * new country or an impossible journey for the security channel.
 */

export interface PlaceSeen {
  firstSeen: number;
  lastSeen: number;
  /** When the user (or, when nobody could be, the security channel) was last told about a login from here. */
  lastNotified?: number;
  /**
   * A worker is telling them right now, until this time (its deadline): a login racing it stays
   * quiet. Only a delivered message sets lastNotified, so a worker that dies leaves the place unknown.
   */
  pendingUntil?: number;
}

export interface LastLogin {
  time: number;
  ip: string;
  countryCode?: string;
  latitude?: number;
  longitude?: number;
  place: string;
  /** When that session ended, as the VPN server reported on disconnect: the user was still there then. */
  endedAt?: number;
}

/**
 * An address or network from where the user said a login was not them ("No, it wasn't" on its DM). Every later login
 * from there goes to the security channel: the stolen credential may still work, and without the mark the attacker's
 * place would count as the user's own (T62 F0).
 */
export interface DisownedMark {
  /** The disowned login's time. */
  login: number;
  /** When the user said so. */
  answeredAt: number;
  /** The last login from here since: the mark lasts `forgetAfterMs` from the later of the two, as a known place would. */
  lastSeen?: number;
}

/** Per user; keys are "ip:…", "net:…/24", "asn:…", "country:…". */
export interface UserHistory {
  places: Record<string, PlaceSeen>;
  last?: LastLogin;
  /**
   * The latest login that had coordinates, when `last` has none (an address the City database cannot place): impossible
   * travel is measured from here, so an unplaceable login between two far-apart ones does not hide the jump (T62 F11).
   */
  located?: LastLogin;
  /** By "ip:…" and "net:…" key. */
  disowned?: Record<string, DisownedMark>;
  /**
   * Set by the store, never stored: the marks exist but could not be read (what is wrong with them), so `disowned`
   * may lack some. decide sends every login to the security channel meanwhile (T66 P1, P2).
   */
  marksUnreadable?: string;
}

export type KnownBy = "ip" | "network" | "asn";

export interface PlacePolicy {
  /** Which keys make a place "known" (the country alone never does). */
  knownBy: readonly KnownBy[];
  renotifyAfterMs: number;
  /** Places not seen for this long are forgotten. */
  forgetAfterMs: number;
  impossibleTravelKmh: number;
  /** Shorter hops are GeoIP noise, not travel. */
  minTravelKm: number;
  /** At most this many keys per user are kept (the most recently seen). */
  maxPlaces: number;
  /**
   * A login racing another's alert about the same place (its lease) stays quiet: that alert covers it, so the user
   * gets one DM (onFailure accept). Under onFailure reject a login is let in only once an alert covering it went out,
   * and the racing one may still fail, or go out after this login was decided: there each login sends its own.
   */
  quietWhileBeingTold: boolean;
}

export interface Login {
  time: number;
  geo: GeoInfo;
  place: string;
}

export type Reason =
  | "first-login"
  | "new-place"
  | "renotify"
  | "known-place"
  | "being-told"
  | "state-unavailable"
  | "disowned"
  | "disowned-place";

export interface Travel {
  km: number;
  kmh: number;
  hours: number;
  from: string;
  /** This login happened this long before the one it is measured from, which reached vpnnotify first (kmh: Infinity). */
  beforeMs?: number;
  /** This login happened while that session was still connected (the VPN server reported its end later). */
  duringSession?: boolean;
}

export interface Decision {
  notify: boolean;
  reason: Reason;
  newPlace: boolean;
  newCountry: boolean;
  /** A public address no GeoIP database could place, for a user with known countries (see decide). */
  unplaced?: boolean;
  impossibleTravel?: Travel;
  /** Flags that also go to the security channel. */
  suspicious: boolean;
  /** The keys this login matched or added. */
  keys: string[];
  previous?: LastLogin;
  /** The login comes from an address or network the user disowned (the latest such mark). */
  disownedPlace?: { login: number; answeredAt: number };
  /** The user's "not me" marks could not be read (what is wrong with them): the login may be from a disowned place. */
  marksUnreadable?: string;
}

export function placeKeys(geo: GeoInfo): { ip: string; network: string; asn?: string; country?: string } {
  return {
    ip: `ip:${geo.ip}`,
    network: `net:${geo.network}`,
    ...(geo.asn ? { asn: `asn:${geo.asn}` } : {}),
    ...(geo.countryCode ? { country: `country:${geo.countryCode}` } : {}),
  };
}

/**
 * What to do about a login, given what we remember (undefined: nothing, or the store was
 * unreachable). `now` is the wall clock, for other workers' leases (login.time may be OpenVPN's).
 */
export function decide(
  history: UserHistory | undefined,
  login: Login,
  policy: PlacePolicy,
  stateAvailable = true,
  now = Date.now(),
): Decision {
  const keys = placeKeys(login.geo);
  const allKeys = [keys.ip, keys.network, keys.asn, keys.country].filter((k): k is string => k !== undefined);
  const live = liveEntries(history, login.time, policy);
  const known = policy.knownBy
    .map((by) => (by === "ip" ? keys.ip : by === "network" ? keys.network : keys.asn))
    .filter((k): k is string => k !== undefined && live.has(k));
  const disowned = liveDisowned(history, login.time, policy);
  // Whatever else is known about it: an address or network the user disowned is never theirs (T62 F0).
  const mark = [disowned.get(keys.ip), disowned.get(keys.network)]
    .filter((m): m is DisownedMark => m !== undefined)
    .sort((a, b) => b.answeredAt - a.answeredAt)[0];
  // A user whose only places were disowned still has a history: their next country is news to the security channel.
  const hasHistory = live.size > 0 || disowned.size > 0;
  const newCountry = hasHistory && keys.country !== undefined && !live.has(keys.country);
  const previous = history?.last;
  const from = lastLocated(history);
  const travel = from ? impossibleTravel(from, login, policy) : undefined;
  // A public address no database could place, for a user whose other logins were placed: neither the new-country nor
  // the travel check could run, so the security channel hears of it (fail closed) — on a place not known yet only, so
  // a network the database lacks that the user really uses is escalated once, not on every login from it.
  const unplaced =
    hasHistory &&
    known.length === 0 &&
    login.geo.special === undefined &&
    keys.country === undefined &&
    [...live.keys()].some(isCountryKey);
  const base = {
    newCountry,
    ...(unplaced ? { unplaced } : {}),
    ...(travel ? { impossibleTravel: travel } : {}),
    // Marks that cannot be read fail closed: any login may come from a place the user disowned, so none is quiet.
    suspicious: newCountry || unplaced || travel !== undefined || mark !== undefined || history?.marksUnreadable !== undefined,
    // A login from a disowned place is the attacker's as much as the user's: it adds no country or ASN to the places
    // that count as theirs (only those already known are refreshed).
    keys: mark ? allKeys.filter((k) => k === keys.ip || k === keys.network || live.has(k)) : allKeys,
    ...(previous ? { previous } : {}),
    ...(mark ? { disownedPlace: { login: mark.login, answeredAt: mark.answeredAt } } : {}),
    ...(history?.marksUnreadable !== undefined ? { marksUnreadable: history.marksUnreadable } : {}),
  };
  if (!stateAvailable) return { ...base, notify: true, reason: "state-unavailable", newPlace: false };
  // Told every time, never quiet for renotifyAfterDays: the user is asked again, and the security channel hears of it.
  if (mark) return { ...base, notify: true, reason: "disowned-place", newPlace: false };
  if (!hasHistory) return { ...base, notify: true, reason: "first-login", newPlace: true };
  const lastNotified = Math.max(0, ...known.map((k) => live.get(k)?.lastNotified ?? 0));
  const beingTold = known.some((k) => (live.get(k)?.pendingUntil ?? 0) > now);
  const due = lastNotified === 0 || login.time - lastNotified >= policy.renotifyAfterMs;
  // Another worker is telling them about this place right now; its alert is spooled if it fails.
  if (due && beingTold && policy.quietWhileBeingTold) return { ...base, notify: base.suspicious, reason: "being-told", newPlace: false };
  // Seen before but the user was never told (Slack was down then): still news to them.
  if (known.length === 0 || lastNotified === 0) return { ...base, notify: true, reason: "new-place", newPlace: true };
  if (due) return { ...base, notify: true, reason: "renotify", newPlace: false };
  return { ...base, notify: base.suspicious, reason: "known-place", newPlace: false };
}

/**
 * The history after this login: every key seen now, old places forgotten, the list bounded. A
 * notification due is leased here (pendingUntil, the worker's deadline) so that a connect racing
 * this one stays quiet; markTold records the delivery, releaseLease gives up the lease early.
 */
export function recordLogin(
  history: UserHistory | undefined,
  login: Login,
  decision: Decision,
  policy: PlacePolicy,
  leaseUntil: number,
): UserHistory {
  const places: Record<string, PlaceSeen> = Object.fromEntries(liveEntries(history, login.time, policy));
  for (const key of decision.keys) {
    const seen = places[key];
    const pendingUntil = decision.notify ? leaseUntil : seen?.pendingUntil;
    places[key] = {
      firstSeen: seen?.firstSeen ?? login.time,
      lastSeen: Math.max(seen?.lastSeen ?? 0, login.time),
      ...(seen?.lastNotified !== undefined ? { lastNotified: seen.lastNotified } : {}),
      ...(pendingUntil !== undefined ? { pendingUntil } : {}),
    };
  }
  const kept = Object.entries(places)
    .sort((a, b) => b[1].lastSeen - a[1].lastSeen)
    .slice(0, policy.maxPlaces);
  const last: LastLogin = {
    time: login.time,
    ip: login.geo.ip,
    place: login.place,
    ...(login.geo.countryCode ? { countryCode: login.geo.countryCode } : {}),
    ...(login.geo.latitude !== undefined && login.geo.longitude !== undefined
      ? { latitude: login.geo.latitude, longitude: login.geo.longitude }
      : {}),
  };
  // A login from a disowned place is the attacker's as much as the user's: never where travel is measured from, or
  // the user's next login from home would be escalated as an impossible jump from there (T66 P7, as markDisowned does
  // for the disowned login itself).
  const theirs = decision.disownedPlace ? undefined : last;
  const newer = history?.last && (!theirs || history.last.time > login.time) ? history.last : theirs;
  const located = lastLocated(history, theirs);
  const disowned = Object.fromEntries(liveDisowned(history, login.time, policy));
  for (const key of [`ip:${login.geo.ip}`, `net:${login.geo.network}`]) {
    const mark = disowned[key];
    if (mark) disowned[key] = { ...mark, lastSeen: Math.max(mark.lastSeen ?? 0, login.time) };
  }
  return {
    places: Object.fromEntries(kept),
    ...(newer ? { last: newer } : {}),
    ...(located && located !== newer ? { located } : {}),
    ...withDisowned(disowned, policy),
  };
}

/** The latest login with coordinates among the history's and `also`. */
function lastLocated(history: UserHistory | undefined, also?: LastLogin): LastLogin | undefined {
  const placed = [history?.last, history?.located, also].filter(
    (l): l is LastLogin => l !== undefined && l.latitude !== undefined && l.longitude !== undefined,
  );
  return placed.reduce<LastLogin | undefined>((latest, l) => (latest && latest.time >= l.time ? latest : l), undefined);
}

function isCountryKey(key: string): boolean {
  return key.startsWith("country:");
}

/**
 * The history once the user said the login at `login` from `geo`'s place was not them (answered at `answeredAt`): its
 * address and network are marked disowned, and every place first seen at that login or since (its address, network,
 * country and ASN, unless the user had them before) no longer counts as theirs. A later "Yes" never clears a mark: it
 * lasts as long as a known place would have (`forgetAfterMs` from its last login).
 */
export function markDisowned(
  history: UserHistory | undefined,
  keys: ReturnType<typeof placeKeys>,
  login: number,
  answeredAt: number,
  policy: PlacePolicy,
): UserHistory {
  const places = { ...history?.places };
  for (const key of [keys.ip, keys.network, keys.asn, keys.country]) {
    if (key !== undefined && (places[key]?.firstSeen ?? Number.NEGATIVE_INFINITY) >= login) delete places[key];
  }
  const disowned = Object.fromEntries(liveDisowned(history, answeredAt, policy));
  for (const key of [keys.ip, keys.network]) {
    const before = disowned[key];
    disowned[key] = {
      login: Math.min(before?.login ?? login, login),
      answeredAt: Math.max(before?.answeredAt ?? answeredAt, answeredAt),
      ...(before?.lastSeen !== undefined ? { lastSeen: before.lastSeen } : {}),
    };
  }
  // The disowned login was not the user: travel is never measured from where it was, or the user's next login from
  // home would read to the security channel as an impossible jump from the attacker's place.
  const { last, located, ...rest } = history ?? { places };
  const theirs = (l: LastLogin | undefined) => l !== undefined && !(l.time === login && `ip:${l.ip}` === keys.ip);
  return {
    ...rest,
    places,
    ...(theirs(last) ? { last } : {}),
    ...(theirs(located) ? { located } : {}),
    ...withDisowned(disowned, policy),
  };
}

/** The marks to keep (the most recent `maxPlaces`), as the history's field: none, no field. */
function withDisowned(disowned: Record<string, DisownedMark>, policy: PlacePolicy): Pick<UserHistory, "disowned"> {
  const kept = Object.entries(disowned)
    .sort((a, b) => markSeen(b[1]) - markSeen(a[1]))
    .slice(0, policy.maxPlaces);
  return kept.length > 0 ? { disowned: Object.fromEntries(kept) } : {};
}

/** When a mark was last in use: its "No" or the latest login from its place since, whichever is later. */
export function markSeen(mark: DisownedMark): number {
  return Math.max(mark.answeredAt, mark.lastSeen ?? 0);
}

function liveDisowned(history: UserHistory | undefined, now: number, policy: PlacePolicy): Map<string, DisownedMark> {
  const live = new Map<string, DisownedMark>();
  for (const [key, mark] of Object.entries(history?.disowned ?? {})) {
    if (now - markSeen(mark) < policy.forgetAfterMs) live.set(key, mark);
  }
  return live;
}

/** The history once someone was told about the login at `time` from the places `keys`. */
export function markTold(history: UserHistory | undefined, keys: readonly string[], time: number): UserHistory {
  const places = { ...history?.places };
  for (const key of keys) {
    const { pendingUntil: _done, ...seen } = places[key] ?? { firstSeen: time, lastSeen: time };
    places[key] = { ...seen, lastNotified: Math.max(seen.lastNotified ?? 0, time) };
  }
  return { ...history, places };
}

/** Gives up this worker's lease (the message failed): the next login from there is told again. */
export function releaseLease(history: UserHistory | undefined, keys: readonly string[], leaseUntil: number): UserHistory | undefined {
  if (!history) return history;
  const places = { ...history.places };
  for (const key of keys) {
    const seen = places[key];
    if (seen?.pendingUntil !== leaseUntil) continue;
    const { pendingUntil: _dropped, ...rest } = seen;
    places[key] = rest;
  }
  return { ...history, places };
}

function liveEntries(history: UserHistory | undefined, now: number, policy: PlacePolicy): Map<string, PlaceSeen> {
  const live = new Map<string, PlaceSeen>();
  for (const [key, seen] of Object.entries(history?.places ?? {})) {
    if (now - seen.lastSeen < policy.forgetAfterMs) live.set(key, seen);
  }
  return live;
}

function impossibleTravel(previous: LastLogin, login: Login, policy: PlacePolicy): Travel | undefined {
  const { latitude, longitude } = login.geo;
  if (previous.latitude === undefined || previous.longitude === undefined || latitude === undefined || longitude === undefined)
    return undefined;
  const km = distanceKm(previous.latitude, previous.longitude, latitude, longitude);
  // The same place is never a journey, however little time passed (minTravelKm may be 0: 0 km in 0 hours is no speed).
  if (km === 0 || km < policy.minTravelKm) return undefined;
  const hours = Math.max(0, login.time - Math.max(previous.time, previous.endedAt ?? 0)) / 3_600_000;
  const kmh = hours === 0 ? Number.POSITIVE_INFINITY : km / hours;
  if (kmh <= policy.impossibleTravelKmh) return undefined;
  // No time between them, for one of three reasons the message must tell apart (T62 F9: a login reported late read
  // "at the same moment"): reported out of order, during the other session, or truly at once.
  const order =
    login.time < previous.time
      ? { beforeMs: previous.time - login.time }
      : hours === 0 && login.time > previous.time
        ? { duringSession: true }
        : {};
  return { km: Math.round(km), kmh: Number.isFinite(kmh) ? Math.round(kmh) : kmh, hours, from: previous.place, ...order };
}

/**
 * The history after a session from `ip` ended at `time`: the last login's place then counts as
 * left only at its end, so a long session shortens any journey after it. Another address's
 * disconnect (an older session) changes nothing.
 */
export function recordSessionEnd(history: UserHistory | undefined, ip: string, time: number): UserHistory | undefined {
  if (!history) return history;
  const ended = (login: LastLogin | undefined): LastLogin | undefined =>
    login && login.ip === ip && time > Math.max(login.time, login.endedAt ?? 0) ? { ...login, endedAt: time } : undefined;
  const last = ended(history.last);
  const located = ended(history.located);
  if (!last && !located) return history;
  return { ...history, ...(last ? { last } : {}), ...(located ? { located } : {}) };
}

/** Great-circle distance (haversine, mean Earth radius). */
export function distanceKm(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * 6371.0088 * Math.asin(Math.min(1, Math.sqrt(a)));
}
