import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exitCodeOf, type OpsguardError, Secret } from "@opsguard/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { GitHubApi } from "../src/github-api";
import { envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/**
 * Ways past the gate the T55 re-check tester found on GitHub (notes/t55-recheck.md), each checked as a user sees it:
 * the exit code and what the run says.
 */

const SAML = "Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.";

let scenario: GitHubScenario;

beforeAll(async () => {
  scenario = await startScenario();
  scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(scenario.sim.url) } });
  scenario.tag("c0");
  scenario.pullRequest({ title: "SHOP-1 Add the cart", author: "bob", reviews: [{ by: "carol" }], checks: { build: "success" } });
  scenario.tag("c1");
  scenario.build();
}, 60_000);

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
});

const run = (...args: string[]) => runSockCheck(["--from", "c0", "--to", "c1", ...args], { cwd: scenario.dir, env: envFor(scenario) });

describe("GitHub's FORBIDDEN anywhere in any answer is a refused token (N1)", () => {
  // Repository.object is the commit lookup of the first request ([repository, c0]); Repository.pullRequest is the
  // PR query, the second request ([repository, p0], the shape in fwouts/prmonitor#1042).
  for (const [fieldName, path] of [
    ["object", "repository.c0"],
    ["pullRequest", "repository.p0"],
  ] as const) {
    it(`on ${path}: 77, also with --allow-unverified`, async () => {
      expect((await run()).code).toBe(0);
      const lift = scenario.sim.failGraphQLField({ typeName: "Repository", fieldName, type: "FORBIDDEN", message: SAML });
      try {
        for (const extra of [[], ["--allow-unverified"]]) {
          const refused = await run(...extra);
          expect(refused.code).toBe(77);
          expect(refused.stdout).toContain("BLOCKED");
          expect(refused.stderr).toContain(`GitHub refuses this token for repository acme/shop: ${SAML} (at ${path})`);
          expect(refused.stderr).not.toContain("--allow-unverified to let them through");
          if (extra.length > 0) expect(refused.stderr).toContain("--allow-unverified does not cover a refused token");
        }
      } finally {
        lift();
      }
    });
  }
});

describe("GitHubApi.graphql, on GitHub's SAML answers", () => {
  let server: Server;
  let body = "";
  let url = "";
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-github-sso": "required; url=https://github.com/orgs/acme/sso" });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const ask = () =>
    new GitHubApi({ apiUrl: url, token: new Secret("ghp_t55", "test"), timeoutMs: 5_000, maxRateLimitWaitMs: 0 }).graphql("query { x }", {
      owner: "acme",
      name: "shop",
    });

  it("refuses the token (77, with the SAML hint) for FORBIDDEN with no path and data: null", async () => {
    body = JSON.stringify({ data: null, errors: [{ type: "FORBIDDEN", extensions: { saml_failure: true }, message: SAML }] });
    const error = (await ask().catch((e: unknown) => e)) as OpsguardError;
    expect(exitCodeOf(error)).toBe(77);
    expect(error.message).toBe(`GitHub refuses this token for repository acme/shop: ${SAML}`);
    expect(error.hint).toContain("SAML single sign-on: authorise the token for it");
  });

  it("refuses the token for FORBIDDEN beside data, naming where", async () => {
    body = JSON.stringify({
      data: { repository: { pullRequest: null } },
      errors: [{ type: "FORBIDDEN", path: ["repository", "pullRequest"], message: "Resource not accessible by integration" }],
    });
    const error = (await ask().catch((e: unknown) => e)) as OpsguardError;
    expect(exitCodeOf(error)).toBe(77);
    expect(error.message).toBe(
      "GitHub refuses this token for repository acme/shop: Resource not accessible by integration (at repository.pullRequest)",
    );
    expect(error.hint).toContain("give the token read access");
  });
});

describe("--from-file/--from-url JSON with a repeated key (N2)", () => {
  it("is refused (65, one line): JSON.parse would take the last SHA of the two; a key repeated only in another object is fine", async () => {
    const deployed = scenario.sha(1);
    const other = scenario.pull(1).mergeSha;
    const dir = mkdtempSync(join(tmpdir(), "sock-check-t55-"));
    const fromFile = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return runSockCheck(["--from-file", join(dir, name), "--to", "c1"], { cwd: scenario.dir, env: envFor(scenario) });
    };
    try {
      const nested = await fromFile("nested.json", `{"sha": "${deployed}", "build": {"sha": "${other}"}}`);
      expect(nested.code).toBe(0);
      expect(nested.stdout).toContain(`${deployed.slice(0, 7)}..`);
      for (const [name, text] of [
        ["dup.json", `{"sha":"${deployed}","sha":"${other}"}`],
        // the same key, spelt with an escape: JSON.parse decodes it to "sha" too
        [
          "escaped.json",
          `{"sha":"${deployed}",
  "\\u0073ha" : "${other}"}`,
        ],
      ] as const) {
        const refused = await fromFile(name, text);
        expect(refused.code, name).toBe(65);
        expect(refused.stdout).toBe("");
        expect(refused.stderr.trim().split("\n")).toEqual([
          expect.stringContaining(
            `sock-check: --from-file ${join(dir, name)} does not contain exactly one commit SHA (JSON with the key "sha" more than once)`,
          ),
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
