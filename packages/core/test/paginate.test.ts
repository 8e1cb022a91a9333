import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collect, HttpClient, paginateLink, paginateOffset, parseLinkHeader } from "../src/index";

const items = Array.from({ length: 5 }, (_, i) => ({ id: i + 1 }));
let server: Server;
let base = "";
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", base);
    seen.push(url.pathname + url.search);
    res.setHeader("content-type", "application/json");
    if (url.pathname === "/link") {
      const page = Number(url.searchParams.get("page") ?? 1);
      const slice = items.slice((page - 1) * 2, page * 2);
      if (page * 2 < items.length)
        res.setHeader("link", `<${base}/link?page=${page + 1}&per_page=2>; rel="next", <${base}/link?page=3>; rel="last"`);
      res.end(JSON.stringify(slice));
    } else if (url.pathname === "/moved") {
      // a renamed project's old path: GitLab answers 301 to the new one on its own host (GitLab MR !128642), whose
      // pages then link on from there
      res.statusCode = 301;
      res.setHeader("location", `/link${url.search}`);
      res.end();
    } else if (url.pathname === "/next-page") {
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("x-next-page", page < 3 ? String(page + 1) : "");
      res.end(JSON.stringify(items.slice((page - 1) * 2, page * 2)));
    } else if (url.pathname === "/evil") {
      res.setHeader("link", '<http://203.0.113.9/steal?page=2>; rel="next"');
      res.end("[]");
    } else if (url.pathname === "/forever") {
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("link", `<${base}/forever?page=${page + 1}>; rel="next"`);
      res.end(JSON.stringify([page]));
    } else if (url.pathname === "/stuck") {
      // an x-next-page that never moves on (T31 #6: followed 999 times)
      res.setHeader("x-next-page", "2");
      res.end(JSON.stringify([Number(url.searchParams.get("page") ?? 1)]));
    } else if (url.pathname === "/gh-same") {
      // GitHub's Link header moving on while the server ignores `page`: the same items each time (T41 F2)
      res.setHeader("link", `<${base}/gh-same?page=${Number(url.searchParams.get("page") ?? 1) + 1}>; rel="next"`);
      res.end("[1]");
    } else if (url.pathname === "/gl-same") {
      // GitLab's x-next-page moving on while the items do not
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("x-page", String(page));
      res.setHeader("x-next-page", String(page + 1));
      res.end("[1]");
    } else if (url.pathname === "/gh-last-ahead") {
      // GitHub's Link header naming a last page 3 on page 1 but no next: pages 2 and 3 would go unread
      res.setHeader("link", `<${base}/gh-last-ahead?page=3>; rel="last"`);
      res.end("[1]");
    } else if (url.pathname === "/gl-last-here") {
      // GitLab always names first and last, the last page included: that is the end, not an error
      res.setHeader("link", `<${base}/gl-last-here?page=1>; rel="first", <${base}/gl-last-here?page=1>; rel="last"`);
      res.end("[1]");
    } else if (url.pathname === "/pd-empty-more" || url.pathname === "/pd-same") {
      // PagerDuty's classic pagination body {oncalls, offset, limit, more} with a broken `more`:
      // an empty page that says more follow, or the first row again at every offset (T41 F1, F2)
      const offset = Number(url.searchParams.get("offset"));
      const rows = url.pathname === "/pd-same" || offset === 0 ? [{ id: 1 }] : [];
      res.end(JSON.stringify({ oncalls: rows, offset, limit: 1, more: true }));
    } else if (url.pathname === "/gh-cycle") {
      // Link moving on while the server serves two pages in turn, A, B, A, B… (T43 N6: 1,000 requests)
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("link", `<${base}/gh-cycle?page=${page + 1}>; rel="next"`);
      res.end(JSON.stringify([page % 2]));
    } else if (url.pathname === "/empty-first") {
      // an empty first page whose x-next-page says more follow (T65 N3)
      res.setHeader("x-next-page", "2");
      res.end("[]");
    } else if (url.pathname === "/gl-empty-next") {
      // GitLab's headers pointing on from pages that hold nothing after the first (T43 N6)
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("x-page", String(page));
      res.setHeader("x-next-page", String(page + 1));
      res.setHeader("link", `<${base}/gl-empty-next?page=${page + 1}>; rel="next"`);
      res.end(page === 1 ? "[1]" : "[]");
    } else if (url.pathname === "/pd-cycle" || url.pathname === "/pd-more-string" || url.pathname === "/pd-more-null") {
      // PagerDuty's body with `more: true` and rows A, B, A, B… (T43 N6), or `more` not the boolean its contract says
      // (Pagination.more: boolean): "true" as a string, or null (T43 N8)
      const offset = Number(url.searchParams.get("offset"));
      const more = url.pathname === "/pd-cycle" ? true : url.pathname === "/pd-more-null" ? null : "true";
      res.end(JSON.stringify({ oncalls: [{ id: offset % 2 }], offset, limit: 1, more }));
    } else if (url.pathname === "/sign-in") {
      // a proxy or SSO gateway in front of the API answering its own sign-in page, with 200 (T63 D2)
      res.setHeader("content-type", "text/html; charset=utf-8");
      res.end("<!DOCTYPE html><html><body><form action=/login>Sign in</form></body></html>");
    } else if (url.pathname === "/object") {
      res.end('{"message":"ok"}');
    } else if (url.pathname === "/gl-skip" || url.pathname === "/gl-jump" || url.pathname === "/gl-other") {
      // GitLab's offset headers (REST API docs, "Pagination": Link, X-Page, X-Next-Page, X-Total-Pages) disagreeing
      // on page 1 of 2: a Link to page 3 while X-Next-Page says 2, an X-Next-Page of 3 past X-Total-Pages 2 (no Link),
      // or a Link to another list (T67 F1)
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("x-page", String(page));
      res.setHeader("x-total-pages", "2");
      if (page === 1 && url.pathname === "/gl-skip") {
        res.setHeader("x-next-page", "2");
        res.setHeader("link", `<${base}/gl-skip?page=3>; rel="next"`);
      } else if (page === 1 && url.pathname === "/gl-jump") {
        res.setHeader("x-next-page", "3");
      } else if (page === 1) {
        res.setHeader("x-next-page", "2");
        res.setHeader("link", `<${base}/other?page=2>; rel="next"`);
      } else res.setHeader("x-next-page", "");
      res.end(JSON.stringify(page > 2 ? [] : [page]));
    } else if (url.pathname === "/short") {
      // GitLab's headers say three pages, but the first links to no next one (T31 #7)
      res.setHeader("x-page", "1");
      res.setHeader("x-total-pages", "3");
      res.setHeader("x-next-page", "");
      res.end("[1]");
    } else {
      const offset = Number(url.searchParams.get("offset"));
      const limit = Number(url.searchParams.get("limit"));
      res.end(JSON.stringify({ things: items.slice(offset, offset + limit), offset, limit, more: offset + limit < items.length }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const client = () => new HttpClient({ service: "Test API", baseUrl: base, retries: 0, timeoutMs: 2000 });

describe("parseLinkHeader", () => {
  it("maps each rel to its URL", () => {
    expect(parseLinkHeader('<https://a/x?page=2>; rel="next", <https://a/x?page=9>; rel="last"')).toEqual({
      next: "https://a/x?page=2",
      last: "https://a/x?page=9",
    });
    expect(parseLinkHeader(null)).toEqual({});
  });
});

describe("paginateLink", () => {
  it("follows rel=next until the last page", async () => {
    const got = await collect(paginateLink<{ id: number }>(client(), { url: "/link", query: { per_page: 2 } }));
    expect(got.map((i) => i.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it("follows GitLab's x-next-page when there is no Link header", async () => {
    const got = await collect(paginateLink<{ id: number }>(client(), { url: "/next-page" }));
    expect(got.map((i) => i.id)).toEqual([1, 2, 3, 4, 5]);
  });

  it("refuses a next link to another host, which would leak the token", async () => {
    const error = await collect(paginateLink(client(), { url: "/evil" })).catch((e: unknown) => e);
    expect(seen.some((s) => s.includes("steal"))).toBe(false);
    // the API failing (69), naming the link and the list that sent it (T67 F2: it was 65 "bad input data")
    expect(error).toMatchObject({ exitCode: 69 });
    expect((error as Error).message).toBe(`Test API sent a next-page link to another host (http://203.0.113.9/steal) (${base}/evil)`);
  });

  it.each([
    ["/gl-skip", "linked page 3 as the next while its X-Next-Page says 2"],
    ["/gl-jump", "said the page after page 1 is page 3, so pages would be skipped"],
    ["/gl-other", "sent a next-page link to another list (http://127.0.0.1:"],
  ])("refuses GitLab paging that would skip page 2 or read another list (%s)", async (path, said) => {
    seen.length = 0;
    const error = await collect(paginateLink(client(), { url: path })).catch((e: unknown) => e);
    expect(error).toMatchObject({ exitCode: 69 });
    expect((error as Error).message).toContain(`Test API ${said}`);
    expect((error as Error).message).toContain(`(${base}${path})`);
    expect(seen).toEqual([path]);
  });

  it("follows the pages of a list redirected on its own host: its next links are the new path's (T69 #1)", async () => {
    seen.length = 0;
    expect(await collect(paginateLink<{ id: number }>(client(), { url: "/moved" }))).toEqual(items);
    expect(seen).toEqual(["/moved", "/link", "/link?page=2&per_page=2", "/link?page=3&per_page=2"]);
  });

  it("stops a server that pages forever", async () => {
    await expect(collect(paginateLink(client(), { url: "/forever" }, { maxPages: 3 }))).rejects.toThrow(/more than 3 pages/);
  });

  it("stops at once a server whose next page is one already read, instead of asking again until maxPages", async () => {
    seen.length = 0;
    await expect(collect(paginateLink(client(), { url: "/stuck" }))).rejects.toThrow(
      "Test API pointed page 3 back at a page already read, so the list would never end",
    );
    expect(seen).toEqual(["/stuck", "/stuck?page=2"]);
  });

  it("stops at once a server whose next page (Link or x-next-page) has the same items as the last", async () => {
    for (const path of ["/gh-same", "/gl-same"]) {
      seen.length = 0;
      await expect(collect(paginateLink(client(), { url: path }))).rejects.toThrow(
        "Test API sent page 2 with the same items as page 1, so the list would never end",
      );
      expect(seen).toHaveLength(2);
    }
  });

  it("stops at once a server cycling through pages (A, B, A…), or linking on from an empty page (T43 N6)", async () => {
    seen.length = 0;
    await expect(collect(paginateLink(client(), { url: "/gh-cycle" }))).rejects.toThrow(
      "Test API sent page 3 with the same items as page 1, so the list would never end",
    );
    expect(seen).toHaveLength(3);
    seen.length = 0;
    await expect(collect(paginateLink(client(), { url: "/gl-empty-next" }))).rejects.toThrow(
      "Test API linked a page after the empty page 2, so the list is incomplete",
    );
    expect(seen).toHaveLength(2);
  });

  it("names a list whose paging breaks the API failing (69) with its URL without the query, never bad input data (65, T65 N3)", async () => {
    for (const [path, message] of [
      ["/gl-same", "Test API sent page 2 with the same items as page 1, so the list would never end"],
      ["/empty-first", "Test API linked a page after the empty page 1, so the list is incomplete"],
      ["/stuck", "Test API pointed page 3 back at a page already read, so the list would never end"],
      ["/gh-last-ahead", "Test API linked a last page 3 but no page after page 1, so the list is incomplete"],
    ]) {
      const error = await collect(paginateLink(client(), { url: path as string, query: { private_token: "t0k3n" } })).catch(
        (e: unknown) => e,
      );
      expect(error, path).toMatchObject({ exitCode: 69, message: `${message} (${base}${path})` });
    }
  });

  it("refuses a page without a next link whose rel=last names a later page: pages would go unread", async () => {
    await expect(collect(paginateLink(client(), { url: "/gh-last-ahead" }))).rejects.toThrow(
      "Test API linked a last page 3 but no page after page 1, so the list is incomplete",
    );
    expect(await collect(paginateLink(client(), { url: "/gl-last-here" }))).toEqual([1]);
  });

  it("refuses a last page whose x-total-pages says more pages follow: the list would be judged without them", async () => {
    await expect(collect(paginateLink(client(), { url: "/short" }))).rejects.toThrow(
      "Test API said there are 3 pages but linked no page after page 1, so the list is incomplete",
    );
  });
});

describe("paginateOffset", () => {
  it("walks offset/limit while more is true", async () => {
    seen.length = 0;
    const got = await collect(
      paginateOffset<{ id: number }>(
        client(),
        { url: "/offset" },
        { limit: 2, itemsOf: (b) => (b as { things: { id: number }[] }).things },
      ),
    );
    expect(got.map((i) => i.id)).toEqual([1, 2, 3, 4, 5]);
    expect(seen).toEqual(["/offset?offset=0&limit=2", "/offset?offset=2&limit=2", "/offset?offset=4&limit=2"]);
  });

  const pdRows = (b: unknown) => (b as { oncalls: { id: number }[] }).oncalls;

  it("refuses an empty page that says more follow: it is not the end of the list (T41 F1)", async () => {
    await expect(collect(paginateOffset(client(), { url: "/pd-empty-more" }, { limit: 1, itemsOf: pdRows }))).rejects.toThrow(
      "Test API said more follow after offset 1 but sent none, so the list is incomplete",
    );
  });

  it("stops at once a server that answers every offset with the same rows (T41 F2: 1,000 requests)", async () => {
    seen.length = 0;
    await expect(collect(paginateOffset(client(), { url: "/pd-same" }, { limit: 1, itemsOf: pdRows }))).rejects.toThrow(
      "Test API sent page 2 with the same items as page 1, so the list would never end",
    );
    expect(seen).toEqual(["/pd-same?offset=0&limit=1", "/pd-same?offset=1&limit=1"]);
  });

  it("stops at once a server whose rows cycle A, B, A… while more is true (T43 N6)", async () => {
    seen.length = 0;
    await expect(collect(paginateOffset(client(), { url: "/pd-cycle" }, { limit: 1, itemsOf: pdRows }))).rejects.toThrow(
      "Test API sent page 3 with the same items as page 1, so the list would never end",
    );
    expect(seen).toHaveLength(3);
  });

  it("refuses a `more` that is not a boolean as an unexpected shape (65), not the end of the list (T43 N8)", async () => {
    for (const [path, shown] of [
      ["/pd-more-string", '"true"'],
      ["/pd-more-null", "null"],
    ] as const) {
      const error = await collect(paginateOffset(client(), { url: path }, { limit: 1, itemsOf: pdRows })).catch((e: unknown) => e);
      expect(error).toMatchObject({
        exitCode: 65,
        message: `Test API answered in an unexpected shape (more: ${shown}, expected true or false), so where the list ends cannot be told`,
      });
    }
  });

  it("takes a 200 that is not a JSON array (a sign-in page, a JSON object) for the API failing (69), naming the URL without its query (T63 D2)", async () => {
    for (const [path, what] of [
      ["/sign-in", "a web page"],
      ["/object", "JSON object"],
    ] as const) {
      const error = await collect(paginateLink(client(), { url: path, query: { per_page: 100, private_token: "glpat-q" } })).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        exitCode: 69,
        message: `Test API answered ${base}${path} with ${what}, not the JSON array of a list (HTTP 200)`,
      });
      expect(JSON.stringify(error)).not.toContain("glpat-q");
    }
    const offset = await collect(paginateOffset(client(), { url: "/sign-in" })).catch((e: unknown) => e);
    expect(offset).toMatchObject({ exitCode: 69, message: expect.stringContaining(`answered ${base}/sign-in with a web page`) });
  });

  it("names the server, not a query the user cannot change, when the pages never end", async () => {
    const error = await collect(paginateLink(client(), { url: "/forever" }, { maxPages: 3 })).catch((e: unknown) => e);
    expect(error).toMatchObject({ hint: expect.stringMatching(/paging never ends/) });
    expect(JSON.stringify(error)).not.toMatch(/narrow the query/);
  });
});
