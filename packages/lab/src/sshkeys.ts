import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./process";

export type LabKeyType = "ed25519" | "ecdsa" | "rsa" | "rsa-1024" | "dsa";

export interface LabKey {
  type: LabKeyType;
  /** The authorized_keys line: "ssh-ed25519 AAAA... comment". */
  publicKey: string;
  privateKeyFile: string;
  /** SHA256:... as ssh-keygen -l prints it. */
  fingerprint: string;
}

const KEYGEN_ARGS: Record<LabKeyType, string[]> = {
  ed25519: ["-t", "ed25519"],
  ecdsa: ["-t", "ecdsa", "-b", "256"],
  rsa: ["-t", "rsa", "-b", "2048"],
  "rsa-1024": ["-t", "rsa", "-b", "1024"],
  dsa: ["-t", "dsa"],
};

/** A real key pair made by ssh-keygen (no passphrase), so sshd and ssh2 accept it. */
export async function generateSshKey(dir: string, name: string, type: LabKeyType, comment: string): Promise<LabKey> {
  const privateKeyFile = join(dir, name);
  await runCommand("ssh-keygen", ["-q", ...KEYGEN_ARGS[type], "-N", "", "-C", comment, "-f", privateKeyFile]);
  const publicKey = readFileSync(`${privateKeyFile}.pub`, "utf8").trim();
  const fingerprint = (await runCommand("ssh-keygen", ["-l", "-E", "sha256", "-f", `${privateKeyFile}.pub`])).split(" ")[1] ?? "";
  return { type, publicKey, privateKeyFile, fingerprint };
}
