import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FilePlaceStore, MAX_MARKS_FILE_BYTES, marksFileOf } from "../src/file-store";
import type { GeoInfo } from "../src/geoip";
import { markDisowned, type PlacePolicy, placeKeys } from "../src/places";

/**
 * The marks file's size cap is a bound on what vpnnotify reads; its own writes must never cross it, or the next read
 * refuses the file it wrote and every login of every user goes to the security channel (T68 #1: serve recording a
 * "No" took the file to 2,097,269 bytes).
 */

const DAY = 86_400_000;
const policy: PlacePolicy = {
  knownBy: ["ip", "network"],
  renotifyAfterMs: 30 * DAY,
  forgetAfterMs: 365 * DAY,
  impossibleTravelKmh: 1000,
  minTravelKm: 100,
  maxPlaces: 200,
  quietWhileBeingTold: true,
};
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the marks file at its size cap", () => {
  it("a new mark that would cross the cap drops the oldest marks instead, so the file stays readable", async () => {
    dir = mkdtempSync(join(tmpdir(), "vpnnotify-marks-cap-"));
    const state = join(dir, "state.json");
    const now = Date.now();
    // Users' marks, oldest first, until the file is a few dozen bytes under the cap: the new "No"'s two marks cross it.
    const users: Record<string, Record<string, { login: number; answeredAt: number }>> = {};
    let size = JSON.stringify({ version: 1, users: {} }).length + 1;
    for (let i = 0; ; i++) {
      const mark = { login: now - 300 * DAY + i * 1000, answeredAt: now - 300 * DAY + i * 1000 + 60_000 };
      const entry = { [`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`]: mark };
      const bytes = JSON.stringify({ [`user${i}`]: entry }).length - 1;
      if (size + bytes > MAX_MARKS_FILE_BYTES - 60) break;
      users[`user${i}`] = entry;
      size += bytes;
    }
    expect(size).toBeLessThanOrEqual(MAX_MARKS_FILE_BYTES);
    writeFileSync(marksFileOf(state), `${JSON.stringify({ version: 1, users })}\n`);
    const store = new FilePlaceStore(state);
    const geo = { ip: "1.128.0.1", network: "1.128.0.0/24", countryCode: "AU" } as GeoInfo;
    await store.update("alice-with-a-long-name", (h) => markDisowned(h, placeKeys(geo), now - 60_000, now, policy));

    expect(statSync(marksFileOf(state)).size).toBeLessThanOrEqual(MAX_MARKS_FILE_BYTES);
    const written = JSON.parse(readFileSync(marksFileOf(state), "utf8")) as { users: Record<string, unknown> };
    // The new "No" is kept, the oldest one gave way, the newest older ones stay.
    expect(Object.keys(written.users["alice-with-a-long-name"] as object)).toEqual(["ip:1.128.0.1", "net:1.128.0.0/24"]);
    expect(written.users.user0).toBeUndefined();
    const newest = `user${Object.keys(users).length - 1}`;
    expect(written.users[newest]).toEqual(users[newest]);
    // And the file is read again as a marks file: no user's history says the marks cannot be read.
    expect((await store.get(newest))?.marksUnreadable).toBeUndefined();
    expect((await store.get(newest))?.disowned).toEqual(users[newest]);
  });
});
