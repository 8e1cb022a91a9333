import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAuditdParse as run } from "./in-process";
import { hostileLog, passwdFile } from "./sessions-html-fixture";

// -o FILE as a user meets it (issue HTMLFIX16): what a run that read nothing leaves behind, the mode a page gets,
// and the line a directory that cannot take the page's temp file gives.

const CLI = new URL("../src/main.ts", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: string;
let log: string;
let passwd: string;
let missing: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "auditd-output-file-"));
  // nobody (the unprivileged runs below) must reach the log and the directories made here
  chmodSync(dir, 0o755);
  log = join(dir, "good.log");
  writeFileSync(log, hostileLog(), { mode: 0o644 });
  passwd = join(dir, "passwd");
  writeFileSync(passwd, passwdFile(), { mode: 0o644 });
  missing = join(dir, "missing.log");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The CLI spawned under `umask`, as nobody when `unprivileged` and root runs the tests (root writes anywhere). */
function spawnCli(args: string[], options: { umask?: string; unprivileged?: boolean } = {}) {
  const node = [process.execPath, "--import", "tsx", CLI, ...args];
  const argv = options.unprivileged && isRoot ? ["setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", ...node] : node;
  const r = spawnSync("sh", ["-c", `umask ${options.umask ?? "022"} && exec "$@"`, "sh", ...argv], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const mode = (path: string) => statSync(path).mode & 0o7777;

describe("-o when no input could be read (exit 66)", () => {
  const cases: [string, string[]][] = [
    ["report --format html", ["report", "--format", "html"]],
    ["sessions --format html", ["sessions", "--format", "html"]],
    ["report (text)", ["report"]],
    ["sessions --json", ["sessions", "--json"]],
    ["net --json", ["net", "--json"]],
    ["--format csv", ["--format", "csv"]],
  ];
  for (const [name, command] of cases) {
    it(`${name}: keeps the earlier file untouched (no empty page over a good one) and says so`, async () => {
      const out = join(dir, `kept-${name.replace(/\W+/g, "-")}`);
      writeFileSync(out, "a good report from yesterday\n");
      const past = new Date("2026-01-01T00:00:00Z");
      utimesSync(out, past, past);
      const r = await run([...command, "--passwd", passwd, "-o", out, missing]);
      expect(r.code).toBe(66);
      expect(r.stdout).toBe("");
      expect(readFileSync(out, "utf8")).toBe("a good report from yesterday\n");
      expect(statSync(out).mtime).toEqual(past);
      expect(r.stderr).toContain(`nothing could be read, so ${out} was not written (it is as it was)`);
    });
  }

  it("creates no file when there was none (an appending format made an empty one)", async () => {
    for (const command of [["report"], ["sessions", "--format", "html"], ["--format", "csv"]]) {
      const out = join(dir, `never-${command.join("-")}`);
      const r = await run([...command, "-o", out, missing]);
      expect(r.code).toBe(66);
      expect(existsSync(out)).toBe(false);
    }
  });

  it("a page is still written when some input was read (exit 65), with the incomplete banner", async () => {
    for (const command of ["report", "sessions"]) {
      const out = join(dir, `partial-${command}.html`);
      writeFileSync(out, "a good page from yesterday\n");
      const r = await run([command, "--format", "html", "--passwd", passwd, "-o", out, log, missing]);
      expect(r.code).toBe(65);
      const page = readFileSync(out, "utf8");
      expect(page).toContain('id="incomplete" role="alert">incomplete: 1 input(s) could not be read whole');
      expect(page).toContain("</html>");
      expect(r.stderr).not.toContain("was not written");
    }
  });
});

describe("-o with --json and --format html", () => {
  it("--json wins and goes to -o's file, not to stdout", async () => {
    for (const command of ["sessions", "report"]) {
      const out = join(dir, `json-${command}.json`);
      const r = await run([command, "--format", "html", "--json", "--passwd", passwd, "-o", out, log]);
      expect([r.code, r.stdout]).toEqual([0, ""]);
      expect(JSON.parse(readFileSync(out, "utf8"))).toBeTruthy();
    }
  });
});

describe("-o FILE's mode", () => {
  it("replacing a page keeps its mode whatever the umask, also through a symlink to it, and its owner when root", () => {
    const shared = join(dir, "shared.html");
    writeFileSync(shared, "old\n");
    chmodSync(shared, 0o644);
    const link = join(dir, "link.html");
    const target = join(dir, "target.html");
    writeFileSync(target, "old\n");
    chmodSync(target, 0o640);
    symlinkSync(target, link);
    if (isRoot) chownSync(shared, NOBODY, NOBODY);
    for (const [command, out] of [
      ["report", shared],
      ["sessions", link],
    ] as const) {
      const r = spawnCli([command, "--format", "html", "--passwd", passwd, "-o", out, log], { umask: "077" });
      expect([r.code, r.stderr]).toEqual([0, ""]);
    }
    expect(readFileSync(shared, "utf8")).toContain("<h1>Audit report</h1>");
    expect(mode(shared).toString(8)).toBe("644");
    if (isRoot) expect([statSync(shared).uid, statSync(shared).gid]).toEqual([NOBODY, NOBODY]);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toContain("<h1>auditd-parse sessions</h1>");
    expect(mode(target).toString(8)).toBe("640");
  });
});

describe("-o in a directory that is not there", () => {
  it("one line naming it, exit 74, the same for a page and an appended format (no temp file name in it)", async () => {
    writeFileSync(join(dir, "plain"), "");
    for (const [parent, problem] of [
      [join(dir, "nodir"), "does not exist"],
      [join(dir, "plain"), "is not a directory"],
    ] as const) {
      for (const command of [["report", "--format", "html"], ["report"]]) {
        const out = join(parent, "x");
        const r = await run([...command, "--passwd", passwd, "-o", out, log]);
        expect([r.code, r.stderr.trim()]).toEqual([
          74,
          `auditd-parse: cannot write ${out}: ${parent} ${problem} (give a path in an existing directory)`,
        ]);
      }
    }
  });
});

describe("-o in a directory this user cannot write", () => {
  it("one line naming the directory and the fix, exit 74, for the pages and the appended formats alike", () => {
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const page = join(ro, "out.html");
    // the file itself is writable: the page's atomic replace needs the directory, which is not
    writeFileSync(page, "old\n");
    chmodSync(page, 0o666);
    chmodSync(ro, 0o555);
    for (const command of ["report", "sessions"]) {
      const r = spawnCli([command, "--format", "html", "--passwd", passwd, "-o", page, log], { unprivileged: true });
      expect(r.code).toBe(74);
      expect(r.stderr.trim()).toBe(
        `auditd-parse: cannot write ${page}: permission denied in ${ro} (the file is replaced through a temp file beside it) (make ${ro} writable for this user, or give a path in a directory you can write)`,
      );
      expect(readFileSync(page, "utf8")).toBe("old\n");
    }
    const text = join(ro, "new.txt");
    const r = spawnCli(["report", "--passwd", passwd, "-o", text, log], { unprivileged: true });
    expect(r.code).toBe(74);
    expect(r.stderr.trim()).toBe(
      `auditd-parse: cannot write ${text}: permission denied (check the owner and mode of ${text} and of ${ro}, or give a path you can write)`,
    );
  });

  // root sets the scene: another user's page in a sticky directory such as /tmp
  it.skipIf(!isRoot)("a sticky directory (/tmp) with another user's page: says whose it is and why, exit 74", () => {
    const sticky = join(dir, "sticky");
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    const page = join(sticky, "page.html");
    writeFileSync(page, "root's page\n");
    chmodSync(page, 0o666);
    const r = spawnCli(["sessions", "--format", "html", "--passwd", passwd, "-o", page, log], { unprivileged: true });
    expect([r.code, r.stderr.trim()]).toEqual([
      74,
      `auditd-parse: cannot write ${page}: it belongs to uid 0, and ${sticky} is sticky (only its owner may replace it) (remove it as its owner, or give another path)`,
    ]);
    expect(readFileSync(page, "utf8")).toBe("root's page\n");
  });
});
