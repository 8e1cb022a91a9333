import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, chownSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AUTHKEYS_UID,
  type AuthkeysInstall,
  type BlackholeServer,
  installAuthkeys,
  type SlapdLab,
  type SshdHandle,
  sshdSkipReason,
  startBlackholeServer,
  startSlapd,
  startSshd,
} from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBundle, sshLogin, writeConfig } from "./harness";

// Real OpenSSH sshd → the built authkeys bundle (as an unprivileged user) → real slapd, all on loopback.
let lab: SlapdLab;
let blackhole: BlackholeServer;
let install: AuthkeysInstall;
let sshd: SshdHandle;
const DEADLINE_MS = 1500;

beforeAll(async () => {
  requireBundle();
  [lab, blackhole] = await Promise.all([startSlapd(), startBlackholeServer()]);
  install = installAuthkeys(lab, { allowedGroups: [lab.groups.ops, lab.groups.sre] });
  const users = (["alice", "bob", "carol", "dave"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber }));
  sshd = await startSshd({
    users: [...users, { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir }],
    authorizedKeysCommand: { path: install.bin, args: `--config ${install.configFile} lookup -- %u %f`, user: "authkeys" },
  });
});

afterAll(async () => {
  await sshd?.stop();
  install?.remove();
  await Promise.all([lab?.stop(), blackhole?.stop()]);
});

const key = (user: "alice" | "bob" | "carol" | "dave", type = "ed25519") => {
  const found = lab.users[user].keys.find((k) => k.type === type);
  if (!found) throw new Error(`lab user ${user} has no ${type} key`);
  return found.privateKeyFile;
};

