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
