import { LdapNotFoundError, LdapOperationError } from "@opsguard/core/ldap/errors";

/**
 * For a search's catch: noSuchObject there is about its base, not what was searched for. A base the directory lacks
 * is the config's error (65, as the README's exit codes say, naming the key), never "no such user" or "no group",
 * which would clear a user's cache or pass a member by.
 */
export function missingBase(what: string, key: string): (error: unknown) => never {
  return (error: unknown) => {
    if (error instanceof LdapNotFoundError) {
      throw new LdapOperationError(`${error.message}: ${what} does not exist`, 32, { hint: `check ${key} (default ldap.baseDn)` });
    }
    throw error;
  };
}
