import { join } from "node:path";
import type { LdapConnectionConfig } from "@opsguard/core";
import type { z } from "zod";

/** The built bundle of a tool, as `pnpm lab` prints it in the command to try (relative to the repo root). */
export function toolBin(tool: string): string {
  return join("packages", tool, "dist", `${tool}.cjs`);
}

/** A tool's config file as its own schema reads it (before defaults), so a builder writing a key the tool does not have fails tsc. */
export type ConfigInput<S extends z.ZodType> = z.input<S>;

export interface LdapDirectorySection {
  peopleDn: string;
  groupsDn: string;
  oncallGroupDn: string;
}

/** An on-call SaaS account: where it answers, its credential (a `file:` reference) and the lab's schedules in it. */
export interface OncallApiSection {
  baseUrl: string;
  schedules: string[];
}

/**
 * Every config section the lab's components offer, by name (written to lab.yaml, handed to the tool config
 * builders). A section is absent when its component did not start.
 */
export interface LabSections {
  /** slapd as the reader account (StartTLS, the lab CA). */
  ldap?: LdapConnectionConfig;
  /** slapd as the deputize service account, which may write only the on-call group. */
  ldapService?: LdapConnectionConfig;
  ldapDirectory?: LdapDirectorySection;
  redis?: { url: string };
  sshd?: { host: string; port: number; authkeysConfig: string };
  slack?: { token: string; baseUrl: string };
  slackLab?: { oncallChannel: string; securityChannel: string; oncallGroup: string };
  pagerduty?: OncallApiSection & { token: string };
  opsgenie?: OncallApiSection & { apiKey: string };
  gitlab?: { token: string; baseUrl: string; oncallGroup: string };
  github?: { token: string; apiUrl: string; repository: string; repoDir: string; deployTag: string };
}

/** What the lab hands builders: the sections above, typed, and any a component outside this list offers (tests' parts). */
export type OfferedSections = LabSections & Readonly<Record<string, unknown>>;
