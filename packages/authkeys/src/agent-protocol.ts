/**
 * The agent's wire format: one JSON line each way over a unix socket. Shared by the agent and the
 * login path, so it imports nothing: a login that asks the agent loads neither zod nor LDAP code.
 */
import type { LookupResult } from "./lookup";

/** A user name and a SHA256 fingerprint fit many times over; anything longer is not a login asking. */
export const MAX_REQUEST_BYTES = 4096;
/** A user with hundreds of RSA keys still fits; a reply beyond this is not one the agent sends. */
export const MAX_REPLY_BYTES = 1024 * 1024;

export type AgentRequest = { kind: "lookup"; user: string; fingerprint: string | undefined } | { kind: "ping" };

const RESULTS = new Set<string>(["keys", "no-keys", "unknown-user", "not-allowed", "invalid-user"]);
const SOURCES = new Set(["ldap", "cache", "none"]);

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
  if (!isObject(value)) return { error: "request is not a JSON object" };
  if (value.ping === true) return { kind: "ping" };
  const { user, fingerprint } = value;
  if (typeof user !== "string") return { error: "request has no user" };
  if (fingerprint !== undefined && fingerprint !== null && typeof fingerprint !== "string") {
    return { error: "fingerprint must be a string" };
  }
  return { kind: "lookup", user, fingerprint: fingerprint || undefined };
}

export function formatRequest(request: AgentRequest): string {
  const body = request.kind === "ping" ? { ping: true } : { user: request.user, fingerprint: request.fingerprint };
  return `${JSON.stringify(body)}\n`;
}

export function formatReply(reply: AgentReply): string {
  const { kind, ...body } = reply;
  return `${JSON.stringify(kind === "pong" ? { pong: true } : body)}\n`;
}

/**
 * The reply, or undefined when it is not one the agent sends. A login prints these lines to sshd,
 * so a line break inside a line (a second, smuggled key line) makes the whole reply invalid.
 */
export function parseReply(line: string): AgentReply | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isObject(value)) return undefined;
  if (value.pong === true) return { kind: "pong" };
  if (typeof value.error === "string") return { kind: "error", error: value.error };
  const { result, source, lines } = value;
  if (typeof result !== "string" || !RESULTS.has(result)) return undefined;
  if (typeof source !== "string" || !SOURCES.has(source)) return undefined;
  if (!Array.isArray(lines) || !lines.every((l) => typeof l === "string" && l.length > 0 && !/[\r\n\0]/.test(l))) return undefined;
  if (result !== "keys" && lines.length > 0) return undefined;
  return { kind: "lookup", result: result as LookupResult, source: source as "ldap" | "cache" | "none", lines };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
