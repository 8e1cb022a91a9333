import { readFileSync } from "node:fs";
import { ConfigError } from "@opsguard/core/errors";
import { escapeLine } from "@opsguard/core/text";

/** (uid_t)-1: the kernel's "not set", e.g. the auid of a process that never logged in. */
export const UNSET_ID = "4294967295";

export interface IdSources {
  /** passwd(5)-format file; default /etc/passwd. */
  passwd?: string;
  /** group(5)-format file; default /etc/group. */
  group?: string;
}

/** uid/gid → name from passwd/group files, read once on first use. Unknown ids stay numeric. */
export class IdNames {
  private users: Map<string, string> | undefined;
  private groups: Map<string, string> | undefined;

  constructor(private readonly sources: IdSources = {}) {}

  /**
   * Reads the files given explicitly now: one that cannot be read fails before any output, as a configuration
   * error (exit 78), flag or config key alike: exit 66 means the audit input could not be read, and a script
   * that retries that as root must not be sent there by a mistyped --passwd.
   */
  check(): void {
    if (this.sources.passwd !== undefined) this.users ??= loadIds(this.sources.passwd, true);
    if (this.sources.group !== undefined) this.groups ??= loadIds(this.sources.group, true);
  }

  user(id: string): string {
    if (id === UNSET_ID || id === "-1") return "unset";
    this.users ??= loadIds(this.sources.passwd ?? "/etc/passwd", this.sources.passwd !== undefined);
    return this.users.get(id) ?? id;
  }

  group(id: string): string {
    if (id === UNSET_ID || id === "-1") return "unset";
    this.groups ??= loadIds(this.sources.group ?? "/etc/group", this.sources.group !== undefined);
    return this.groups.get(id) ?? id;
  }
}

/** name:x:id:… lines; a missing default file means "no names", a missing configured one is an error. */
function loadIds(file: string, required: boolean): Map<string, string> {
  const map = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if (!required) return map;
    throw new ConfigError(`cannot read ${escapeLine(file)}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      hint: "check the --passwd/--group path or the passwd/group config key",
    });
  }
  for (const line of text.split("\n")) {
    const parts = line.split(":");
    const name = parts[0];
    const id = parts[2];
    if (name && id && !line.startsWith("#") && !map.has(id)) map.set(id, name);
  }
  return map;
}
