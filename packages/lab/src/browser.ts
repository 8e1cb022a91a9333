import { existsSync } from "node:fs";
import type { Browser, ConsoleMessage, Page, Request } from "playwright-core";

export type { Browser, Page };

/**
 * Debian's chromium for the HTML reports' browser tests (issue #25), driven by playwright-core (no browser
 * download: the setup installs `chromium`). Without it a test skips with a loud reason — except in CI, where a
 * missing browser is a failure, not a silent pass.
 */
export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or undefined when they can; throws in CI. */
export function chromiumMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `${CHROMIUM} is missing: the HTML browser tests are SKIPPED (apt-get install -y chromium, or node scripts/setup.mjs)`;
  if (process.env.CI === "true" || process.env.CI === "1") throw new Error(`${reason} — in CI this is a failure`);
  console.warn(`\n*** ${reason} ***\n`);
  return reason;
}

/** One headless chromium per test file. --no-sandbox only as root, where chromium refuses to start without it. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
  });
}

export interface LoadedPage {
  page: Page;
  /** Console errors and page errors (a CSP violation is one). */
  errors: string[];
  /** Every request the page made beyond the file itself. */
  requests: string[];
}

/** What the page's `window.__pwned` probe holds: a hostile value that ran would have set it. */
export function pwned(page: Page): Promise<string> {
  return page.evaluate("typeof window.__pwned");
}

/** Opens a local HTML file, recording console errors and any network request. */
export async function openFile(browser: Browser, path: string): Promise<LoadedPage> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m: ConsoleMessage) => {
    if (m.type() === "error" || m.type() === "warning") errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e: Error) => errors.push(`pageerror: ${e.message}`));
  page.on("request", (r: Request) => {
    if (r.url() !== `file://${path}`) requests.push(r.url());
  });
  await page.goto(`file://${path}`, { waitUntil: "load" });
  return { page, errors, requests };
}
