import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { GitHubScenario, gitEnv } from "../../lab/src/sim/github-scenario";
import { GitLabSim } from "../../lab/src/sim/gitlab";
import { GitLabMergeRequests, mirrorScenarioToGitLab } from "../../lab/src/sim/gitlab-merge-requests";
import { policyYaml, TOKEN_ENV, USERS } from "./fixture";

/**
 * The GitHub Action (action.yml) and the GitLab CI template, run as their runners run them: each shell step
 * with the environment the runner sets, the install step installing the packed npm tarball (what `npm publish`
 * ships), against the lab's GitHub and GitLab simulators.
 */

const ROOT = join(import.meta.dirname, "../../..");
const PACKAGE_DIR = join(ROOT, "packages/sock-check");
let work: string;
let tarball: string;

/** The tarball `pnpm pack` makes from the last build (a fresh checkout builds here), as scripts/package/npm.mjs does. */
function packSockCheck(into: string): string {
  if (!existsSync(join(PACKAGE_DIR, "dist/sock-check.cjs"))) {
    execFileSync(process.execPath, [join(ROOT, "scripts/build.mjs"), "sock-check"], { cwd: ROOT, stdio: "pipe" });
  }
  execFileSync(process.execPath, [join(ROOT, "scripts/package/man.mjs"), "sock-check"], { cwd: ROOT, stdio: "pipe" });
  execFileSync(process.execPath, [join(ROOT, "scripts/pnpm.mjs"), "pack", "--pack-destination", into], { cwd: PACKAGE_DIR, stdio: "pipe" });
  const file = readdirSync(into).find((f) => f.endsWith(".tgz"));
  if (!file) throw new Error("pnpm pack made no tarball");
  return join(into, file);
}

/** The environment every runner step gets: no test token, npm's cache and HOME in the test's own directory. */
function baseEnv(): NodeJS.ProcessEnv {
  const home = join(work, "home");
  mkdirSync(home, { recursive: true });
  return { PATH: process.env.PATH, HOME: home, npm_config_cache: join(home, ".npm"), NO_COLOR: "1", CI: "true", LANG: "C.UTF-8" };
}

