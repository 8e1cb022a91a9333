#!/usr/bin/env node
// Brings a fresh machine (Node.js and npm only) to the point where the lab, the demo and the tests run:
// Debian packages for the real servers the tests start, then the workspace's npm dependencies.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { aptInstall } from "./apt.mjs";

const SYSTEM_PACKAGES = [
  ["slapd", "/usr/sbin/slapd"],
  ["ldap-utils", "/usr/bin/ldapadd"],
  ["openssh-server", "/usr/sbin/sshd"],
  ["openssh-client", "/usr/bin/ssh-keygen"],
  ["redis-server", "/usr/bin/redis-server"],
  ["openssl", "/usr/bin/openssl"],
  ["git", "/usr/bin/git"],
  // laurel: the second auditd-parse conformance mode compares against it.
  ["laurel", "/usr/sbin/laurel"],
  // auditd: ausearch, which auditd-parse's differential test compares against (on corpus files only).
  ["auditd", "/usr/sbin/ausearch"],
  ["libnss-wrapper", "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"],
  // dnsmasq: a real DNS server on loopback for authkeys' SRV discovery tests (ldap.srv).
  ["dnsmasq-base", "/usr/sbin/dnsmasq"],
  // authkeys: logger(1) carries syslog lines; python3 binds the unix datagram socket its test reads them on.
  ["bsdutils", "/usr/bin/logger"],
  ["python3", "/usr/bin/python3"],
  // The install tests: man renders the generated man pages, lintian checks the .deb files.
  ["man-db", "/usr/bin/man"],
  ["lintian", "/usr/bin/lintian"],
  // systemd-analyze verify checks deputize's shipped units.
  ["systemd", "/usr/bin/systemd-analyze"],
  // vpnnotify's sh client-connect hook is checked with shellcheck.
  ["shellcheck", "/usr/bin/shellcheck"],
  // The HTML reports' browser tests (sock-check, auditd-parse) drive Debian's chromium with playwright-core.
  ["chromium", "/usr/bin/chromium"],
];

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`setup: '${cmd} ${args.join(" ")}' failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status || 1);
  }
}

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`setup: Node.js ${process.versions.node} is too old; install Node.js 20.19+ (22 or 24 LTS recommended)`);
  process.exit(78);
}

const missing = SYSTEM_PACKAGES.filter(([, bin]) => !existsSync(bin)).map(([pkg]) => pkg);
if (missing.length > 0) {
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/apt-get")) {
    console.error(`setup: missing system packages: ${missing.join(" ")}`);
    console.error(`setup: install them with: sudo apt-get install -y ${missing.join(" ")}`);
    process.exit(69);
  }
  console.error(`setup: installing ${missing.join(" ")} from Debian`);
  if (!aptInstall(missing)) {
    console.error(`setup: 'apt-get install ${missing.join(" ")}' failed`);
    process.exit(69);
  }
}

const pnpmArgs = existsSync("pnpm-lock.yaml") ? ["install", "--frozen-lockfile"] : ["install"];
run("node", ["scripts/pnpm.mjs", ...pnpmArgs, "--reporter=append-only"]);
