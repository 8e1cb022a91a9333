import { describe, expect, it } from "vitest";
import { createStyle } from "../../core/src/tty";
import type { CheckResult } from "../src/check";
import { render } from "../src/output";
import type { ChangeRecord, Report } from "../src/record";
import { cell, renderCsv } from "../src/report/csv";
import { renderDigest } from "../src/report/digest";
import { renderMarkdown } from "../src/report/markdown";
import { renderRetro } from "../src/retro";

/**
 * The text reports (digest, Markdown, CSV) from a report whose provider-supplied strings are hostile: a
 * GitHub Enterprise Server, a GitLab or a proxy in between decides logins, check names and URLs, so none
 * of them may drive the terminal that shows the CI log or become a link a reviewer clicks.
 */

/** Terminal title (OSC ... BEL), screen clear (CSI), a C1 CSI and a right-to-left override, all in one login. */
const LOGIN = "mallory\u001b]0;pwn\u0007\u001b[2J\u009b31m\u202eevil\u2066x";
/** What no report line may carry (CR and LF are the CSV's row ends and are checked apart). */
const RAW = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

function record(n: number, url: string, who: string): ChangeRecord {
  const sha = `${n}`.repeat(40).slice(0, 40);
  return {
    repo: "acme/shop",
    range: { from: "a".repeat(40), to: "b".repeat(40), mode: "first-parent" },
    commit: {
      sha,
      subject: `SHOP-${n} change`,
      author: { login: who, email: `${who}@acme.test`, name: who },
      committer: { login: who },
      co_authors: [],
      signed: null,
    },
    pr: {
      number: n,
      url,
      title: `SHOP-${n} change`,
      author: who,
      head_ref: `branch-${who}`,
      head_sha: sha,
      merged_at: "2026-12-01T00:00:00Z",
      merged_by: who,
    },
    approvals: [{ reviewer: who, state: "APPROVED", submitted_at: null, commit: sha, on_head: true, counts: true }],
    checks: [{ name: `build-${who}`, app: who, kind: "check_run", state: "success", sha, completed_at: null, required: true }],
    tickets: [`SHOP-${n}`],
    labels: [`label-${who}`],
    emergency: { label: "emergency", due_at: "2026-12-04T00:00:00Z", status: "done", retro_reviewer: who, retro_reviewed_at: null },
    exemption: `bot:${who}`,
    verdict: "noncompliant",
    violations: [{ rule: "approvals", message: `approval by ${who} does not count` }],
    tool_version: "test",
    generated_at: "2026-12-05T00:00:00Z",
  };
}

function report(records: ChangeRecord[]): Report {
  return {
    schema: "opsguard.sock-check/v1",
    tool_version: "test",
    generated_at: "2026-12-05T00:00:00Z",
    repo: "acme/shop",
    provider: "github",
    range: records[0]!.range,
    policy_source: "HEAD:.sock-check.yml",
    summary: {
      commits: records.length,
      pulls: records.length,
      compliant: 0,
      exempt: 0,
      emergency: 0,
      noncompliant: records.length,
      unverified: 0,
    },
    records,
    requests: 1,
  };
}

describe("sock-check --format markdown links", () => {
  it("links only http(s) PR URLs: javascript:, data: and odd-cased or space-led schemes stay plain text", () => {
    const out = renderMarkdown(
      report([
        record(1, "javascript:alert(5)", "alice"),
        record(2, "  JaVaScRiPt:alert(6)", "alice"),
        record(3, "data:text/html,<script>alert(7)</script>", "alice"),
        record(4, "https://github.example/acme/shop/pull/4", "alice"),
      ]),
      { blocked: true },
    );
    expect(out).not.toMatch(/javascript:|data:text/i);
    expect(out).toContain("[#4](https://github.example/acme/shop/pull/4)");
    // every link a reader can click goes to http(s)
    expect([...out.matchAll(/\]\(([^)]*)\)/g)].map((m) => m[1])).toEqual(["https://github.example/acme/shop/pull/4"]);
    // the refused ones still name their PR
    expect(out).toMatch(/\| \\#1 SHOP-1 change \|/);
    expect(out).toMatch(/\| \\#2 SHOP-2 change \|/);
  });

  it("keeps a PR URL with brackets, spaces or a newline inside its link instead of ending it early", () => {
    const out = renderMarkdown(report([record(5, "https://gh.example/pull/5) [x](javascript:alert(8)\n<b>", "alice")]), {
      blocked: true,
    });
    const links = [...out.matchAll(/\]\(([^)]*)\)/g)].map((m) => m[1]);
    expect(links).toHaveLength(1);
    expect(links[0]).toMatch(/^https:\/\/gh\.example\/pull\/5%29%20%5Bx%5D%28javascript:alert%288%29/);
    expect(out).not.toContain("<b>");
    expect(out.split("\n").filter((l) => l.startsWith("|"))).toHaveLength(3);
  });
});

