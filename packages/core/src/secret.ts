import { join } from "node:path";
import { inspect } from "node:util";
import { ConfigError } from "./errors";
import { describeRefusal, type FileRefusal, readRegularFileSync } from "./regular-file";
import { vaultSecret } from "./vault";

const REDACTED = "[redacted]";
const knownSecrets = new Set<string>();

/**
 * A secret value that cannot leak by accident: string conversion, JSON and util.inspect all
 * print "[redacted]", and every resolved value is registered so the logger and the error printer
 * scrub it from any text that embeds it anyway.
 */
export class Secret {
  readonly #value: string;
  /** Where it came from ("file /etc/x", "env LDAP_PW"), safe to show. */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
    registerSecret(value);
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${this.source})`;
  }
}

/**
 * A secret reference as written in config:
 * - "env:NAME" reads environment variable NAME;
 * - "file:/path" or { file: "/path" } reads a file (trailing newline dropped);
 * - { env: "NAME" } likewise for the environment;
 * - "vault:mount/path#key" is key of the KV v2 secret mount/path in Vault, read when the config was
 *   loaded (see vault.ts);
 * - "credential:NAME" reads systemd credential NAME ($CREDENTIALS_DIRECTORY/NAME, from the unit's
 *   LoadCredential=), so a unit file names the secret files and the config stays the same.
 * Literal secrets in config are refused: config files get copied, pasted and logged.
 */
export type SecretRef = string | { file: string } | { env: string };

export function resolveSecret(ref: SecretRef, keyPath: string, env: NodeJS.ProcessEnv = process.env): Secret {
  if (typeof ref === "string" && ref.startsWith("vault:")) return vaultSecret(ref, keyPath);
  const spec = typeof ref === "string" ? parseRefString(ref, keyPath, env) : ref;
  if ("env" in spec) {
    const value = env[spec.env];
    if (value === undefined || value === "") {
      throw new ConfigError(`${keyPath}: environment variable ${spec.env} is not set`, {
        hint: `export ${spec.env} or point ${keyPath} at a file`,
      });
    }
    return new Secret(value, `env ${spec.env}`);
  }
  const read = readRegularFileSync(spec.file, MAX_SECRET_BYTES);
  if ("refused" in read) throw secretFileRefused(read.refused, ref, keyPath);
  const value = read.bytes.toString("utf8").replace(/\r?\n$/, "");
  if (value === "") {
    // No path in the hint: a literal secret mistaken for a path must never be echoed (T52 F2); the key names the file.
    throw new ConfigError(`${keyPath}: ${namedFile(ref)} is empty`, {
      hint: `write the secret into the file ${keyPath} names (one line), or point ${keyPath} at the file that holds it`,
    });
  }
  return new Secret(value, `file ${spec.file}`);
}

/**
 * A secret sent in an HTTP header (a bearer token, an API key): a line break or control character in it (a
 * token file with two lines, a pasted escape sequence) is a config error naming the key, not an "API
 * unreachable" from the HTTP stack, which refuses such a header before sending it (T31 #3).
 */
export function resolveHeaderSecret(ref: SecretRef, keyPath: string, env: NodeJS.ProcessEnv = process.env): Secret {
  const secret = resolveSecret(ref, keyPath, env);
  const value = secret.reveal();
  // fetch sends a header value as bytes of Latin-1 and refuses anything else, and C1 controls mean nothing to a server;
  // every token and API key a vendor issues is printable ASCII (an editor's byte-order mark is the usual stowaway)
  const [problem, hint] = /[\u0000-\u001f\u007f-\u009f]/.test(value)
    ? ["has a line break or control character inside", "keep only the token on one line"]
    : value.startsWith("\ufeff")
      ? ["starts with a byte-order mark (saved by an editor as UTF-8 with BOM)", "save it as plain UTF-8 or ASCII, without the BOM"]
      : /[^\u0020-\u007e]/.test(value)
        ? ["holds a character that is not ASCII, which no HTTP header carries", "keep only the token, as the service issued it"]
        : [undefined, undefined];
  if (problem) throw new ConfigError(`${keyPath}: the secret from ${secret.source} ${problem}`, { hint });
  return secret;
}

/** A token, password or private key is a few KiB at most; a larger "secret" is a wrong path. */
const MAX_SECRET_BYTES = 64 * 1024;

/**
 * How an error refers to the file a reference names: never by its path, which is the configured value. A literal
 * password that starts with "/" is read as a path (T52 F2: `cannot read secret file /BindS3cret…` went to sshd's
 * log on every login); the config key the error names leads to the path as surely.
 */
function namedFile(ref: SecretRef): string {
  return typeof ref === "string" && ref.startsWith("credential:") ? "the systemd credential it names" : "the secret file it names";
}

/** What an errno means to whoever fixes the config; the code alone for the rare others. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links",
};

/** One line naming the config key and the problem, never the file's path or content. */
function secretFileRefused(refused: FileRefusal, ref: SecretRef, keyPath: string): ConfigError {
  const file = namedFile(ref);
  if (refused.kind !== "unreadable") {
    return new ConfigError(`${keyPath}: ${file} ${describeRefusal(refused, MAX_SECRET_BYTES)}`, {
      hint: refused.kind === "too-large" ? "point it at the file holding only the secret" : "point it at the file holding the secret",
    });
  }
  const words = ERRNO_WORDS[refused.code];
  const bare = typeof ref === "string" && ref.startsWith("/");
  return new ConfigError(`${keyPath}: ${file} cannot be read (${words ? `${refused.code}: ${words}` : refused.code})`, {
    hint: `check the path in ${keyPath} and that this user may read the file${bare ? `; a value starting with "/" names a file, literal secrets are refused` : ""}`,
  });
}

/**
 * The file a reference names itself ("file:/path", an absolute path, { file }), for a check of who may read it
 * (vpnnotify's install, as the hooks' user); undefined for the environment, Vault and a systemd credential, whose
 * file exists only inside its unit.
 */
export function secretFilePath(ref: unknown): string | undefined {
  if (typeof ref === "object" && ref !== null && "file" in ref) return String((ref as { file: unknown }).file);
  if (typeof ref !== "string") return undefined;
  if (ref.startsWith("file:")) return ref.slice(5);
  return ref.startsWith("/") ? ref : undefined;
}

function parseRefString(ref: string, keyPath: string, env: NodeJS.ProcessEnv): { file: string } | { env: string } {
  if (ref.startsWith("env:")) return { env: ref.slice(4) };
  if (ref.startsWith("credential:")) {
    const name = ref.slice(11);
    const dir = env.CREDENTIALS_DIRECTORY;
    if (!dir) {
      throw new ConfigError(`${keyPath}: ${ref} needs $CREDENTIALS_DIRECTORY, which systemd sets for a unit with LoadCredential=`, {
        hint: `run it from its systemd unit with LoadCredential=${name}:/path/to/secret, or use "file:/path"`,
      });
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") {
      throw new ConfigError(`${keyPath}: "${name}" is not a credential name`, { hint: "letters, digits, '_', '.' and '-' only" });
    }
    return { file: join(dir, name) };
  }
  const file = secretFilePath(ref);
  if (file !== undefined) return { file };
  throw new ConfigError(`${keyPath}: expected "env:NAME", "file:/path", "credential:NAME" or an absolute path to a secret file`, {
    hint: "literal secrets are not accepted in config files",
  });
}

/**
 * A copy of plain data (objects, arrays, strings) with every registered secret redacted in every string: for a
 * report built from provider answers before any renderer escapes it (an escaped token no longer matches).
 */
export function redactSecretsDeep<T>(value: T): T {
  if (typeof value === "string") return redactSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactSecretsDeep(v)) as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecretsDeep(v)])) as T;
  }
  return value;
}

/**
 * Registers a value that must never be shown, with the forms it travels in: as is, URL-encoded (a query string,
 * a form body an API echoes; also with every byte encoded), base64 (an Authorization: Basic header a server echoes) and as a JSON string's
 * content, once and twice escaped (an error page dumping the request's headers as JSON, then that text inside our
 * own `--json`: a `"` or `\` in the secret changes it there). For values derived from a Secret that are themselves
 * secret, such as a built Authorization header; Secret registers its own.
 */
