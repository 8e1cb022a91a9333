// auditd-parse sessions --format html on a ~100 MiB log (issue #25): the page's size in bytes, the CPU it costs
// against `sessions --json` on the same log (a ratio in one run), and how long Debian's chromium takes to load
// it (navigation to the load event, and the first paint of the filters). The page is bounded (PAGE_BOUNDS in
// packages/auditd-parse/src/sessions-html.ts), so its size must not grow with the log.
//
// Needs the bundle (node scripts/build.mjs auditd-parse), GNU time and chromium. Env: AUDITD_BENCH_MB (100).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateLog } from "../../packages/auditd-parse/scripts/gen-log.mjs";

const root = new URL("../..", import.meta.url).pathname;
const bundle = join(root, "packages/auditd-parse/dist/auditd-parse.cjs");
const mb = Number(process.env.AUDITD_BENCH_MB ?? 100);
if (!existsSync(bundle)) {
  console.error(`${bundle} is missing: run "node scripts/build.mjs auditd-parse" first`);
  process.exit(66);
}
for (const need of ["/usr/bin/time", "/usr/bin/chromium"]) {
  if (!existsSync(need)) {
    console.error(`${need} is needed (apt-get install -y time chromium)`);
    process.exit(69);
  }
}

function timed(args, out) {
  const shell = `exec /usr/bin/time -f "%e %U %S %M" '${process.execPath}' '${bundle}' ${args.map((a) => `'${a}'`).join(" ")} > '${out}'`;
  const r = spawnSync("sh", ["-c", shell], { encoding: "utf8" });
  const [secs, user, sys, kb] = (r.stderr.trim().split("\n").pop() ?? "").split(" ").map(Number);
  if (r.status !== 0) throw new Error(`auditd-parse ${args.join(" ")} failed: ${r.stderr.slice(-400)}`);
  return { secs, cpu: user + sys, rssMb: kb / 1024 };
}

const dir = mkdtempSync(join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "auditd-html-bench-"));
try {
  const log = join(dir, "audit.log");
  await generateLog(log, mb);
  const html = join(dir, "sessions.html");
  const json = timed(["sessions", "--json", log], join(dir, "sessions.json"));
  const page = timed(["sessions", "--format", "html", log], html);
  // playwright-core is the lab's (dev) dependency, where the browser tests' helper lives
  const { chromium } = createRequire(join(root, "packages/lab/package.json"))("playwright-core");
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: process.getuid?.() === 0 ? ["--no-sandbox"] : [] });
  const tab = await browser.newPage();
  const started = performance.now();
  await tab.goto(`file://${html}`, { waitUntil: "load" });
  const loadMs = performance.now() - started;
  const sessions = await tab.locator("section.session").count();
  const items = await tab.locator("ol.timeline li").count();
  await browser.close();
  console.log(`log: ${(statSync(log).size / 1048576).toFixed(1)} MiB generated (gen-log.mjs)`);
  console.log(`page: ${statSync(html).size} bytes, ${sessions} sessions, ${items} timeline items`);
  console.log(`sessions --format html: ${page.secs.toFixed(2)} s wall, ${page.cpu.toFixed(2)} CPU s, ${page.rssMb.toFixed(0)} MB peak RSS`);
  console.log(`sessions --json:        ${json.secs.toFixed(2)} s wall, ${json.cpu.toFixed(2)} CPU s, ${json.rssMb.toFixed(0)} MB peak RSS`);
  console.log(`html / json CPU: ${(page.cpu / json.cpu).toFixed(2)}x`);
  console.log(`chromium: file:// to the load event in ${(loadMs / 1000).toFixed(2)} s`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
