import { createHash } from "node:crypto";
import { DataError, type OpsguardError, UnavailableError } from "./errors";
import { describeUrl, type HttpClient, type HttpRequest, type HttpResponse, type QueryValue } from "./http";

export interface PaginateOptions<T> {
  /** The items of one page's body; the body itself when it is an array by default. */
  itemsOf?: (body: unknown) => readonly T[];
  /** A guard against a server that never stops paging. */
  maxPages?: number;
}

/** rel → URL from an RFC 8288 Link header: `<https://x?page=2>; rel="next", <…>; rel="last"`. */
export function parseLinkHeader(header: string | null | undefined): Record<string, string> {
  const links: Record<string, string> = {};
  if (!header) return links;
  for (const part of header.split(/,\s*(?=<)/)) {
    const match = /^<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (!match) continue;
    const rel = /rel="?([^";]+)"?/i.exec(match[2] ?? "")?.[1];
    if (rel && match[1] !== undefined) for (const r of rel.trim().split(/\s+/)) links[r.toLowerCase()] = match[1];
  }
  return links;
}

/**
 * Follows page links as GitHub and GitLab send them: `Link: <…>; rel="next"`, or GitLab's
 * `x-next-page` header when Link is absent. A next link to another origin is refused: following it
 * would send the API token to that host. A server that points back at a page already read, or whose
 * `x-total-pages` says more pages follow than it links to, is refused too: the first would be followed
 * until maxPages (1,003 requests, T31 #6), the second read as the whole list with its last pages unread
 * (a failed job never seen, T31 #7). So is a last page (no next) whose `rel="last"` names a later page,
 * a page whose items repeat an earlier page's while a next one is linked (a server ignoring `page` or cycling
 * would otherwise be asked until maxPages), and an empty page with a next link.
 */
export async function* paginateLink<T>(client: HttpClient, req: HttpRequest, options: PaginateOptions<T> = {}): AsyncGenerator<T> {
  const itemsOf = (body: unknown, asked: HttpRequest) => (options.itemsOf ? options.itemsOf(body) : arrayBody<T>(client, asked, body));
  const maxPages = options.maxPages ?? 1000;
  let next: HttpRequest | undefined = req;
  const origin = new URL(client.options.baseUrl ?? req.url).origin;
  let listPath = client.urlOf(req).pathname;
  const requested = new Set<string>();
  const pages = new Map<string, number>();
  const broken = listBroken(client, req);
  for (let page = 1; next; page++) {
    if (page > maxPages) throw tooManyPages(client, maxPages, broken);
    const key: string = requestKey(next);
    if (requested.has(key)) throw pagingLoop(client, page, broken);
    requested.add(key);
    const response: HttpResponse = await client.request(next);
    // A list redirected on its own origin (a renamed GitLab project's old path) is read at its new path: its next
    // links are that path's (T69 #1: each was refused as another list's).
    if (page === 1 && response.url) listPath = new URL(response.url).pathname;
    const items = itemsOf(response.body, next);
    yield* items;
    const link: string | undefined = parseLinkHeader(response.headers.get("link")).next;
    const nextPage: string | null = response.headers.get("x-next-page");
    gitlabHeadersAgree(client, response, link, broken);
    if (link) {
      const url: URL = new URL(link, client.options.baseUrl ?? req.url);
      // Another origin would be sent the token; another path is another list (another project's events, say)
      // whose items would be taken for this one's (T67 F1). GitLab builds its Link from the request's own URL.
      if (url.origin !== origin || url.pathname !== listPath) {
        throw broken(
          `${client.options.service} sent a next-page link to ${url.origin !== origin ? "another host" : "another list"} (${describeUrl(url)})`,
          "check the API base URL; nothing was judged on part of the list",
        );
      }
      next = { ...req, url: url.toString(), query: {} };
    } else if (nextPage && /^\d+$/.test(nextPage)) {
      next = { ...req, query: { ...req.query, page: nextPage } };
    } else {
      unlinkedPagesLeft(client, response, broken);
      lastLinkAhead(client, next, response, broken);
      next = undefined;
    }
    if (next && items.length === 0) throw emptyPageWithMore(client, `linked a page after the empty page ${page}`, broken);
    repeatedPage(client, page, items, pages, next !== undefined, broken);
  }
}

/** A request as a page is named by it: its URL and query. */
function requestKey(req: HttpRequest): string {
  return `${req.url}?${JSON.stringify(Object.entries(req.query ?? {}).sort(([a], [b]) => a.localeCompare(b)))}`;
}