export function registerSecret(value: string): void {
  if (value.length < 4) return;
  knownSecrets.add(value);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) knownSecrets.add(encoded);
  // every byte percent-encoded, as a client or proxy that encodes all of a value writes it: a token made only of
  // characters encodeURIComponent leaves alone is otherwise printed so (T65 N2); either hex case is matched.
  knownSecrets.add([...Buffer.from(value, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""));
  knownSecrets.add(Buffer.from(value, "utf8").toString("base64").replace(/=+$/, ""));
  const inJson = jsonStringContent(value);
  if (inJson !== value) knownSecrets.add(inJson).add(jsonStringContent(inJson));
}

/**
 * Registers the secret parts of a URL that carries its own credentials, for redaction as header secrets are:
 * a receiver that echoes the request line in its error body would otherwise have the token printed on stderr,
 * in --json and in logs (T41 F3). Such a URL is a credential as a whole: besides a `?token=…` and a
 * `user:password@`, many webhooks carry their secret in the path (Slack's /services/T…/B…/<secret>, Discord's
 * /api/webhooks/<id>/<token>, Zapier's /hooks/catch/<id>/<key>/), so the whole path and the whole query are
 * registered (T43 N3), and so is each query value, userinfo part or path segment of a credential's length (8+) that
 * a receiver may echo alone. A path segment counts only when it has a digit or a capital: a plain word such as
 * "services" or "webhooks" would be redacted from every line, and a short key stays covered by the whole path.
 */
