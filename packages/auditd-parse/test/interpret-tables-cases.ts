import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { SYSCALLS_X86_64 } from "../src/tables/generated";
import type { Difference } from "./ausearch-diff";

/**
 * The cases of the interpretation tables' tests (issue 19, mutation module auditd-interpret-tables): every entry of the syscall
 * argument tables (args.ts), the architectures and errno names (decode.ts), read by auditd-parse and by
 * `ausearch -i` (Debian package auditd, the vendor's own reader) from one log written here, one SYSCALL record
 * per entry. Every field must match ausearch, or be one of the differences listed below with ausearch's text —
 * so a changed name, bit or lookup shows up as a new difference. clone's flags, which ausearch 3.0.9 leaves in
 * hex, are checked against the kernel's names (include/uapi/linux/sched.h) instead.
 */

const X86_64 = "c000003e";

interface Case {
  label: string;
  syscall: number;
  args: number[];
  exit?: string;
  arch?: string;
  /** another record type than SYSCALL, with this body */
  record?: [type: string, body: string];
}

const hex = (n: number) => (n >>> 0).toString(16);
const cases: Case[] = [];
const add = (label: string, syscall: number, args: number[], extra: Partial<Case> = {}) => cases.push({ label, syscall, args, ...extra });

// x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl)
const PTRACE_REQUESTS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 18, 19, 24];
for (const r of [...PTRACE_REQUESTS, ...Array.from({ length: 15 }, (_, i) => 0x4200 + i)]) add(`ptrace ${hex(r)}`, 101, [r]);
const OPEN_BITS = [
  0o100, 0o200, 0o400, 0o1000, 0o2000, 0o4000, 0o4010000, 0o10000, 0o20000, 0o40000, 0o100000, 0o20200000, 0o200000, 0o400000,
];
for (const f of [0, 1, 2, ...OPEN_BITS, 0o1000000, 0o2000000, 0o10000000, 0o101 | 0o1000, 3]) add(`open ${f.toString(8)}`, 2, [0x7ffd, f]);
add("openat AT_FDCWD", 257, [0xffffff9c, 0x7ffd, 0o1101, 0o666]);
add("openat fd 3", 257, [3, 0x7ffd, 0, 0]);
for (const family of [0, 1, 2, 3, 4, 5, 9, 10, 16, 17, 29, 31, 38, 40, 44, 6]) add(`socket family ${family}`, 41, [family, 1, 0]);
for (const type of [1, 2, 3, 4, 5, 6, 10, 1 | 0o4000, 2 | 0o2000000, 1 | 0o4000 | 0o2000000, 7, 1 | 0x100])
  add(`socket type ${hex(type)}`, 41, [2, type, 6]);
for (const protocol of [1, 6, 17, 58, 132, 255, 7]) add(`socket protocol ${protocol}`, 41, [2, 3, protocol]);
for (const prot of [0, 1, 2, 4, 8, 7, 16]) add(`mmap prot ${prot}`, 9, [0, 0x1000, prot, 0x22]);
const MAP_BITS = [0x3, 0x1, 0x2, 0x10, 0x20, 0x100, 0x800, 0x1000, 0x2000, 0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000];
for (const f of [...MAP_BITS, 0x22, 0x200000]) add(`mmap flags ${hex(f)}`, 9, [0, 0x1000, 3, f]);
add("mprotect", 10, [0x1000, 0x1000, 5]);
for (let s = 1; s < 32; s++) add(`kill ${s}`, 62, [1, s]);
add("kill 0", 62, [1, 0]);
for (let w = 0; w < 6; w++) add(`lseek ${w}`, 8, [3, 0, w]);
for (let r = 0; r < 17; r++) add(`setrlimit ${r}`, 160, [r]);
for (let c = 0; c < 13; c++) add(`clock_settime ${c}`, 227, [c]);
for (let p = 0; p < 8; p++) add(`sched_setscheduler ${p}`, 144, [1, p]);
for (let o = 0; o < 5; o++) add(`epoll_ctl ${o}`, 233, [3, o]);
for (let c = 0; c < 11; c++) add(`bpf ${c}`, 321, [c]);
for (const f of [1, 2, 4, 8, 3, 16]) add(`umount2 ${f}`, 166, [0x7ffd, f]);
for (let m = 0; m < 9; m++) add(`access ${m}`, 21, [0x7ffd, m]);
for (const m of [0o755, 0o644, 0o4755, 0o10755]) add(`chmod ${m.toString(8)}`, 90, [0x7ffd, m]);
for (const m of [0o100644, 0o20620, 0o60660, 0o10644, 0o140755, 0o40755, 0o120777, 0o104755, 0o102755, 0o101777])
  add(`mknod ${m.toString(8)}`, 133, [0x7ffd, m]);
