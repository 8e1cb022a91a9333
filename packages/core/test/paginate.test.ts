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
    } else if (url.pathname === "/next-page") {
      const page = Number(url.searchParams.get("page") ?? 1);
      res.setHeader("x-next-page", page < 3 ? String(page + 1) : "");
      res.end(JSON.stringify(items.slice((page - 1) * 2, page * 2)));
    } else if (url.pathname === "/evil") {
      res.setHeader("link", '<http://203.0.113.9/steal?page=2>; rel="next"');
      res.end("[]");
    } else if (url.pathname === "/forever") {
      res.setHeader("link", `<${base}/forever?page=${Number(url.searchParams.get("page") ?? 1) + 1}>; rel="next"`);
      res.end("[1]");
    } else if (url.pathname === "/stuck") {
      // an x-next-page that never moves on (T31 #6: followed 999 times)
      res.setHeader("x-next-page", "2");
      res.end("[1]");
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
    await expect(collect(paginateLink(client(), { url: "/evil" }))).rejects.toThrow(/another host/);
    expect(seen.some((s) => s.includes("steal"))).toBe(false);
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
});
