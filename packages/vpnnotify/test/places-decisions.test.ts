import { describe, expect, it } from "vitest";
import { networkOf } from "../src/address";
import type { GeoInfo } from "../src/geoip";
import { securityReasons } from "../src/message";
import {
  decide,
  distanceKm,
  type LastLogin,
  type Login,
  markDisowned,
  markTold,
  type PlacePolicy,
  placeKeys,
  recordLogin,
  recordSessionEnd,
  releaseLease,
  type UserHistory,
} from "../src/places";

// The edges of each suppression and escalation decision, one by one: whether a user hears about a login,
// and whether the security channel does too (mutation testing, issue 19, found these unpinned).

const DAY = 86_400_000;
const HOUR = 3_600_000;
const policy: PlacePolicy = {
  knownBy: ["ip", "network"],
  renotifyAfterMs: 30 * DAY,
  forgetAfterMs: 365 * DAY,
  impossibleTravelKmh: 1000,
  minTravelKm: 50,
  maxPlaces: 20,
  quietWhileBeingTold: true,
};
const T0 = 1_700_000_000_000;

const at = (ip: string, time: number, extra: Partial<GeoInfo> = {}): Login => ({
  time,
  geo: { ip, network: networkOf(ip), ...extra },
  place: extra.city ?? ip,
});

/** The history after one login at `login`, told at its time (the usual path: decide, record, deliver). */
function toldAbout(login: Login, history?: UserHistory): UserHistory {
  const decision = decide(history, login, policy, true, login.time);
  return markTold(recordLogin(history, login, decision, policy, login.time + 60_000), decision.keys, login.time);
}

const london = { countryCode: "GB", latitude: 51.5072, longitude: -0.1276, city: "London", asn: 5089 };
const paris = { countryCode: "FR", latitude: 48.8566, longitude: 2.3522, city: "Paris", asn: 3215 };

