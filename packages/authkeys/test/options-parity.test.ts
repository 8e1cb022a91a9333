import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateSshKey, type LabKey, type SshdHandle, sshdSkipReason, startSshd } from "@opsguard/lab";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_KEY_TYPES } from "../src/key-options";
import { checkKeyValue } from "../src/keys";

// The options reader against the real sshd reading the same line from an AuthorizedKeysFile (T72 N1):
// whatever sshd accepts with options, authkeys keeps; whatever sshd refuses, authkeys drops.
let dir: string;
let sshd: SshdHandle;
let key: LabKey;
const keysFile = () => join(dir, "authorized_keys");

describe.skipIf(sshdSkipReason())("key options are read as the real sshd reads an authorized_keys line", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "authkeys-options-parity-"));
    // sshd reads the file as the user
    chmodSync(dir, 0o755);
    key = await generateSshKey(dir, "id", "ed25519", "parity@test");
    writeFileSync(keysFile(), "");
    sshd = await startSshd({ users: [{ name: "parity", uid: 4731 }], authorizedKeysFile: keysFile() });
  });
  afterAll(async () => {
    await sshd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const sshdAccepts = (line: string): boolean => {
    writeFileSync(keysFile(), `${line}\n`);
    const r = spawnSync(
      "ssh",
      [
        ...["-F", "/dev/null", "-p", String(sshd.port), "-i", key.privateKeyFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"],
        ...["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "parity@127.0.0.1", "true"],
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    return r.status === 0;
  };

  it.each([
    ["no-pty, ", true],
    ["no-pty,\t", true],
    ['from="127.0.0.1",no-pty,  ', true],
    ["no-pty ", true],
    // sshd has no error for an empty option (T72 and the brief expected these refused; the real sshd accepts them)
    [",no-pty ", true],
    ["no-pty,,restrict ", true],
    ['command="true"port-forwarding ', false],
    ["no-pty;restrict ", false],
    ["no-pty,bogus ", false],
  ])("%j before the key: sshd accepts it = %s, and so does authkeys", (options, accepted) => {
    const line = `${options}${key.publicKey}`;
    expect(sshdAccepts(line), sshd.logs().slice(-1500)).toBe(accepted);
    const verdict = checkKeyValue(line, { types: DEFAULT_KEY_TYPES, minRsaBits: 2048 });
    expect(verdict.ok).toBe(accepted);
    // A dropped key is named by its fingerprint: the key part is a valid key even when the options are not.
    if (!verdict.ok) expect(verdict).toMatchObject({ fingerprint: key.fingerprint });
    else expect(verdict.key.options).toMatch(/^(from="127\.0\.0\.1",)?no-pty(,restrict)?$/);
  });
});