function run(
  cmd: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number; stdout: string; stderr: string }> {
  // Asynchronously: the simulators answer from this process.
  return new Promise((resolve) => {
    execFile(cmd, args, { ...options, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "sock-check-ci-"));
  tarball = packSockCheck(mkdtempSync(join(work, "pack-")));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// --- GitHub Actions ------------------------------------------------------------------------------------------

interface ActionStep {
  id?: string;
  name: string;
  shell: string;
  run: string;
  env?: Record<string, string>;
  "working-directory"?: string;
}
interface Action {
  inputs: Record<string, { default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

interface ActionRun {
  code: number;
  log: string;
  outputs: Record<string, string>;
  summary: string;
}

const action = parseYaml(readFileSync(join(PACKAGE_DIR, "action.yml"), "utf8")) as Action;

/**
 * Runs the composite action's steps as the runner does: expressions evaluated (only the contexts the action may
 * use: inputs, github.token, steps.*.outputs), `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`
 * (docs.github.com/actions/reference/workflows-and-actions/workflow-syntax#jobsjob_idstepsshell), and per step
 * the GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files (docs.github.com/actions/reference/workflows-and-actions/variables).
 */
async function runAction(workspace: string, inputs: Record<string, string>, token: string): Promise<ActionRun> {
  const runDir = mkdtempSync(join(work, "run-"));
  const stepOutputs: Record<string, Record<string, string>> = {};
  const evaluate = (text: string): string =>
    text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expression: string) => {
      const input = /^inputs\.([\w-]+)$/.exec(expression);
      if (input) {
        const name = input[1]!;
        if (!(name in action.inputs)) throw new Error(`action.yml uses an undeclared input ${name}`);
        return inputs[name] ?? evaluate(action.inputs[name]?.default ?? "");
      }
      if (expression === "github.token") return token;
      const output = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
      if (output) return stepOutputs[output[1]!]?.[output[2]!] ?? "";
      throw new Error(`the test runner does not evaluate \${{ ${expression} }}`);
    });
  for (const input of Object.keys(inputs)) if (!(input in action.inputs)) throw new Error(`no input ${input} in action.yml`);
  let log = "";
  let summary = "";
  for (const [i, step] of action.runs.steps.entries()) {
    expect(step.shell).toBe("bash");
    // An input expanded into the script itself would be a script-injection path: the scripts take env only.
    expect(step.run).not.toMatch(/\$\{\{/);
    const outputFile = join(runDir, `output-${i}`);
    const summaryFile = join(runDir, `summary-${i}`);
    const script = join(runDir, `step-${i}.sh`);
    writeFileSync(outputFile, "");
    writeFileSync(summaryFile, "");
    writeFileSync(script, step.run);
    const env: NodeJS.ProcessEnv = {
      ...baseEnv(),
      GITHUB_ACTIONS: "true",
      GITHUB_WORKSPACE: workspace,
      GITHUB_ACTION_PATH: PACKAGE_DIR,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_REPOSITORY: "acme/shop",
      RUNNER_TEMP: join(runDir, "runner-temp"),
      ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(String(v))])),
    };
    mkdirSync(env.RUNNER_TEMP!, { recursive: true });
    const cwd = join(workspace, evaluate(step["working-directory"] ?? "."));
    const result = await run("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], { cwd, env });
    log += result.stdout + result.stderr;
    summary += readFileSync(summaryFile, "utf8");
    const outputs = Object.fromEntries(
      readFileSync(outputFile, "utf8")
        .split("\n")
        .filter((line) => line.includes("="))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    if (step.id) stepOutputs[step.id] = outputs;
    // The runner stops at a failed step; the action's outputs are what its steps wrote so far.
    if (result.code !== 0 || i === action.runs.steps.length - 1) {
      const actionOutputs = Object.fromEntries(Object.entries(action.outputs).map(([name, o]) => [name, evaluate(o.value)]));
      return { code: result.code, log, outputs: actionOutputs, summary };
    }
  }
  throw new Error("action.yml has no steps");
}

describe("the GitHub Action", () => {
  let scenario: GitHubScenario;

  beforeAll(async () => {
    scenario = new GitHubScenario({ users: USERS });
    await scenario.sim.start();
    const s = scenario;
    // The action exports its token input as GITHUB_TOKEN, the policy's default github.token.
    const policy = policyYaml(s.sim.url).replace(`token: env:${TOKEN_ENV}`, "token: env:GITHUB_TOKEN");
    s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
    s.tag("deploy-1");
    s.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
    s.tag("deploy-2");
    s.pullRequest({ title: "SHOP-2 Search", author: "bob", reviews: [{ by: "bob" }], checks: { build: "failure" } });
    s.build();
  });

  afterAll(async () => {
    await scenario?.sim.stop();
    scenario?.cleanup();
  });

  it("installs the packed sock-check, blocks a noncompliant range with exit 1, and puts the Markdown in the job summary", async () => {
    const result = await runAction(scenario.dir, { package: tarball }, scenario.token);
    expect(result.code).toBe(1);
    expect(result.outputs).toEqual({ "exit-code": "1", blocked: "true" });
    expect(result.summary.split("\n")[0]).toBe("### sock-check: ❌ deploy blocked");
    expect(result.summary).toContain("approval by bob does not count");
    expect(result.summary).toContain("required check build is failure");
    // The digest is in the log, with the reason for the block.
    expect(result.log).toMatch(/#2 SHOP-2 Search/);
    expect(result.log).toMatch(/sock-check: deploy blocked: 1 noncompliant commit/);
    expect(result.log).not.toContain(scenario.token);
  });

  it("writes JSON evidence to a file and passes a compliant range", async () => {
    const evidence = join(work, "evidence.json");
    const result = await runAction(
      scenario.dir,
      { package: tarball, from: "deploy-1", to: "deploy-2", format: "json", output: evidence },
      scenario.token,
    );
    expect(result.code).toBe(0);
    expect(result.outputs).toEqual({ "exit-code": "0", blocked: "false" });
    const report = JSON.parse(readFileSync(evidence, "utf8"));
    expect(report).toMatchObject({ schema: "opsguard.sock-check/v1", summary: { commits: 1, compliant: 1 } });
    expect(result.summary).toBe("");
  });

  it("takes hostile input values as data, and refuses a wrong allow-unverified", async () => {
    const result = await runAction(scenario.dir, { package: tarball, from: "$(touch pwned)", to: "deploy-2" }, scenario.token);
    expect(result.code).toBe(64);
    expect(result.log).toContain("--from $(touch pwned): no such commit");
    expect(existsSync(join(scenario.dir, "pwned"))).toBe(false);
    const wrong = await runAction(scenario.dir, { package: tarball, "allow-unverified": "yes" }, scenario.token);
    expect(wrong.code).toBe(64);
    expect(wrong.log).toContain('::error title=sock-check::allow-unverified must be true or false, not "yes"');
  });

  it("sets blocked=true on every failure before sock-check runs (r13 finding 5)", async () => {
    const option = await runAction(scenario.dir, { package: "--foo" }, scenario.token);
    expect(option.code).toBe(64);
    expect(option.log).toContain('::error title=sock-check::package input "--foo" is not an npm package spec');
    const wrong = await runAction(scenario.dir, { package: tarball, "allow-unverified": "yes" }, scenario.token);
    const uninstallable = await runAction(scenario.dir, { package: join(work, "no-such-sock-check.tgz") }, scenario.token);
    const nowhere = await runAction(scenario.dir, { package: tarball, "working-directory": "no-such-dir" }, scenario.token);
    for (const failed of [option, wrong, uninstallable, nowhere]) {
      expect(failed.code).not.toBe(0);
      expect(failed.outputs).toEqual({ "exit-code": String(failed.code), blocked: "true" });
    }
  });

  it("fails closed with 77 when the token is refused", async () => {
    const result = await runAction(scenario.dir, { package: tarball, token: "ghp_revoked0123456789" }, scenario.token);
    expect(result.code).toBe(77);
    expect(result.outputs.blocked).toBe("true");
  });
});

// --- GitLab CI -----------------------------------------------------------------------------------------------

describe("the GitLab CI template", () => {
  let scenario: GitHubScenario;
  let gitlab: GitLabSim;
  const template = parseYaml(readFileSync(join(PACKAGE_DIR, "ci/sock-check.gitlab-ci.yml"), "utf8")) as Record<
    string,
    { variables: Record<string, string>; script: string[]; artifacts: { paths: string[] } }
  >;

  beforeAll(async () => {
    gitlab = new GitLabSim();
    await gitlab.start();
    scenario = new GitHubScenario({ users: USERS });
    const policy = `provider: gitlab\ngitlab:\n  apiUrl: ${gitlab.url}/api/v4\n  timeoutMs: 3000\nchecks:\n  required: [build]\nticket:\n  pattern: "SHOP-\\\\d+"\n`;
    scenario.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policy } });
    scenario.tag("deploy-1");
    scenario.pullRequest({ title: "SHOP-1 Cart", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
    scenario.tag("deploy-2");
    scenario.pullRequest({ title: "SHOP-2 Search", author: "bob", reviews: [{ by: "alice" }], checks: { build: "failure" } });
    scenario.build();
    mirrorScenarioToGitLab(scenario, new GitLabMergeRequests(gitlab, { id: 7, path: "acme/shop" }));
  });

  afterAll(async () => {
    await gitlab?.stop();
    scenario?.cleanup();
  });

  /**
   * The hidden job's script as a GitLab runner runs it: one shell session for all lines, stopping at the first
   * failure, with the job's variables and GitLab's predefined ones (docs.gitlab.com/ci/variables/predefined_variables/).
   */
  async function runJob(variables: Record<string, string>, to = "HEAD", options: { keepEvidence?: boolean } = {}) {
    const job = template[".sock-check"]!;
    const sha = execFileSync("git", ["rev-parse", to], { cwd: scenario.dir, env: gitEnv(), encoding: "utf8" }).trim();
    if (!options.keepEvidence) rmSync(join(scenario.dir, "sock-check.json"), { force: true });
    return run("sh", ["-e", "-c", job.script.join("\n")], {
      cwd: scenario.dir,
      env: {
        ...baseEnv(),
        GITLAB_CI: "true",
        CI_PROJECT_DIR: scenario.dir,
        CI_PROJECT_PATH: "acme/shop",
        CI_COMMIT_SHA: sha,
        CI_API_V4_URL: `${gitlab.url}/api/v4`,
        GITLAB_TOKEN: gitlab.token,
        ...job.variables,
        SOCK_CHECK_PACKAGE: tarball,
        ...variables,
      },
    });
  }

  it("fetches the whole history, and keeps the JSON evidence as an artifact even when the job fails", () => {
    const job = template[".sock-check"]!;
    expect(job.variables.GIT_DEPTH).toBe("0");
    expect(job.artifacts).toMatchObject({ when: "always", paths: ["sock-check.json"] });
  });

  it("blocks a noncompliant range since the last deploy tag with exit 1, writing the evidence", async () => {
    const result = await runJob({});
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/!2 SHOP-2 Search/);
    expect(result.stderr).toMatch(/deploy blocked: 1 noncompliant commit/);
    expect(result.stdout + result.stderr).not.toContain(gitlab.token);
    const report = JSON.parse(readFileSync(join(scenario.dir, "sock-check.json"), "utf8"));
    expect(report).toMatchObject({ repo: "acme/shop", summary: { commits: 1, noncompliant: 1 } });
    expect(report.records[0].violations.map((v: { rule: string }) => v.rule)).toEqual(["check-failed"]);
  });

  it("passes a compliant range given by SOCK_CHECK_FROM", async () => {
    const result = await runJob({ SOCK_CHECK_FROM: "deploy-1" }, "deploy-2");
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(join(scenario.dir, "sock-check.json"), "utf8"))).toMatchObject({
      summary: { commits: 1, compliant: 1 },
    });
  });

  it("installs outside the checkout, so a commit planting its own .sock-check install cannot replace the gate", async () => {
    // The tester's attack (r13 finding 1): an .npmrc that turns off bin links beside a sock-check that exits 0,
    // where the template used to install.
    const planted = join(scenario.dir, ".sock-check");
    mkdirSync(join(planted, "node_modules/.bin"), { recursive: true });
    writeFileSync(join(planted, ".npmrc"), "bin-links=false\n");
    writeFileSync(join(planted, "node_modules/.bin/sock-check"), "#!/bin/sh\necho compliant\nexit 0\n", { mode: 0o755 });
    writeFileSync(join(scenario.dir, ".npmrc"), "bin-links=false\n");
    try {
      const result = await runJob({});
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/deploy blocked: 1 noncompliant commit/);
      expect(result.stdout).not.toContain("compliant\n");
    } finally {
      rmSync(planted, { recursive: true, force: true });
      rmSync(join(scenario.dir, ".npmrc"), { force: true });
    }
  });

  it("refuses evidence the checkout points at /dev/null, and a package spec that is an option", async () => {
    rmSync(join(scenario.dir, "sock-check.json"), { force: true });
    symlinkSync("/dev/null", join(scenario.dir, "sock-check.json"));
    const linked = await runJob({}, "HEAD", { keepEvidence: true });
    expect(linked.code).toBe(74);
    expect(linked.stderr).toContain("sock-check.json is a symbolic link");
    const option = await runJob({ SOCK_CHECK_PACKAGE: "--foo" });
    expect(option.code).toBe(64);
    expect(option.stderr).toContain('SOCK_CHECK_PACKAGE "--foo" is not an npm package spec');
  });

  it("fails closed with 77 on a token GitLab refuses, and 64 on a wrong SOCK_CHECK_ALLOW_UNVERIFIED", async () => {
    const refused = await runJob({ GITLAB_TOKEN: "glpat-revoked-0123456789" });
    expect(refused.code).toBe(77);
    const wrong = await runJob({ SOCK_CHECK_ALLOW_UNVERIFIED: "1" });
    expect(wrong.code).toBe(64);
    expect(wrong.stderr).toContain("SOCK_CHECK_ALLOW_UNVERIFIED must be true or false");
  });
});

