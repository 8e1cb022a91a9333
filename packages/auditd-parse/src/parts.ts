import type { AuditEvent } from "./event";

/**
 * How many events written in parts (AuditEvent.part) the readers of their later parts remember, each: a part's later
 * parts come right after it, so more are never open at once.
 */
export const PARTS_REMEMBERED = 64;

/** What an event in parts is known by to its later parts: its host and id (every part has both). */
export function partKey(e: AuditEvent): string {
  return `${e.node ?? ""} ${e.id}`;
}
