import { createHmac } from "node:crypto";
import { isIPv6 } from "node:net";
import { Client, type ConnectConfig } from "ssh2";

/**
 * `authkeys verify`: does each host's sshd let this user in with this key? A real SSH handshake and
 * publickey authentication per host (ssh2), the host key checked against known_hosts first, then the
 * connection closed — no session, no command. Fleet rollouts of authkeys are checked from the outside,
 * the way a user's login would see them.
 */
export type VerifyResult = "accepted" | "refused" | "unreachable" | "host-key-changed" | "host-key-unknown";

export interface HostTarget {
  host: string;
  port: number;
}

export interface HostVerdict extends HostTarget {
  result: VerifyResult;
  detail: string;
  ms: number;
}

export interface VerifyOptions {
  user: string;
  /** The private key (OpenSSH or PEM, unencrypted); without it the agent at `agent` signs. */
  privateKey?: Buffer;
  agent?: string;
  knownHosts: KnownHosts;
  concurrency: number;
  /** Per host: TCP, handshake and authentication. */
  timeoutMs: number;
  onDone?: (verdict: HostVerdict, done: number) => void;
}

/** Hosts file: one `host`, `host:port` or `[ipv6]:port` per line; blank lines and `#` comments skipped. */
export function parseHostsFile(text: string): HostTarget[] | { line: number; problem: string } {
  const hosts: HostTarget[] = [];
  const lines = text.split("\n");
  for (const [index, raw] of lines.entries()) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const match = /^\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?$/.exec(line) ?? /^([A-Za-z0-9._-]+|[0-9A-Fa-f:]+)(?::(\d{1,5}))?$/.exec(line);
    const host = match?.[1];
    const port = Number(match?.[2] ?? 22);
    if (!host || port < 1 || port > 65535 || (host.includes(":") && match?.[2] !== undefined && !line.startsWith("["))) {
      return { line: index + 1, problem: `"${line.slice(0, 80)}" is not a host name, an address, host:port or [ipv6]:port` };
    }
    if (host.includes(":") && !isIPv6(host)) return { line: index + 1, problem: `"${host.slice(0, 80)}" is not an IPv6 address` };
    hosts.push({ host, port });
  }
  return hosts;
}

/** known_hosts (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and hashed (|1|salt|hmac) host names. */
export class KnownHosts {
  readonly #entries: { patterns: string[] | { salt: Buffer; hash: string }; type: string; key: Buffer }[] = [];

  constructor(text: string) {
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const fields = line.split(/\s+/);
      // a marker (@cert-authority, @revoked) names CA or revoked keys, not a host's own key
      if (fields[0]?.startsWith("@")) continue;
      const [names = "", type = "", base64 = ""] = fields;
      const key = Buffer.from(base64, "base64");
      if (!type || key.length === 0) continue;
      if (names.startsWith("|1|")) {
        const [, , salt = "", hash = ""] = names.split("|");
        this.#entries.push({ patterns: { salt: Buffer.from(salt, "base64"), hash }, type, key });
      } else {
        this.#entries.push({ patterns: names.split(","), type, key });
      }
    }
  }

  /** The keys known for this host (as ssh writes its name: `host`, or `[host]:port` off port 22). */
  keysFor(target: HostTarget): Buffer[] {
    const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
    return this.#entries
      .filter(({ patterns }) =>
        Array.isArray(patterns)
          ? patterns.includes(name)
          : createHmac("sha1", patterns.salt).update(name).digest("base64") === patterns.hash,
      )
      .map((e) => e.key);
  }
}

export async function verifyHosts(hosts: readonly HostTarget[], options: VerifyOptions): Promise<HostVerdict[]> {
  const verdicts: HostVerdict[] = new Array(hosts.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const index = next++;
      const verdict = await verifyOne(hosts[index]!, options);
      verdicts[index] = verdict;
      options.onDone?.(verdict, ++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, hosts.length) }, worker));
  return verdicts;
}

function verifyOne(target: HostTarget, options: VerifyOptions): Promise<HostVerdict> {
  const started = Date.now();
  return new Promise((resolve) => {
    const client = new Client();
    let hostKeyProblem: { result: VerifyResult; detail: string } | undefined;
    let settled = false;
    const finish = (result: VerifyResult, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      client.destroy();
      resolve({ ...target, result, detail, ms: Date.now() - started });
    };
    // readyTimeout covers the handshake; this covers everything, authentication included
    const timer = setTimeout(() => finish("unreachable", `no answer within ${options.timeoutMs} ms`), options.timeoutMs);
    const known = options.knownHosts.keysFor(target);
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: options.user,
      readyTimeout: options.timeoutMs,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        if (known.length === 0) {
          hostKeyProblem = { result: "host-key-unknown", detail: "not in known_hosts: add the host's key first (ssh-keyscan, checked)" };
          return false;
        }
        if (!known.some((k) => k.equals(key))) {
          hostKeyProblem = { result: "host-key-changed", detail: "the host's key is not the one in known_hosts: not trusted, not tried" };
          return false;
        }
        return true;
      },
      ...(options.privateKey ? { privateKey: options.privateKey } : { agent: options.agent }),
    };
    client
      .on("ready", () => finish("accepted", "publickey accepted"))
      .on("error", (error: Error & { level?: string; code?: string }) => {
        if (hostKeyProblem) finish(hostKeyProblem.result, hostKeyProblem.detail);
        else if (error.level === "client-authentication") finish("refused", "publickey refused");
        else finish("unreachable", error.code ?? error.message.split("\n")[0] ?? "error");
      })
      .on("close", () => finish(hostKeyProblem?.result ?? "unreachable", hostKeyProblem?.detail ?? "connection closed"));
    try {
      client.connect(config);
    } catch (error) {
      finish("unreachable", (error as Error).message.split("\n")[0] ?? "error");
    }
  });
}
