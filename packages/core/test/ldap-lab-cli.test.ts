import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ldapConnectionSchema, ldapOptionsFromConfig, withLdap } from "../src/index";

const root = resolve(__dirname, "../../..");
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
});

function readJson(proc: ChildProcess): Promise<{ dir: string; sections: Record<string, unknown> }> {
  return new Promise((resolvePromise, reject) => {
    let out = "";
    proc.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      try {
        resolvePromise(JSON.parse(out));
      } catch {
        // not complete yet
      }
    });
    proc.once("exit", (code) => reject(new Error(`lab exited (${code}) before printing its JSON`)));
  });
}

describe("pnpm lab", () => {
  it("starts slapd, writes a config the LDAP client accepts, and cleans up on SIGTERM", async () => {
    // node --import tsx, not the tsx binary: tsx's wrapper relays a SIGTERM to its child and SIGKILLs it (exit
    // 143) when the child has not said it got the signal within 30 ms, which a loaded machine can take.
    child = spawn(process.execPath, ["--import", "tsx", "packages/lab/src/main.ts", "--only", "slapd", "--json"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const printed = await readJson(child);
    const written = parse(readFileSync(resolve(printed.dir, "lab.yaml"), "utf8")) as Record<string, unknown>;
    expect(written).toEqual(printed.sections);

    const ldap = ldapConnectionSchema.parse(written.ldap);
    const alice = await withLdap(ldapOptionsFromConfig(ldap), (c) =>
      c.searchOne(ldap.baseDn, { filter: "(uid=alice)", attributes: ["sshPublicKey"] }),
    );
    expect(alice?.get("sshPublicKey").length).toBe(3);

    const exited = new Promise<number | null>((done) => child?.once("exit", (code) => done(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(printed.dir)).toBe(false);
    const caFile = ldap.caFile ?? "";
    expect(existsSync(caFile)).toBe(false);
  });

  it("rejects an unknown component with exit code 64", async () => {
    const proc = spawn(resolve(root, "node_modules/.bin/tsx"), ["packages/lab/src/main.ts", "--only", "nosuch"], { cwd: root });
    let err = "";
    proc.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise<number | null>((done) => proc.once("exit", (c) => done(c)));
    expect(code).toBe(64);
    expect(err).toMatch(/unknown component nosuch/);
  });
});
