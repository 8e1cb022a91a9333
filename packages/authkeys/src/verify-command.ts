import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { CliContext } from "@opsguard/core/cli";
import { NoInputError, UsageError } from "@opsguard/core/errors";
import { ExitCode } from "@opsguard/core/exit";
import type { IOStreams } from "@opsguard/core/iostreams";
import { escapeLine } from "@opsguard/core/text";
import { createStyle, startSpinner } from "@opsguard/core/tty";
import keyParser from "ssh2/lib/protocol/keyParser.js";
import { type HostVerdict, KnownHosts, parseHostsFile, verifyHosts } from "./verify";

export interface VerifyFlags {
  hosts: string;
  user: string;
  identity?: string;
  knownHosts?: string;
  concurrency: string;
  timeoutMs: string;
}

/** `authkeys verify`: 0 when every host accepted the key, 1 when one did not (refused, unreachable, host key not trusted). */
export async function runVerifyCommand(ctx: CliContext, flags: VerifyFlags, io: IOStreams): Promise<ExitCode> {
  const concurrency = positive(flags.concurrency, "--concurrency", 256);
  const timeoutMs = positive(flags.timeoutMs, "--timeout-ms", 600_000);
  const hosts = parseHostsFile(read(flags.hosts, "--hosts"));
  if (!Array.isArray(hosts)) throw new UsageError(`--hosts ${flags.hosts}, line ${hosts.line}: ${hosts.problem}`);
  if (hosts.length === 0) throw new UsageError(`--hosts ${flags.hosts} names no host`, { hint: "one host or host:port per line" });
  const agent = process.env.SSH_AUTH_SOCK;
  if (flags.identity === undefined && !agent) {
    throw new UsageError("no key to offer: give -i FILE or run an ssh-agent (SSH_AUTH_SOCK)");
  }
  // a key ssh2 cannot use (encrypted, public, empty) would make every host look "unreachable": refuse it first
  const privateKey = flags.identity === undefined ? undefined : Buffer.from(read(flags.identity, "-i"));
  if (privateKey) {
    const parsed = keyParser.parseKey(privateKey);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (key === undefined || key instanceof Error || !key.isPrivateKey()) {
      throw new UsageError(`-i ${flags.identity}: not an unencrypted private key`, {
        hint: "give the private key file (not .pub); for a passphrase-protected key, add it to ssh-agent and leave out -i",
      });
    }
  }
  const knownHostsFile = flags.knownHosts ?? join(homedir(), ".ssh", "known_hosts");
  const knownHosts = new KnownHosts(read(knownHostsFile, "--known-hosts"));
  const spinner = await startSpinner(`verifying ${hosts.length} host(s)`, ctx.color && !ctx.opts.quiet, io.stderr);
  const verdicts = await verifyHosts(hosts, {
    user: flags.user,
    ...(privateKey ? { privateKey } : { agent }),
    knownHosts,
    concurrency,
    timeoutMs,
    onDone: (_v, done) => spinner.update(`verifying: ${done}/${hosts.length} host(s)`),
  });
  spinner.stop();
  const style = createStyle(io.colorEnabled(io.stdout, ctx.opts.color));
  io.stdout.write(ctx.opts.json ? `${JSON.stringify(verdicts)}\n` : renderTable(verdicts, style));
  return verdicts.every((v) => v.result === "accepted") ? ExitCode.OK : ExitCode.FAILED;
}

function renderTable(verdicts: readonly HostVerdict[], style: ReturnType<typeof createStyle>): string {
  const name = (v: HostVerdict) => (v.port === 22 ? v.host : `${v.host.includes(":") ? `[${v.host}]` : v.host}:${v.port}`);
  const width = Math.max(4, ...verdicts.map((v) => name(v).length));
  const lines = verdicts.map((v) => {
    const result = v.result.padEnd(16);
    return `${escapeLine(name(v)).padEnd(width)}  ${v.result === "accepted" ? style.green(result) : style.red(result)}  ${String(v.ms).padStart(6)} ms  ${escapeLine(v.detail)}`;
  });
  const accepted = verdicts.filter((v) => v.result === "accepted").length;
  return `${[`${"HOST".padEnd(width)}  RESULT              TIME  DETAIL`, ...lines, "", `${accepted} of ${verdicts.length} host(s) accepted the key`].join("\n")}\n`;
}

function read(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new NoInputError(`${flag} ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

function positive(value: string, flag: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} ${value}: expected a whole number from 1 to ${max}`);
  return n;
}
