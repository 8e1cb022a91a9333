/**
 * The one URL check of the reports: a PR's URL comes from the provider's answer (a GitHub Enterprise Server, a
 * GitLab, or whatever answers at apiUrl), so only an absolute http(s) URL may become a link a reviewer clicks;
 * `javascript:`, `data:` and the like are shown without one. The WHATWG parser normalises what is kept
 * (spaces, quotes and angle brackets percent-encoded, tabs and newlines dropped), so it stays one attribute value.
 */
export function httpUrl(url: string): string | null {
  // Checked on the raw text, before the parser would strip leading spaces or controls and accept "  JaVaScRiPt:".
  if (!/^https?:\/\//i.test(url)) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}
