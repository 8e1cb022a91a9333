import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./process";

export interface LabCa {
  certFile: string;
  keyFile: string;
}

export interface LabServerCert {
  certFile: string;
  keyFile: string;
}

/** A throwaway CA (EC P-256, fast to make) under dir, named name-ca.pem / name-ca.key. */
export async function makeCa(dir: string, name = "lab"): Promise<LabCa> {
  const keyFile = join(dir, `${name}-ca.key`);
  const certFile = join(dir, `${name}-ca.pem`);
  await runCommand("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
  await runCommand("openssl", [
    "req",
    "-x509",
    "-new",
    "-key",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    `/CN=opsguard ${name} CA`,
    "-sha256",
  ]);
  return { certFile, keyFile };
}

/** A server certificate signed by ca, valid for 127.0.0.1, ::1 and localhost. */
export async function makeServerCert(dir: string, ca: LabCa, name = "server"): Promise<LabServerCert> {
  const keyFile = join(dir, `${name}.key`);
  const csrFile = join(dir, `${name}.csr`);
  const certFile = join(dir, `${name}.pem`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(
    extFile,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n",
  );
  await runCommand("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyFile]);
  await runCommand("openssl", ["req", "-new", "-key", keyFile, "-out", csrFile, "-subj", "/CN=localhost"]);
  await runCommand("openssl", [
    "x509",
    "-req",
    "-in",
    csrFile,
    "-CA",
    ca.certFile,
    "-CAkey",
    ca.keyFile,
    "-CAcreateserial",
    "-out",
    certFile,
    "-days",
    "2",
    "-sha256",
    "-extfile",
    extFile,
  ]);
  return { certFile, keyFile };
}
