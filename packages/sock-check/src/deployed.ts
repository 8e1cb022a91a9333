import { readFile } from "node:fs/promises";
import { DataError, HttpClient, NoInputError } from "@opsguard/core";

/** The deployed commit as a running service publishes it: a file or URL holding a SHA (text, or JSON with sha/commit/revision). */

const SHA = /\b[0-9a-f]{7,40}\b/i;
const KEYS = ["sha", "commit", "git_sha", "gitSha", "revision", "git_commit"];

export function shaFromText(text: string, source: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    try {
      const json = JSON.parse(trimmed) as Record<string, unknown>;
      const found = KEYS.map((k) => json[k]).find((v): v is string => typeof v === "string" && SHA.test(v));
      if (found) return SHA.exec(found)![0].toLowerCase();
    } catch {
      // not JSON after all: fall through to the plain-text reading
    }
  }
  const match = SHA.exec(trimmed.split("\n")[0] ?? "");
  if (!match)
    throw new DataError(`${source} does not contain a commit SHA`, { hint: `expected a hex SHA, or JSON with one of ${KEYS.join(", ")}` });
  return match[0].toLowerCase();
}

export async function shaFromFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new NoInputError(`cannot read --from-file ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return shaFromText(text, `--from-file ${path}`);
}

export async function shaFromUrl(url: string, timeoutMs: number): Promise<string> {
  if (!/^https?:\/\//.test(url)) throw new DataError(`--from-url ${url}: expected an http(s) URL`);
  const client = new HttpClient({ service: "deployed-version endpoint", timeoutMs, retries: 2 });
  const response = await client.request<unknown>({ url, headers: { accept: "application/json, text/plain" } });
  const text = typeof response.body === "string" ? response.body : JSON.stringify(response.body ?? "");
  return shaFromText(text, `--from-url ${new URL(url).origin}${new URL(url).pathname}`);
}
