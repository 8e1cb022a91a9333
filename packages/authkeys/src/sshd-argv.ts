/** What main.ts runs without the full CLI. */
export type HotCommand =
  | { kind: "lookup"; config: string | undefined; user: string; fingerprint: string | undefined }
  | { kind: "warm-up"; config: string | undefined };

/**
 * Recognises sshd's shape, `[--config FILE] [lookup] [--] <user> [fingerprint [type [key]]]`, and the
 * install-time `[--config FILE] warm-up`. Anything else — any other flag, a command, a missing or
 * extra argument — is undefined and goes to the full CLI, which reads these same shapes identically
 * (a test holds the two to the same output) and owns every usage error. Self-contained: the
 * launcher carries a copy for its agent fast path.
 */
export function parseSshdArgv(argv: readonly string[]): HotCommand | undefined {
  // Names the full CLI reads as a command, not as a user, when `lookup` is not written first (a test holds
  // this list to the program's commands: `audit` once ran a key lookup for a user "audit" and exited 0).
  const COMMANDS = ["agent", "audit", "doctor", "install", "principals", "sshd-config", "verify", "help"];
  let rest = argv;
  let config: string | undefined;
  const [first, second] = rest;
  if ((first === "--config" || first === "-c") && second !== undefined && !second.startsWith("-")) {
    config = second;
    rest = rest.slice(2);
  } else if (first?.startsWith("--config=")) {
    config = first.slice("--config=".length);
    rest = rest.slice(1);
  }
  // After "--" (which sshd-config prints before %u) nothing is an option: a user "--help" or "-c" is a name.
  const end = rest.indexOf("--");
  const before = end === -1 ? rest : rest.slice(0, end);
  if (before.some((arg) => arg.startsWith("-"))) return undefined;
  if (end === -1 && rest.length === 1 && rest[0] === "warm-up") return { kind: "warm-up", config };
  let names = before;
  if (names[0] === "lookup") names = names.slice(1);
  else if (end === -1 && (names[0] === undefined || COMMANDS.includes(names[0]))) return undefined;
  if (end !== -1 && names.length > 0) return undefined;
  const positional = end === -1 ? names : rest.slice(end + 1);
  const [user, fingerprint] = positional;
  if (user === undefined || positional.length > 4) return undefined;
  return { kind: "lookup", config, user, fingerprint };
}