describe("who is told about a login", () => {
  const home = toldAbout(at("81.2.69.1", T0, london));

  it("a known place is quiet until renotifyAfter has passed since the user was last told, to the millisecond", () => {
    expect(decide(home, at("81.2.69.1", T0 + 30 * DAY - 1, london), policy, true, T0)).toMatchObject({
      notify: false,
      reason: "known-place",
      newPlace: false,
      suspicious: false,
    });
    expect(decide(home, at("81.2.69.1", T0 + 30 * DAY, london), policy, true, T0)).toMatchObject({
      notify: true,
      reason: "renotify",
      newPlace: false,
    });
  });

  it("another address of the same /24 is known by network; with knownBy ip only it is a new place", () => {
    expect(decide(home, at("81.2.69.77", T0 + HOUR, london), policy)).toMatchObject({ notify: false, reason: "known-place" });
    expect(decide(home, at("81.2.69.77", T0 + HOUR, london), { ...policy, knownBy: ["ip"] })).toMatchObject({
      notify: true,
      reason: "new-place",
      newPlace: true,
    });
  });

  it("the same ASN makes a place known only when knownBy says asn; the country alone never does", () => {
    const sameAsn = at("81.2.70.9", T0 + HOUR, london);
    expect(decide(home, sameAsn, policy)).toMatchObject({ notify: true, reason: "new-place", newCountry: false });
    expect(decide(home, sameAsn, { ...policy, knownBy: ["asn"] })).toMatchObject({ notify: false, reason: "known-place" });
    const noAsn = at("81.2.70.9", T0 + HOUR, { ...london, asn: undefined });
    expect(decide(home, noAsn, { ...policy, knownBy: ["asn"] })).toMatchObject({ notify: true, reason: "new-place" });
  });

  it("a place seen before but never told (Slack was down) is still news", () => {
    const login = at("81.2.69.1", T0, london);
    const leased = recordLogin(undefined, login, decide(undefined, login, policy), policy, T0 + 60_000);
    const untold = releaseLease(leased, Object.keys(leased.places), T0 + 60_000);
    expect(decide(untold, at("81.2.69.1", T0 + HOUR, london), policy, true, T0 + HOUR)).toMatchObject({
      notify: true,
      reason: "new-place",
      newPlace: true,
    });
  });

  it("stays quiet while another worker holds the lease on telling them, and speaks once it has run out", () => {
    const login = at("81.2.69.1", T0, london);
    const leased = recordLogin(undefined, login, decide(undefined, login, policy), policy, T0 + 60_000);
    const racing = at("81.2.69.1", T0 + 1000, london);
    expect(decide(leased, racing, policy, true, T0 + 59_999)).toMatchObject({ notify: false, reason: "being-told", newPlace: false });
    // the lease ends at its deadline: at that moment it no longer holds
    expect(decide(leased, racing, policy, true, T0 + 60_000)).toMatchObject({ notify: true, reason: "new-place" });
    // a lease on a place told recently (not due) changes nothing: it is simply known
    const toldAndLeased = { places: { ...home.places, "ip:81.2.69.1": { ...home.places["ip:81.2.69.1"]!, pendingUntil: T0 + DAY } } };
    expect(decide(toldAndLeased, at("81.2.69.1", T0 + HOUR, london), policy, true, T0 + HOUR)).toMatchObject({ reason: "known-place" });
  });

  it("under onFailure reject a lease silences nothing: the racing login is told itself, as if no alert were under way", () => {
    const login = at("81.2.69.1", T0, london);
    const leased = recordLogin(undefined, login, decide(undefined, login, policy), policy, T0 + 60_000);
    const racing = at("81.2.69.1", T0 + 1000, london);
    const reject = { ...policy, quietWhileBeingTold: false };
    expect(decide(leased, racing, reject, true, T0 + 1000)).toMatchObject({ notify: true, reason: "new-place", newPlace: true });
  });

  it("a lease does not silence a suspicious login: the flags still go out", () => {
    const seen = { firstSeen: T0, lastSeen: T0, pendingUntil: T0 + 60_000 };
    const leased: UserHistory = { places: { "ip:81.2.69.1": seen, "country:GB": seen } };
    expect(decide(leased, at("81.2.69.1", T0 + 1000, paris), policy, true, T0 + 1000)).toMatchObject({
      reason: "being-told",
      newCountry: true,
      suspicious: true,
      notify: true,
    });
  });

  it("a place not seen for forgetAfter is forgotten, to the millisecond", () => {
    expect(decide(home, at("81.2.69.1", T0 + 365 * DAY - 1, london), policy, true, T0)).toMatchObject({ reason: "renotify" });
    expect(decide(home, at("81.2.69.1", T0 + 365 * DAY, london), policy, true, T0)).toMatchObject({
      reason: "first-login",
      newPlace: true,
      newCountry: false,
    });
  });

  it("an unreachable store notifies even a known place, without calling it new", () => {
    expect(decide(home, at("81.2.69.1", T0 + HOUR, london), policy, false)).toMatchObject({
      notify: true,
      reason: "state-unavailable",
      newPlace: false,
    });
  });
});

