// Shell completion from the built bins, exercised in a real bash: the script each tool prints is loaded and
// its completion function asked what a user pressing Tab would get.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, REPO, TOOLS } from "./helpers";

const bundle = (tool: string) => join(REPO, "packages", tool, "dist", `${tool}.cjs`);
// authkeys' first positional is the user sshd asks about, so its completion is a flag (see core/src/completion.ts).
const completionArgs = (tool: string, shell: string) => (tool === "authkeys" ? ["--completion", shell] : ["completion", shell]);

function script(tool: string, shell: string): string {
  const r = spawnSync(process.execPath, [bundle(tool), ...completionArgs(tool, shell)], {
    encoding: "utf8",
    env: { PATH: process.env.PATH },
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** What bash offers for the words typed so far (the last one is being completed). */
function tab(tool: string, words: string[]): string[] {
  const fn = `_${tool.replace(/-/g, "_")}_complete`;
  const program = `eval "$(cat)"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["--norc", "-c", program], { input: script(tool, "bash"), encoding: "utf8" });
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean);
}

beforeAll(() => ensureBuilt(), 300_000);

describe.each(TOOLS)("%s completion", (tool) => {
  const sub = { authkeys: "doctor", deputize: "run", vpnnotify: "notify", "sock-check": "check", "auditd-parse": "sessions" }[tool];

  it("bash: commands and flags, and the values of a flag with choices", () => {
    expect(tab(tool, [tool, ""])).toEqual(expect.arrayContaining([sub, "--help", "--version", "--config"]));
    expect(tab(tool, [tool, "--log-f"])).toEqual(["--log-format"]);
    expect(tab(tool, [tool, "--log-format", ""])).toEqual(["human", "json"]);
    // A subcommand's own flags appear after it, next to the global ones.
    const own = spawnSync(process.execPath, [bundle(tool), sub, "--help"], { encoding: "utf8" }).stdout.match(/--[a-z][a-z-]+/g) ?? [];
    expect(tab(tool, [tool, sub, "--"])).toEqual(expect.arrayContaining([...new Set(own)]));
  });

  it.each(["zsh", "fish"])("%s: a script the shell accepts", (shell) => {
    const text = script(tool, shell);
    expect(text).toContain(tool);
    const bin = `/usr/bin/${shell}`;
    if (!existsSync(bin)) return; // the content is checked above; the syntax only where the shell exists
    const r = spawnSync(bin, ["-n"], { input: text, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("rejects an unknown shell with a usage error", () => {
    const r = spawnSync(process.execPath, [bundle(tool), ...completionArgs(tool, "ksh")], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/bash, zsh, fish/);
    expect(r.status).toBe(64);
  });
});

describe("authkeys: completion cannot be a user name", () => {
  it("`authkeys completion bash` is still the lookup sshd's `authkeys %u %f` shape makes it: no script on stdout", () => {
    const r = spawnSync(process.execPath, [bundle("authkeys"), "completion", "bash"], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin", AUTHKEYS_CONFIG: "/nonexistent/authkeys.yaml" },
    });
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/nonexistent\/authkeys\.yaml/);
    expect(r.status).not.toBe(0);
  });
});
