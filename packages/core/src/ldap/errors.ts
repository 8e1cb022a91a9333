import { ConfigError, DataError, type ErrorDetails, NoInputError, PermissionError, TempFailError, UnavailableError } from "../errors";

/** No LDAP server could be reached (refused, DNS, TLS failure) → exit 69. */
export class LdapUnavailableError extends UnavailableError {}

/** A server accepted the connection but did not answer in time, or the overall deadline ran out → exit 75. */
export class LdapTimeoutError extends TempFailError {}

/** The bind DN or password was rejected → exit 78: it is the configuration that must change. */
export class LdapAuthError extends ConfigError {}

/** The bound identity may not do this (ACL) → exit 77. */
export class LdapPermissionError extends PermissionError {}

/** The entry (or search base) does not exist → exit 66. */
export class LdapNotFoundError extends NoInputError {}

/** More entries than expected (a unique lookup matched several, or a size limit was hit) → exit 65. */
export class LdapTooManyError extends DataError {}

/** The server refused an operation for another reason (schema, constraint, syntax) → exit 65. */
export class LdapOperationError extends DataError {
  readonly resultCode: number | undefined;
  constructor(message: string, resultCode: number | undefined, details?: ErrorDetails) {
    super(message, details);
    this.resultCode = resultCode;
  }
}

/** RFC 4511 §4.1.9's names of the result codes a server may answer with, for a message that gave no text of its own. */
const RESULT_NAMES: Readonly<Record<number, string>> = {
  1: "operationsError",
  2: "protocolError",
  3: "timeLimitExceeded",
  4: "sizeLimitExceeded",
  7: "authMethodNotSupported",
  8: "strongerAuthRequired",
  // not in RFC 4511: LDAPv2's partialResults, which Active Directory still sends with a referral
  9: "partialResults",
  10: "referral",
  11: "adminLimitExceeded",
  12: "unavailableCriticalExtension",
  13: "confidentialityRequired",
  32: "noSuchObject",
  34: "invalidDNSyntax",
  48: "inappropriateAuthentication",
  49: "invalidCredentials",
  50: "insufficientAccessRights",
  51: "busy",
  52: "unavailable",
  53: "unwillingToPerform",
  80: "other",
};

/** "result code 3, timeLimitExceeded": the number the server sent, and its RFC name where there is one. */
export function resultCodeText(code: number): string {
  const name = RESULT_NAMES[code];
  return name === undefined ? `result code ${code}` : `result code ${code}, ${name}`;
}
