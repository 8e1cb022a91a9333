import { KERNEL_RECORD_TYPES } from "./tables/generated";

// User-space record types live in libaudit.h, not the kernel UAPI headers (values from audit-userspace);
// plus kernel types newer than the headers the tables were generated from.
const USER_RECORD_TYPES: Readonly<Record<number, string>> = {
  1100: "USER_AUTH",
  1101: "USER_ACCT",
  1102: "USER_MGMT",
  1103: "CRED_ACQ",
  1104: "CRED_DISP",
  1105: "USER_START",
  1106: "USER_END",
  1108: "USER_CHAUTHTOK",
  1109: "USER_ERR",
  1110: "CRED_REFR",
  1111: "USYS_CONFIG",
  1112: "USER_LOGIN",
  1113: "USER_LOGOUT",
  1114: "ADD_USER",
  1115: "DEL_USER",
  1116: "ADD_GROUP",
  1117: "DEL_GROUP",
  1118: "DAC_CHECK",
  1119: "CHGRP_ID",
  1120: "TEST",
  1121: "TRUSTED_APP",
  1122: "USER_SELINUX_ERR",
  1123: "USER_CMD",
  1125: "CHUSER_ID",
  1126: "GRP_AUTH",
  1127: "SYSTEM_BOOT",
  1128: "SYSTEM_SHUTDOWN",
  1129: "SYSTEM_RUNLEVEL",
  1130: "SERVICE_START",
  1131: "SERVICE_STOP",
  1132: "GRP_MGMT",
  1133: "GRP_CHAUTHTOK",
  1134: "MAC_CHECK",
  1135: "ACCT_LOCK",
  1136: "ACCT_UNLOCK",
  1137: "USER_DEVICE",
  1138: "SOFTWARE_UPDATE",
  1204: "DAEMON_RECONFIG",
  1205: "DAEMON_ROTATE",
  1206: "DAEMON_RESUME",
  1207: "DAEMON_ACCEPT",
  1208: "DAEMON_CLOSE",
  1209: "DAEMON_ERR",
  // newer than the kernel headers on the build host
  1420: "MAC_TASK_CONTEXTS",
  1421: "MAC_OBJ_CONTEXTS",
  2100: "ANOM_LOGIN_FAILURES",
  2101: "ANOM_LOGIN_TIME",
  2102: "ANOM_LOGIN_SESSIONS",
  2103: "ANOM_LOGIN_ACCT",
  2104: "ANOM_LOGIN_LOCATION",
  2105: "ANOM_MAX_DAC",
  2106: "ANOM_MAX_MAC",
  2107: "ANOM_AMTU_FAIL",
  2108: "ANOM_RBAC_FAIL",
  2109: "ANOM_RBAC_INTEGRITY_FAIL",
  2110: "ANOM_CRYPTO_FAIL",
  2111: "ANOM_ACCESS_FS",
  2112: "ANOM_EXEC",
  2113: "ANOM_MK_EXEC",
  2114: "ANOM_ADD_ACCT",
  2115: "ANOM_DEL_ACCT",
  2116: "ANOM_MOD_ACCT",
  2117: "ANOM_ROOT_TRANS",
  2118: "ANOM_LOGIN_SERVICE",
  2300: "USER_ROLE_CHANGE",
  2301: "ROLE_ASSIGN",
  2302: "ROLE_REMOVE",
  2303: "LABEL_OVERRIDE",
  2304: "LABEL_LEVEL_CHANGE",
  2309: "USER_MAC_POLICY_LOAD",
  2310: "USER_MAC_CONFIG_CHANGE",
  2400: "CRYPTO_TEST_USER",
  2401: "CRYPTO_PARAM_CHANGE_USER",
  2402: "CRYPTO_LOGIN",
  2403: "CRYPTO_LOGOUT",
  2404: "CRYPTO_KEY_USER",
  2405: "CRYPTO_FAILURE_USER",
  2406: "CRYPTO_REPLAY_USER",
  2407: "CRYPTO_SESSION",
  2408: "CRYPTO_IKE_SA",
  2409: "CRYPTO_IPSEC_SA",
  2500: "VIRT_CONTROL",
  2501: "VIRT_RESOURCE",
  2502: "VIRT_MACHINE_ID",
};

/** The record type name for a number, e.g. 1300 → SYSCALL; undefined when unknown. */
export function recordTypeName(nr: number): string | undefined {
  return KERNEL_RECORD_TYPES[nr] ?? USER_RECORD_TYPES[nr];
}

/**
 * Record types that make up a whole event on their own: user-space messages (1100–1299, 2100–2999) never
 * get an EOE, so waiting for one would only delay them by the grouping window.
 */
export function isStandaloneType(name: string, nr: number | undefined): boolean {
  const n = nr ?? TYPE_NUMBERS.get(name);
  if (n === undefined) return name.startsWith("USER_") || name.startsWith("CRED_") || name.startsWith("DAEMON_");
  return (n >= 1100 && n < 1300) || (n >= 2100 && n < 3000);
}

const TYPE_NUMBERS = new Map<string, number>();
/** Each known name, as the tables' own string (see knownTypeName). */
const TYPE_TEXTS = new Map<string, string>();
for (const table of [KERNEL_RECORD_TYPES, USER_RECORD_TYPES]) {
  for (const [nr, name] of Object.entries(table)) {
    TYPE_NUMBERS.set(name, Number(nr));
    TYPE_TEXTS.set(name, name);
  }
}

/**
 * A type name read from a log (`type=AVC`) as the tables' string of the same text: a string of the source, which
 * V8 keeps internalized, so every `type === "SYSCALL"` the parse makes of a record (eight or so) is a compare of
 * two references, where the text read from the buffer took a call comparing lengths, then characters (issue 23,
 * Round 39). The same text either way; raw itself for a name the tables do not know.
 */
export function knownTypeName(raw: string): string {
  return TYPE_TEXTS.get(raw) ?? raw;
}

/** `--type` accepts names (SYSCALL), numbers (1300) and the parser's UNKNOWN[n]; the canonical name or undefined. */
export function recordTypeOf(value: string): string | undefined {
  const upper = value.toUpperCase();
  if (/^\d+$/.test(upper)) return recordTypeName(Number(upper)) ?? `UNKNOWN[${Number(upper)}]`;
  if (TYPE_NUMBERS.has(upper) || /^UNKNOWN\[\d+\]$/.test(upper)) return upper;
  return undefined;
}
