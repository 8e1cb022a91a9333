import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AUTHKEYS_UID, type AuthkeysInstall, installAuthkeys, type SlapdLab, type SshdHandle, startSlapd, startSshd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireBundle, sshLogin } from "./harness";

// Issue 15, black-box finding 1: a revocation LDAP gave must never be served later from the cache, even
// when the cache directory could not be written at that moment (chmod 500, a file system remounted
// read-only). Real slapd, the install the README describes, lookups as the command user, real sshd logins.
let lab: SlapdLab;
let install: AuthkeysInstall;
let sshd: SshdHandle;

beforeAll(async () => {
  requireBundle();
  lab = await startSlapd();
  install = installAuthkeys(lab, { allowedGroups: [lab.groups.ops, lab.groups.sre] });
  sshd = await startSshd({
    users: [
      ...(["alice", "bob"] as const).map((name) => ({ name, uid: lab.users[name].uidNumber })),
      { name: "authkeys", uid: AUTHKEYS_UID, home: install.dir },
    ],
    authorizedKeysCommand: install.command,
  });
});

afterAll(async () => {
  await sshd?.stop();
  install?.remove();
  await lab?.stop();
});

/** Runs the installed launcher as the AuthorizedKeysCommandUser with sshd's minimal environment. */
function asCommandUser(args: string[]) {
  return spawnSync(
    "setpriv",
    [`--reuid=${AUTHKEYS_UID}`, `--regid=${AUTHKEYS_UID}`, "--clear-groups", install.bin, "--config", install.configFile, ...args],
    { encoding: "utf8", env: { PATH: "/usr/bin:/bin" }, timeout: 20_000 },
  );
}

const key = (user: "alice" | "bob", type: string) => {
  const found = lab.users[user].keys.find((k) => k.type === type);
  if (!found) throw new Error(`lab user ${user} has no ${type} key`);
  return found;
};
const login = (user: "alice" | "bob", type: string) => sshLogin(sshd.port, user, key(user, type).privateKeyFile);

/** fn with the cache directory read-only to its owner (what errors=remount-ro or a wrong chmod leaves). */
async function withReadOnlyCache(fn: () => Promise<void>): Promise<void> {
  chmodSync(install.cacheDir, 0o500);
  try {
    await fn();
  } finally {
    chmodSync(install.cacheDir, 0o700);
  }
}

/** fn while slapd is down: every lookup is an outage. The failure mark it leaves is dropped after. */
async function duringOutage(fn: () => Promise<void>): Promise<void> {
  await lab.stopServer();
  try {
    await fn();
  } finally {
    await lab.startServer();
    rmSync(join(install.cacheDir, ".servers.json"), { force: true });
  }
}

