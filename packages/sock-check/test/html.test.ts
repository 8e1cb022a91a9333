import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromiumMissing, launchChromium, openFile, pwned } from "@opsguard/lab/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { runCheck } from "../src/check";
import type { Report } from "../src/record";
import { renderHtml } from "../src/report/html";
import { type CliRun, envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/** `--format html`: the same evidence as `--format json`, on one page that nothing in the data can script. */

export const HOSTILE = {
  script: "<script>window.__pwned=1</script>",
  img: '"><img src=x onerror="window.__pwned=2">',
  url: "javascript:window.__pwned=3",
  controls: "a\u001b[31mred\u0007\rFAKE\u202eevil",
};

let scenario: GitHubScenario;
/** One run per format, shared by the tests. */
let html: CliRun;
let json: CliRun;

beforeAll(async () => {
  scenario = await startScenario();
  const s = scenario;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
  s.tag("deploy-1");
  s.pullRequest({ title: "SHOP-1 Search", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  s.pullRequest({
    title: `SHOP-2 ${HOSTILE.script} ${HOSTILE.controls}`,
    author: "alice",
    branch: "x-onerror",
    labels: [HOSTILE.img],
    commits: [{ message: `${HOSTILE.img} ${HOSTILE.url}`, author: "alice" }],
    reviews: [{ by: "bob" }],
    checks: { build: "success", [HOSTILE.img]: "failure" },
  });
  s.pullRequest({ title: "SHOP-3 Hotfix", author: "dave", labels: ["emergency"], checks: { build: "success" } });
  s.directPush({ message: `Fix on prod ${HOSTILE.script}`, author: "dave" });
  s.build();
  [html, json] = await Promise.all([sock(["--format", "html"]), sock(["--format", "json"])]);
});

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

const sock = (args: string[]) => runSockCheck(["--from", "deploy-1", ...args], { cwd: scenario.dir, env: envFor(scenario) });

/** Tag names in the page: only the renderer's own, so no value became markup. */
function tagNames(html: string): Set<string> {
  return new Set([...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((m) => m[1]!.toLowerCase()));
}

/** Attribute names of every tag (values are quoted, and a quote inside one is escaped). */
function attributeNames(html: string): string[] {
  return [...html.matchAll(/<[a-zA-Z][a-zA-Z0-9]*((?:\s+[^\s=>"]+(?:="[^"]*")?)*)\s*>/g)].flatMap((tag) =>
    [...tag[1]!.matchAll(/\s+([^\s=>"]+)(?:="[^"]*")?/g)].map((m) => m[1]!),
  );
}

describe("sock-check --format html", () => {
  it("shows the same commits, verdicts and counts as --format json, and blocks the same way", () => {
    expect(html.code).toBe(1);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as Report;
    expect(report.summary).toMatchObject({ commits: 4, compliant: 2, emergency: 0, noncompliant: 2 });
    for (const [verdict, n] of Object.entries(report.summary)) {
      if (verdict === "commits" || verdict === "pulls") continue;
      expect(html.stdout).toContain(`data-count="${verdict}">${n}<`);
    }
    const rows = [...html.stdout.matchAll(/<tr class="commit \w+" data-sha="([0-9a-f]{40})" data-verdict="(\w+)">/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect(rows.sort()).toEqual(report.records.map((r) => `${r.commit.sha} ${r.verdict}`).sort());
    expect(html.stdout).toContain(report.policy_source);
    expect(html.stdout).toContain(report.range.from);
    // a self-contained page with a strict CSP: no network, nothing but its own style
    expect(html.stdout).toMatch(
      /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-[^']+'; script-src 'none'/,
    );
    expect(html.stdout).not.toMatch(/\b(src|href)="(?!https?:\/\/|#)/);
    expect(html.stdout).toContain("@media print");
  });

  it("shows hostile titles, check names and commit messages as text, never as markup", () => {
    const { stdout } = html;
    expect(tagNames(stdout)).toEqual(
      new Set([
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "header",
        "h1",
        "p",
        "dl",
        "dt",
        "dd",
        "code",
        "section",
        "h2",
        "ul",
        "li",
        "span",
        "svg",
        "rect",
        "h3",
        "a",
        "em",
        "table",
        "thead",
        "tr",
        "th",
        "tbody",
        "td",
      ]),
    );
    expect(stdout).toContain("SHOP-2 &lt;script&gt;window.__pwned=1&lt;/script&gt;");
    expect(stdout).toContain("&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;");
    // control and bidi characters are shown, not obeyed
    expect(stdout).toContain("a\\x1b[31mred\\x07\\x0dFAKE\\u{202e}evil");
    expect(stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
  });

  it("makes an overdue retroactive review stand out in `retro --format html`", async () => {
    const run = await runSockCheck(["retro", "--from", "deploy-1", "--format", "html"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('<p class="outcome bad">1 emergency change: 1 overdue for retroactive review</p>');
    expect(run.stdout).toMatch(/<p class="emergency overdue">emergency change: retroactive review OVERDUE since \d{4}-/);
    expect(run.stdout).not.toContain("SHOP-1 Search");
  });

  it("escapes a hostile value in every field of the report, and never links a javascript: URL", () => {
    const report = poison(JSON.parse(json.stdout)) as Report;
    const page = renderHtml(report, { blocked: true });
    expect(page).not.toContain('href="javascript:');
    expect(page).toContain('href="#"');
    expect(page).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/);
    expect([...tagNames(page)].filter((t) => t === "script" || t === "img")).toEqual([]);
    expect(attributeNames(page).filter((a) => /^on/i.test(a))).toEqual([]);
  });
});

/** Enumerations the renderer owns (verdicts, states): every other string becomes all the hostile values at once. */
const OWN = new Set(["schema", "verdict", "rule", "state", "kind", "status", "mode"]);
const EVIL = Object.values(HOSTILE).join(" ");

function poison(value: unknown, key = ""): unknown {
  if (typeof value === "string") return OWN.has(key) ? value : key === "url" ? HOSTILE.url : `${EVIL} ${value}`;
  if (Array.isArray(value)) return value.map((v) => poison(v, key));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, poison(v, k)]));
  return value;
}

describe("sock-check's progress phases", () => {
  it("tells the progress line each phase and every API request as the run goes", async () => {
    const phases: string[] = [];
    let requests = 0;
    await runCheck({
      dir: scenario.dir,
      from: "deploy-1",
      env: envFor(scenario),
      toolVersion: "test",
      onPhase: (text) => phases.push(text),
      onAttempt: () => requests++,
    });
    expect(phases).toEqual([
      expect.stringMatching(/^reading [0-9a-f]{7}\.\.[0-9a-f]{7}$/),
      "asking GitHub about 4 commit(s)",
      "checking what each PR ships",
    ]);
    expect(requests).toBeGreaterThan(0);
  });
});

describe.skipIf(chromiumMissing())("sock-check --format html in a browser (Debian chromium)", () => {
  let browser: Browser;
  let dir: string;
  beforeAll(async () => {
    browser = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), "sock-html-"));
  });
  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("loads with no console error and no request, shows the JSON's counts and verdicts, and runs nothing from the data", async () => {
    const file = join(dir, "report.html");
    writeFileSync(file, html.stdout);
    const { page, errors, requests } = await openFile(browser, file);
    expect(errors).toEqual([]);
    expect(requests).toEqual([]);
    const report = JSON.parse(json.stdout) as Report;
    for (const verdict of ["compliant", "exempt", "emergency", "noncompliant", "unverified"] as const) {
      expect(await page.locator(`[data-count="${verdict}"]`).textContent()).toBe(String(report.summary[verdict]));
    }
    const rows = (await page.evaluate(
      "[...document.querySelectorAll('tr.commit')].map((tr) => tr.dataset.sha + ' ' + tr.dataset.verdict)",
    )) as string[];
    expect(rows.sort()).toEqual(report.records.map((r) => `${r.commit.sha} ${r.verdict}`).sort());
    // what a person sees: the hostile title as text, nothing it carried ran or loaded
    expect(await page.locator("h3", { hasText: "SHOP-2" }).textContent()).toContain(HOSTILE.script);
    expect(await pwned(page)).toBe("undefined");
    expect(await page.locator("img, script").count()).toBe(0);
    // prints: a PDF comes out of the print stylesheet
    await page.emulateMedia({ media: "print" });
    expect((await page.pdf({ format: "A4" })).subarray(0, 5).toString()).toBe("%PDF-");
    await page.emulateMedia({ media: "screen" });
    await page.setViewportSize({ width: 1100, height: 900 });
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // the README's picture: OPSGUARD_SCREENSHOTS=packages/sock-check/docs refreshes it
    if (process.env.OPSGUARD_SCREENSHOTS) writeFileSync(join(process.env.OPSGUARD_SCREENSHOTS, "html-report.png"), png);
  });

  it("wraps a 100k-character title and other long tokens inside the page, on screen and in print", async () => {
    const report = JSON.parse(json.stdout) as Report;
    const long = (c: string, n: number) => c.repeat(n);
    for (const r of report.records) {
      r.commit.subject = long("S", 20_000);
      r.commit.sha = long("f", 40);
      r.tickets = [long("T", 5_000)];
      r.exemption = long("E", 5_000);
      r.violations = r.violations.map((v) => ({ ...v, message: long("V", 5_000) }));
      r.checks = r.checks.map((c) => ({ ...c, name: long("C", 5_000), app: long("A", 5_000) }));
      r.approvals = r.approvals.map((a) => ({ ...a, reviewer: long("R", 5_000) }));
      if (r.pr) Object.assign(r.pr, { title: long("W", 100_000), author: long("U", 5_000), merged_by: long("M", 5_000) });
    }
    report.repo = long("O", 5_000);
    report.policy_source = long("P", 5_000);
    const file = join(dir, "long.html");
    writeFileSync(file, renderHtml(report, { blocked: true }));
    const { page, errors } = await openFile(browser, file);
    // the page's style still applies (its CSP hash matches the changed CSS): a refused style is a console error
    expect(errors).toEqual([]);
    const width = () => page.evaluate("document.documentElement.scrollWidth") as Promise<number>;
    await page.setViewportSize({ width: 1100, height: 900 });
    expect(await width()).toBeLessThanOrEqual(1100);
    // A4 at 96 dpi is 794 px wide: what does not fit there is cut off in the PDF
    await page.emulateMedia({ media: "print" });
    await page.setViewportSize({ width: 794, height: 1123 });
    expect(await width()).toBeLessThanOrEqual(794);
    await page.close();
  });
});