describe("what the security channel is told", () => {
  it("a new country is suspicious only against a history: a first login never is", () => {
    const first = decide(undefined, at("81.2.69.1", T0, london), policy);
    expect(first).toMatchObject({ newCountry: false, suspicious: false, reason: "first-login", keys: expect.any(Array) });
    const home = toldAbout(at("81.2.69.1", T0, london));
    const abroad = decide(home, at("2.2.2.2", T0 + 30 * HOUR, paris), policy);
    expect(abroad).toMatchObject({ newCountry: true, suspicious: true, notify: true, reason: "new-place" });
    expect(abroad.impossibleTravel).toBeUndefined(); // 343 km in 30 h
    // a login whose country GeoIP does not know is not a new country, but the check could not run: see below
    expect(decide(home, at("2.2.2.2", T0 + 30 * HOUR), policy)).toMatchObject({ newCountry: false, unplaced: true });
  });

  it("a public address no database places, for a user with known countries, reaches the channel once: the checks could not run (T62 F11)", () => {
    const home = toldAbout(at("81.2.69.1", T0, london));
    const unplaced = at("64:ff9b::102:1", T0 + HOUR);
    expect(decide(home, unplaced, policy)).toMatchObject({ unplaced: true, suspicious: true, notify: true, newCountry: false });
    expect(securityReasons(decide(home, unplaced, policy), { slackId: "U1" }, "alice")).toEqual([
      "unknown location: no GeoIP database places this public address, so the new-country and travel checks could not run",
    ]);
    // Once told, that network is a known place: a database lacking a range the user really uses escalates once, not always.
    const told = toldAbout(unplaced, home);
    expect(decide(told, at("64:ff9b::102:7", T0 + 2 * HOUR), policy)).toMatchObject({ suspicious: false, notify: false });
    // A private range is named, not unknown; a user never placed has no country to compare with (no DB at all).
    expect(decide(home, at("10.1.2.3", T0 + HOUR, { special: "private network" }), policy)).toMatchObject({ suspicious: false });
    const neverPlaced = toldAbout(at("81.2.69.1", T0));
    expect(decide(neverPlaced, unplaced, policy)).toMatchObject({ suspicious: false });
    expect(decide(neverPlaced, unplaced, policy).unplaced).toBeUndefined();
  });

  it("impossible travel is measured from the last login that had coordinates, across an unplaceable one (T62 F11)", () => {
    const home = toldAbout(at("81.2.69.1", T0, london));
    const between = toldAbout(at("64:ff9b::102:1", T0 + 5 * 60_000), home);
    expect(between.last?.ip).toBe("64:ff9b::102:1");
    // London, then an address nobody can place, then Paris ten minutes after London: 344 km in 10 min.
    const paris10 = decide(between, at("2.2.2.2", T0 + 10 * 60_000, paris), policy);
    expect(paris10.impossibleTravel).toMatchObject({ from: "London", km: 344 });
    expect(paris10.previous?.ip).toBe("64:ff9b::102:1");
    // Its session's end, reported for London's address, still counts as London left then.
    const ended = recordSessionEnd(between, "81.2.69.1", T0 + 9 * 60_000);
    expect(decide(ended, at("2.2.2.2", T0 + 10 * 60_000, paris), policy).impossibleTravel).toMatchObject({ hours: 1 / 60 });
    // Once placed again, that login is the one measured from (nothing kept beside it).
    const inParis = toldAbout(at("2.2.2.2", T0 + 10 * 60_000, paris), between);
    expect(inParis.located).toBeUndefined();
    expect(inParis.last).toMatchObject({ ip: "2.2.2.2", latitude: paris.latitude });
  });

  it("after a \"No\", travel is not measured from the disowned login: the user's next login from home is no jump from the attacker's place", () => {
    const home = toldAbout(at("81.2.69.1", T0, london));
    const attacker = at("2.2.2.2", T0 + HOUR, paris);
    const afterAttack = toldAbout(attacker, home);
    const disowned = markDisowned(afterAttack, placeKeys(attacker.geo), attacker.time, T0 + 2 * HOUR, policy);
    // Home again ten minutes after the attacker's login: 344 km in 10 min from Paris, but Paris was not the user.
    const back = decide(disowned, at("81.2.69.1", T0 + HOUR + 10 * 60_000, london), policy);
    expect(back.impossibleTravel).toBeUndefined();
    expect(back.suspicious).toBe(false);
    // The attacker's next login from Paris is still told to the security channel, as from a disowned place.
    expect(decide(disowned, at("2.2.2.2", T0 + 3 * HOUR, paris), policy)).toMatchObject({ suspicious: true, reason: "disowned-place" });
  });

  it("a later login from the disowned place is no travel baseline either: the user's next login from home is no jump from it (T66 P7)", () => {
    const home = toldAbout(at("81.2.69.1", T0, london));
    const attacker = at("2.2.2.2", T0 + HOUR, paris);
    const disowned = markDisowned(toldAbout(attacker, home), placeKeys(attacker.geo), attacker.time, T0 + 2 * HOUR, policy);
    // The attacker again, from the disowned network: escalated, and recorded (the mark's lastSeen) — but not as the user's whereabouts.
    const again = at("2.2.2.3", T0 + 3 * HOUR, paris);
    const afterAgain = toldAbout(again, disowned);
    expect(decide(disowned, again, policy).reason).toBe("disowned-place");
    expect([afterAgain.last?.ip, afterAgain.located?.ip]).not.toContain(again.geo.ip);
    // Home ten minutes later: 344 km in 10 min from Paris, but Paris was not the user.
    const back = decide(afterAgain, at("81.2.69.1", T0 + 3 * HOUR + 10 * 60_000, london), policy);
    expect(back.impossibleTravel).toBeUndefined();
    expect(back.suspicious).toBe(false);
  });

  it("a login reported after a later one says so instead of 'at the same moment' (T62 F9)", () => {
    const home = toldAbout(at("81.2.69.1", T0, london));
    const earlier = decide(home, at("2.2.2.2", T0 - 5 * 60_000, paris), policy);
    expect(securityReasons(earlier, { slackId: "U1" }, "alice")).toEqual([
      "new country",
      "impossible travel: 344 km from London (this login was 5 min before that one, which was reported first)",
    ]);
    const open = recordSessionEnd(home, "81.2.69.1", T0 + HOUR);
    expect(securityReasons(decide(open, at("2.2.2.2", T0 + 30 * 60_000, paris), policy), { slackId: "U1" }, "alice")[1]).toBe(
      "impossible travel: 344 km from London (while that session was still connected)",
    );
    expect(securityReasons(decide(home, at("2.2.2.2", T0, paris), policy), { slackId: "U1" }, "alice")[1]).toBe(
      "impossible travel: 344 km from London (at the same moment)",
    );
  });

  it("a suspicious login from a known place still reaches the user (and the channel)", () => {
    const home = toldAbout(at("81.2.69.1", T0, london));
    // the same /24, now placed in France by GeoIP, minutes later
    const decision = decide(home, at("81.2.69.1", T0 + 60_000, paris), policy, true, T0 + 60_000);
    expect(decision).toMatchObject({ reason: "known-place", suspicious: true, notify: true, newCountry: true });
    expect(decision.impossibleTravel).toMatchObject({
      km: Math.round(distanceKm(london.latitude, london.longitude, paris.latitude, paris.longitude)),
      from: "London",
    });
  });

  it("impossible travel: above the speed limit only, hops under minTravelKm are noise, a session's end counts", () => {
    const last: LastLogin = { time: T0, ip: "81.2.69.1", place: "London", latitude: london.latitude, longitude: london.longitude };
    const km = distanceKm(london.latitude, london.longitude, paris.latitude, paris.longitude);
    const history: UserHistory = { places: {}, last };
    const after = (ms: number, hist: UserHistory = history) => decide(hist, at("2.2.2.2", T0 + ms, paris), policy).impossibleTravel;
    // exactly at the limit is possible; a millisecond faster is not
    const atLimitMs = (km / policy.impossibleTravelKmh) * HOUR;
    expect(after(Math.ceil(atLimitMs))).toBeUndefined();
    const tooFast = after(Math.floor(atLimitMs) - 1);
    expect(tooFast).toMatchObject({ km: Math.round(km), from: "London" });
    expect(tooFast?.hours).toBeCloseTo((Math.floor(atLimitMs) - 1) / HOUR, 9);
    // the report: distance and speed rounded, the hours as they were
    expect(after(HOUR / 10)).toEqual({ km: Math.round(km), kmh: Math.round(km * 10), hours: 0.1, from: "London" });
    // a session that ended later shortens the journey: an hour after its end is too fast
    expect(after(3 * HOUR, { places: {}, last: { ...last, endedAt: T0 + 2.9 * HOUR } })).toMatchObject({ from: "London" });
    expect(after(3 * HOUR)).toBeUndefined();
    // a hop under minTravelKm is GeoIP noise however fast
    const near = decide(history, at("2.2.2.2", T0 + 1, { latitude: 51.6, longitude: -0.2 }), policy);
    expect(near.impossibleTravel).toBeUndefined();
    expect(
      decide(history, at("2.2.2.2", T0 + 1, { latitude: 51.6, longitude: -0.2 }), { ...policy, minTravelKm: 5 }).impossibleTravel,
    ).toMatchObject({
      from: "London",
    });
    // without coordinates on either side there is no journey to judge
    expect(
      decide({ places: {}, last: { time: T0, ip: "81.2.69.1", place: "?" } }, at("2.2.2.2", T0 + 1, paris), policy).impossibleTravel,
    ).toBeUndefined();
    expect(decide(history, at("2.2.2.2", T0 + 1, { latitude: 48.8 }), policy).impossibleTravel).toBeUndefined();
    expect(decide(history, at("2.2.2.2", T0 + 1, { longitude: 2.3 }), policy).impossibleTravel).toBeUndefined();
    // both limits are inclusive: a journey of exactly minTravelKm is judged, exactly the speed limit passes
    const exactly = { ...policy, minTravelKm: km };
    expect(decide(history, at("2.2.2.2", T0 + 1, paris), exactly).impossibleTravel).toMatchObject({ from: "London" });
    const limit = km / (HOUR / 3_600_000);
    expect(decide(history, at("2.2.2.2", T0 + HOUR, paris), { ...policy, impossibleTravelKmh: limit }).impossibleTravel).toBeUndefined();
    // a login stamped before the last one is a zero-hour journey
    expect(after(-HOUR)).toMatchObject({ hours: 0, kmh: Number.POSITIVE_INFINITY });
  });

  it("with minTravelKm 0, a login in the same millisecond from the same coordinates is no journey; from elsewhere it is", () => {
    const anyHop = { ...policy, minTravelKm: 0 };
    const last: LastLogin = { time: T0, ip: "81.2.69.1", place: "London", latitude: london.latitude, longitude: london.longitude };
    const history: UserHistory = { places: {}, last };
    // 0 km in 0 hours: not infinitely fast, not travel at all
    expect(decide(history, at("81.2.69.2", T0, london), anyHop).impossibleTravel).toBeUndefined();
    expect(decide(history, at("81.2.69.2", T0 - HOUR, london), anyHop).impossibleTravel).toBeUndefined();
    expect(decide(history, at("2.2.2.2", T0, paris), anyHop).impossibleTravel).toMatchObject({
      from: "London",
      hours: 0,
      kmh: Number.POSITIVE_INFINITY,
    });
  });
});

