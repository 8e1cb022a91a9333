import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { createServer as createNetServer } from "node:net";
import { constants as osConstants, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { GitHubScenario } from "../../lab/src/sim/github-scenario";
import { envFor, policyYaml, runSockCheck, startScenario } from "./fixture";

/** What leaves sock-check (stdout in every format, the -o file, stderr) and the exit codes it leaves with. */

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../../..");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
let scenario: GitHubScenario;
let out: string;

beforeAll(async () => {
  scenario = await startScenario();
  const s = scenario;
  s.directPush({ message: "Initial import", author: "alice", files: { ".sock-check.yml": policyYaml(s.sim.url) } });
  s.tag("deploy-1");
  s.pullRequest({ title: "SHOP-1 Search", author: "alice", reviews: [{ by: "bob" }], checks: { build: "success" } });
  s.pullRequest({
    title: "SHOP-2 \u001b[2J\u001b[31mgreen\u0007 build\rFAKE",
    author: "alice",
    labels: ["\u001b]0;pwned\u0007"],
    reviews: [{ by: "bob" }],
    checks: { build: "success" },
  });
  s.build();
  out = mkdtempSync(join(tmpdir(), "sock-out-"));
});

afterEach(() => scenario.sim.clearFaults());

afterAll(async () => {
  await scenario?.sim.stop();
  scenario?.cleanup();
  rmSync(out, { recursive: true, force: true });
});

/**
 * The real entry in a process of its own (node --import tsx: one process, no wrapper); its exit code, stderr and peak
 * RSS, which it reports itself as it exits. stdout: `dev-null` (`>/dev/null`, the default), `closed` (`>&-`), or
 * `reader-gone`: a pipe whose read end is closed before the run starts (`| head -c0`; its first write meets EPIPE).
 */
async function spawnSockCheck(
  args: string[],
  options: { stdout?: "dev-null" | "closed" | "reader-gone" } = {},
): Promise<{ code: number | null; stderr: string; maxRssMiB: number }> {
  const rssFile = join(out, `rss-${process.pid}-${Date.now()}`);
  const preload = join(out, "report-rss.cjs");
  writeFileSync(
    preload,
    `process.on("exit", () => require("node:fs").writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));\n`,
  );
  const argv = ["--require", preload, "--import", TSX, join(ROOT, "packages/sock-check/src/main.ts"), ...args];
  const stdout = options.stdout ?? "dev-null";
  // a shell closes fd 1 for it (>&-), or opens /dev/null write-only (>/dev/null): a spawn's stdio can do neither
  // ("ignore" is /dev/null opened read-write, what node itself leaves in place of a closed descriptor)
  const child =
    stdout === "closed" || stdout === "dev-null"
      ? spawn("sh", ["-c", `exec "$0" "$@" ${stdout === "closed" ? ">&-" : ">/dev/null"}`, process.execPath, ...argv], {
          cwd: scenario.dir,
          env: envFor(scenario),
          stdio: ["ignore", "ignore", "pipe"],
        })
      : spawn(process.execPath, argv, { cwd: scenario.dir, env: envFor(scenario), stdio: ["ignore", "pipe", "pipe"] });
  if (stdout === "reader-gone") child.stdout?.destroy();
  let stderr = "";
  child.stderr?.on("data", (data: Buffer) => {
    stderr += data.toString();
  });
  const [code] = (await once(child, "close")) as [number | null];
  return { code, stderr, maxRssMiB: Number(readFileSync(rssFile, "utf8")) / 1024 };
}

const sock = (args: string[]) => runSockCheck(["--from", "deploy-1", ...args], { cwd: scenario.dir, env: envFor(scenario) });

describe("sock-check's outputs", () => {
  it("never prints the token an API error echoes: not on stdout in any format, not in the -o file, not on stderr", async () => {
    const echoes = [
      { status: 401, body: { message: `Bad credentials: ${scenario.token}` } },
      // GitHub answers some failures with 200 and errors[]; the message then becomes the reason commits are unverified.
      { status: 200, body: { data: null, errors: [{ message: `token ${scenario.token} is not allowed here` }] } },
    ];
    for (const response of echoes) {
      for (const format of ["digest", "json", "markdown", "csv"]) {
        scenario.sim.fault(response, { path: "/graphql", times: 100 });
        const file = join(out, `report.${format}`);
        const withFile = await sock(["--format", format, "-o", file]);
        const toStdout = await sock(["--format", format, "--allow-unverified"]);
        scenario.sim.clearFaults();
        const written = [withFile.stdout, withFile.stderr, readFileSync(file, "utf8"), toStdout.stdout, toStdout.stderr].join("\n");
        expect(written).toContain("[redacted]");
        expect(written).not.toContain(scenario.token);
        expect(written).not.toContain(scenario.token.slice(4));
        expect(withFile.code).not.toBe(0);
      }
    }
  }, 240_000);

  it("lets no control character from a PR title, label or API error reach any output", async () => {
    const control = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
    for (const format of ["digest", "markdown", "csv", "json"]) {
      const run = await sock(["--format", format]);
      expect(run.code).toBe(0);
      // JSON keeps the title as data, escaped by JSON itself.
      expect(run.stdout.replace(/\r\n/g, "\n")).not.toMatch(control);
    }
    scenario.sim.fault(
      { status: 200, body: { data: null, errors: [{ message: "\u001b[31mred\u001b[0m failure\u0007" }] } },
      { path: "/graphql", times: 100 },
    );
    const failed = await sock([]);
    expect(failed.code).toBe(69);
    expect(failed.stderr).toContain("\\x1b[31mred");
    expect(`${failed.stdout}${failed.stderr}`).not.toMatch(control);
  }, 120_000);

  it("writes -o into an existing FIFO rather than replacing it, and never through a symlink", async () => {
    // A FIFO, not /dev/full: the old behaviour, run as root, would have replaced the machine's device with a file.
    const fifo = join(out, "evidence.fifo");
    await run("mkfifo", [fifo]);
    const reader = readFile(fifo, "utf8");
    const toFifo = await sock(["--format", "json", "-o", fifo]);
    expect(toFifo.code).toBe(0);
    expect(JSON.parse(await reader).schema).toBe("opsguard.sock-check/v1");
    expect(lstatSync(fifo).isFIFO()).toBe(true);

    const target = join(out, "evidence.json");
    writeFileSync(target, "old\n");
    const link = join(out, "evidence-link.json");
    symlinkSync(target, link);
    const linked = await sock(["--format", "json", "-o", link]);
    expect(linked.code).toBe(74);
    expect(linked.stderr).toContain(`--output ${link} is a symbolic link, and sock-check does not write its evidence through one`);
    expect(readFileSync(target, "utf8")).toBe("old\n");
    // The commit under review can plant the link where CI keeps the evidence (tester r13 finding 6).
    const discard = join(out, "sock-check.json");
    symlinkSync("/dev/null", discard);
    const discarded = await sock(["--format", "json", "-o", discard]);
    expect(discarded.code).toBe(74);
    expect(discarded.stdout).toBe("");
    expect(lstatSync(discard).isSymbolicLink()).toBe(true);
  });

  it("exits 74 with one line, not a stack trace, when stdout cannot be written (a full disk)", async () => {
    expect(statSync("/dev/full").isCharacterDevice()).toBe(true);
    const child = spawn(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "packages/sock-check/src/main.ts"), "--from", "deploy-1"], {
      cwd: scenario.dir,
      env: envFor(scenario),
      stdio: ["ignore", openSync("/dev/full", "w"), "pipe"],
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code).toBe(74);
    expect(stderr).toContain("ENOSPC");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("bounds all secondary-rate-limit waits together by maxRateLimitWaitMs (5 s here) and exits 75", async () => {
    try {
      // retry-after 2 s, again and again: the third wait would pass the 5 s budget.
      scenario.sim.secondaryRateLimit(100, 2);
      const repeated = await sock([]);
      expect(repeated.code).toBe(75);
      expect(repeated.stderr).toContain("secondary rate limit: it asks to wait 2 s after waiting 4 s");
      // No retry-after: GitHub asks for at least a minute, over the budget, so no wait at all.
      scenario.sim.secondaryRateLimit(100, null);
      const minute = await sock([]);
      expect(minute.code).toBe(75);
      expect(minute.stderr).toContain("it asks to wait 60 s");
    } finally {
      scenario.sim.secondaryRateLimit(0);
    }
  }, 120_000);

  it("counts a 429's retry-after against the same budget, with no retries of its own inside (r13 finding 7)", async () => {
    try {
      scenario.sim.secondaryRateLimit(100, 2, 429);
      const before = scenario.sim.countRequests().total;
      const limited = await sock([]);
      expect(limited.code).toBe(75);
      expect(limited.stderr).toContain("secondary rate limit: it asks to wait 2 s after waiting 4 s");
      // Two waits of 2 s fit the 5 s budget, so three requests in all; the client used to retry each one thrice more.
      expect(scenario.sim.countRequests().total - before).toBe(3);
    } finally {
      scenario.sim.secondaryRateLimit(0);
    }
  }, 120_000);

  it("waits out a 429 and retries a 502 that a proxy answered with an HTML page under GitHub's JSON type (T31)", async () => {
    const page = (status: number, headers: Record<string, string> = {}) => ({
      status,
      headers: { "content-type": "application/json; charset=utf-8", ...headers },
      body: `<html><body><h1>${status}</h1></body></html>`,
    });
    scenario.sim.fault(page(429, { "retry-after": "1" }), { path: "/graphql", times: 1 });
    const limited = await sock([]);
    expect([limited.code, limited.stderr]).toEqual([0, ""]);
    scenario.sim.fault(page(502), { path: "/graphql", times: 1 });
    const flaky = await sock([]);
    expect([flaky.code, flaky.stderr]).toEqual([0, ""]);
    // and a page that stays is reported by its status, with its text
    scenario.sim.fault(page(401), { path: "/graphql", times: 100 });
    const refused = await sock([]);
    expect(refused.code).toBe(77);
    expect(refused.stderr).toContain("GitHub API answered HTTP 401: <html><body><h1>401</h1></body></html>");
  }, 60_000);

  it("exits 69 when GitHub answers 404 or an empty 200 body for its GraphQL endpoint (a wrong apiUrl, a proxy)", async () => {
    for (const response of [
      { status: 404, body: { message: "Not Found" } },
      { status: 200, body: "" },
    ]) {
      scenario.sim.fault(response, { path: "/graphql", times: 100 });
      const run = await sock([]);
      scenario.sim.clearFaults();
      expect(run.code).toBe(69);
      expect(run.stderr).toContain("GitHub GraphQL");
    }
  });

  it("refuses a --since too long to be a date with a usage error (64)", async () => {
    const run = await runSockCheck(["retro", "--since", "99999999999d"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(run.code).toBe(64);
    expect(run.stderr).toContain("--since 99999999999d");
  });

  it("reads the deployed SHA from a URL with user:password (sent as Basic auth, never printed) and caps the answer", async () => {
    const deployed = scenario.sha(1);
    const server = createServer((req, res) => {
      const ok = req.headers.authorization === `Basic ${Buffer.from("deploy:s3cr3t-pw").toString("base64")}`;
      if (!ok) return res.writeHead(401).end();
      if (req.url === "/big") {
        // 8 MiB of a body no version endpoint gives: refused after the cap, not read into memory.
        res.writeHead(200, { "content-type": "text/plain" });
        const chunk = Buffer.alloc(1 << 20, "a");
        for (let i = 0; i < 8; i++) res.write(chunk);
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ sha: deployed }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const good = await runSockCheck(["--from-url", `http://deploy:s3cr3t-pw@127.0.0.1:${port}/version`, "--json"], {
        cwd: scenario.dir,
        env: envFor(scenario),
      });
      expect(good.code).toBe(0);
      expect(JSON.parse(good.stdout).range.from).toBe(deployed);
      const big = await runSockCheck(["--from-url", `http://deploy:s3cr3t-pw@127.0.0.1:${port}/big`], {
        cwd: scenario.dir,
        env: envFor(scenario),
      });
      expect(big.code).toBe(65);
      expect(big.stderr).toContain("answered more than 65536 bytes");
      const refused = await runSockCheck(["--from-url", `http://deploy:wrong-pw@127.0.0.1:${port}/version`], {
        cwd: scenario.dir,
        env: envFor(scenario),
      });
      expect(refused.code).toBe(77);
      for (const run of [good, big, refused]) expect(`${run.stdout}${run.stderr}`).not.toMatch(/s3cr3t|wrong-pw/);
    } finally {
      server.close();
    }
  }, 120_000);

  it("ends with 143 on SIGTERM and 130 on SIGINT as its exit code table says, and leaves an -o file as it was", async () => {
    // GitHub that accepts the connection and never answers: the run is waiting on it when the signal comes.
    const hang = createNetServer(() => {}).listen(0, "127.0.0.1");
    await once(hang, "listening");
    const policy = join(out, "hang.yml");
    writeFileSync(
      policy,
      policyYaml(`http://127.0.0.1:${(hang.address() as AddressInfo).port}`).replace("timeoutMs: 3000", "timeoutMs: 60000"),
    );
    try {
      for (const [signal, expected] of [
        ["SIGTERM", 143],
        ["SIGINT", 130],
      ] as const) {
        const evidence = join(out, `evidence-${signal}.json`);
        writeFileSync(evidence, "old\n");
        // node --import tsx, not tsx's wrapper: the wrapper relays the signal and SIGKILLs a child that has not said
        // within 30 ms that it got it, and reports the child's end as its own, so what sock-check did would not show.
        // tsx is resolved here: the scenario's repository, the working directory, has no node_modules.
        const child = spawn(
          process.execPath,
          [
            "--import",
            TSX,
            join(ROOT, "packages/sock-check/src/main.ts"),
            "--from",
            "deploy-1",
            "--config",
            policy,
            "--format",
            "json",
            "-o",
            evidence,
          ],
          { cwd: scenario.dir, env: envFor(scenario), stdio: ["ignore", "pipe", "pipe"] },
        );
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const closed = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
        await once(hang, "connection");
        child.kill(signal);
        const [code, killedBy] = await closed;
        // As documented: sock-check ends as the signal does (no handler that could hang or exit 0), so a shell or CI
        // runner reports 128 + the signal's number.
        expect([code, killedBy]).toEqual([null, signal]);
        expect(128 + osConstants.signals[signal]).toBe(expected);
        expect(stderr).not.toMatch(/\n\s+at /);
        expect(readFileSync(evidence, "utf8")).toBe("old\n");
        // and no half-written report beside it
        expect(readdirSync(out).filter((f) => f.startsWith(`evidence-${signal}`))).toEqual([`evidence-${signal}.json`]);
      }
    } finally {
      hang.close();
    }
    // and both places a user looks say so
    const help = await runSockCheck(["--help"], { cwd: scenario.dir, env: envFor(scenario) });
    expect(help.stdout).toMatch(/Exit codes:[\s\S]*\n {2}130 interrupted \(SIGINT, Ctrl-C\)[\s\S]*\n {2}143 terminated \(SIGTERM/);
    const readme = readFileSync(join(ROOT, "packages/sock-check/README.md"), "utf8");
    expect(readme).toMatch(/^\| 130 +\| interrupted \(SIGINT, Ctrl-C\)/m);
    expect(readme).toMatch(/^\| 143 +\| terminated \(SIGTERM/m);
  });

  it("refuses a GitHub answer of 64 MiB after the HTTP client's default cap: exit 65 naming it, memory bounded", async () => {
    // "GitHub" on loopback answering every request with 64 MiB of JSON (one long string), 1 MiB at a time
    const chunk = Buffer.alloc(1 << 20, "a");
    const huge = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"data":{"x":"');
      let sent = 0;
      const more = (): void => {
        while (sent < 64) {
          sent++;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        res.end('"}}');
      };
      res.on("error", () => {});
      more();
    });
    await new Promise<void>((resolve) => huge.listen(0, "127.0.0.1", resolve));
    const policy = join(out, "huge.yml");
    writeFileSync(policy, policyYaml(`http://127.0.0.1:${(huge.address() as AddressInfo).port}`));
    try {
      const run = await spawnSockCheck(["--from", "deploy-1", "--config", policy]);
      expect(run.code).toBe(65);
      // its lines: the fail-closed warning and the verdict, each naming the answer and the cap, no stack trace
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines.every((line) => line.startsWith("sock-check: "))).toBe(true);
      expect(lines.at(-1)).toMatch(
        /^sock-check: deploy blocked: 2 commits could not be verified \(\w+, \w+\): GitHub API \(http:\/\/127\.0\.0\.1:\d+\/graphql\) answered more than 33554432 bytes \(/,
      );
      // Read whole, the answer cost ~230 MiB on top of a run against the simulator (140 MiB under tsx; T31: 120 MiB took
      // 584 MB); refused after the cap, at most the 32 MiB read before it (measured: +32 MiB).
      const ordinary = await spawnSockCheck(["--from", "deploy-1"]);
      expect(ordinary.code).toBe(0);
      expect(run.maxRssMiB - ordinary.maxRssMiB).toBeLessThan(100);
    } finally {
      huge.closeAllConnections();
      huge.close();
    }
  }, 120_000);

  it("never exits 0 with its report undelivered: a stdout closed (>&-) or whose reader left (EPIPE) is 74, one line", async () => {
    for (const [stdout, why] of [
      ["closed", "EBADF: it was closed at start, or is /dev/null opened read-write as node leaves a closed one"],
      ["reader-gone", "EPIPE: its reader closed it"],
    ] as const) {
      for (const args of [[], ["--format", "json"]]) {
        const run = await spawnSockCheck(["--from", "deploy-1", ...args], { stdout });
        expect({ stdout, args, code: run.code, stderr: run.stderr }).toEqual({
          stdout,
          args,
          code: 74,
          stderr: `sock-check: cannot write to stdout (${why}); the output is incomplete (give the run an open stdout read to its end; -o FILE writes the report to a file)\n`,
        });
      }
    }
    // while a stdout a shell sent to /dev/null on purpose (opened write-only) is the user's choice
    expect((await spawnSockCheck(["--from", "deploy-1"])).code).toBe(0);
  }, 120_000);

  it("does not hang on a --from-file FIFO nobody writes to", async () => {
    const fifo = join(out, "version.fifo");
    await run("mkfifo", [fifo]);
    const result = await runSockCheck(["--from-file", fifo], { cwd: scenario.dir, env: envFor(scenario) });
    expect(result.code).toBe(65);
    expect(result.stderr).toContain("does not contain exactly one commit SHA (an empty answer)");
  });

  it("refuses a --config policy that is a FIFO nobody writes to, a device or a directory: exit 78, one line naming it", async () => {
    const fifo = join(out, "policy.fifo");
    await run("mkfifo", [fifo]);
    for (const [path, what] of [
      [fifo, "a FIFO"],
      ["/dev/zero", "a character device"],
      [out, "a directory"],
    ] as const) {
      const result = await sock(["--config", path]);
      expect(result.code).toBe(78);
      expect(result.stderr).toBe(
        `sock-check: config file ${path} is ${what}, not a regular file (--config (or $SOCK_CHECK_CONFIG) must name a policy file)\n`,
      );
      expect(result.stdout).toBe("");
    }
    const missing = await sock(["--config", join(out, "nope.yml")]);
    expect(missing.code).toBe(78);
    expect(missing.stderr).toBe(
      `sock-check: config file ${join(out, "nope.yml")} does not exist (--config (or $SOCK_CHECK_CONFIG) must name a policy file)\n`,
    );
  });
});
