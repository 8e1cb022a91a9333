/** What main.ts runs without the full CLI. */
export type HotCommand =
  | { kind: "lookup"; config: string | undefined; user: string; fingerprint: string | undefined }
  | { kind: "warm-up"; config: string | undefined };

/**
 * Recognises sshd's shape, `[--config FILE] [lookup] <user> [fingerprint [type [key]]]`, and the
 * install-time `[--config FILE] warm-up`. Anything else — any other flag, a command, a missing or
 * extra argument — is undefined and goes to the full CLI, which reads these same shapes identically
 * (a test holds the two to the same output) and owns every usage error. Self-contained: the
 * launcher carries a copy for its agent fast path.
 */
export function parseSshdArgv(argv: readonly string[]): HotCommand | undefined {
  // Names the full CLI reads as a command, not as a user, when `lookup` is not written first.
  const COMMANDS = ["agent", "doctor", "install", "sshd-config", "help"];
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
  if (rest.some((arg) => arg.startsWith("-"))) return undefined;
  if (rest.length === 1 && rest[0] === "warm-up") return { kind: "warm-up", config };
  if (rest[0] === "lookup") rest = rest.slice(1);
  else if (rest[0] === undefined || COMMANDS.includes(rest[0])) return undefined;
  const [user, fingerprint] = rest;
  if (user === undefined || rest.length > 4) return undefined;
  return { kind: "lookup", config, user, fingerprint };
}