describe("what is remembered", () => {
  it("records each key with first and last seen, keeps what the user was told, and leases only a login being told", () => {
    const first = at("81.2.69.1", T0, london);
    const home = toldAbout(first);
    const again = at("81.2.69.1", T0 + HOUR, london);
    const quiet = decide(home, again, policy, true, T0 + HOUR);
    expect(quiet.notify).toBe(false);
    const after = recordLogin(home, again, quiet, policy, T0 + 2 * HOUR);
    expect(after.places["ip:81.2.69.1"]).toEqual({ firstSeen: T0, lastSeen: T0 + HOUR, lastNotified: T0 });
    expect(after.places["country:GB"]).toEqual({ firstSeen: T0, lastSeen: T0 + HOUR, lastNotified: T0 });
    expect(Object.keys(after.places).sort()).toEqual(["asn:5089", "country:GB", "ip:81.2.69.1", "net:81.2.69.0/24"]);
    expect(after.last).toEqual({
      time: T0 + HOUR,
      ip: "81.2.69.1",
      place: "London",
      countryCode: "GB",
      latitude: london.latitude,
      longitude: london.longitude,
    });
    // a login that is told gets the lease, on every key it matched
    const told = recordLogin(home, again, { ...quiet, notify: true }, policy, T0 + 2 * HOUR);
    expect(told.places["net:81.2.69.0/24"]).toEqual({ firstSeen: T0, lastSeen: T0 + HOUR, lastNotified: T0, pendingUntil: T0 + 2 * HOUR });
    // two logins in the same millisecond: the one recorded last is the last login
    const second = at("2.2.2.2", T0 + HOUR, paris);
    const sameMs = recordLogin(after, second, decide(after, second, policy), policy, 0);
    expect(sameMs.last).toMatchObject({ ip: "2.2.2.2", place: "Paris" });
    // an older login recorded late does not move lastSeen back or replace the last login
    const late = recordLogin(after, at("81.2.69.1", T0 + 30 * 60_000, london), quiet, policy, 0);
    expect(late.places["ip:81.2.69.1"]?.lastSeen).toBe(T0 + HOUR);
    expect(late.last?.time).toBe(T0 + HOUR);
  });

  it("the last login keeps coordinates only when both are known, and no country when GeoIP has none", () => {
    const history = recordLogin(undefined, at("2.2.2.2", T0, { latitude: 10 }), decide(undefined, at("2.2.2.2", T0), policy), policy, 0);
    expect(history.last).toEqual({ time: T0, ip: "2.2.2.2", place: "2.2.2.2" });
    const onlyLongitude = at("2.2.2.2", T0, { longitude: 10 });
    expect(
      Object.keys(recordLogin(undefined, onlyLongitude, decide(undefined, onlyLongitude, policy), policy, 0).last ?? {}),
    ).not.toContain("longitude");
    expect(placeKeys({ ip: "2.2.2.2", network: "2.2.2.0/24" })).toEqual({ ip: "ip:2.2.2.2", network: "net:2.2.2.0/24" });
  });

  it("keeps at most maxPlaces keys, the most recently seen first", () => {
    const small = { ...policy, maxPlaces: 3 };
    let history: UserHistory | undefined;
    for (const [i, ip] of ["1.1.1.1", "2.2.2.2"].entries()) {
      const login = at(ip, T0 + i * HOUR);
      history = recordLogin(history, login, decide(history, login, small), small, 0);
    }
    expect(Object.keys(history?.places ?? {})).toEqual(["ip:2.2.2.2", "net:2.2.2.0/24", "ip:1.1.1.1"]);
  });

  it("markTold ends the lease and keeps the latest time told, also for a key it had not seen", () => {
    const leased: UserHistory = { places: { "ip:1.1.1.1": { firstSeen: 1, lastSeen: 5, lastNotified: 9, pendingUntil: 99 } } };
    expect(markTold(leased, ["ip:1.1.1.1", "net:1.1.1.0/24"], 7).places).toEqual({
      "ip:1.1.1.1": { firstSeen: 1, lastSeen: 5, lastNotified: 9 },
      "net:1.1.1.0/24": { firstSeen: 7, lastSeen: 7, lastNotified: 7 },
    });
    expect(markTold(undefined, ["ip:1.1.1.1"], 7)).toEqual({ places: { "ip:1.1.1.1": { firstSeen: 7, lastSeen: 7, lastNotified: 7 } } });
  });

  it("releaseLease gives up only this worker's lease, never another's", () => {
    const history: UserHistory = {
      places: {
        "ip:1.1.1.1": { firstSeen: 1, lastSeen: 1, pendingUntil: 50 },
        "net:1.1.1.0/24": { firstSeen: 1, lastSeen: 1, pendingUntil: 60 },
      },
    };
    expect(releaseLease(history, ["ip:1.1.1.1", "net:1.1.1.0/24", "asn:1"], 50)?.places).toEqual({
      "ip:1.1.1.1": { firstSeen: 1, lastSeen: 1 },
      "net:1.1.1.0/24": { firstSeen: 1, lastSeen: 1, pendingUntil: 60 },
    });
    expect(releaseLease(undefined, ["ip:1.1.1.1"], 50)).toBeUndefined();
  });

  it("a session's end is kept for the last login's address only, and only when it is later", () => {
    const last: LastLogin = { time: 100, ip: "1.1.1.1", place: "x" };
    const history: UserHistory = { places: {}, last };
    expect(recordSessionEnd(history, "1.1.1.1", 200)?.last).toEqual({ ...last, endedAt: 200 });
    expect(recordSessionEnd(history, "2.2.2.2", 200)).toBe(history);
    expect(recordSessionEnd(history, "1.1.1.1", 100)).toBe(history);
    expect(recordSessionEnd({ places: {}, last: { ...last, endedAt: 300 } }, "1.1.1.1", 300)?.last?.endedAt).toBe(300);
    expect(recordSessionEnd({ places: {}, last: { ...last, endedAt: 300 } }, "1.1.1.1", 250)?.last?.endedAt).toBe(300);
    expect(recordSessionEnd(undefined, "1.1.1.1", 200)).toBeUndefined();
    expect(recordSessionEnd({ places: {} }, "1.1.1.1", 200)).toEqual({ places: {} });
  });

  it("measures antipodes without a NaN (rounding can push the haversine term past 1)", () => {
    expect(Math.round(distanceKm(0, 0, 0, 180))).toBe(20_015);
    expect(distanceKm(48.8566, 2.3522, 51.5072, -0.1276)).toBeCloseTo(distanceKm(51.5072, -0.1276, 48.8566, 2.3522), 9);
  });
});
