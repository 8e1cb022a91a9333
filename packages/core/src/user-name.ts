// How a local user is named in a line a person reads and in a command they are told to run. Every tool's error
// that names an owner (the spool's, a state file's, the hooks' user) names it the same way.
import { escapeLine } from "./text";

export interface NamedUser {
  uid: number;
  /** The account's name, or "uid N" for a uid with no entry in the user database. */
  name: string;
}

/** A user as a line names them: "tester1 (uid 1001)", or "uid 4242" for a uid with no name (not "uid 4242 (uid 4242)"). */
export function describedUser(user: NamedUser): string {
  return user.name === `uid ${user.uid}` ? user.name : `${escapeLine(user.name)} (uid ${user.uid})`;
}

/**
 * The user as chown and sudo -u take it: the name when it is a plain one, else the bare uid ("chown uid 4242 …" is
 * no command, and a name with spaces or control characters would not survive being pasted into a shell).
 */
export function commandUser(user: NamedUser): string {
  return /^[A-Za-z0-9._-]+$/.test(user.name) ? user.name : String(user.uid);
}
