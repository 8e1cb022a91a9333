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

export function person(fields: { email?: string | undefined; uid?: string | undefined; name?: string | undefined }): Person {
  const email = fields.email?.trim() || undefined;
  const uid = fields.uid?.trim() || undefined;
  const key = email?.toLowerCase() ?? uid;
  if (!key) throw new Error("a person needs an email or a uid");
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
