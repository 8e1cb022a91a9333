/** Whether Intl knows the IANA zone (config values, LDAP attributes and Slack profiles all come as text). */
export function isTimeZone(zone: string | undefined): zone is string {
  if (!zone) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
