// A vitest reporter (used by scripts/check.mjs) that writes each test file's wall time to
// reports/test-file-times.json, so check can name the slowest files: the suite has a time budget, and the
// total alone does not say which file grew. Per file: set-up, import and every test and hook it ran.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export const TIMES_FILE = "reports/test-file-times.json";

export default class FileTimes {
  onInit(vitest) {
    this.root = vitest.config.root;
  }

  onTestRunEnd(testModules) {
    const files = testModules.map((m) => {
      const d = m.diagnostic();
      const ms = d.environmentSetupDuration + d.prepareDuration + d.setupDuration + d.collectDuration + d.duration;
      return { file: m.relativeModuleId, seconds: ms / 1000, state: m.state() };
    });
    const out = `${this.root}/${TIMES_FILE}`;
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(files, null, 1)}\n`);
  }
}
