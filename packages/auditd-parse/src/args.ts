import { modeText, signalName } from "./decode";
import { CAP_NAMES } from "./tables/generated";

/**
 * SYSCALL a0–a3 read the way `ausearch -i` reads them, for the syscalls people audit: open flags, socket
 * family and type, clone flags, signals, ptrace requests, mmap protections … The values are the Linux UAPI
 * constants (include/uapi/asm-generic/fcntl.h, mman-common.h, linux/sched.h, linux/ptrace.h, linux/socket.h),
 * the same on x86_64, i386 and aarch64 except the open flags (asm-generic values, which x86 uses; arm64's
 * O_DIRECTORY group differs, so its open flags stay hex). Anything else stays as logged.
 */

type Reader = (n: number) => string | undefined;

/** Bit names in ascending bit order, as ausearch joins them with `|`; undefined when a bit has no name. */
function flags(names: ReadonlyArray<readonly [number, string]>, n: number): string | undefined {
  const out: string[] = [];
  let rest = n;
  for (const [bit, name] of names) {
    // >>> 0: `&` gives a signed 32-bit result, so bit 31 (CLONE_IO) would never equal its table value
    if ((rest & bit) >>> 0 === bit && bit !== 0) {
      out.push(name);
      rest &= ~bit;
    }
  }
  return rest === 0 && out.length > 0 ? out.join("|") : undefined;
}

const OPEN_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0o100, "O_CREAT"],
  [0o200, "O_EXCL"],
  [0o400, "O_NOCTTY"],
  [0o1000, "O_TRUNC"],
  [0o2000, "O_APPEND"],
  [0o4000, "O_NONBLOCK"],
  [0o4010000, "O_SYNC"],
  [0o10000, "O_DSYNC"],
  [0o20000, "O_ASYNC"],
  [0o40000, "O_DIRECT"],
  [0o100000, "O_LARGEFILE"],
  [0o20200000, "O_TMPFILE"],
  [0o200000, "O_DIRECTORY"],
  [0o400000, "O_NOFOLLOW"],
  [0o1000000, "O_NOATIME"],
  [0o2000000, "O_CLOEXEC"],
  [0o10000000, "O_PATH"],
];
const ACCESS_MODES = ["O_RDONLY", "O_WRONLY", "O_RDWR"];

function openFlags(n: number): string | undefined {
  const mode = ACCESS_MODES[n & 3];
  if (mode === undefined) return undefined;
  const rest = n & ~3;
  if (rest === 0) return mode;
  const named = flags(OPEN_FLAGS, rest);
  return named === undefined ? undefined : `${mode}|${named}`;
}

const CLONE_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x100, "CLONE_VM"],
  [0x200, "CLONE_FS"],
  [0x400, "CLONE_FILES"],
  [0x800, "CLONE_SIGHAND"],
  [0x1000, "CLONE_PIDFD"],
  [0x2000, "CLONE_PTRACE"],
  [0x4000, "CLONE_VFORK"],
  [0x8000, "CLONE_PARENT"],
  [0x10000, "CLONE_THREAD"],
  [0x20000, "CLONE_NEWNS"],
  [0x40000, "CLONE_SYSVSEM"],
  [0x80000, "CLONE_SETTLS"],
  [0x100000, "CLONE_PARENT_SETTID"],
  [0x200000, "CLONE_CHILD_CLEARTID"],
  [0x400000, "CLONE_DETACHED"],
  [0x800000, "CLONE_UNTRACED"],
  [0x1000000, "CLONE_CHILD_SETTID"],
  [0x2000000, "CLONE_NEWCGROUP"],
  [0x4000000, "CLONE_NEWUTS"],
  [0x8000000, "CLONE_NEWIPC"],
  [0x10000000, "CLONE_NEWUSER"],
  [0x20000000, "CLONE_NEWPID"],
  [0x40000000, "CLONE_NEWNET"],
  [0x80000000, "CLONE_IO"],
];

/** clone's flags, its low byte the signal sent to the parent on exit (SIGCHLD). */
function cloneFlags(n: number): string | undefined {
  const signal = n & 0xff;
  const named = n & ~0xff ? flags(CLONE_FLAGS, n & ~0xff) : "";
  if (named === undefined) return undefined;
  const sig = signal === 0 ? "" : signalName(String(signal));
  if (sig === undefined) return undefined;
  return [named, sig].filter(Boolean).join("|") || "0";
}

const signal: Reader = (n) => (n === 0 ? undefined : signalName(String(n)));

