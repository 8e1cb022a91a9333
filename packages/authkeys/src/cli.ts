import { addCompletionOption } from "@opsguard/core/completion";
import "./zod-jitless";
import { join } from "node:path";
import { cliContext, createProgram, runCli } from "@opsguard/core/cli";
import { ExitCode } from "@opsguard/core/exit";
import pkg from "../package.json" with { type: "json" };
import { HELP_AFTER } from "./help";
import { DEFAULT_PREFIX, sshdConfigLines } from "./sshd-config";

type Command = Parameters<typeof cliContext>[0];

const program = createProgram({
  name: "authkeys",
  version: pkg.version,
  description: "Print a user's SSH public keys from LDAP for sshd's AuthorizedKeysCommand: validated, cached for outages, fail closed.",
  exitCodes: [
    ExitCode.OK,
    ExitCode.FAILED,
    ExitCode.USAGE,
    ExitCode.DATA_ERR,
    ExitCode.UNAVAILABLE,
    ExitCode.SOFTWARE,
    ExitCode.IO_ERR,
    ExitCode.TEMP_FAIL,
    ExitCode.NO_PERM,
    ExitCode.CONFIG,
  ],
  helpAfter: HELP_AFTER,
});
// core's generic description names rc files and ~/.config, which authkeys never reads (sshd runs it as the command user).
const configOption = program.options.find((o) => o.long === "--config");
if (configOption) configOption.description = "config file (default: $AUTHKEYS_CONFIG, else /etc/opsguard/authkeys.{json,yaml,yml})";

program
  .command("lookup", { isDefault: true })
  .description("print the authorized_keys lines of <user> (the default command; what sshd runs)")
  .argument("<user>", "login name (sshd's %u; write -- before it)")
  .argument("[fingerprint]", "print only the key with this SHA256 fingerprint (sshd's %f)")
  .argument("[type]", "key type offered (sshd's %t); informational")
  .argument("[key]", "base64 key offered (sshd's %k); informational")
  .action(async (user: string, fingerprint: string | undefined, _type: unknown, _key: unknown, _opts: unknown, command: Command) => {
    const ctx = cliContext(command);
    const [{ runLookupCommand }, { loadLoginConfig }] = await Promise.all([import("./lookup-command"), import("./login-config")]);
    await runLookupCommand(user, fingerprint, {
      config: ctx.opts.config,
      json: ctx.opts.json,
      quiet: ctx.opts.quiet,
      level: ctx.log.level,
      logFormat: ctx.opts.logFormat,
      loadConfig: loadLoginConfig,
    });
  });

program
  .command("principals")
  .description("print the certificate principals that may log in as <user> (sshd's AuthorizedPrincipalsCommand)")
  .argument("<user>", "login name (sshd's %u; write -- before it)")
  .argument("[keyid]", "certificate key id (sshd's %i); logged")
  .argument("[serial]", "certificate serial (sshd's %s); logged")
  .argument("[type]", "certificate type (sshd's %T); logged")
  .action(
    async (
      user: string,
      keyId: string | undefined,
      serial: string | undefined,
      type: string | undefined,
      _o: unknown,
      command: Command,
    ) => {
      const ctx = cliContext(command);
      const [{ runPrincipalsCommand }, { loadLoginConfig }] = await Promise.all([import("./principals-command"), import("./login-config")]);
      const { json, quiet, logFormat, config } = ctx.opts;
      await runPrincipalsCommand(
        user,
        { keyId, serial, type },
        { config, json, quiet, level: ctx.log.level, logFormat, loadConfig: loadLoginConfig, stdout: process.stdout },
      );
    },
  );

program
  .command("doctor")
  .description("check the config, the install (as sshd would), DNS/TCP/TLS/bind, and look up a sample user")
  .option("-u, --user <name>", "sample user to look up")
  .option("--binary <path>", "the authkeys file sshd will run (default: this one)")
  .action(async (opts: { user?: string; binary?: string }, command: Command) => {
    const { runDoctor } = await import("./doctor");
    process.exitCode = await runDoctor(cliContext(command), opts);
  });

program
  .command("agent")
  .description("keep one LDAP connection open and answer logins over agent.socket (runs until SIGTERM)")
  .action(async (_opts: unknown, command: Command) => {
    const ctx = cliContext(command);
    const { runAgent } = await import("./agent");
    await runAgent(ctx.opts.config, ctx.log);
  });

program
  .command("install")
  .description("install this bundle where sshd accepts it (root-owned), with a V8 code cache and the cache directory")
  .option("--prefix <dir>", "install directory", DEFAULT_PREFIX)
  .option("--run-as <user>", "AuthorizedKeysCommandUser, owner of the cache directory", "authkeys")
  .option("--cache-dir <dir>", "offline key cache, only when the config has none (default: the config's cache.dir)")
  .action(async (opts: { prefix: string; runAs: string; cacheDir?: string }, command: Command) => {
    const ctx = cliContext(command);
    const { installAuthkeys } = await import("./install");
    const report = await installAuthkeys({ ...opts, config: ctx.opts.config });
    for (const warning of report.warnings) ctx.log.warn(warning);
    process.stderr.write(`authkeys: installed ${report.launcher}; add these lines to sshd_config:\n`);
    process.stdout.write(report.sshdConfig);
    if (report.warnings.length > 0) process.exitCode = ExitCode.FAILED;
  });

program
  .command("sshd-config")
  .description("print the sshd_config lines that make sshd use authkeys")
  .option("--path <file>", "where authkeys is installed", join(DEFAULT_PREFIX, "authkeys"))
  .option("--run-as <user>", "AuthorizedKeysCommandUser", "authkeys")
  .action((opts: { path: string; runAs: string }, command: Command) => {
    process.stdout.write(
      sshdConfigLines({ path: opts.path, user: opts.runAs, config: command.optsWithGlobals<{ config?: string }>().config }),
    );
  });

addCompletionOption(program);
void runCli(program);