for (const e of [1, 2, 13, 17, 22, 95, 110, 4095]) add(`exit -${e}`, 2, [0x7ffd, 0], { exit: `-${e}` });
add("exit 3", 2, [0x7ffd, 0], { exit: "3" });
// one syscall per architecture ausearch and auditd-parse both know (execve, or a number both tables name)
for (const [arch, nr] of [
  ["40000003", 11],
  ["c00000b7", 221],
  ["80000015", 11],
  ["c0000015", 11],
  ["80000016", 11],
  [X86_64, 59],
] as const)
  add(`arch ${arch}`, nr, [], { arch });

// clone: ausearch 3.0.9 prints its flags as hex; the names are the kernel's (include/uapi/linux/sched.h), low byte the exit signal
const CLONE_NAMES = [
  "CLONE_VM",
  "CLONE_FS",
  "CLONE_FILES",
  "CLONE_SIGHAND",
  "CLONE_PIDFD",
  "CLONE_PTRACE",
  "CLONE_VFORK",
  "CLONE_PARENT",
  "CLONE_THREAD",
  "CLONE_NEWNS",
  "CLONE_SYSVSEM",
  "CLONE_SETTLS",
  "CLONE_PARENT_SETTID",
  "CLONE_CHILD_CLEARTID",
  "CLONE_DETACHED",
  "CLONE_UNTRACED",
  "CLONE_CHILD_SETTID",
  "CLONE_NEWCGROUP",
  "CLONE_NEWUTS",
  "CLONE_NEWIPC",
  "CLONE_NEWUSER",
  "CLONE_NEWPID",
  "CLONE_NEWNET",
  "CLONE_IO",
];
const CLONES: Array<[number, string]> = [
  ...CLONE_NAMES.map((name, i): [number, string] => [((0x100 << i) >>> 0) | 17, `${name}|SIGCHLD`]),
  [0x11, "SIGCHLD"],
  [0, "0"],
  [0x300, "CLONE_VM|CLONE_FS"],
  [0x1200011, "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"],
];
for (const [flags] of CLONES) add(`clone ${hex(flags)}`, 56, [flags]);
for (const [flags, name] of [
  [0x20000, "CLONE_NEWNS"],
  [0x40000000, "CLONE_NEWNET"],
  [0x10020000, "CLONE_NEWNS|CLONE_NEWUSER"],
] as const)
  add(`unshare ${hex(flags)} (${name})`, 272, [flags]);
add("setns 0", 308, [3, 0]);
add("setns CLONE_NEWNET", 308, [3, 0x40000000]);
// every other syscall the argument readers know (args.ts SYSCALL_ARGS), each read argument set, so a reader
// dropped or moved to another argument shows; x86_64 numbers from the syscall table
const AT = 0xffffff9c;
for (const [name, args] of [
  ["openat2", [AT]],
  ["creat", [0x7ffd, 0o644]],
  ["socketpair", [1, 1]],
  ["tkill", [1, 9]],
  ["tgkill", [1, 2, 15]],
  ["rt_sigaction", [17]],
  ["rt_tgsigqueueinfo", [1, 2, 10]],
  ["pkey_mprotect", [0x1000, 0x1000, 3]],
  ["faccessat", [AT, 0x7ffd, 4]],
  ["faccessat2", [AT, 0x7ffd, 2]],
  ["fchmod", [3, 0o600]],
  ["fchmodat", [AT, 0x7ffd, 0o755]],
  ["mkdir", [0x7ffd, 0o700]],
  ["mkdirat", [AT, 0x7ffd, 0o750]],
  ["mknodat", [AT, 0x7ffd, 0o10644]],
  ["unlinkat", [AT]],
  ["renameat", [AT, 0x7ffd, AT]],
  ["renameat2", [AT, 0x7ffd, AT]],
  ["linkat", [AT, 0x7ffd, AT]],
  ["symlinkat", [0x7ffd, AT]],
  ["fchownat", [AT]],
  ["newfstatat", [AT]],
  ["utimensat", [AT]],
  ["execveat", [AT]],
  ["getrlimit", [7]],
  ["prlimit64", [1, 7]],
  ["clock_adjtime", [1]],
] as const)
  add(name, SYSCALLS_X86_64.indexOf(name), [...args]);
