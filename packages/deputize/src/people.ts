import { DataError } from "@opsguard/core";

/** Someone on call, as the sources know them: at least an email or a uid. */
export interface Person {
  /** The identity used to de-duplicate and compare: the lower-cased email, else the uid. */
  key: string;
  email?: string;
  uid?: string;
  name?: string;
}

/** Who is on call for one schedule of one source. */
export interface ScheduleOnCall {
  source: string;
  schedule: string;
  people: Person[];
}

/** An e-mail address as directories and chat know them: no spaces, quotes, filter or control characters. */
export const EMAIL_PATTERN =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
/** A POSIX-ish login name. */
export const UID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

/**
 * Someone on call. An identity that is neither a valid e-mail nor a valid uid (a newline that would
 * forge output lines, a filter fragment) is refused: the source fails closed and no sink changes.
 */
export function person(fields: { email?: string | undefined; uid?: string | undefined; name?: string | undefined }): Person {
  const email = fields.email?.trim() || undefined;
  const uid = fields.uid?.trim() || undefined;
  const key = email?.toLowerCase() ?? uid;
  if (!key) throw new Error("a person needs an email or a uid");
  if (email && !(email.length <= 254 && EMAIL_PATTERN.test(email)))
    throw new DataError(`${JSON.stringify(email)} is not a valid e-mail address`, { hint: "fix the person's e-mail at the source" });
  if (uid && !(uid.length <= 254 && UID_PATTERN.test(uid)))
    throw new DataError(`${JSON.stringify(uid)} is not a valid uid`, { hint: "fix the person's uid at the source" });
  return {
    key,
    ...(email ? { email } : {}),
    ...(uid ? { uid } : {}),
    ...(fields.name?.trim() ? { name: fields.name.trim() } : {}),
  };
}

/** Everyone in the lists once (first occurrence wins, missing fields filled from later ones), sorted by key. */
export function mergePeople(lists: ReadonlyArray<readonly Person[]>): Person[] {
  const byKey = new Map<string, Person>();
  for (const list of lists) {
    for (const p of list) {
      const seen = byKey.get(p.key);
      byKey.set(p.key, seen ? { ...p, ...seen } : p);
    }
  }
  return [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
}

/** A short handle for chat and tables: the uid, else the email's local part. */
export function handleOf(p: Person): string {
  return p.uid ?? p.email?.split("@")[0] ?? p.key;
}
