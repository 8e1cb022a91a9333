import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import {
  basicAuthFromUrl,
  DataError,
  describeUrl,
  HttpClient,
  isLoopbackHost,
  NoInputError,
  OpsguardError,
  sleep,
  UsageError,
} from "@opsguard/core";

/**
 * The deployed commit as a running service publishes it: a file or URL holding exactly one SHA (text, whitespace
 * around it allowed), or JSON whose sha/commit/revision… is exactly one. Anything else is refused, not searched for
 * something SHA-like: two SHAs or a web page gave the first hex word, and a later one shrinks the range (T53 F5).
 */

const SHA = /^[0-9a-f]{7,40}$/i;
const KEYS = ["sha", "commit", "git_sha", "gitSha", "revision", "git_commit"];

export function shaFromText(text: string, source: string): string {
  const trimmed = text.trim();
  const refused = (why: string) =>
    new DataError(`${source} does not contain exactly one commit SHA (${why})`, {
      hint: `expected only a hex SHA, or JSON with one of ${KEYS.join(", ")}`,
    });
  if (trimmed.startsWith("{")) {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(trimmed) as Record<string, unknown>;
    } catch {
      throw refused("JSON that does not parse");
    }
    // JSON.parse keeps the last of a repeated key: {"sha":A,"sha":B} names two SHAs, of which it would take B (T55 N2).
    const repeated = repeatedKey(trimmed);
    if (repeated !== undefined) throw refused(`JSON with the key ${JSON.stringify(repeated)} more than once`);
    // Every key it recognises must name the same SHA: two that disagree leave which one is deployed open.
    const named = [...new Set(KEYS.map((k) => json[k]).filter((v) => v !== undefined))];
    if (named.length === 0) throw refused(`JSON without ${KEYS.join(", ")}`);
    const found = named.map((v) => (typeof v === "string" ? v.trim().toLowerCase() : v));
    if (new Set(found).size > 1) throw refused("JSON naming different SHAs");
    if (typeof found[0] !== "string" || !SHA.test(found[0])) throw refused("JSON whose SHA is not a hex SHA");
    return found[0];
  }
  if (!SHA.test(trimmed)) throw refused(trimmed === "" ? "an empty answer" : "more than a hex SHA");
  return trimmed.toLowerCase();
}

/**
 * The first key that appears twice in one object of `json` (text JSON.parse accepted), compared as decoded, so
 * "sha" and "\u0073ha" are the same key; undefined when every object's keys are distinct.
 */
function repeatedKey(json: string): string | undefined {
  const objects: Array<Set<string> | null> = []; // one entry per open object (its keys so far) or array (null)
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === "{") objects.push(new Set());
    else if (c === "[") objects.push(null);
    else if (c === "}" || c === "]") objects.pop();
    else if (c === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === "\\" ? 2 : 1;
      const keys = objects.at(-1);
      // A string followed (past any whitespace) by ':' is a key of the innermost object.
      const colon = /\s*:/y;
      colon.lastIndex = end + 1;
      if (keys && colon.test(json)) {
        const key = JSON.parse(json.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
    }
  }
  return undefined;
}

/** A version file or answer is a line or a small JSON object; more is a wrong path or URL, not read into memory. */
const MAX_BYTES = 64 * 1024;
const FIFO_WAIT_MS = 10_000;

export async function shaFromFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readSmallFile(path);
  } catch (error) {
    if (error instanceof OpsguardError) throw error;
    throw new NoInputError(`cannot read --from-file ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return shaFromText(text, `--from-file ${path}`);
}

/**
 * At most MAX_BYTES of a file. A FIFO is opened without blocking (a FIFO nobody writes to would hang open() for
 * ever) and read until its writer closes it, for at most FIFO_WAIT_MS; no writer at all reads as empty.
 */
async function readSmallFile(path: string): Promise<string> {
  const info = await stat(path);
  if (info.isDirectory()) throw new NoInputError(`--from-file ${path} is a directory`, { hint: "give the file holding the SHA" });
  const fifo = info.isFIFO();
  const handle = await open(path, fifo ? constants.O_RDONLY | constants.O_NONBLOCK : constants.O_RDONLY);
  try {
    const chunks: Buffer[] = [];
    const buffer = Buffer.alloc(MAX_BYTES + 1);
    const deadline = Date.now() + FIFO_WAIT_MS;
    let total = 0;
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        if (Date.now() > deadline) {
          throw new NoInputError(`--from-file ${path}: nothing written to it within ${FIFO_WAIT_MS / 1000} s`, {
            hint: "give a file, or a pipe something writes the SHA to",
          });
        }
        await sleep(50);
        continue;
      }
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > MAX_BYTES)
        throw new DataError(`--from-file ${path} is longer than ${MAX_BYTES} bytes`, { hint: "give the file holding only the SHA" });
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
    }
    return Buffer.concat(chunks).toString("utf8");
  } finally {
    await handle.close();
  }
}

export async function shaFromUrl(url: string, timeoutMs: number): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError("--from-url: not a valid URL", { hint: "give an http(s) URL" });
  }
  // Only origin and path are ever shown: user:password@ and the query string can carry credentials.
  const shown = describeUrl(parsed);
  if (!/^https?:$/.test(parsed.protocol)) throw new UsageError(`--from-url ${shown}: expected an http(s) URL`);
  const headers: Record<string, string> = { accept: "application/json, text/plain" };
  // Basic authentication over plain http would send the password in clear text (T37 F4), but to a loopback address.
  if ((parsed.username || parsed.password) && parsed.protocol === "http:" && !isLoopbackHost(parsed.hostname)) {
    throw new UsageError(`--from-url ${shown}: a user name or password over http would be sent in clear text`, {
      hint: "use https (http only to 127.0.0.1, ::1 or localhost)",
    });
  }
  // fetch refuses a URL with credentials; they mean HTTP Basic authentication
  const authorization = basicAuthFromUrl(parsed);
  if (authorization) headers.authorization = authorization;
  const client = new HttpClient({ service: "deployed-version endpoint", timeoutMs, retries: 2, maxBodyBytes: MAX_BYTES });
  const response = await client.request<unknown>({ url: parsed.toString(), headers });
  const text = typeof response.body === "string" ? response.body : JSON.stringify(response.body ?? "");
  return shaFromText(text, `--from-url ${shown}`);
}