// the record-specific numbers (values.ts reads them with args.ts): netfilter's family, the audit filter list,
// promiscuous mode, seccomp's action, kernel res=, a capability number
const other = (label: string, type: string, body: string) => add(label, 0, [], { record: [type, body] });
for (const family of [0, 1, 2, 3, 5, 7, 10, 12, 4])
  other(`netfilter family ${family}`, "NETFILTER_CFG", `table=filter family=${family} entries=4 op=xt_replace`);
for (let list = 0; list < 9; list++) other(`filter list ${list}`, "CONFIG_CHANGE", `op=add_rule key=(null) list=${list} res=1`);
other("config res=0", "CONFIG_CHANGE", "op=remove_rule key=(null) list=4 res=0");
for (const prom of [256, 0, 258, "x"]) other(`promiscuous ${prom}`, "ANOM_PROMISCUOUS", `dev=eth0 prom=${prom} old_prom=0`);
for (const code of [0x80000000, 0, 0x30000, 0x50001, 0x7fc00000, 0x7ff00000, 0x7ffc0000, 0x7fff0000, 0x10000])
  other(`seccomp ${hex(code)}`, "SECCOMP", `sig=0 arch=${X86_64} syscall=59 compat=0 ip=0x7f0 code=0x${hex(code)}`);
for (const cap of [0, 12, 21, 40, 41, 99])
  other(`capability ${cap}`, "AVC", `avc:  denied  { net_admin } for  pid=5 comm="x" capability=${cap}  tclass=capability permissive=0`);

/**
 * Where auditd-parse and ausearch 3.0.9 differ, as "label field: ours | ausearch". Not changed here (issue 19 is
 * about tests); each is the auditd-parse owners' call.
 */