const BROKEN_PAGING = "the server's paging is broken; nothing was judged on part of the list";

/** How a list whose paging is broken fails. */
type Broken = (message: string, hint?: string) => OpsguardError;

/**
 * paginateLink's: an API whose pages repeat, loop or link on from an empty page is the API failing (69), named by
 * the list's URL without its query as its other errors are (T65 N3; it was 65 "bad input data", which is the
 * user's input).
 */
function listBroken(client: HttpClient, req: HttpRequest): Broken {
  return (message, hint = BROKEN_PAGING) => new UnavailableError(`${message} (${client.describe(req)})`, { hint });
}

/** paginateOffset's: still 65, which deputize's PagerDuty sources document and test (not changed with T65 N3). */
const dataBroken: Broken = (message, hint = BROKEN_PAGING) => new DataError(message, { hint });

function pagingLoop(client: HttpClient, page: number, broken: Broken): OpsguardError {
  return broken(`${client.options.service} pointed page ${page} back at a page already read, so the list would never end`);
}

/**
 * A page with items identical to a page read before, while the server says more follow, is a server that
 * ignores the offset or page asked for, or cycles through a few pages (A, B, A, B…): it would be asked again
 * until maxPages (1,000 requests, a whole rate-limit budget, T41 F2, T43 N6). `pages` maps a digest of each page's
 * items read so far (not the items: up to 1,000 pages are remembered) to its page number; this page is added.
 */
function repeatedPage<T>(
  client: HttpClient,
  page: number,
  items: readonly T[],
  pages: Map<string, number>,
  more: boolean,
  broken: Broken,
): void {
  const these = createHash("sha256").update(JSON.stringify(items)).digest("base64");
  const before = pages.get(these);
  if (more && items.length > 0 && before !== undefined) {
    throw broken(`${client.options.service} sent page ${page} with the same items as page ${before}, so the list would never end`);
  }
  pages.set(these, page);
}

/**
 * An empty page that says more follow is a truncated or inconsistent answer, not the end of the list (read as the
 * end, it dropped everyone after the last full page: T41 F1), nor a page to go on from (GitLab's empty pages with a
 * next link were followed until maxPages, T43 N6).
 */
function emptyPageWithMore(client: HttpClient, what: string, broken: Broken): OpsguardError {
  return broken(`${client.options.service} ${what}, so the list is incomplete`);
}

/** The page number a request asks for: its `page` query parameter, in its query or its URL; 1 when absent. */
function pageNumber(req: HttpRequest): number {
  const inQuery = req.query?.page;
  const text = inQuery !== undefined ? String(inQuery) : new URL(req.url, "http://x").searchParams.get("page");
  const n = Number(text ?? 1);
  return Number.isInteger(n) ? n : 1;
}

/** A last page (no next link) whose `rel="last"` names a later page (GitHub's and GitLab's Link header) leaves pages unread. */
function lastLinkAhead(client: HttpClient, req: HttpRequest, response: HttpResponse, broken: Broken): void {
  const last = parseLinkHeader(response.headers.get("link")).last;
  if (!last) return;
  const lastPage = Number(new URL(last, "http://x").searchParams.get("page") ?? Number.NaN);
  const current = pageNumber(req);
  if (Number.isInteger(lastPage) && lastPage > current) {
    throw broken(`${client.options.service} linked a last page ${lastPage} but no page after page ${current}, so the list is incomplete`);
  }
}

/**
 * GitLab's offset pagination sends both a Link header and X-Page / X-Next-Page / X-Total-Pages (GitLab REST API docs,
 * "Pagination": "Pagination Link header" and "Other pagination headers": X-Next-Page is "the index of the next page",
 * X-Total-Pages "the total number of pages"; keyset pagination sends Link only). Where they disagree, one of them
 * skips pages: a Link to page 3 while X-Next-Page says 2, or an X-Next-Page that jumps past X-Page + 1 or past
 * X-Total-Pages, was followed and page 2, holding a later push, never read (T67 F1: a stale approval passed).
 * Headers that are absent or empty (X-Total-Pages is left out for large lists) are not compared.
 */