describe.skipIf(sshdSkipReason())("sshd with AuthorizedKeysCommand authkeys", () => {
  it("doctor approves the installed launcher as sshd would, and the lookup as the command user", () => {
    const r = spawnSync(install.bin, ["--config", install.configFile, "doctor", "--user", "alice"], { encoding: "utf8" });
    expect(r.stdout).toMatch(new RegExp(`^ok +install: ${install.bin} and its directories are root-owned`, "m"));
    expect(r.stdout).toMatch(/^ok +lookup alice: 3 key\(s\)/m);
    const asUser = spawnSync(
      "setpriv",
      [`--reuid=${AUTHKEYS_UID}`, `--regid=${AUTHKEYS_UID}`, "--clear-groups", install.bin, "--config", install.configFile, "alice"],
      {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin" },
      },
    );
    expect(asUser.status, asUser.stderr).toBe(0);
    expect(asUser.stdout.trim().split("\n")).toHaveLength(3);
  });

  it("a login uses install's validation of the config only for those exact bytes, stored where only root can write", () => {
    const stored = join(install.dir, "authkeys.validated-config.json");
    const original = { config: readFileSync(install.configFile, "utf8"), stored: readFileSync(stored, "utf8") };
    const lookup = () =>
      spawnSync(install.bin, ["--config", install.configFile, "alice"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    try {
      // The stored result is what a login reads: one naming another key attribute finds no keys.
      const result = JSON.parse(original.stored) as { config: Record<string, unknown> };
      const handEdited = { ...result.config, keyAttribute: "cn" };
      const digest = (text: string) => createHash("sha256").update(text).digest("hex");
      writeFileSync(stored, JSON.stringify({ ...result, config: handEdited, configSha256: digest(JSON.stringify(handEdited)) }));
      expect(lookup()).toMatchObject({ status: 0, stdout: "" });
      // Edited by hand (by root) without its digest, or broken: validated again from the config, not exit 70.
      for (const damaged of [
        { ...result, config: handEdited },
        { ...result, config: { keyAttribute: "cn" } },
      ]) {
        writeFileSync(stored, JSON.stringify(damaged));
        const r = lookup();
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim().split("\n")).toHaveLength(3);
      }
      writeFileSync(stored, original.stored);
      chmodSync(stored, 0o666);
      expect(lookup().stdout.trim().split("\n")).toHaveLength(3);
      chmodSync(stored, 0o644);
      // An edited config is validated again, whatever was stored, and doctor says install should be re-run.
      const doctor = () => spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8" }).stdout;
      expect(doctor()).not.toMatch(/changed since install/);
      writeConfig(install.configFile, { ...JSON.parse(original.config), minRsaBits: 3072 });
      expect(doctor()).toMatch(/^warn +config: changed since install, so every login validates it again/m);
      // Another file, never installed (T72 N4): not "changed", named as not the installed one.
      const other = join(install.dir, "other.json");
      writeFileSync(other, JSON.stringify({ ...JSON.parse(original.config), minRsaBits: 4096 }), { mode: 0o644 });
      const otherDoctor = spawnSync(install.bin, ["--config", other, "doctor"], { encoding: "utf8" }).stdout;
      rmSync(other);
      expect(otherDoctor).not.toMatch(/changed since install/);
      expect(otherDoctor).toMatch(
        new RegExp(
          `^warn +config: not the config install validated \\(${install.configFile}\\), so a login with it validates it each time`,
          "m",
        ),
      );
      writeConfig(install.configFile, { ...JSON.parse(original.config), minRsaBits: 512 });
      const edited = lookup();
      expect(edited.status).toBe(78);
      expect(edited.stderr).toMatch(/minRsaBits/);
    } finally {
      writeFileSync(install.configFile, original.config);
      writeFileSync(stored, original.stored);
      chmodSync(stored, 0o644);
    }
    expect(lookup().stdout.trim().split("\n")).toHaveLength(3);
  });

  it("a login with install's validation runs the small login bundle alone; an edited config is the full bundle's", () => {
    const full = join(install.dir, "authkeys.cjs");
    expect(existsSync(join(install.dir, "authkeys-login.cjs.cache"))).toBe(true);
    const original = readFileSync(install.configFile, "utf8");
    const lookup = () =>
      spawnSync(install.bin, ["--config", install.configFile, "lookup", "--", "alice"], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin" },
      });
    renameSync(full, `${full}.away`);
    try {
      // The full bundle out of reach: a login still gets its keys, so it never loaded that bundle.
      const served = lookup();
      expect(served.status, served.stderr).toBe(0);
      expect(served.stdout.trim().split("\n")).toHaveLength(3);
      // Edited since install: handed to the full bundle to validate, which is gone here; no keys, not 0.
      writeConfig(install.configFile, { ...JSON.parse(original), minRsaBits: 3072 });
      const handedOver = lookup();
      expect(handedOver.status).not.toBe(0);
      expect(handedOver.stdout).toBe("");
    } finally {
      renameSync(`${full}.away`, full);
      writeFileSync(install.configFile, original);
    }
  });

  it("a damaged, emptied or shebang-only login bundle costs one line on stderr, not the login, and doctor fails it", () => {
    const login = join(install.dir, "authkeys-login.cjs");
    const intact = readFileSync(login);
    const doctor = () => spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8" });
    expect(doctor().stdout).toMatch(/^ok +install: the bundles in .* are the files install copied/m);
    try {
      for (const damaged of [intact.subarray(0, intact.length >> 1), Buffer.alloc(0), Buffer.from("#!/usr/bin/env node\n")]) {
        writeFileSync(login, damaged);
        const r = spawnSync(install.bin, ["--config", install.configFile, "lookup", "--", "alice"], {
          encoding: "utf8",
          env: { PATH: "/usr/bin:/bin" },
        });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim().split("\n")).toHaveLength(3);
        expect(r.stderr).toMatch(
          /^authkeys: .*authkeys-login\.cjs is not the file install copied \(damaged or replaced\); re-run authkeys install$/m,
        );
        expect(r.stderr).not.toMatch(/\n\s+at /);
        const checked = doctor();
        expect(checked.status).not.toBe(0);
        expect(checked.stdout).toMatch(/^FAIL +install: .*authkeys-login\.cjs is not the file install copied/m);
      }
    } finally {
      writeFileSync(login, intact);
    }
  });

  it("a damaged full bundle: one line naming it and exit 70, never a stack trace; a login still fails closed (T72 N2)", () => {
    const full = join(install.dir, "authkeys.cjs");
    const login = join(install.dir, "authkeys-login.cjs");
    const [intact, intactLogin] = [readFileSync(full), readFileSync(login)];
    const original = readFileSync(install.configFile, "utf8");
    const line = `authkeys: ${full} is not the file install copied (damaged or replaced); re-run authkeys install\n`;
    const lookup = () =>
      spawnSync(install.bin, ["--config", install.configFile, "lookup", "--", "alice"], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin" },
      });
    try {
      // 5000 bytes: cut mid-statement (a SyntaxError before); shebang-only and empty: compile and would do nothing.
      for (const damaged of [intact.subarray(0, 5000), Buffer.from("#!/usr/bin/env node\n"), Buffer.alloc(0)]) {
        writeFileSync(full, damaged);
        const doctor = spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8" });
        expect(doctor).toMatchObject({ status: 70, stdout: "", stderr: line });
        // sshd's call runs the intact login bundle, which never needs the full one.
        const served = lookup();
        expect(served.status, served.stderr).toBe(0);
        expect(served.stdout.trim().split("\n")).toHaveLength(3);
        // A login the full bundle must serve (login bundle damaged too, or the config edited): refused, one line each.
        writeFileSync(login, intactLogin.subarray(0, 1000));
        expect(lookup()).toMatchObject({
          status: 70,
          stdout: "",
          stderr: `authkeys: ${login} is not the file install copied (damaged or replaced); re-run authkeys install\n${line}`,
        });
        writeFileSync(login, intactLogin);
        writeConfig(install.configFile, { ...JSON.parse(original), minRsaBits: 3072 });
        expect(lookup()).toMatchObject({ status: 70, stdout: "", stderr: line });
        writeFileSync(install.configFile, original);
      }
    } finally {
      writeFileSync(full, intact);
      writeFileSync(login, intactLogin);
      writeFileSync(install.configFile, original);
    }
    expect(spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8" }).stdout).toMatch(
      /^ok +install: the bundles in .* are the files install copied/m,
    );
  });

  it("a bit-flipped login code cache is not handed to V8: the login is served, one line says so", () => {
    const cache = join(install.dir, "authkeys-login.cjs.cache");
    const intact = readFileSync(cache);
    const flipped = Buffer.from(intact);
    for (let i = 64; i < flipped.length; i += 997) flipped[i] = (flipped[i] ?? 0) ^ 0x10;
    try {
      writeFileSync(cache, flipped);
      const r = spawnSync(install.bin, ["--config", install.configFile, "lookup", "--", "alice"], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin" },
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim().split("\n")).toHaveLength(3);
      expect(r.stderr).toMatch(/^authkeys: .*authkeys-login\.cjs\.cache does not match its digest, not used; re-run authkeys install$/m);
      const doctor = spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8" });
      expect(doctor.stdout).toMatch(/^warn +install: .*authkeys-login\.cjs\.cache does not match its digest/m);
    } finally {
      writeFileSync(cache, intact);
    }
  });

  it("a bit-flipped code cache of the full bundle is not handed to V8 either: the command runs, one line says so", () => {
    const cache = join(install.dir, "authkeys.cjs.cache");
    expect(readFileSync(`${cache}.sha256`, "latin1").trim()).toBe(createHash("sha256").update(readFileSync(cache)).digest("hex"));
    const intact = readFileSync(cache);
    const flipped = Buffer.from(intact);
    for (let i = 64; i < flipped.length; i += 997) flipped[i] = (flipped[i] ?? 0) ^ 0x10;
    try {
      writeFileSync(cache, flipped);
      // doctor runs in the full bundle (the login bundle serves lookups only).
      const doctor = spawnSync(install.bin, ["--config", install.configFile, "doctor"], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin" },
      });
      expect(doctor.stderr).toMatch(/^authkeys: .*\/authkeys\.cjs\.cache does not match its digest, not used; re-run authkeys install$/m);
      expect(doctor.stderr).not.toMatch(/\n\s+at /);
      expect(doctor.stdout).toMatch(/^warn +install: .*\/authkeys\.cjs\.cache does not match its digest/m);
      expect(doctor.stdout).toMatch(/^ok +install: /m);
    } finally {
      writeFileSync(cache, intact);
    }
    const healthy = spawnSync(install.bin, ["--config", install.configFile, "doctor"], {
      encoding: "utf8",
      env: { PATH: "/usr/bin:/bin" },
    });
    expect(healthy.stderr).not.toMatch(/does not match its digest/);
    // A cache without its digest (as an install before this check left it): not used, and doctor says why.
    const digest = readFileSync(`${cache}.sha256`);
    try {
      rmSync(`${cache}.sha256`);
      const old = spawnSync(install.bin, ["--config", install.configFile, "doctor"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
      expect(old.stdout).toMatch(/^warn +install: .*\/authkeys\.cjs\.cache has no digest beside it, so logins compile without it/m);
    } finally {
      writeFileSync(`${cache}.sha256`, digest);
    }
  });

  it("stores install's validation of the config readable by no one the config itself is not readable by", () => {
    const stored = join(install.dir, "authkeys.validated-config.json");
    const reinstall = () =>
      spawnSync(
        process.execPath,
        [requireBundle(), "install", "--config", install.configFile, "--prefix", install.dir, "--run-as", "authkeys"],
        { encoding: "utf8", env: install.installEnv },
      );
    try {
      chownSync(install.configFile, 0, AUTHKEYS_UID);
      chmodSync(install.configFile, 0o640);
      expect(reinstall().status).toBe(0);
      expect(statSync(stored)).toMatchObject({ uid: 0, gid: AUTHKEYS_UID });
      expect(statSync(stored).mode & 0o777).toBe(0o640);
    } finally {
      chownSync(install.configFile, 0, 0);
      chmodSync(install.configFile, 0o644);
      expect(reinstall().status).toBe(0);
    }
    expect(statSync(stored).mode & 0o777).toBe(0o644);
  });

  it("logs in with the key stored in LDAP and refuses another key", async () => {
    expect(await sshLogin(sshd.port, "alice", key("alice")), sshd.logs()).toMatchObject({ ok: true });
    expect(await sshLogin(sshd.port, "alice", key("alice", "rsa"))).toMatchObject({ ok: true });
    expect(await sshLogin(sshd.port, "alice", key("bob"))).toMatchObject({ ok: false });
  });

  it("refuses a user outside allowedGroups even with a valid key", async () => {
    expect(await sshLogin(sshd.port, "dave", key("dave"))).toMatchObject({ ok: false });
    expect(await sshLogin(sshd.port, "carol", key("carol", "ecdsa"))).toMatchObject({ ok: true });
  });

  it("refuses the next attempt once the key is removed from LDAP", async () => {
    const bob = lab.users.bob;
    expect(await sshLogin(sshd.port, "bob", key("bob"))).toMatchObject({ ok: true });
    await lab.modify(bob.dn, [{ operation: "delete", attribute: "sshPublicKey", values: bob.sshPublicKeys }]);
    try {
      expect(await sshLogin(sshd.port, "bob", key("bob"))).toMatchObject({ ok: false });
    } finally {
      await lab.modify(bob.dn, [{ operation: "add", attribute: "sshPublicKey", values: bob.sshPublicKeys }]);
    }
  });

  it("with slapd stopped: a freshly cached user logs in, a never-cached one is refused within the deadline", async () => {
    // The dead slapd first, then a server that accepts TCP and never answers: the worst case for the deadline.
    writeConfig(install.configFile, {
      ldap: {
        ...lab.connection(),
        urls: [lab.url, blackhole.url],
        caFile: `${install.dir}/ca.pem`,
        bindPassword: `file:${install.dir}/reader.password`,
        connectTimeoutMs: 700,
        // Longer than the deadline: the silent server is given up on by ldap.deadlineMs, not by its own timeout.
        timeoutMs: 8000,
        deadlineMs: DEADLINE_MS,
      },
      allowedGroups: [lab.groups.ops, lab.groups.sre],
      cache: { dir: install.cacheDir },
      syslog: false,
    });
    expect(await sshLogin(sshd.port, "alice", key("alice"))).toMatchObject({ ok: true });
    await lab.stopServer();
    try {
      // A refusal for a user sshd does not know runs no AuthorizedKeysCommand: the SSH handshake alone, under
      // whatever load the machine has now (a busy CI host once took 4.9 s for a whole login).
      const handshake = await sshLogin(sshd.port, "nosuchuser", key("bob"));
      expect(handshake.ok).toBe(false);
      // The first lookup meets both servers: the dead one refuses, the silent one is cut off by the deadline.
      const cached = await sshLogin(sshd.port, "alice", key("alice"));
      expect(cached.ok, sshd.logs()).toBe(true);
      const refused = await sshLogin(sshd.port, "bob", key("bob"));
      expect(refused.ok).toBe(false);
      // README: the command ends at most ldap.deadlineMs + 2 s after it started, so its share of a login is below that.
      console.info(`LDAP down: handshake ${handshake.ms} ms, cached login ${cached.ms} ms, refusal ${refused.ms} ms`);
      expect(Math.max(cached.ms, refused.ms) - handshake.ms).toBeLessThan(DEADLINE_MS + 2000);
    } finally {
      await lab.startServer();
    }
  });
});
