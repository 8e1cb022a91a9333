import { ConfigError } from "@opsguard/core/errors";
import { describeRefusal, readRegularFileSync } from "@opsguard/core/regular-file";
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
    if (this.sources.passwd !== undefined) this.users ??= loadIds("passwd", this.sources.passwd, true);
    if (this.sources.group !== undefined) this.groups ??= loadIds("group", this.sources.group, true);
  }

  user(id: string): string {
    if (id === UNSET_ID || id === "-1") return "unset";
    this.users ??= loadIds("passwd", this.sources.passwd ?? "/etc/passwd", this.sources.passwd !== undefined);
    return this.users.get(id) ?? id;
  }

  group(id: string): string {
    if (id === UNSET_ID || id === "-1") return "unset";
    this.groups ??= loadIds("group", this.sources.group ?? "/etc/group", this.sources.group !== undefined);
    return this.groups.get(id) ?? id;
  }
}

/**
 * The largest passwd or group file read, as for a rule file: a host's passwd is a few KiB, a directory's whole
 * export of 100,000 users about 8 MB.
 */
const MAX_ID_FILE_BYTES = 16 << 20;

/**
 * name:x:id:… lines; a missing default file means "no names", a configured one that cannot be read is an error.
 * Read as core reads a config or a rule file (opened without blocking, then fstat): a FIFO held the run in open
 * for ever and /dev/zero filled memory (T34 #4); so anything but a regular file of at most MAX_ID_FILE_BYTES is
 * refused. /dev/null is the one device taken, as the empty file it reads as: `--passwd /dev/null`, no names.
 */
function loadIds(kind: "passwd" | "group", file: string, required: boolean): Map<string, string> {
  const map = new Map<string, string>();
  if (file === "/dev/null") return map;
  const read = readRegularFileSync(file, MAX_ID_FILE_BYTES);
  if ("refused" in read) {
    if (!required) return map;
    const hint = "check the --passwd/--group path or the passwd/group config key";
    if (read.refused.kind === "unreadable") throw new ConfigError(`cannot read ${escapeLine(file)}: ${read.refused.code}`, { hint });
    throw new ConfigError(`${kind} file ${escapeLine(file)} ${describeRefusal(read.refused, MAX_ID_FILE_BYTES)}`, {
      hint: read.refused.kind === "too-large" ? `give a ${kind}(5) file: a host's is a few KiB` : hint,
    });
  }
  const text = read.bytes.toString("utf8");
  for (const line of text.split("\n")) {
    const parts = line.split(":");
    const name = parts[0];
    const id = parts[2];
    if (name && id && !line.startsWith("#") && !map.has(id)) map.set(id, name);
  }
  return map;
}