const PROT: ReadonlyArray<readonly [number, string]> = [
  [1, "PROT_READ"],
  [2, "PROT_WRITE"],
  [4, "PROT_EXEC"],
  [8, "PROT_SEM"],
];
const prot: Reader = (n) => (n === 0 ? "PROT_NONE" : flags(PROT, n));

const MAP_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [0x3, "MAP_SHARED_VALIDATE"],
  [0x1, "MAP_SHARED"],
  [0x2, "MAP_PRIVATE"],
  [0x10, "MAP_FIXED"],
  [0x20, "MAP_ANONYMOUS"],
  [0x100, "MAP_GROWSDOWN"],
  [0x800, "MAP_DENYWRITE"],
  [0x1000, "MAP_EXECUTABLE"],
  [0x2000, "MAP_LOCKED"],
  [0x4000, "MAP_NORESERVE"],
  [0x8000, "MAP_POPULATE"],
  [0x10000, "MAP_NONBLOCK"],
  [0x20000, "MAP_STACK"],
  [0x40000, "MAP_HUGETLB"],
  [0x80000, "MAP_SYNC"],
  [0x100000, "MAP_FIXED_NOREPLACE"],
];
const mapFlags: Reader = (n) => flags(MAP_FLAGS, n);

/** Address families (linux/socket.h), as ausearch names them. */
const FAMILIES: Readonly<Record<number, string>> = {
  0: "unspec",
  1: "local",
  2: "inet",
  3: "ax25",
  4: "ipx",
  5: "appletalk",
  9: "x25",
  10: "inet6",
  16: "netlink",
  17: "packet",
  29: "can",
  31: "bluetooth",
  38: "alg",
  40: "vsock",
  44: "xdp",
};
const family: Reader = (n) => FAMILIES[n];

const SOCK_TYPES: Readonly<Record<number, string>> = {
  1: "SOCK_STREAM",
  2: "SOCK_DGRAM",
  3: "SOCK_RAW",
  4: "SOCK_RDM",
  5: "SOCK_SEQPACKET",
  6: "SOCK_DCCP",
  10: "SOCK_PACKET",
};
/** socket type, with SOCK_NONBLOCK and SOCK_CLOEXEC when set. */
const sockType: Reader = (n) => {
  const type = SOCK_TYPES[n & 0xf];
  if (type === undefined || (n & ~0xf & ~0o4000 & ~0o2000000) !== 0) return undefined;
  return [type, n & 0o4000 ? "SOCK_NONBLOCK" : "", n & 0o2000000 ? "SOCK_CLOEXEC" : ""].filter(Boolean).join("|");
};

