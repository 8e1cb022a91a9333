/**
 * The agent's side of its wire format: one JSON line each way over a unix socket. The login side
 * (askAgent) is self-contained, so the launcher can carry it.
 */
import type { LookupResult } from "./lookup";

/** A user name and a SHA256 fingerprint fit many times over; anything longer is not a login asking. */
export const MAX_REQUEST_BYTES = 4096;

export type AgentRequest = { kind: "lookup"; user: string; fingerprint: string | undefined } | { kind: "ping" };

export type AgentReply =
  | { kind: "lookup"; result: LookupResult; source: "ldap" | "cache" | "none"; lines: string[] }
  | { kind: "pong" }
  | { kind: "error"; error: string };

/** The request on one line, or why it is not one. */
export function parseRequest(line: string): AgentRequest | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: "request is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "request is not a JSON object" };
  const { ping, user, fingerprint } = value as Record<string, unknown>;
  if (ping === true) return { kind: "ping" };
  if (typeof user !== "string") return { error: "request has no user" };
  if (fingerprint !== undefined && fingerprint !== null && typeof fingerprint !== "string") {
    return { error: "fingerprint must be a string" };
  }
  return { kind: "lookup", user, fingerprint: fingerprint || undefined };
}

export function formatReply(reply: AgentReply): string {
  const { kind, ...body } = reply;
  return `${JSON.stringify(kind === "pong" ? { pong: true } : body)}\n`;
}
