import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The auditd conformance gate must fail closed: every way it used to pass without checking now exits non-zero.
// Each case starts from a tiny corpus that passes (the first test) and changes one thing.
const SCRIPT = new URL("../../scripts/conformance/auditd.mjs", import.meta.url).pathname;
const BUNDLE = new URL("../../packages/auditd-parse/dist/auditd-parse.cjs", import.meta.url).pathname;
const LOGIN =
  "type=USER_LOGIN msg=audit(1700000400.000:700): pid=900 uid=0 auid=1000 ses=7 msg='op=login id=1000 exe=\"/usr/sbin/sshd\" hostname=203.0.113.9 addr=203.0.113.9 terminal=ssh res=success'\n";

let dir: string;
let corpus: string;
let emptyKnown: string;

function writeCorpus(at: string, goldenOp = "login"): void {
  const laurel = join(at, "laurel/src-testdata");
  const auparse = join(at, "go-libaudit/auparse-testdata");
  const reasm = join(at, "go-libaudit/reassembler-testdata");
  for (const d of [laurel, auparse, reasm]) mkdirSync(d, { recursive: true });
  writeFileSync(join(laurel, "record-login.txt"), LOGIN);
  writeFileSync(join(laurel, "record-login.json"), `${JSON.stringify({ ID: "1700000400.000:700", USER_LOGIN: {} })}\n`);
  writeFileSync(join(auparse, "login.log"), LOGIN);
  writeFileSync(
    join(auparse, "login.log.golden"),
    JSON.stringify([{ record_type: "user_login", sequence: 700, data: { op: goldenOp, terminal: "ssh" } }]),
  );
  writeFileSync(join(reasm, "login.log"), LOGIN);
  writeFileSync(join(reasm, "EXPECTED.json"), JSON.stringify({ "login.log": { events: [[700, 1]], dropped: 0 } }));
}

function run(args: string[], env: Record<string, string | undefined> = {}, cwd?: string) {
  const { CI: _ci, LAUREL: _laurel, ...rest } = process.env;
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: "utf8", env: { ...rest, ...env }, cwd });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

beforeAll(() => {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
  dir = mkdtempSync(join(tmpdir(), "conformance-test-"));
  corpus = join(dir, "corpus");
  writeCorpus(corpus);
  emptyKnown = join(dir, "known-empty.json");
  writeFileSync(emptyKnown, JSON.stringify({ goLibaudit: [] }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// --skip-golden keeps each run quick (golden.test.ts checks the goldens); the missing-corpus case runs them
const small = () => ["--corpus", corpus, "--known", emptyKnown, "--min-checks", "1", "--skip-golden"];

// Each case spawns the script, which spawns auditd-parse per log: slow on a loaded 2-core machine, never a hang.
describe("scripts/conformance/auditd.mjs fails closed", { timeout: 180_000 }, () => {
  it("passes a small complete corpus (the baseline every case below changes one thing of)", () => {
    const r = run(small());
    expect(r.out).toContain("0 failed");
    expect(r.code).toBe(0);
  });

  it("missing corpus: exit 66 in CI and by default; --allow-missing only warns outside CI", () => {
    const missing = ["--corpus", join(dir, "nowhere"), "--known", emptyKnown, "--skip-golden"];
    const ci = run(missing, { CI: "true" });
    expect(ci.code).toBe(66);
    expect(ci.out).toContain("corpus not found");
    expect(run(missing).code).toBe(66);
    const allowed = run(missing.filter((a) => a !== "--skip-golden").concat("--allow-missing"));
    expect(allowed.code).toBe(0);
    expect(allowed.out).toMatch(/!{20}[\s\S]*did NOT run/);
    expect(allowed.out).toMatch(/ok {3}nodes\.log: 3 events/); // the goldens still ran
    expect(run([...missing, "--allow-missing"]).code).toBe(1); // goldens skipped as well: nothing was checked
    expect(run([...missing, "--allow-missing"], { CI: "true" }).code).toBe(66);
  });

  it("an empty corpus folder is not 'nothing to check': exit 66, even with --allow-missing", () => {
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    const r = run(["--corpus", empty, "--known", emptyKnown, "--allow-missing", "--min-checks", "1", "--skip-golden"]);
    expect(r.code).toBe(66);
    expect(r.out).toContain("is incomplete");
  });

  it("fewer checks than the minimum fail (exit 1)", () => {
    const r = run(["--corpus", corpus, "--known", emptyKnown, "--skip-golden"]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/fewer than the minimum 130/);
  });

  it("laurel missing: --laurel exits 69 in CI and outside it without --allow-missing", () => {
    const env = { LAUREL: join(dir, "no-such-laurel") };
    const ci = run([...small(), "--laurel"], { ...env, CI: "true" });
    expect(ci.code).toBe(69);
    expect(ci.out).toContain("the live laurel comparison did NOT run");
    expect(run([...small(), "--laurel"], env).code).toBe(69);
  });

  it("laurel that writes no output: no difference is 'known', the file fails (exit 1)", () => {
    const silent = join(dir, "silent-laurel");
    writeFileSync(silent, "#!/bin/sh\nexit 0\n");
    chmodSync(silent, 0o755);
    const r = run([...small(), "--laurel"], { LAUREL: silent });
    expect(r.code).toBe(1);
    expect(r.out).toContain("laurel wrote no events");
  });

  it("a go-libaudit value mismatch fails unless listed with a reason; a stale entry fails too", () => {
    const other = join(dir, "mismatch");
    writeCorpus(other, "logout");
    const unlisted = run(["--corpus", other, "--known", emptyKnown, "--min-checks", "1", "--skip-golden"]);
    expect(unlisted.code).toBe(1);
    expect(unlisted.out).toContain('op: ["login"] vs go-libaudit "logout" (not in known-empty.json)');

    const where = "login.log.golden USER_LOGIN:700 op";
    const known = join(dir, "known.json");
    writeFileSync(known, JSON.stringify({ goLibaudit: [{ where, ours: "login", theirs: "logout", reason: "test" }] }));
    expect(run(["--corpus", other, "--known", known, "--min-checks", "1", "--skip-golden"]).code).toBe(0);

    const noReason = join(dir, "known-no-reason.json");
    writeFileSync(noReason, JSON.stringify({ goLibaudit: [{ where, ours: "login", theirs: "logout", reason: " " }] }));
    expect(run(["--corpus", other, "--known", noReason, "--min-checks", "1", "--skip-golden"]).code).toBe(66);

    const stale = run(["--corpus", corpus, "--known", known, "--min-checks", "1", "--skip-golden"]);
    expect(stale.code).toBe(1);
    expect(stale.out).toContain("no longer occurs");
  });

  it("finds the corpus beside the repository root, never beside the current directory", async () => {
    const decoy = join(dir, "elsewhere");
    writeCorpus(join(decoy, "shared/corpus/audit"));
    mkdirSync(join(decoy, "checkout"), { recursive: true });
    const { CI: _ci, ...env } = process.env;
    // the script names the corpus it uses before checking it: read up to that line, then stop it
    const child = spawn(process.execPath, [SCRIPT, "--known", emptyKnown, "--allow-missing", "--skip-golden"], {
      cwd: join(decoy, "checkout"),
      env,
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      if (/^corpus /m.test(out)) child.kill();
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    await once(child, "close");
    expect(out).toMatch(/^corpus |corpus not found/m);
    expect(out).not.toContain(decoy);
  });

  it("rejects an unknown flag with a usage error (exit 64), not a silent pass", () => {
    expect(run(["--corpuss", corpus]).code).toBe(64);
  });
});