export const KNOWN = [
  // O_SYNC is __O_SYNC|O_DSYNC and O_TMPFILE __O_TMPFILE|O_DIRECTORY (asm-generic/fcntl.h): we name the flag
  "open 4010000 a1: O_RDONLY|O_SYNC | O_RDONLY|O_DSYNC|__O_SYNC",
  "open 20200000 a1: O_RDONLY|O_TMPFILE | O_RDONLY|O_DIRECTORY|__O_TMPFILE",
  // ausearch drops O_LARGEFILE (0 in x86_64 user space, set by the kernel for 64-bit opens)
  "open 100000 a1: O_RDONLY|O_LARGEFILE | O_RDONLY",
  // with O_CREAT, ausearch reads open's third argument as the mode
  "open 100 a2: 0 | 0000",
  "open 1101 a2: 0 | 0000",
  "socket family 0 a0: unspec | unknown-family(0x0)",
  // protocol 0 is the family's default; we keep it as logged
  ...[0, 1, 2, 3, 4, 5, 9, 10, 16, 17, 29, 31, 38, 40, 44, 6].map((f) => `socket family ${f} a2: 0 | ip`),
  "socket type 801 a1: SOCK_STREAM|SOCK_NONBLOCK | SOCK_STREAM",
  "socket type 80002 a1: SOCK_DGRAM|SOCK_CLOEXEC | SOCK_DGRAM",
  "socket type 80801 a1: SOCK_STREAM|SOCK_NONBLOCK|SOCK_CLOEXEC | SOCK_STREAM",
  "socket type 101 a1: 101 | SOCK_STREAM",
  "socket protocol 255 a2: raw | unknown-proto(ff)",
  "mmap prot 8 a2: PROT_SEM | PROT_NONE",
  "mmap prot 16 a2: 10 | PROT_NONE",
  "mmap flags 3 a3: MAP_SHARED_VALIDATE | MAP_SHARED|MAP_PRIVATE",
  // ausearch names MAP_FILE (0) when neither MAP_SHARED nor MAP_PRIVATE is set
  ...["10", "20", "100", "800", "1000", "2000", "4000", "8000", "10000", "20000", "40000", "80000", "100000"].map(
    (f) => `mmap flags ${f} a3: ${mmapName(f)} | MAP_FILE|${mmapName(f)}`,
  ),
  "mmap flags 200000 a3: 200000 | MAP_FILE",
  "kill 30 a1: SIGPWR | IGPWR",
  ...[7, 8, 9, 11].map(
    (c) =>
      `clock_settime ${c} a0: ${["CLOCK_BOOTTIME", "CLOCK_REALTIME_ALARM", "CLOCK_BOOTTIME_ALARM", "", "CLOCK_TAI"][c - 7]} | unknown-clk_id(0x${hex(c)})`,
  ),
  "clock_settime 10 a0: a | unknown-clk_id(0xa)",
  "clock_settime 12 a0: c | unknown-clk_id(0xc)",
  "sched_setscheduler 4 a1: 4 | unknown-scheduler-policy(0x4)",
  "sched_setscheduler 7 a1: 7 | unknown-scheduler-policy(0x7)",
  // ausearch lists access modes high bit first
  "access 3 a1: W_OK|X_OK | X_OK|W_OK",
  "access 5 a1: R_OK|X_OK | X_OK|R_OK",
  "access 6 a1: R_OK|W_OK | W_OK|R_OK",
  "access 7 a1: R_OK|W_OK|X_OK | X_OK|W_OK|R_OK",
  "chmod 4755 a1: 04755 | suid,0755",
  // ausearch names a few values the tables leave as logged
  "socket family 6 a0: 6 | netrom",
  "bpf 10 a0: a | BPF_PROG_TEST_RUN",
  "kill 0 a1: 0 | SIG0",
  "open 3 a1: 3 | O_WRONLY|O_RDWR",
  "exit -4095 exit: -4095 | (null)(Unknown error 4095)",
  // out of the table's range: ausearch says unknown-…(n), we keep the number as logged
  "epoll_ctl 0 a1: 0 | unknown-epoll_ctl-operation(0)",
  "epoll_ctl 4 a1: 4 | unknown-epoll_ctl-operation(4)",
  "lseek 5 a2: 5 | unknown-whence(5)",
  "setrlimit 16 a0: 10 | unknown-rlimit(0x10)",
  "socket protocol 7 a2: 7 | unknown-proto(7)",
  "socket type 7 a1: 7 | unknown-type(7)",
  "capability 41 capability: 41 | unknown-capability(41)",
  "capability 99 capability: 99 | unknown-capability(99)",
  "filter list 8 list: 8 | unknown-list(8)",
  "netfilter family 4 family: 4 | unknown-netfilter-protocol(4)",
  "seccomp 10000 code: 0x10000 | unknown-seccomp-code(0x10000)",
  // ausearch 3.0.9's filter list table lacks entry (2), watch (3) and io_uring (7) (linux/audit.h AUDIT_FILTER_*)
  "filter list 2 list: entry | unknown-list(2)",
  "filter list 3 list: watch | unknown-list(3)",
  "filter list 7 list: io_uring | unknown-list(7)",
  // kernel res=1/0 in the words of user-space records (success/failed); ausearch says yes/no
  ...Array.from({ length: 9 }, (_, list) => `filter list ${list} res: success | yes`),
  "config res=0 res: failed | no",
  "promiscuous x prom: x | no",
  // seccomp's sig=0 is no signal; ausearch prints SIG0
  ...["0", "10000", "30000", "50001", "7fc00000", "7ff00000", "7ffc0000", "7fff0000", "80000000"].map((c) => `seccomp ${c} sig: 0 | SIG0`),
  // SECCOMP_RET_KILL_PROCESS and SECCOMP_RET_USER_NOTIF (linux/seccomp.h): ausearch 3.0.9 says "kill" and "user-notify"
  "seccomp 80000000 code: kill-process | kill",
  "seccomp 7fc00000 code: user-notif | user-notify",
  // arguments ausearch 3.0.9 leaves in hex where we read them as for the syscall's siblings (socket, kill,
  // mprotect, setrlimit, clock_settime, openat)
  "clock_adjtime a0: CLOCK_MONOTONIC | 0x1",
  "execveat a0: AT_FDCWD | 0xffffff9c",
  "pkey_mprotect a2: PROT_READ|PROT_WRITE | 0x3",
  "prlimit64 a1: RLIMIT_NOFILE | 0x7",
  "rt_tgsigqueueinfo a2: SIGUSR1 | 0xa",
  "socketpair a0: local | 0x1",
  "socketpair a1: SOCK_STREAM | 0x1",
  "symlinkat a1: AT_FDCWD | 0xffffff9c",
  // mknodat's mode: ausearch prints it as chmod's (no file type), we as mknod's
  "mknodat a2: fifo,644 | 0644",
];

