import { auditdParseDemo } from "./auditd-parse";
import { authkeysDemo } from "./authkeys";
import { deputizeDemo } from "./deputize";
import { ldapKeysDemo } from "./ldap-keys";
import { sockCheckDemo } from "./sock-check";
import type { DemoSection } from "./types";
import { vpnnotifyDemo } from "./vpnnotify";

export type { DemoSection } from "./types";

/** The demo's sections, run in this order; each tool registers its own with one line. */
export const DEMO_SECTIONS: DemoSection[] = [ldapKeysDemo, authkeysDemo, deputizeDemo, sockCheckDemo, vpnnotifyDemo, auditdParseDemo];
