import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromiumMissing, launchChromium, openFile, pwned } from "@opsguard/lab/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAuditdParse } from "./in-process";
import { HOSTILE, hostileLog, passwdFile } from "./sessions-html-fixture";

// `auditd-parse report --format html`: aureport's summaries as a page — the same counts as --json, every
// value from the log shown as text, no script at all.
let dir: string;
let passwd: string;
let html: Awaited<ReturnType<typeof run>>;
let json: Awaited<ReturnType<typeof run>>;

// In-process (issue #21): the program as a user runs it, without a process per call.
const run = runAuditdParse;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "auditd-report-html-"));
  passwd = join(dir, "passwd");
  writeFileSync(passwd, passwdFile());
  html = await run(["report", "--format", "html", "--passwd", passwd], hostileLog());
  json = await run(["report", "--json", "--passwd", passwd], hostileLog());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("auditd-parse report --format html", () => {
  it("has a section per summary with the same event counts and rows as --json", () => {
    expect(html.code, html.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as Record<string, { rows: { count: number }[]; other: number }>;
    for (const [name, table] of Object.entries(report)) {
      const total = table.rows.reduce((n, r) => n + r.count, 0) + table.other;
      expect(html.stdout).toContain(`<h2 id="${name}">`);
      expect(html.stdout).toMatch(new RegExp(`<h2 id="${name}">[^<]*<span class="meta">\\(${total} events\\)</span>`));
    }
    const commands = report.commands!.rows.length;
    expect(commands).toBeGreaterThan(0);
  });

  it("shows hostile values as text: no script, handler or markup from the log", () => {
    expect(html.stdout).not.toContain("<script");
    expect(html.stdout).not.toMatch(/<img|<iframe|<[^>]*\son\w+=/i);
    expect(html.stdout).toContain("&lt;script&gt;window.__pwned=1&lt;/script&gt;");
    expect(html.stdout).not.toContain("\u001b");
  });

  it("-o FILE writes the page there, replacing the file whole as sessions' page does (it was ignored: the page went to stdout)", async () => {
    const out = join(dir, "report.html");
    writeFileSync(out, "old content\n");
    for (let i = 0; i < 2; i++) {
      const r = await run(["report", "--format", "html", "--passwd", passwd, "-o", out], hostileLog());
      expect([r.code, r.stdout]).toEqual([0, ""]);
    }
    const page = readFileSync(out, "utf8");
    const untimed = (text: string) => text.replace(/generated \S+ by/, "generated T by");
    expect(untimed(page)).toBe(untimed(html.stdout));
    expect(page.match(/<html/g)).toHaveLength(1);
  });

  it("says on the page, and atop the readable report, when inputs could not be read (exit 65): a partial report never looks whole; none read is no output (66)", async () => {
    const log = join(dir, "good.log");
    writeFileSync(log, hostileLog());
    const missing = join(dir, "missing.log");
    const banner = '<p class="incomplete" id="incomplete" role="alert">incomplete: 1 input(s) could not be read whole';
    const partial = await run(["report", "--format", "html", "--passwd", passwd, log, missing]);
    expect(partial.code).toBe(65);
    expect(partial.stdout).toContain(banner);
    // the banner is above the counts, which still cover what was read
    expect(partial.stdout.indexOf(banner)).toBeLessThan(partial.stdout.indexOf('<ul class="counts">'));
    expect(partial.stdout).toContain('<h2 id="commands">');
    // nothing read: no page, no JSON of empty summaries a script reads as all clear (T27 #3); `net --json` no `[]`
    for (const args of [["report", "--format", "html"], ["report", "--json"], ["report"], ["net", "--json"]]) {
      const none = await run([...args, missing]);
      expect([none.code, none.stdout], args.join(" ")).toEqual([66, ""]);
    }
    expect(html.stdout).not.toContain('id="incomplete"');
    // the readable report opens with the same words; JSON keeps its shape (the exit code says it)
    const text = await run(["report", "--passwd", passwd, log, missing]);
    expect(text.code).toBe(65);
    expect(text.stdout.split("\n")[0]).toBe(
      "incomplete: 1 input(s) could not be read whole (named on stderr); what follows covers only what was read.",
    );
    expect((await run(["report", "--passwd", passwd, log])).stdout).not.toContain("incomplete");
    const partialJson = await run(["report", "--json", "--passwd", passwd, log, missing]);
    expect(partialJson.code).toBe(65);
    expect(Object.keys(JSON.parse(partialJson.stdout))).toEqual(Object.keys(JSON.parse(json.stdout)));
  });
});

describe("report and sessions --help", () => {
  it("say which formats the command writes (not the events' csv/ecs, not 'sessions also html'), refuse the others, and list each filter once", async () => {
    const log = join(dir, "help.log");
    writeFileSync(log, hostileLog());
    for (const [command, format] of [
      ["report", "text (the default: readable tables) or html (one self-contained page); --json for JSON"],
      ["sessions", "text (the default: a timeline per session) or html (one self-contained page); --json for JSON"],
    ] as const) {
      const help = (await run([command, "--help"])).stdout;
      const flat = help.replace(/\s+/g, " ");
      expect(flat).toContain(`--format <format> ${format}`);
      expect(flat).not.toContain("sessions also html");
      for (const option of ["--format <format>", "--user <users>", "--since <time>", "--strict"])
        expect(help.split(option).length - 1, `${command} --help: ${option}`).toBe(1);
      // a format the help does not offer is refused, not answered with text under its name
      const csv = await run([command, "--format", "csv", log]);
      expect([csv.code, csv.stdout]).toEqual([64, ""]);
      expect(csv.stderr.trim()).toBe(`auditd-parse: ${command} --format csv is not supported (use text, html, --json; csv is for events)`);
      // the flags that work everywhere are still listed
      expect(help).toMatch(/Global Options:[\s\S]*--config <file>[\s\S]*-o, --output <file>/);
    }
  });
});

describe.skipIf(chromiumMissing())("auditd-parse report --format html in a browser (Debian chromium)", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("loads with no console error and no request, runs nothing from the log, and its tables match --json", async () => {
    const file = join(dir, "report.html");
    writeFileSync(file, html.stdout);
    const { page, errors, requests } = await openFile(browser, file);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    expect(await pwned(page)).toBe("undefined");
    const report = JSON.parse(json.stdout) as Record<string, { rows: unknown[] }>;
    for (const [name, table] of Object.entries(report)) {
      const rows = await page.locator(`h2#${name} + table tbody tr`).count();
      expect(rows, name).toBe(Math.min(table.rows.length, 500));
    }
    expect(await page.locator("body").textContent()).toContain(HOSTILE.script);
    const pdf = await page.pdf();
    expect(pdf.subarray(0, 4).toString()).toBe("%PDF");
  });
});
