import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromiumMissing, launchChromium, openFile, pwned } from "@opsguard/lab/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseText } from "../src/parser";
import { PAGE_BOUNDS, sessionsHtmlSink } from "../src/sessions-html";
import { runAuditdParse } from "./in-process";
import { EVIL_NODE, EVIL_USER, HOSTILE, hostileLog, passwdFile } from "./sessions-html-fixture";

let dir: string;
let passwd: string;
/** The hostile log's page, shared by the tests that read it. */
let html: Awaited<ReturnType<typeof run>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "auditd-html-"));
  passwd = join(dir, "passwd");
  writeFileSync(passwd, passwdFile());
  html = await run(["sessions", "--format", "html", "--passwd", passwd], hostileLog());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// In-process (issue #21): the program as a user runs it, without a process per call.
const run = runAuditdParse;

/** Attribute names of every tag (values are quoted, a quote inside one is escaped). */
function attributeNames(html: string): string[] {
  return [...html.matchAll(/<[a-zA-Z][a-zA-Z0-9]*((?:\s+[^\s=>"]+(?:="[^"]*")?)*)\s*>/g)].flatMap((tag) =>
    [...tag[1]!.matchAll(/\s+([^\s=>"]+)(?:="[^"]*")?/g)].map((m) => m[1]!),
  );
}

describe("auditd-parse sessions --format html", () => {
  it("shows every session with its login, commands (and their uid), sudo, file changes and connections, as --json lists them", async () => {
    const json = await run(["sessions", "--json", "--passwd", passwd], hostileLog());
    expect(html.code).toBe(0);
    const sessions = JSON.parse(json.stdout) as { user?: string; node?: string }[];
    expect(sessions).toHaveLength(3);
    const sections = [...html.stdout.matchAll(/<section class="session[^"]*" data-user="([^"]*)" data-host="([^"]*)">/g)];
    expect(sections).toHaveLength(3);
    expect(html.stdout).toContain('<span id="shown">3</span> of <span id="total">3</span> session(s)');
    const body = html.stdout;
    expect(body).toMatch(/<span class="k login">login<\/span> <span class="text">login /);
    expect(body).toMatch(/<span class="k priv">su\/sudo<\/span> <span class="text">\/usr\/bin\/sudo → /);
    expect(body).toMatch(/<span class="k command">cmd<\/span> <span class="text">cat [^<]*— as 0 /);
    expect(body).toMatch(/<span class="k file">file<\/span> <span class="text">created \/tmp\/&lt;\/pre&gt;/);
    expect(body).toMatch(/<span class="k net">net<\/span> <span class="text">[^<]* connect -&gt; inet 203\.0\.113\.5:443/);
    expect(body).toContain("FAILED login");
    // the raw event, one click away, for the items that have one
    expect(body.match(/<details><summary>raw event<\/summary><pre>\{"id":/g)?.length).toBeGreaterThanOrEqual(6);
  });

  it("shows every hostile name, host, command and file name as text: no markup, handler or link from the log", () => {
    const { stdout } = html;
    const tags = new Set([...stdout.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]!.toLowerCase()));
    expect([...tags].filter((t) => ["img", "iframe", "object", "embed", "base", "link", "a"].includes(t))).toEqual([]);
    // the page's own two scripts: the filter data (JSON) and the filter code
    expect(stdout.match(/<script/g)).toHaveLength(2);
    expect(attributeNames(stdout).filter((a) => /^on/i.test(a))).toEqual([]);
    expect(stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u2028\u2029\u202e]/);
    expect(stdout).toContain(`data-user="${EVIL_USER.replace(/"/g, "&quot;").replace(/>/g, "&gt;").replace(/</g, "&lt;")}"`);
    expect(stdout).toContain("&lt;script&gt;window.__pwned=1&lt;/script&gt; a\\x1b[31mred\\x07\\x0dFAKE\\u{2028}\\u{202e}evil");
    // the filters' JSON cannot end its element, whatever a name holds
    const data = stdout.match(/<script type="application\/json" id="filter-data">(.*?)<\/script>/)![1]!;
    expect(data).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(data)).toEqual({ users: expect.arrayContaining([EVIL_USER, "bob"]), hosts: [EVIL_NODE, "web1"] });
    expect(stdout).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[^']+'; script-src 'sha256-[^']+';/,
    );
  });

  it("bounds the page and says what it left out and how to narrow the run", () => {
    const pages: string[] = [];
    const sink = sessionsHtmlSink((p) => pages.push(p), { ...PAGE_BOUNDS, sessions: 2, itemsPerSession: 2 });
    for (const e of parseText(hostileLog(), { ids: { passwd: "/dev/null", group: "/dev/null" }, recordObjects: true }).events)
      sink.event(e, JSON.stringify(e));
    sink.finish();
    const page = pages[0]!;
    expect(page.match(/<section class="session/g)).toHaveLength(2);
    expect(page).toContain('<span id="shown">2</span> of <span id="total">3</span> session(s)');
    expect(page).toMatch(
      /1 more session\(s\) and \d+ more timeline item\(s\) omitted .* narrow the run with --user, --node, --since\/--until/,
    );
    // the failed login's one item, and two of the next session's
    expect(page.match(/<li class=/g)).toHaveLength(3);
    expect(page).toMatch(/<p class="omitted">\d+ more item\(s\) of this session omitted \(page bound\)/);
  });

  it("says on the page when inputs could not be read (exit 65), so a partial page does not look whole; none read is no output (66)", async () => {
    const log = join(dir, "good.log");
    writeFileSync(log, hostileLog());
    const missing = join(dir, "missing.log");
    const partial = await run(["sessions", "--format", "html", "--passwd", passwd, log, missing], "");
    expect(partial.code).toBe(65);
    expect(partial.stdout).toContain('<p class="incomplete" id="incomplete" role="alert">incomplete: 1 input(s) could not be read');
    expect(partial.stdout.match(/<section class="session/g)).toHaveLength(3);
    // nothing read: no page, no `[]` a script reads as "no sessions" (T27 #3), only stderr's line and exit 66
    for (const format of [["--format", "html"], ["--json"], []]) {
      const none = await run(["sessions", ...format, missing], "");
      expect([none.code, none.stdout], format.join(" ")).toEqual([66, ""]);
    }
    // a whole run has no such banner; and --json keeps its shape (an array of sessions)
    expect(html.stdout).not.toContain('id="incomplete"');
    const json = await run(["sessions", "--json", "--passwd", passwd, log, missing], "");
    expect(json.code).toBe(65);
    expect(JSON.parse(json.stdout)).toHaveLength(3);
  });

  it("-o FILE replaces the file with one page instead of appending a second document", async () => {
    const out = join(dir, "page.html");
    writeFileSync(out, "old content\n");
    for (let i = 0; i < 2; i++)
      expect((await run(["sessions", "--format", "html", "--passwd", passwd, "-o", out], hostileLog())).code).toBe(0);
    const page = readFileSync(out, "utf8");
    expect(page).toBe(html.stdout);
    expect(page.match(/<html/g)).toHaveLength(1);
    // no temp file left beside it
    expect(readdirSync(dir).filter((n) => n.startsWith(".page.html"))).toEqual([]);
  });

  it("refuses --format html outside sessions with one line naming the fix", async () => {
    const r = await run(["--format", "html"], hostileLog());
    expect(r.code).toBe(64);
    expect(r.stderr.trim()).toBe(
      "auditd-parse: --format html is not supported (use ndjson, text, table, csv, ecs; html is for sessions and report)",
    );
    const follow = await run(["sessions", "--format", "html", "-F", join(dir, "passwd")], "");
    expect(follow.code).toBe(64);
    expect(follow.stderr).toContain("--format html writes one page at the end of input, so it does not go with --follow");
  });
});

describe.skipIf(chromiumMissing())("auditd-parse sessions --format html in a browser (Debian chromium)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("loads with no console error and no request, filters by user and host, opens the raw event, and runs nothing from the log", async () => {
    const file = join(dir, "sessions.html");
    writeFileSync(file, html.stdout);
    const { page, errors, requests } = await openFile(browser, file);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    const visible = () => page.locator("section.session:visible").count();
    expect(await visible()).toBe(3);
    expect(await page.locator("#matching").textContent()).toBe("3 shown");
    // the hostile values are text on the page, and none of them ran
    expect(await page.locator("li.command .text").first().textContent()).toContain(HOSTILE.script);
    expect(await page.locator("section.session h2").nth(1).textContent()).toContain(EVIL_USER);
    expect(await pwned(page)).toBe("undefined");
    expect(await page.locator("img, svg[onload], iframe").count()).toBe(0);
    // filters: a user, then a host (the hostile ones are options like any other)
    await page.selectOption("#f-user", "bob");
    expect(await visible()).toBe(1);
    expect(await page.locator("section.session:visible h2").textContent()).toContain("bob");
    await page.selectOption("#f-user", "");
    await page.selectOption("#f-host", EVIL_NODE);
    expect(await visible()).toBe(1);
    expect(await page.locator("#matching").textContent()).toBe("1 shown");
    await page.selectOption("#f-host", "");
    // the raw event, one click away
    const raw = page.locator("section.session:visible li.file details").first();
    expect(await raw.locator("pre").isVisible()).toBe(false);
    await raw.locator("summary").click();
    expect(await raw.locator("pre").textContent()).toContain('"syscall":"openat"');
    expect(await pwned(page)).toBe("undefined");
    await page.setViewportSize({ width: 1100, height: 900 });
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // the README's picture: OPSGUARD_SCREENSHOTS=packages/auditd-parse/docs refreshes it
    if (process.env.OPSGUARD_SCREENSHOTS) writeFileSync(join(process.env.OPSGUARD_SCREENSHOTS, "sessions-html.png"), png);
  });
});