export function registerUrlSecrets(url: string): void {
  const parsed = new URL(url);
  // 8+ as for the parts below: a short path ("/hook", "/api") holds no secret, and would be cut out of every line
  if (parsed.pathname.length >= 8) registerSecret(parsed.pathname);
  for (const segment of parsed.pathname.split("/")) {
    if (segment.length >= 8 && /[0-9A-Z]/.test(segment)) registerSecret(decodeURIComponent(segment));
  }
  const query = parsed.search.slice(1);
  if (query) registerSecret(query);
  for (const [, value] of parsed.searchParams) if (value.length >= 8) registerSecret(value);
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  if (password) registerSecret(`${user}:${password}`);
  for (const part of [user, password]) if (part.length >= 8) registerSecret(part);
}

/**
 * A URL's `user:password@` as HTTP Basic authentication, since fetch refuses a URL that carries credentials: the
 * Authorization header's value, with the credentials taken out of `url` and the password registered as a secret (a
 * server may echo it alone; the header and what it decodes to are registered where it is sent). Undefined when the
 * URL has none. Whether they may go over this URL's scheme is the caller's to decide first.
 */
export function basicAuthFromUrl(url: URL): string | undefined {
  if (!url.username && !url.password) return undefined;
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  registerSecret(`${user}:${password}`);
  registerSecret(password);
  url.username = "";
  url.password = "";
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** The characters JSON.stringify writes between a string's quotes. */
const jsonStringContent = (value: string): string => JSON.stringify(value).slice(1, -1);

/** Whether any secret is registered: when none is, a byte writer passes its bytes through untouched (no decoding). */
export function secretsRegistered(): boolean {
  return knownSecrets.size > 0;
}

/**
 * Replaces every registered secret value in text, in any letter case (a case-folding proxy, WAF or error page echoes a
 * token lower-cased: T63 D3), a secret a server echoed with line breaks inside included.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.replace(anyCasePattern(secret), REDACTED);
  return knownSecrets.size > 0 && hasLineBreak(trimLineEnd(out)) ? redactAcrossLineBreaks(out) : out;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** Per secret: the secret in any letter case (built once, used on every write). */
const anyCasePatterns = new Map<string, RegExp>();

function anyCasePattern(secret: string): RegExp {
  let pattern = anyCasePatterns.get(secret);
  if (!pattern) {
    pattern = new RegExp(escapeRegExp(secret), "gi");
    anyCasePatterns.set(secret, pattern);
  }
  return pattern;
}

/** Per secret: the secret folded as foldCase folds text (built once). */
const foldedSecrets = new Map<string, string>();

function foldedSecret(secret: string): string {
  let folded = foldedSecrets.get(secret);
  if (folded === undefined) {
    folded = foldCase(secret);
    foldedSecrets.set(secret, folded);
  }
  return folded;
}

/**
 * Text in one letter case, of the same length (a position in it is one in `text`), for the prefix tests that decide
 * what a streaming writer holds back: upper case where that keeps the length (it does not for "ß"), ASCII otherwise.
 */
function foldCase(text: string): string {
  const upper = text.toUpperCase();
  return upper.length === text.length ? upper : text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

/**
 * A line break as a server sends it inside an echoed value (a wrapped error text), and as printers escape it: JSON
 * ("\\n", "\\r"), escapeLine ("\\n") and escapeControlChars ("\\x0d" for a carriage return).
 */
const LINE_BREAK = String.raw`(?:\r\n|\r|\n|\\r\\n|\\r|\\n|\\x0d\\n|\\x0d\n|\\x0d)`;
const LINE_BREAK_TEST = new RegExp(LINE_BREAK);
/** Whether `text` has a line break (string search first: this runs on every write). */
const hasLineBreak = (text: string) => text.includes("\n") || text.includes("\r") || (text.includes("\\") && LINE_BREAK_TEST.test(text));
const LINE_BREAKS = new RegExp(LINE_BREAK, "g");

/**
 * Shortest start of a secret that, followed by a line break at the end of a write, is held back for the next write:
 * a whole line must not wait merely because its last few characters could start a secret.
 */
const MIN_LINE_PIECE = 8;

/** Per secret: the secret with any line breaks between its characters (built once, used on every write). */
const splitPatterns = new Map<string, RegExp>();

function splitPattern(secret: string): RegExp {
  let pattern = splitPatterns.get(secret);
  if (!pattern) {
    const chars = [...secret].map(escapeRegExp);
    pattern = new RegExp(chars.join(`${LINE_BREAK}*`), "gi");
    splitPatterns.set(secret, pattern);
  }
  return pattern;
}

/** Every registered secret that `text` holds with line breaks between its characters, replaced whole. */
function redactAcrossLineBreaks(text: string): string {
  let out = text;
  for (const secret of knownSecrets) out = out.replace(splitPattern(secret), REDACTED);
  return out;
}

/**
 * Like secretPrefixLength, for a start of a secret (at least MIN_LINE_PIECE characters of it) that line breaks split
 * or end: a server's text written line by line, its secret wrapped onto the next line. Only the end of `text` can
 * hold one, so only that much is looked at.
 */
function splitPrefixLength(text: string): number {
  let longestSecret = 0;
  for (const secret of knownSecrets) longestSecret = Math.max(longestSecret, secret.length);
  // At most one break between two characters; the longest escaped form is 6 characters long.
  const tail = text.slice(-longestSecret * 7);
  const { flat: asWritten, at } = withoutLineBreaks(tail);
  const flat = foldCase(asWritten);
  let start = tail.length;
  for (const written of knownSecrets) {
    const secret = foldedSecret(written);
    // Cheap test first: a start of this secret long enough to hold back must begin in the last characters.
    if (secret.length <= MIN_LINE_PIECE || !flat.includes(secret.slice(0, MIN_LINE_PIECE), flat.length - secret.length)) continue;
    for (let n = Math.min(secret.length - 1, flat.length); n >= MIN_LINE_PIECE; n--) {
      if (flat.endsWith(secret.slice(0, n))) {
        start = Math.min(start, at(flat.length - n));
        break;
      }
    }
  }
  return tail.length - start;
}

/** `text` without the line breaks it ends with: nothing can follow those within this text. */
function trimLineEnd(text: string): string {
  let end = text.length;
  while (end > 0 && (text[end - 1] === "\n" || text[end - 1] === "\r")) end--;
  return end === text.length ? text : text.slice(0, end);
}

/**
 * `text` without its line breaks, and where the flat text's character `i` stands in `text`. A log line has a break
 * only at its end: then that is cut off, and nothing is copied.
 */
function withoutLineBreaks(text: string): { flat: string; at: (i: number) => number } {
  const body = trimLineEnd(text);
  if (!hasLineBreak(body)) return { flat: body, at: (i) => i };
  let flat = "";
  const positions: number[] = [];
  let from = 0;
  for (const match of text.matchAll(LINE_BREAKS)) {
    for (let i = from; i < match.index; i++) positions.push(i);
    flat += text.slice(from, match.index);
    from = match.index + match[0].length;
  }
  for (let i = from; i < text.length; i++) positions.push(i);
  flat += text.slice(from);
  return { flat, at: (i) => positions[i] as number };
}

/**
 * The length of the longest end of `text` that is the start (not the whole) of a registered secret: what a
 * streaming writer holds back until the next write, so a secret split across two writes is still redacted.
 */
export function secretPrefixLength(text: string): number {
  if (knownSecrets.size === 0) return 0;
  let longest = 0;
  let longestSecret = 0;
  for (const secret of knownSecrets) longestSecret = Math.max(longestSecret, secret.length);
  // Only an end shorter than the longest secret can be held back: that much is folded, not the whole write.
  const folded = foldCase(text.slice(-longestSecret));
  for (const written of knownSecrets) {
    const secret = foldedSecret(written);
    for (let n = Math.min(secret.length - 1, folded.length); n > longest; n--) {
      if (folded.endsWith(secret.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return hasLineBreak(text) ? Math.max(longest, splitPrefixLength(text)) : longest;
}
