export { KeyCache } from "./cache";
export { type AuthkeysConfig, authkeysConfigSchema, LOGIN_LDAP_DEFAULTS } from "./config";
export { type DirectoryAnswer, type DirectoryQuery, type GroupRule, groupRules, queryDirectory } from "./directory";
export { checkCommandPath } from "./doctor";
export { checkOptions, DEFAULT_KEY_TYPES } from "./key-options";
export { type AuthorizedKey, checkKeyValue, fingerprintOf, formatKeyLine, type KeyPolicy, type KeyVerdict } from "./keys";
export { type LookupDeps, type LookupOutcome, type LookupRequest, type LookupResult, lookupKeys } from "./lookup";
export { sshdConfigLines } from "./sshd-config";
export { isValidUsername } from "./username";
