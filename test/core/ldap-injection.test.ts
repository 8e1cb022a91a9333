import { compileFilterTemplate, LdapClient, ldapFilter, ldapOptionsFromConfig } from "@opsguard/core";
import { type SlapdLab, startSlapd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../../packages/core/test/seeded-random";

let lab: SlapdLab;
let client: LdapClient;

beforeAll(async () => {
  lab = await startSlapd();
  client = new LdapClient({ ...ldapOptionsFromConfig(lab.connection()), deadlineMs: 120_000 });
  await client.connect();
});

afterAll(async () => {
  await client?.close();
  await lab?.stop();
});

const SEEDED = ["alice", "bob", "carol", "dave", "eve", "frank"];
const PIECES = ["*", "(", ")", "\\", "\0", "é", "ñ", "中", "🙂", "=", "&", "|", "!", " ", "a", "e", "l", "i", "c", "uid", "2a", ...SEEDED];
const CLASSIC = [
  "*",
  "alice)(uid=*",
  "*)(uid=*))(|(uid=*",
  "alice)(|(objectClass=*",
  ")(objectClass=*",
  "al*",
  "*ice",
  "a*e",
  "alice\0",
  "alice\\",
  "\\2a",
  "\\61lice",
  "alice)(!(uid=x)",
  "ALICE",
  "bob ",
];

/** Random mixes of filter metacharacters, non-ASCII and real uids, plus classic injection payloads. */
function inputs(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const out = [...CLASSIC, ...SEEDED];
  while (out.length < count) {
    const parts = Array.from({ length: 1 + Math.floor(random() * 5) }, () => PIECES[Math.floor(random() * PIECES.length)]);
    out.push(parts.join(""));
  }
  return out;
}

// uid matches case-insensitively (caseIgnoreIA5Match); slapd also ignores leading/trailing spaces.
const sameUid = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

describe("user input in a filter cannot widen a search (real slapd)", () => {
  const seed = 20_260_601;

  it(`template fill: every result is nothing or exactly the entry with that uid (seed ${seed})`, async () => {
    const template = compileFilterTemplate("(&(objectClass=posixAccount)(uid={user}))", ["user"]);
    let exactHits = 0;
    for (const input of inputs(400, seed)) {
      const entries = await client.search(lab.peopleDn, { filter: template.fill({ user: input }), attributes: ["uid"] });
      expect(entries.length, `input ${JSON.stringify(input)}`).toBeLessThanOrEqual(1);
      if (entries.length === 1) {
        expect(sameUid(entries[0]?.first("uid") ?? "", input), `input ${JSON.stringify(input)}`).toBe(true);
        exactHits++;
      }
    }
    // The seeded uids themselves (and "ALICE", "bob ") must still be found: escaping must not break lookups.
    expect(exactHits).toBeGreaterThanOrEqual(SEEDED.length + 2);
  });

  it("the ldapFilter tag gives the same guarantee, also for an OR of two user inputs", async () => {
    for (const [a, b] of [
      ["alice)(uid=*", "bob"],
      ["*", "*"],
      ["carol", "dave)(|(uid=*"],
    ] as const) {
      const entries = await client.search(lab.peopleDn, { filter: ldapFilter`(|(uid=${a})(uid=${b}))`, attributes: ["uid"] });
      const uids = entries.map((e) => e.first("uid"));
      expect(uids.every((uid) => uid === a || uid === b)).toBe(true);
    }
  });

  it("the corpus has teeth: pasted in unescaped, its payloads do widen the search", async () => {
    let widened = 0;
    for (const input of inputs(400, seed)) {
      const naive = `(&(objectClass=posixAccount)(uid=${input}))`;
      const entries = await client.search(lab.peopleDn, { filter: naive, attributes: ["uid"] }).catch(() => []);
      if (entries.some((e) => !sameUid(e.first("uid") ?? "", input))) widened++;
    }
    expect(widened).toBeGreaterThanOrEqual(10);
  });
});