// --- the README's examples -----------------------------------------------------------------------------------

describe("the README's CI examples", () => {
  const readme = readFileSync(join(PACKAGE_DIR, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it("use the action where it lives, with inputs it declares, and document every input", () => {
    const uses = blocks.filter((b) => b.includes("opsguard/opsguard/packages/sock-check@"));
    expect(uses.length).toBeGreaterThanOrEqual(2);
    for (const block of uses) {
      // The evidence example is a fragment of a steps list, indented as in a job.
      const parsed = parseYaml(block.startsWith("      ") ? block.replace(/^ {6}/gm, "") : block) as unknown;
      const steps: Array<{ uses?: string; with?: Record<string, unknown> }> = Array.isArray(parsed)
        ? parsed
        : Object.values((parsed as { jobs: Record<string, { steps?: [] }> }).jobs).flatMap((j) => j.steps ?? []);
      const step = steps.find((s) => s.uses?.startsWith("opsguard/opsguard/"));
      const path = /^opsguard\/opsguard\/(.+)@/.exec(step?.uses ?? "")?.[1];
      expect(existsSync(join(ROOT, path ?? "-", "action.yml"))).toBe(true);
      for (const input of Object.keys(step?.with ?? {})) expect(Object.keys(action.inputs)).toContain(input);
    }
    for (const input of Object.keys(action.inputs)) expect(readme).toContain(`\`${input}\``);
  });

  it("include the GitLab template by its path and set only variables it reads", () => {
    const block = blocks.find((b) => b.includes("extends: .sock-check"));
    const parsed = parseYaml(block ?? "") as { include: Array<{ remote: string }>; "sock-check": { variables: Record<string, string> } };
    expect(parsed.include[0]?.remote).toMatch(/\/packages\/sock-check\/ci\/sock-check\.gitlab-ci\.yml$/);
    const job = (
      parseYaml(readFileSync(join(PACKAGE_DIR, "ci/sock-check.gitlab-ci.yml"), "utf8")) as Record<string, { variables: object }>
    )[".sock-check"];
    for (const name of Object.keys(parsed["sock-check"].variables)) expect(Object.keys(job?.variables ?? {})).toContain(name);
  });
});
