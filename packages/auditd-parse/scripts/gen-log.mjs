#!/usr/bin/env node
import { once } from "node:events";
// Writes a synthetic but realistic audit.log: execve, connect/accept, file access and PAM login events with
// fresh serials and timestamps, in the shapes auditd writes (RAW, or ENRICHED with --enriched).
// Usage: node gen-log.mjs <out-file> <megabytes> [--enriched]
import { createWriteStream } from "node:fs";

const hex = (s) => Buffer.from(s).toString("hex").toUpperCase();
const GS = "\x1d";

const users = [
  [1000, "alice"],
  [1001, "bob"],
  [0, "root"],
];
const commands = [
  ["ls", "-la", "/var/log"],
  ["grep", "-r", "needle in a haystack", "/etc"],
  ["curl", "-s", "https://example.com/api?x=1"],
  ["python3", "-c", "print('hi')"],
  ["systemctl", "status", "nginx.service"],
];

function header(type, stamp) {
  return `type=${type} msg=audit(${stamp}): `;
}

function execve(stamp, ses, [uid, name], argv, enriched) {
  const exe = `/usr/bin/${argv[0]}`;
  const lines = [
    `${header("SYSCALL", stamp)}arch=c000003e syscall=59 success=yes exit=0 a0=55d5c8a1b2c0 a1=55d5c8a1b3a0 a2=55d5c8a1b4f0 a3=8 items=2 ppid=4242 pid=${5000 + (ses % 3000)} auid=${uid} uid=${uid} gid=${uid} euid=${uid} suid=${uid} fsuid=${uid} egid=${uid} sgid=${uid} fsgid=${uid} tty=pts0 ses=${ses} comm="${argv[0]}" exe="${exe}" subj=unconfined key="exec"` +
      (enriched
        ? `${GS}ARCH=x86_64 SYSCALL=execve AUID="${name}" UID="${name}" GID="${name}" EUID="${name}" SUID="${name}" FSUID="${name}" EGID="${name}" SGID="${name}" FSGID="${name}"`
        : ""),
    `${header("EXECVE", stamp)}argc=${argv.length} ${argv.map((a, i) => `a${i}=${/[\s'"]/.test(a) ? hex(a) : `"${a}"`}`).join(" ")}`,
    `${header("CWD", stamp)}cwd="/home/${name}"`,
    `${header("PATH", stamp)}item=0 name="${exe}" inode=1835043 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0` +
      (enriched ? `${GS}OUID="root" OGID="root"` : ""),
    `${header("PATH", stamp)}item=1 name="/lib64/ld-linux-x86-64.so.2" inode=1835321 dev=fd:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0` +
      (enriched ? `${GS}OUID="root" OGID="root"` : ""),
    `${header("PROCTITLE", stamp)}proctitle=${hex(argv.join("\0"))}`,
    `${header("EOE", stamp)}`,
  ];
  return lines;
}

function connect(stamp, ses, [uid, name], port, enriched) {
  const saddr = `0200${port.toString(16).padStart(4, "0").toUpperCase()}5DB8D8220000000000000000`;
  return [
    `${header("SYSCALL", stamp)}arch=c000003e syscall=42 success=no exit=-115 a0=3 a1=7ffd3c9a1e60 a2=10 a3=0 items=0 ppid=4242 pid=6100 auid=${uid} uid=${uid} gid=${uid} euid=${uid} suid=${uid} fsuid=${uid} egid=${uid} sgid=${uid} fsgid=${uid} tty=pts0 ses=${ses} comm="curl" exe="/usr/bin/curl" subj=unconfined key="net"` +
      (enriched
        ? `${GS}ARCH=x86_64 SYSCALL=connect AUID="${name}" UID="${name}" GID="${name}" EUID="${name}" SUID="${name}" FSUID="${name}" EGID="${name}" SGID="${name}" FSGID="${name}"`
        : ""),
    `${header("SOCKADDR", stamp)}saddr=${saddr}${enriched ? `${GS}SADDR={ saddr_fam=inet laddr=93.184.216.34 lport=${port} }` : ""}`,
    `${header("PROCTITLE", stamp)}proctitle=${hex("curl\0-s\0https://example.com/")}`,
    `${header("EOE", stamp)}`,
  ];
}

function openat(stamp, ses, [uid, name], enriched) {
  return [
    `${header("SYSCALL", stamp)}arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c a1=7ffc1b2a3f10 a2=0 a3=0 items=1 ppid=4242 pid=6200 auid=${uid} uid=${uid} gid=${uid} euid=${uid} suid=${uid} fsuid=${uid} egid=${uid} sgid=${uid} fsgid=${uid} tty=pts0 ses=${ses} comm="cat" exe="/usr/bin/cat" subj=unconfined key=(null)` +
      (enriched
        ? `${GS}ARCH=x86_64 SYSCALL=openat AUID="${name}" UID="${name}" GID="${name}" EUID="${name}" SUID="${name}" FSUID="${name}" EGID="${name}" SGID="${name}" FSGID="${name}"`
        : ""),
    `${header("CWD", stamp)}cwd="/home/${name}"`,
    `${header("PATH", stamp)}item=0 name="/etc/shadow" inode=1049 dev=fd:01 mode=0100640 ouid=0 ogid=42 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0` +
      (enriched ? `${GS}OUID="root" OGID="shadow"` : ""),
    `${header("PROCTITLE", stamp)}proctitle=${hex("cat\0/etc/shadow")}`,
    `${header("EOE", stamp)}`,
  ];
}

function login(stamp, ses, [uid, name], type, enriched) {
  return [
    `${header(type, stamp)}pid=4242 uid=0 auid=${uid} ses=${ses} subj=unconfined msg='op=PAM:session_open grantors=pam_selinux,pam_loginuid,pam_keyinit,pam_permit,pam_umask,pam_unix acct="${name}" exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=success'` +
      (enriched ? `${GS}UID="root" AUID="${name}"` : ""),
  ];
}

/** Writes about `megabytes` MiB of events to `file`. */
export async function generateLog(file, megabytes, { enriched = false } = {}) {
  const out = createWriteStream(file);
  const target = megabytes * 1024 * 1024;
  let written = 0;
  let serial = 1000;
  let ms = 1_700_000_000_000;
  let batch = [];
  let batchSize = 0;
  while (written < target) {
    serial++;
    ms += 1 + (serial % 3);
    const stamp = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}`;
    const user = users[serial % users.length];
    const ses = 1 + (serial % 50);
    const pick = serial % 10;
    const lines =
      pick < 5
        ? execve(stamp, ses, user, commands[serial % commands.length], enriched)
        : pick < 7
          ? connect(stamp, ses, user, 443 + (serial % 3), enriched)
          : pick < 9
            ? openat(stamp, ses, user, enriched)
            : login(stamp, ses, user, serial % 20 === 9 ? "USER_START" : "USER_END", enriched);
    const text = `${lines.join("\n")}\n`;
    batch.push(text);
    batchSize += text.length;
    written += text.length;
    if (batchSize > 4 * 1024 * 1024) {
      if (!out.write(batch.join(""))) await once(out, "drain");
      batch = [];
      batchSize = 0;
    }
  }
  out.end(batch.join(""));
  await once(out, "finish");
  return written;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, mb, flag] = process.argv.slice(2);
  if (!file || !mb) {
    process.stderr.write("usage: gen-log.mjs <out-file> <megabytes> [--enriched]\n");
    process.exit(64);
  }
  const n = await generateLog(file, Number(mb), { enriched: flag === "--enriched" });
  process.stdout.write(`wrote ${n} bytes to ${file}\n`);
}