function gitlabHeadersAgree(client: HttpClient, response: HttpResponse, link: string | undefined, broken: Broken): void {
  const header = (name: string): number | undefined => {
    const text = response.headers.get(name)?.trim();
    return text && /^\d+$/.test(text) ? Number(text) : undefined;
  };
  const nextPage = header("x-next-page");
  if (nextPage === undefined) return;
  const current = header("x-page");
  const total = header("x-total-pages");
  const linked = link === undefined ? null : new URL(link, "http://x").searchParams.get("page");
  const disagree =
    linked !== null && linked !== String(nextPage)
      ? `linked page ${linked} as the next while its X-Next-Page says ${nextPage}`
      : current !== undefined && nextPage !== current + 1
        ? `said the page after page ${current} is page ${nextPage}`
        : total !== undefined && nextPage > total
          ? `said the next page is ${nextPage} of ${total} pages`
          : undefined;
  if (disagree) throw broken(`${client.options.service} ${disagree}, so pages would be skipped`);
}

/** A last page (no next link) whose `x-page` is below its own `x-total-pages` (GitLab's headers) leaves pages unread. */
function unlinkedPagesLeft(client: HttpClient, response: HttpResponse, broken: Broken): void {
  const current = Number(response.headers.get("x-page") ?? Number.NaN);
  const total = Number(response.headers.get("x-total-pages") ?? Number.NaN);
  if (Number.isInteger(current) && Number.isInteger(total) && current < total) {
    throw broken(
      `${client.options.service} said there are ${total} pages but linked no page after page ${current}, so the list is incomplete`,
    );
  }
}

/** Offset/limit paging with a `more` flag, as PagerDuty's classic pagination documents it. */
export async function* paginateOffset<T>(
  client: HttpClient,
  req: HttpRequest,
  options: PaginateOptions<T> & { limit?: number } = {},
): AsyncGenerator<T> {
  const itemsOf = (body: unknown, asked: HttpRequest) => (options.itemsOf ? options.itemsOf(body) : arrayBody<T>(client, asked, body));
  const maxPages = options.maxPages ?? 1000;
  const limit = options.limit ?? 100;
  let offset = 0;
  const pages = new Map<string, number>();
  for (let page = 1; ; page++) {
    if (page > maxPages) throw tooManyPages(client, maxPages, dataBroken);
    const query: Record<string, QueryValue> = { ...req.query, offset, limit };
    const asked = { ...req, query };
    const response = await client.request(asked);
    const items = itemsOf(response.body, asked);
    yield* items;
    const more = (response.body as { more?: unknown } | undefined)?.more;
    // PagerDuty's Pagination.more is a boolean, and optional (contracts/pagerduty: Pagination): absent is the end,
    // but "true" or null is a broken answer, not the end, which would drop everyone on later pages (T43 N8).
    if (more !== undefined && typeof more !== "boolean") {
      throw new DataError(
        `${client.options.service} answered in an unexpected shape (more: ${JSON.stringify(more)}, expected true or false), so where the list ends cannot be told`,
        { hint: BROKEN_PAGING },
      );
    }
    if (!more) return;
    if (items.length === 0) throw emptyPageWithMore(client, `said more follow after offset ${offset} but sent none`, dataBroken);
    repeatedPage(client, page, items, pages, more, dataBroken);
    offset += items.length;
  }
}

/** Drains an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/**
 * A page that is a JSON array, as the list endpoints document. A success that is anything else (a proxy's or SSO
 * gateway's HTML sign-in page, an empty body, a JSON object) is the API failing to answer, named with the URL as
 * other API errors are (69, T63 D2), not bad input data the user gave (65).
 */
function arrayBody<T>(client: HttpClient, req: HttpRequest, body: unknown): readonly T[] {
  if (Array.isArray(body)) return body as T[];
  const what =
    typeof body === "string"
      ? /^\s*</.test(body)
        ? "a web page"
        : "text"
      : body === undefined
        ? "an empty body"
        : `JSON ${body === null ? "null" : typeof body === "object" ? "object" : typeof body}`;
  throw new UnavailableError(
    `${client.options.service} answered ${client.describe(req)} with ${what}, not the JSON array of a list (HTTP 200)`,
    { hint: "a proxy or sign-in page in front of the API? check the API URL, and that it reaches the API itself" },
  );
}

// The query is the tool's own, so the user cannot narrow it: name the server's paging instead (T41 F2).
function tooManyPages(client: HttpClient, maxPages: number, broken: Broken): OpsguardError {
  return broken(
    `${client.options.service} returned more than ${maxPages} pages`,
    "the server's paging never ends; nothing was judged on part of the list",
  );
}