function mmapName(f: string): string {
  const names: Record<string, string> = {
    "10": "MAP_FIXED",
    "20": "MAP_ANONYMOUS",
    "100": "MAP_GROWSDOWN",
    "800": "MAP_DENYWRITE",
    "1000": "MAP_EXECUTABLE",
    "2000": "MAP_LOCKED",
    "4000": "MAP_NORESERVE",
    "8000": "MAP_POPULATE",
    "10000": "MAP_NONBLOCK",
    "20000": "MAP_STACK",
    "40000": "MAP_HUGETLB",
    "80000": "MAP_SYNC",
    "100000": "MAP_FIXED_NOREPLACE",
  };
  return names[f]!;
}

/** The log: one SYSCALL event per case, serial = index + 1; returns serial → label. */
export function writeLog(dir: string): { file: string; labels: Map<string, string> } {
  const labels = new Map<string, string>();
  const lines = cases.flatMap((c, i) => {
    const serial = i + 1;
    const stamp = `1700000000.${String(serial % 1000).padStart(3, "0")}:${serial}`;
    labels.set(stamp, c.label);
    if (c.record) return [`type=${c.record[0]} msg=audit(${stamp}): ${c.record[1]}`];
    const exit = c.exit ?? "0";
    const args = [0, 1, 2, 3].map((k) => `a${k}=${hex(c.args[k] ?? 0)}`).join(" ");
    return [
      `type=SYSCALL msg=audit(${stamp}): arch=${c.arch ?? X86_64} syscall=${c.syscall} success=${exit.startsWith("-") ? "no" : "yes"} exit=${exit} ${args} items=0`,
      `type=EOE msg=audit(${stamp}):`,
    ];
  });
  const file = join(dir, "tables.log");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return { file, labels };
}

/**
 * The differences left once the expected ones are set aside: each as "label field: ours | ausearch", to be
 * KNOWN; and what auditd-parse named clone's flags, which ausearch 3.0.9 leaves in hex (to be EXPECTED_CLONES).
 */
export function tableDifferences(diffs: readonly Difference[], labels: ReadonlyMap<string, string>) {
  const found: string[] = [];
  const clones: Record<string, string | undefined> = {};
  for (const d of diffs) {
    const label = labels.get(d.id) ?? d.id;
    if (
      label.startsWith("clone ") &&
      d.field === "a0" &&
      d.kind === "value" &&
      d.theirs === `0x${hex(Number.parseInt(label.slice(6), 16))}`
    ) {
      clones[label] = d.ours;
      continue;
    }
    // an argument neither reads: ausearch prints the number as 0x…, we keep the hex as logged
    if (d.kind === "value" && d.theirs === `0x${d.ours}`) continue;
    found.push(
      d.kind === "value"
        ? `${label} ${d.field}: ${d.ours} | ${d.theirs}`
        : `${label} ${d.field}: ${d.kind} ${d.ours ?? "-"} | ${d.theirs ?? "-"}`,
    );
  }
  return { found: found.sort(), clones };
}

/** clone's flags by the kernel's names (include/uapi/linux/sched.h). */
export const EXPECTED_CLONES: Record<string, string> = Object.fromEntries(
  CLONES.map(([flags, name]) => [`clone ${hex(flags)}`, name === "0" ? "0" : name]),
);
