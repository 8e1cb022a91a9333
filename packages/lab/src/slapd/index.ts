import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type LdapChange, LdapClient, type LdapConnectionConfig, ldapConnectionSchema, Secret } from "@opsguard/core";
import { ensureDebianPackages } from "../ensure";
import {
  freePort,
  guardChild,
  makeTempDir,
  onProcessExit,
  removeDir,
  runCommand,
  sleep,
  stopProcess,
  suspendProcess,
  waitForPort,
} from "../process";
import { makeCa, makeServerCert } from "../tls";
import { slapdConfigLdif } from "./config";
import { buildSeed, type LabUser, type SeedUserName } from "./seed";

export { type LabUser, MALFORMED_KEY, type SeedUserName } from "./seed";

const SLAPD = "/usr/sbin/slapd";
const HOST = "127.0.0.1";

export interface SlapdOptions {
  /** Extra plain entries under ou=bulk, for paging tests. */
  bulkUsers?: number;
  startTimeoutMs?: number;
  /**
   * The most entries one search by the reader account returns (OpenLDAP olcLimits size=N, slapd.conf(5) "limits"):
   * more matching ends the search with sizeLimitExceeded (4) after N entries, as a directory's per-account limit does.
   */
  readerSizeLimit?: number;
}

export interface SlapdLab {
  host: string;
  port: number;
  ldapsPort: number;
  /** ldap://127.0.0.1:PORT (StartTLS available). */
  url: string;
  ldapsUrl: string;
  baseDn: string;
  peopleDn: string;
  groupsDn: string;
  servicesDn: string;
  bulkDn: string;
  adminDn: string;
  adminPassword: string;
  adminPasswordFile: string;
  /** May write only the member attribute of the on-call group. */
  serviceDn: string;
  servicePassword: string;
  servicePasswordFile: string;
  /** Read-only account, the one tools bind as by default. */
  readerDn: string;
  readerPasswordFile: string;
  /** PEM of the CA that signed the server's certificate (valid for 127.0.0.1 and localhost). */
  caFile: string;
  dir: string;
  users: Record<SeedUserName, LabUser>;
  groups: { ops: string; sre: string; oncall: string };
  /** A validated `ldap` config section: StartTLS with the lab CA, bound as the reader unless overridden. */
  connection(overrides?: Partial<Record<keyof LdapConnectionConfig, unknown>>): LdapConnectionConfig;
  /** A client bound as the directory admin (rootdn, bypasses ACLs); the caller closes it. */
  adminClient(): LdapClient;
  addEntry(dn: string, attributes: Record<string, string | string[]>): Promise<void>;
  modify(dn: string, changes: LdapChange[]): Promise<void>;
  deleteEntry(dn: string): Promise<void>;
  /** Stops slapd but keeps its data, ports and certificates: clients now get "connection refused". */
  stopServer(): Promise<void>;
  /** Starts it again on the same ports with the same data. */
  startServer(): Promise<void>;
  /** SIGSTOP: connections are accepted by the kernel but never answered (a hung server). Resolves once it is stopped. */
  freeze(): Promise<void>;
  thaw(): void;
  /** What slapd wrote on stderr. */
  logs(): string;
  /** Stops slapd and removes every file; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A real OpenLDAP slapd on free loopback ports, configured from scratch in a temp dir (never the
 * system instance), with TLS from a throwaway CA and a seeded directory. About a second to start.
 */
export async function startSlapd(options: SlapdOptions = {}): Promise<SlapdLab> {
  ensureDebianPackages([
    { program: SLAPD, pkg: "slapd" },
    { program: "/usr/sbin/slapadd", pkg: "slapd" },
    { program: "/usr/bin/ldapsearch", pkg: "ldap-utils" },
  ]);
  const dir = makeTempDir("slapd");
  let child: ChildProcess | undefined;
  let dismissGuard = () => {};
  const unregister = onProcessExit(() => {
    child?.kill("SIGKILL");
    removeDir(dir);
  });
  try {
    const baseDn = "dc=opsguard,dc=test";
    const layout = {
      dir,
      baseDn,
      peopleDn: `ou=people,${baseDn}`,
      groupsDn: `ou=groups,${baseDn}`,
      servicesDn: `ou=services,${baseDn}`,
      bulkDn: `ou=bulk,${baseDn}`,
      serviceDn: `cn=deputize,ou=services,${baseDn}`,
      readerDn: `cn=reader,ou=services,${baseDn}`,
      adminDn: `cn=admin,${baseDn}`,
      adminPassword: `admin-${Date.now().toString(36)}${process.pid}`,
      bulkUsers: options.bulkUsers ?? 0,
    };
    const [ca, seed] = await Promise.all([makeCa(dir), buildSeed(layout)]);
    const cert = await makeServerCert(dir, ca);
    const confDir = join(dir, "slapd.d");
    const dataDir = join(dir, "data");
    mkdirSync(confDir);
    mkdirSync(dataDir);
    const ldif = slapdConfigLdif({
      ...layout,
      dataDir,
      oncallDn: seed.groups.oncall,
      caFile: ca.certFile,
      readerSizeLimit: options.readerSizeLimit,
      certFile: cert.certFile,
      keyFile: cert.keyFile,
    });
    writeFileSync(join(dir, "config.ldif"), ldif);
    await runCommand("/usr/sbin/slapadd", ["-n0", "-F", confDir, "-l", join(dir, "config.ldif")]);

    const passwordFile = (name: string, value: string): string => {
      const path = join(dir, `${name}.password`);
      // No trailing newline: ldapsearch -y sends the whole file as the password.
      writeFileSync(path, value, { mode: 0o600 });
      return path;
    };
    const adminPasswordFile = passwordFile("admin", layout.adminPassword);
    const servicePasswordFile = passwordFile("deputize", seed.servicePassword);
    const readerPasswordFile = passwordFile("reader", seed.readerPassword);

    let stderr = "";
    let ports: [number, number] = [0, 0];
    const launch = async (): Promise<void> => {
      const urls = `ldap://${HOST}:${ports[0]}/ ldaps://${HOST}:${ports[1]}/`;
      // -d keeps slapd in the foreground as our child, so it dies with us and its exit is observable.
      const proc = spawn(SLAPD, ["-F", confDir, "-h", urls, "-d", "0"], { stdio: ["ignore", "ignore", "pipe"] });
      child = proc;
      dismissGuard();
      dismissGuard = guardChild(proc, dir);
      proc.stderr?.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-20_000);
      });
      const exited = new Promise<never>((_, reject) =>
        proc.once("exit", (code) =>
          reject(new Error(`slapd exited (${code}) before answering: ${stderr.trim().split("\n").slice(-3).join(" | ")}`)),
        ),
      );
      exited.catch(() => {});
      const timeout = options.startTimeoutMs ?? 15_000;
      await Promise.race([Promise.all([waitForPort(ports[0], timeout), waitForPort(ports[1], timeout)]), exited]);
    };
    for (let attempt = 1; ; attempt++) {
      ports = [await freePort(), await freePort()];
      try {
        await launch();
        break;
      } catch (error) {
        if (child) await stopProcess(child);
        // Another process may have taken a port between freePort() and slapd's bind; try new ones.
        if (attempt >= 3) throw error;
        await sleep(50);
      }
    }

    const url = `ldap://${HOST}:${ports[0]}`;
    const ldapsUrl = `ldaps://${HOST}:${ports[1]}`;
    const adminClient = (): LdapClient =>
      new LdapClient({
        urls: [url],
        bindDn: layout.adminDn,
        bindPassword: new Secret(layout.adminPassword, `file ${adminPasswordFile}`),
        deadlineMs: 60_000,
        timeoutMs: 20_000,
      });
    const asAdmin = async <T>(fn: (c: LdapClient) => Promise<T>): Promise<T> => {
      const client = adminClient();
      try {
        return await fn(client);
      } finally {
        await client.close();
      }
    };
    await asAdmin(async (c) => {
      for (const [i, entry] of seed.entries.entries()) {
        // The deadline bounds each thousand adds, not a whole bulk seed on a loaded machine.
        if (i % 1000 === 0) c.restartDeadline();
        await c.add(entry.dn, entry.attributes);
      }
    });

    let stopped = false;
    const lab: SlapdLab = {
      host: HOST,
      port: ports[0],
      ldapsPort: ports[1],
      url,
      ldapsUrl,
      baseDn,
      peopleDn: layout.peopleDn,
      groupsDn: layout.groupsDn,
      servicesDn: layout.servicesDn,
      bulkDn: layout.bulkDn,
      adminDn: layout.adminDn,
      adminPassword: layout.adminPassword,
      adminPasswordFile,
      serviceDn: layout.serviceDn,
      servicePassword: seed.servicePassword,
      servicePasswordFile,
      readerDn: layout.readerDn,
      readerPasswordFile,
      caFile: ca.certFile,
      dir,
      users: seed.users,
      groups: seed.groups,
      connection: (overrides = {}) =>
        ldapConnectionSchema.parse({
          urls: [url],
          startTls: true,
          caFile: ca.certFile,
          bindDn: layout.readerDn,
          bindPassword: `file:${readerPasswordFile}`,
          baseDn,
          ...overrides,
        }),
      adminClient,
      addEntry: (dn, attributes) => asAdmin((c) => c.add(dn, attributes)),
      modify: (dn, changes) => asAdmin((c) => c.modify(dn, changes)),
      deleteEntry: (dn) => asAdmin((c) => c.delete(dn)),
      stopServer: async () => {
        if (child) {
          dismissGuard();
          child.kill("SIGCONT");
          await stopProcess(child);
        }
      },
      startServer: async () => {
        if (child && child.exitCode === null && child.signalCode === null) return;
        await launch();
      },
      freeze: async () => {
        if (child) await suspendProcess(child);
      },
      thaw: () => {
        child?.kill("SIGCONT");
      },
      logs: () => stderr,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await lab.stopServer();
        removeDir(dir);
        unregister();
      },
    };
    return lab;
  } catch (error) {
    dismissGuard();
    if (child) await stopProcess(child);
    removeDir(dir);
    unregister();
    throw error;
  }
}
