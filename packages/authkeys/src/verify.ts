import { createHmac } from "node:crypto";
import { isIPv6 } from "node:net";
import { Client, type ConnectConfig } from "ssh2";

/**
 * `authkeys verify`: does each host's sshd let this user in with this key? A real SSH handshake and
 * publickey authentication per host (ssh2), the host key checked against known_hosts first, then the
 * connection closed — no session, no command. Fleet rollouts of authkeys are checked from the outside,
 * the way a user's login would see them.
 */
export type VerifyResult = "accepted" | "refused" | "unreachable" | "host-key-changed" | "host-key-unknown" | "host-key-revoked";

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

/**
 * known_hosts as sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" describes it: comma-separated patterns with `*` and `?`
 * wildcards, a `!pattern` that excludes the host from the line even when another pattern matched, hashed names
 * (|1|salt|HMAC-SHA1), `[host]:port` off port 22, and `@revoked` keys, which must never be accepted.
 * `@cert-authority` lines name CAs for host certificates, which verify does not use: skipped.
 */
export class KnownHosts {
  readonly #entries: { revoked: boolean; matches: (name: string) => boolean; key: Buffer }[] = [];

  constructor(text: string) {
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const fields = line.split(/\s+/);
      const marker = fields[0]?.startsWith("@") ? fields.shift() : undefined;
      if (marker !== undefined && marker !== "@revoked") continue;
      const [names = "", type = "", base64 = ""] = fields;
      const key = Buffer.from(base64, "base64");
      if (!type || key.length === 0) continue;
      this.#entries.push({ revoked: marker === "@revoked", matches: hostMatcher(names), key });
    }
  }

  /** The keys known for this host, and whether `key` is revoked for it. */
  judge(target: HostTarget, key: Buffer): { known: boolean; trusted: boolean; revoked: boolean } {
    const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
    const entries = this.#entries.filter((e) => e.matches(name));
    const revoked = entries.some((e) => e.revoked && e.key.equals(key));
    const own = entries.filter((e) => !e.revoked);
    return { known: own.length > 0, trusted: !revoked && own.some((e) => e.key.equals(key)), revoked };
  }
}

function hostMatcher(names: string): (name: string) => boolean {
  if (names.startsWith("|1|")) {
    const [, , salt = "", hash = ""] = names.split("|");
    const saltBytes = Buffer.from(salt, "base64");
    return (name) => createHmac("sha1", saltBytes).update(name).digest("base64") === hash;
  }
  const patterns = names.split(",").map((p) => {
    const negated = p.startsWith("!");
    const body = negated ? p.slice(1) : p;
    const regex = new RegExp(
      `^${body
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, ".")}$`,
      "i",
    );
    return { negated, regex };
  });
  return (name) => {
    let matched = false;
    for (const p of patterns) {
      if (!p.regex.test(name)) continue;
      if (p.negated) return false;
      matched = true;
    }
    return matched;
  };
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
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: options.user,
      readyTimeout: options.timeoutMs,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        const verdict = options.knownHosts.judge(target, key);
        if (verdict.revoked) {
          hostKeyProblem = { result: "host-key-revoked", detail: "the host's key is marked @revoked in known_hosts: not tried" };
        } else if (!verdict.known) {
          hostKeyProblem = { result: "host-key-unknown", detail: "not in known_hosts: add the host's key first (ssh-keyscan, checked)" };
        } else if (!verdict.trusted) {
          hostKeyProblem = { result: "host-key-changed", detail: "the host's key is not the one in known_hosts: not trusted, not tried" };
        }
        return hostKeyProblem === undefined;
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