describe("a revocation seen while the cache directory is not writable", () => {
  it("a user dropped from the group is never served from the cache: not during the outage, not after chmod 700", async () => {
    const bob = key("bob", "ed25519");
    expect(await login("bob", "ed25519")).toMatchObject({ ok: true });
    const cached = join(install.cacheDir, "bob.json");
    expect(statSync(cached).size).toBeGreaterThan(0);
    await lab.modify(lab.groups.ops, [{ operation: "delete", attribute: "memberUid", values: ["bob"] }]);
    try {
      await withReadOnlyCache(async () => {
        const revoked = asCommandUser(["lookup", "--", "bob"]);
        // LDAP's answer stands (no keys, exit 0), and the cached file could not be deleted: emptied in place.
        expect(revoked, revoked.stderr).toMatchObject({ status: 0, stdout: "" });
        expect(revoked.stderr).toMatch(/the key cache directory is not writable .*emptied the revoked user's cached keys in place/);
        expect(statSync(cached).size).toBe(0);
        expect(await login("bob", "ed25519")).toMatchObject({ ok: false });
        await duringOutage(async () => {
          const outage = asCommandUser(["lookup", "--", "bob", bob.fingerprint]);
          expect(outage.status, outage.stderr).toBe(69);
          expect(outage.stdout).toBe("");
          expect(await login("bob", "ed25519")).toMatchObject({ ok: false });
        });
      });
      // The directory writable again: the emptied file still serves nothing.
      await duringOutage(async () => {
        const outage = asCommandUser(["lookup", "--", "bob"]);
        expect(outage).toMatchObject({ status: 69, stdout: "" });
        expect(outage.stderr).not.toMatch(/serving cached keys/);
        expect(await login("bob", "ed25519")).toMatchObject({ ok: false });
      });
    } finally {
      await lab.modify(lab.groups.ops, [{ operation: "add", attribute: "memberUid", values: ["bob"] }]);
    }
    // The control: bob back in the group logs in, and his keys are cached again (a real file).
    expect(await login("bob", "ed25519")).toMatchObject({ ok: true });
    expect(JSON.parse(readFileSync(cached, "utf8")).user).toBe("bob");
  });

  it("a key removed from LDAP is never served from the cache afterwards; the other keys still are", async () => {
    const removed = key("alice", "ed25519");
    const kept = lab.users.alice.keys.filter((k) => k !== removed);
    expect(await login("alice", "ed25519")).toMatchObject({ ok: true });
    const { dn, sshPublicKeys } = lab.users.alice;
    await lab.modify(dn, [{ operation: "replace", attribute: "sshPublicKey", values: kept.map((k) => k.publicKey) }]);
    try {
      await withReadOnlyCache(async () => {
        const answered = asCommandUser(["lookup", "--", "alice", removed.fingerprint]);
        expect(answered).toMatchObject({ status: 0, stdout: "" });
        expect(answered.stderr).toMatch(/the key cache directory is not writable .*rewrote the user's cached keys in place/);
        expect(await login("alice", "ed25519")).toMatchObject({ ok: false });
        // An outage while the directory is not writable serves nothing cached: one line naming the fix.
        await duringOutage(async () => {
          const outage = asCommandUser(["lookup", "--", "alice"]);
          expect(outage).toMatchObject({ status: 77, stdout: "" });
          expect(outage.stderr.trim().split("\n")).toHaveLength(1);
          expect(outage.stderr).toMatch(
            new RegExp(`^authkeys: not serving cached keys: the key cache ${install.cacheDir} is not writable \\(EACCES\\).*chmod 700`),
          );
        });
      });
      await duringOutage(async () => {
        const outage = asCommandUser(["lookup", "--", "alice"]);
        expect(outage.status, outage.stderr).toBe(0);
        expect(outage.stderr).toMatch(/serving cached keys/);
        expect(outage.stdout.trim().split("\n").sort()).toEqual(kept.map((k) => k.publicKey).sort());
        expect(await login("alice", "ed25519")).toMatchObject({ ok: false });
        // The control: a key still in LDAP logs in from the cache during the same outage.
        expect(await login("alice", kept[0]?.type ?? "")).toMatchObject({ ok: true });
      });
    } finally {
      await lab.modify(dn, [{ operation: "replace", attribute: "sshPublicKey", values: sshPublicKeys }]);
    }
  });
});

// Finding 8: after `install --prefix DIR`, `DIR/authkeys sshd-config` named the default prefix, where
// nothing was installed: sshd -t accepts such a line, and then every LDAP login is refused.
describe("the sshd_config lines name the launcher actually installed", () => {
  it("install's printed lines and the installed launcher's sshd-config name the --prefix used", () => {
    expect(install.printed).toContain(`AuthorizedKeysCommand ${install.bin} --config ${install.configFile} lookup -- %u %f\n`);
    const r = spawnSync(install.bin, ["--config", install.configFile, "sshd-config"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`AuthorizedKeysCommand ${install.bin} --config ${install.configFile} lookup -- %u %f\n`);
    expect(r.stdout).toContain(`AuthorizedPrincipalsCommand ${install.bin} --config ${install.configFile} principals -- %u %i %s %T\n`);
    // The installed bundle run by node directly names the launcher beside it.
    const bundle = spawnSync(process.execPath, [join(install.dir, "authkeys.cjs"), "sshd-config"], { encoding: "utf8" });
    expect(bundle.stdout).toContain(`AuthorizedKeysCommand ${install.bin} lookup -- %u %f\n`);
    // Not installed (the bundle run from dist/): the default prefix, as before; --path still wins.
    const fromDist = spawnSync(process.execPath, [requireBundle(), "sshd-config"], { encoding: "utf8" });
    expect(fromDist.stdout).toContain("AuthorizedKeysCommand /usr/local/lib/opsguard/authkeys/authkeys lookup -- %u %f\n");
    const given = spawnSync(install.bin, ["sshd-config", "--path", "/opt/elsewhere/authkeys"], { encoding: "utf8" });
    expect(given.stdout).toContain("AuthorizedKeysCommand /opt/elsewhere/authkeys lookup -- %u %f\n");
  });

  it("doctor fails when sshd's AuthorizedKeysCommand names a file that does not exist", () => {
    const dir = join(install.dir, "sshd-t");
    execFileSync("mkdir", ["-p", dir]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
    const sshdConfig = (command: string) => {
      const file = join(dir, "sshd_config");
      writeFileSync(
        file,
        `HostKey ${join(dir, "host_key")}\nAuthorizedKeysCommand ${command} lookup -- %u %f\nAuthorizedKeysCommandUser authkeys\n`,
      );
      return spawnSync(install.bin, ["--config", install.configFile, "doctor", "--sshd-config", file], {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin:/usr/sbin" },
      });
    };
    const missing = sshdConfig("/usr/local/lib/opsguard/authkeys-not-installed/authkeys");
    expect(missing.status).toBe(1);
    expect(missing.stdout).toMatch(
      /^FAIL +sshd: sshd's AuthorizedKeysCommand \/usr\/local\/lib\/opsguard\/authkeys-not-installed\/authkeys does not exist, so sshd refuses every login/m,
    );
    // The control: the installed launcher is found.
    const present = sshdConfig(install.bin);
    expect(present.stdout).toMatch(new RegExp(`^ok +sshd: AuthorizedKeysCommand ${install.bin} lookup`, "m"));
  });
});

// Finding 2 (doctor's half): a healthy server that logins remember as failed is skipped by all of them
// (uncached users refused) while doctor, which checks the server afresh, said every step was ok.
describe("doctor reports servers that logins skip or doubt", () => {
  it("a server remembered as failed in .servers.json fails doctor --user, naming why and until when, though it answers now", async () => {
    const url = lab.connection().urls[0] ?? "";
    const memory = join(install.cacheDir, ".servers.json");
    rmSync(join(install.cacheDir, "carol.json"), { force: true });
    try {
      await lab.stopServer();
      try {
        expect(asCommandUser(["lookup", "--", "carol"]).status).toBe(69);
      } finally {
        await lab.startServer();
      }
      // (A login would now probe it, the only server, with 300 ms, and clear the mark: doctor first.)
      const doctor = asCommandUser(["doctor", "--user", "carol"]);
      expect(doctor.status).toBe(1);
      expect(doctor.stdout).toMatch(
        new RegExp(
          `^FAIL +ldap ${url}: remembered as failed \\(connection refused\\) in ${memory} until \\d\\d:\\d\\d:\\d\\d UTC \\(\\d+ s more\\): logins skip it until then`,
          "m",
        ),
      );
      // Its own checks of the server pass: the mark is the one problem.
      expect(doctor.stdout).toMatch(new RegExp(`^ok +ldap ${url}: StartTLS, bound as`, "m"));
      expect(doctor.stdout).toMatch(/^ok +lookup carol: /m);
      // The same server in doubt instead (the file as a login writes it): a warning, not ok.
      const marks = JSON.parse(readFileSync(memory, "utf8"));
      writeFileSync(memory, JSON.stringify({ ...marks, down: {}, reasons: {}, suspect: { [url]: marks.down[url] } }));
      const doubt = asCommandUser(["doctor"]);
      expect(doubt.stdout).toMatch(
        new RegExp(`^warn +ldap ${url}: in doubt in ${memory} until .*: logins give it a 300 ms connect budget`, "m"),
      );
      // The control: without the mark doctor passes.
      rmSync(memory, { force: true });
      const clean = asCommandUser(["doctor", "--user", "carol"]);
      expect(clean.stdout).not.toMatch(/remembered as failed/);
    } finally {
      rmSync(memory, { force: true });
    }
  });
});
