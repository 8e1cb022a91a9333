import type { AuthkeysConfig } from "./config";
/**
 * Why `authkeys principals` cannot serve this config, or undefined. The group's keyOptions stand in front of
 * every principal line it prints, and sshd cuts those lines at the first "#", even inside quotes
 * (auth2-pubkeyfile.c, auth_process_principals: strchr(cp, '#')), while an authorized_keys line is a comment
 * only when it starts with "#". No quoting keeps a "#" there, so such a group's certificate logins would all be
 * refused. Only the principals command (and doctor) refuse it: key logins read the same options correctly, and
 * refusing the whole config at load would lock every key login out after an upgrade.
 */
export function principalOptionsProblem(config: Pick<AuthkeysConfig, "allowedGroups" | "hostAccess">): string | undefined {
  const groups = [...(config.allowedGroups ?? []), ...(config.hostAccess?.rules ?? []).flatMap((r) => r.allowedGroups)];
  for (const group of groups) {
    if (typeof group !== "string" && group.keyOptions?.includes("#")) {
      return `group ${JSON.stringify(group.dn)}: a "#" in keyOptions cuts sshd's principal lines (AuthorizedPrincipalsCommand), so every certificate login of this group would be refused; remove the "#" (move such a command="…" into a script and name the script)`;
    }
  }
  return undefined;
}