/** IP protocols of socket's third argument (0, the family's default, stays as logged). */
const PROTOCOLS: Readonly<Record<number, string>> = { 1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp", 255: "raw" };
const protocol: Reader = (n) => PROTOCOLS[n];

const PTRACE: Readonly<Record<number, string>> = {
  0: "PTRACE_TRACEME",
  1: "PTRACE_PEEKTEXT",
  2: "PTRACE_PEEKDATA",
  3: "PTRACE_PEEKUSER",
  4: "PTRACE_POKETEXT",
  5: "PTRACE_POKEDATA",
  6: "PTRACE_POKEUSER",
  7: "PTRACE_CONT",
  8: "PTRACE_KILL",
  9: "PTRACE_SINGLESTEP",
  12: "PTRACE_GETREGS",
  13: "PTRACE_SETREGS",
  14: "PTRACE_GETFPREGS",
  15: "PTRACE_SETFPREGS",
  16: "PTRACE_ATTACH",
  17: "PTRACE_DETACH",
  18: "PTRACE_GETFPXREGS",
  19: "PTRACE_SETFPXREGS",
  24: "PTRACE_SYSCALL",
  16896: "PTRACE_SETOPTIONS",
  16897: "PTRACE_GETEVENTMSG",
  16898: "PTRACE_GETSIGINFO",
  16899: "PTRACE_SETSIGINFO",
  16900: "PTRACE_GETREGSET",
  16901: "PTRACE_SETREGSET",
  16902: "PTRACE_SEIZE",
  16903: "PTRACE_INTERRUPT",
  16904: "PTRACE_LISTEN",
  16905: "PTRACE_PEEKSIGINFO",
  16906: "PTRACE_GETSIGMASK",
  16907: "PTRACE_SETSIGMASK",
  16908: "PTRACE_SECCOMP_GET_FILTER",
  16909: "PTRACE_SECCOMP_GET_METADATA",
  16910: "PTRACE_GET_SYSCALL_INFO",
};

const AT_FDCWD = 0xffffff9c;
const dirfd: Reader = (n) => (n === AT_FDCWD ? "AT_FDCWD" : undefined);
/** access(2) modes: F_OK, or R_OK|W_OK|X_OK. */
const accessMode: Reader = (n) =>
  n === 0 ? "F_OK" : n > 7 ? undefined : [n & 4 ? "R_OK" : "", n & 2 ? "W_OK" : "", n & 1 ? "X_OK" : ""].filter(Boolean).join("|");
/** chmod's mode, in octal with a leading 0 (ausearch's 0755). */
const chmodMode: Reader = (n) => `0${(n & 0o7777).toString(8).padStart(3, "0")}`;
const mknodMode: Reader = (n) => modeText(n.toString(8));
const CLONE_NS_FLAGS = (n: number) => flags(CLONE_FLAGS, n);
const WHENCE = ["SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"];
const whence: Reader = (n) => WHENCE[n];
const capability: Reader = (n) => CAP_NAMES[n] ?? undefined;
/** A name from a list indexed by the value. */
const listed =
  (names: readonly string[]): Reader =>
  (n) =>
    names[n] || undefined;
const RLIMITS = listed(
  "CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING MSGQUEUE NICE RTPRIO RTTIME".split(" ").map((r) => `RLIMIT_${r}`),
);
const CLOCKS = listed(
  "REALTIME MONOTONIC PROCESS_CPUTIME_ID THREAD_CPUTIME_ID MONOTONIC_RAW REALTIME_COARSE MONOTONIC_COARSE BOOTTIME REALTIME_ALARM BOOTTIME_ALARM  TAI"
    .split(" ")
    .map((c) => (c ? `CLOCK_${c}` : "")),
);
const SCHED_POLICIES = listed(["SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "", "SCHED_IDLE", "SCHED_DEADLINE"]);
const EPOLL_OPS = listed(["", "EPOLL_CTL_ADD", "EPOLL_CTL_DEL", "EPOLL_CTL_MOD"]);
const BPF_CMDS = listed(
  "MAP_CREATE MAP_LOOKUP_ELEM MAP_UPDATE_ELEM MAP_DELETE_ELEM MAP_GET_NEXT_KEY PROG_LOAD OBJ_PIN OBJ_GET PROG_ATTACH PROG_DETACH"
    .split(" ")
    .map((c) => `BPF_${c}`),
);
const UMOUNT_FLAGS: ReadonlyArray<readonly [number, string]> = [
  [1, "MNT_FORCE"],
  [2, "MNT_DETACH"],
  [4, "MNT_EXPIRE"],
  [8, "UMOUNT_NOFOLLOW"],
];

/** socketcall(2)'s call numbers (linux/net.h SYS_*): a 32-bit program's socket calls all go through it. */
const SOCKETCALLS: readonly (string | undefined)[] = [
  undefined,
  "socket",
  "bind",
  "connect",
  "listen",
  "accept",
  "getsockname",
  "getpeername",
  "socketpair",
  "send",
  "recv",
  "sendto",
  "recvfrom",
  "shutdown",
  "setsockopt",
  "getsockopt",
  "sendmsg",
  "recvmsg",
  "accept4",
  "recvmmsg",
  "sendmmsg",
];

/** Readers of a0–a3 by syscall name (undefined: that argument is a pointer, a length … and stays hex). */
const SYSCALL_ARGS: Readonly<Record<string, readonly (Reader | undefined)[]>> = {
  open: [undefined, openFlags],
  openat: [dirfd, undefined, openFlags],
  openat2: [dirfd],
  creat: [undefined, chmodMode],
  socket: [family, sockType, protocol],
  socketpair: [family, sockType],
  // a0 as ausearch reads it (`socketcall(connect)`); net reads it to list the connection (T35 N7)
  socketcall: [(n) => SOCKETCALLS[n]],
  clone: [cloneFlags],
  unshare: [CLONE_NS_FLAGS],
  setns: [undefined, (n) => (n === 0 ? "0" : CLONE_NS_FLAGS(n))],
  kill: [undefined, signal],
  tkill: [undefined, signal],
  tgkill: [undefined, undefined, signal],
  rt_sigaction: [signal],
  rt_tgsigqueueinfo: [undefined, undefined, signal],
  ptrace: [(n) => PTRACE[n]],
  mmap: [undefined, undefined, prot, mapFlags],
  mprotect: [undefined, undefined, prot],
  pkey_mprotect: [undefined, undefined, prot],
  access: [undefined, accessMode],
  faccessat: [dirfd, undefined, accessMode],
  faccessat2: [dirfd, undefined, accessMode],
  chmod: [undefined, chmodMode],
  fchmod: [undefined, chmodMode],
  fchmodat: [dirfd, undefined, chmodMode],
  mkdir: [undefined, chmodMode],
  mkdirat: [dirfd, undefined, chmodMode],
  mknod: [undefined, mknodMode],
  mknodat: [dirfd, undefined, mknodMode],
  unlinkat: [dirfd],
  renameat: [dirfd, undefined, dirfd],
  renameat2: [dirfd, undefined, dirfd],
  linkat: [dirfd, undefined, dirfd],
  symlinkat: [undefined, dirfd],
  fchownat: [dirfd],
  newfstatat: [dirfd],
  utimensat: [dirfd],
  execveat: [dirfd],
  lseek: [undefined, undefined, whence],
  setrlimit: [RLIMITS],
  getrlimit: [RLIMITS],
  prlimit64: [undefined, RLIMITS],
  clock_settime: [CLOCKS],
  clock_adjtime: [CLOCKS],
  sched_setscheduler: [undefined, SCHED_POLICIES],
  epoll_ctl: [undefined, EPOLL_OPS],
  bpf: [BPF_CMDS],
  umount2: [undefined, (n) => flags(UMOUNT_FLAGS, n)],
};

/** Capability numbers of AVC `capability=` and the like. */
export function capabilityName(value: string): string | undefined {
  return /^\d{1,2}$/.test(value) ? capability(Number(value)) : undefined;
}

/** The readers of a syscall's a0–a3 (looked up once per record), undefined when it has none. */
export type ArgReaders = readonly (Reader | undefined)[];
export function argReaders(syscall: string): ArgReaders | undefined {
  return SYSCALL_ARGS[syscall];
}

/** One argument (hex as logged) read by `reader`, or undefined (kept as logged). */
export function readArg(reader: Reader, hex: string): string | undefined {
  if (hex.length === 0 || hex.length > 8 || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return reader(Number.parseInt(hex, 16));
}

/** a0–a3 of `syscall` as ausearch reads it, or undefined (kept as logged). `index` is 0–3. */
export function syscallArg(syscall: string, index: number, hex: string): string | undefined {
  const reader = SYSCALL_ARGS[syscall]?.[index];
  return reader === undefined ? undefined : readArg(reader, hex);
}

/** Record-specific numbers: netfilter's family, the audit filter list, promiscuous mode, seccomp's action. */
const NF_FAMILIES: Readonly<Record<string, string>> = {
  "0": "unspecified",
  "1": "inet",
  "2": "ipv4",
  "3": "arp",
  "5": "netdev",
  "7": "bridge",
  "10": "ipv6",
  "12": "decnet",
};
const FILTER_LISTS = ["user", "task", "entry", "watch", "exit", "exclude", "filesystem", "io_uring"];
const SECCOMP_ACTIONS: Readonly<Record<number, string>> = {
  2147483648: "kill-process",
  0: "kill",
  196608: "trap",
  327680: "errno",
  2143289344: "user-notif",
  2146435072: "trace",
  2147221504: "log",
  2147418112: "allow",
};

export function nfFamily(value: string): string | undefined {
  return NF_FAMILIES[value];
}

export function filterList(value: string): string | undefined {
  return /^\d$/.test(value) ? FILTER_LISTS[Number(value)] : undefined;
}

/** prom=256 / old_prom=0: the interface's IFF_PROMISC (0x100) bit, yes or no. */
export function promiscuous(value: string): string | undefined {
  return /^\d{1,10}$/.test(value) ? (Number(value) & 0x100 ? "yes" : "no") : undefined;
}

/** SECCOMP code=0x7ffc0000: the filter's action (its data, errno number …, stays in raw). */
export function seccompAction(value: string): string | undefined {
  if (!/^0x[0-9a-fA-F]{1,8}$/.test(value)) return undefined;
  return SECCOMP_ACTIONS[(Number.parseInt(value.slice(2), 16) & 0xffff0000) >>> 0];
}

/** res=1 / res=0 of kernel records, in the words of user-space records. */
export function resultText(value: string): string | undefined {
  return value === "1" ? "success" : value === "0" ? "failed" : undefined;
}