describe("provider-supplied strings in the text reports", () => {
  const hostile = report([record(1, "https://gh.example/pull/1", LOGIN)]);

  it("digest and retro: a login with OSC/CSI/BEL/C1/bidi controls is shown escaped, never sent to the terminal", () => {
    for (const colour of [false, true]) {
      const out = renderDigest(hostile, createStyle(colour), { blocked: true });
      // colour is the renderer's own SGR: take it out, then nothing else may be a control character
      const plain = out.replace(/\u001b\[\d+(;\d+)*m/g, "");
      expect(plain.replace(/\n/g, "")).not.toMatch(RAW);
      expect(plain).toContain("approved by mallory ]0;pwn [2J 31m\\u{202e}evil\\u{2066}x");
      expect(plain).toContain("author mallory ]0;pwn");
      expect(plain).toContain("build-mallory ]0;pwn");
      expect(plain).toContain("retro review by mallory ]0;pwn");
    }
    const retro = renderRetro(hostile, createStyle(false));
    expect(retro.replace(/\n/g, "")).not.toMatch(RAW);
    expect(retro).toContain("reviewed by mallory ]0;pwn [2J 31m\\u{202e}evil");
  });

  it("markdown and CSV: the same login has no control or bidi character left", () => {
    const md = renderMarkdown(hostile, { blocked: true });
    expect(md.replace(/\n/g, "")).not.toMatch(RAW);
    expect(md).toContain("mallory \\]0;pwn \\[2J 31m\\\\u\\{202e\\}evil");
    const csv = renderCsv(hostile);
    expect(csv.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    expect(csv.replace(/\r\n/g, "")).not.toMatch(RAW);
    expect(csv).toContain("mallory ]0;pwn [2J 31m\\u{202e}evil\\u{2066}x");
  });

  it("CSV: a cell a spreadsheet would run is defused, and one with edge spaces is quoted so they survive", () => {
    expect(cell("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(cell("-1+2")).toBe("'-1+2");
    expect(cell(" SHOP-1 cart ")).toBe('" SHOP-1 cart "');
    expect(cell('say "hi", then\nleave')).toBe('"say ""hi"", then leave"');
  });

  it("json: the same login comes back as the same data, its C1 and bidi characters written as \\u escapes", () => {
    const json = render({ report: hostile } as CheckResult, "json", createStyle(false), true);
    expect(json.replace(/\n/g, "")).not.toMatch(RAW);
    expect(json).toContain("\\u009b31m\\u202eevil\\u2066x");
    expect(JSON.parse(json)).toEqual(hostile);
  });
});

describe("an unverified change's wording (T67 F5)", () => {
  it("says its PR is unknown, not that there is none, and for one with a PR that nothing was judged", () => {
    const unknown: ChangeRecord = {
      ...record(1, "https://gh.example/pull/1", "alice"),
      pr: null,
      approvals: [],
      checks: [],
      tickets: [],
      emergency: null,
      exemption: null,
      verdict: "unverified",
      violations: [{ rule: "unverified", message: "could not be verified: GitHub API returned more than 1000 pages" }],
    };
    const unjudged: ChangeRecord = { ...unknown, commit: { ...unknown.commit, sha: "2".repeat(40) }, pr: record(2, "", "bob").pr };
    const plain = createStyle(false);
    const digest = renderDigest(report([unknown, unjudged]), plain, { blocked: true });
    expect(digest).toContain("1111111 SHOP-1 change (PR unknown)");
    expect(digest).not.toContain("(no PR)");
    expect(digest).toContain("author bob · not judged: approvals, checks and ticket are weighed once it can be verified");
    expect(digest).not.toMatch(/approved by —|ticket —/);
    expect(renderMarkdown(report([unknown]), { blocked: true })).toContain("SHOP-1 change (PR unknown)");
  });
});
