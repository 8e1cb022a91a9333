import { isUtf8 } from "node:buffer";
import { constants } from "node:os";
import { ascii } from "./ascii";
import { isHex } from "./sockaddr";
import {
  CAP_NAMES,
  ERRNO_NAMES,
  SYSCALLS_AARCH64,
  SYSCALLS_ARM,
  SYSCALLS_I386,
  SYSCALLS_PPC,
  SYSCALLS_PPC64,
  SYSCALLS_RISCV64,
  SYSCALLS_S390,
  SYSCALLS_S390X,
  SYSCALLS_X86_64,
} from "./tables/generated";

/** AUDIT_ARCH_* values as audit writes them (lowercase hex). */
const ARCH_NAMES: Readonly<Record<string, string>> = {
  c000003e: "x86_64",
  "40000003": "i386",
  c00000b7: "aarch64",
  "40000028": "arm",
  "00000014": "ppc",
  "80000015": "ppc64",
  c0000015: "ppc64le",
  "80000016": "s390x",
  "00000016": "s390",
  c00000f3: "riscv64",
  "400000f3": "riscv32",
};

const SYSCALL_TABLES: Readonly<Record<string, readonly (string | null)[]>> = {
  x86_64: SYSCALLS_X86_64,
  i386: SYSCALLS_I386,
  aarch64: SYSCALLS_AARCH64,
  // 32-bit ARM (EABI), also a 32-bit program on an arm64 host: the kernel's compat table numbers as EABI does
  arm: SYSCALLS_ARM,
  riscv64: SYSCALLS_RISCV64,
  ppc: SYSCALLS_PPC,
  s390: SYSCALLS_S390,
  // one table for both byte orders of 64-bit PowerPC
  ppc64: SYSCALLS_PPC64,
  ppc64le: SYSCALLS_PPC64,
  s390x: SYSCALLS_S390X,
};

export function archName(raw: string): string | undefined {
  return ARCH_NAMES[raw.toLowerCase()];
}

/** Syscall number → name for arches we have a table for; undefined otherwise. */
export function syscallName(arch: string | undefined, nr: string): string | undefined {
  const n = Number(nr);
  return Number.isInteger(n) ? syscallNumberName(arch, n) : undefined;
}

let syscallNames: Set<string> | undefined;

/** Whether `name` is a syscall of any arch we have a table for (a typo in --syscall is a usage error). */
export function isSyscallName(name: string): boolean {
  syscallNames ??= new Set(Object.values(SYSCALL_TABLES).flatMap((t) => t.filter((n): n is string => n !== null)));
  return syscallNames.has(name);
}

export function syscallNumberName(arch: string | undefined, n: number): string | undefined {
  const table = arch === undefined ? undefined : SYSCALL_TABLES[arch];
  return table?.[n] ?? undefined;
}

/** `-13` → EACCES; other values unchanged (undefined). */
export function errnoName(exit: string): string | undefined {
  if (exit.charCodeAt(0) !== 45) return undefined;
  const n = Number(exit.slice(1));
  return Number.isInteger(n) ? (ERRNO_NAMES[n] ?? undefined) : undefined;
}

/** Hex-encoded untrusted string (audit's encoding for values with spaces or odd bytes) → text. */
export function decodeHexString(hex: string): string | undefined {
  if (hex.length % 2 !== 0 || !isHex(hex)) return undefined;
  const n = hex.length / 2;
  if (n > HEX_SCRATCH_MAX) return Buffer.from(hex, "hex").toString("utf8");
  if (n > textScratch.length) textScratch = Buffer.allocUnsafe(n);
  textScratch.write(hex, 0, n, "hex");
  return textScratch.toString("utf8", 0, n);
}

/**
 * Where decodeHexString decodes before the bytes become text (its own: a decodeHex result may still be in
 * use). Not a Buffer per value: below 4 KiB Buffer.from takes its bytes from node's shared 8 KiB pool slabs, and
 * on a log of long hex-encoded arguments (thousands per 100 MiB) those slabs outlived the scavenges within a long
 * event and waited for a full GC, growing with the input (issue 23: +1.5 to 2.5 MB of peak RSS at 200 MiB against
 * 100 on execs of 150-600 arguments). Grown to the longest value decoded, up to HEX_SCRATCH_MAX; a longer one (a
 * joined aN[i] argument) gets a buffer of its own.
 */
let textScratch = Buffer.allocUnsafe(4096);
const HEX_SCRATCH_MAX = 256 * 1024;

let hexScratch = Buffer.allocUnsafe(4096);

/** decodeHexString() for hex given as bytes of the line: no string is made of the hex itself. */
export function decodeHexAt(buf: Buffer, from: number, to: number): string | undefined {
  const n = decodeHex(buf, from, to);
  return n < 0 ? undefined : hexScratch.toString("utf8", 0, n);
}

/**
 * Decodes the hex in buf[from, to) into hexBytes(), valid until the next call: the number of bytes, -1 when it is
 * not hex. No Buffer view is made per value: one for each proctitle and hex argument or name was a tenth of what
 * `sessions` allocated on the testers' interleaved16 (issue 23).
 */
export function decodeHex(buf: Buffer, from: number, to: number): number {
  const n = to - from;
  if (n === 0 || n % 2 !== 0) return -1;
  if (n / 2 > hexScratch.length) hexScratch = Buffer.allocUnsafe(n);
  const out = hexScratch;
  for (let i = from, o = 0; i < to; i += 2, o++) {
    const hi = HEX_VALUES[buf[i]!]!;
    const lo = HEX_VALUES[buf[i + 1]!]!;
    if ((hi | lo) > 15) return -1;
    out[o] = (hi << 4) | lo;
  }
  return n / 2;
}

/** Where decodeHex put the bytes. */
export function hexBytes(): Buffer {
  return hexScratch;
}

/** Whether bytes[0, length) are UTF-8: ASCII (most) without a view made of them for isUtf8. */
export function utf8Bytes(bytes: Buffer, length: number): boolean {
  return ascii(bytes, 0, length) || isUtf8(bytes.subarray(0, length));
}

/** Byte → its hex digit value, 255 for any other byte. */
const HEX_VALUES = new Uint8Array(256).fill(255);
for (let c = 0; c < 10; c++) HEX_VALUES[48 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX_VALUES[65 + c] = 10 + c;
  HEX_VALUES[97 + c] = 10 + c;
}

/** A capability mask in hex → "chown,net_admin" ("none" when empty). */
export function capNames(hex: string): string | undefined {
  if (!isHex(hex) || hex.length > 16) return undefined;
  const mask = BigInt(`0x${hex}`);
  if (mask === 0n) return "none";
  const names: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((mask >> BigInt(bit)) & 1n) names.push(CAP_NAMES[bit] ?? `cap_${bit}`);
  }
  return names.join(",");
}

const FILE_TYPES: ReadonlyArray<readonly [number, string]> = [
  [0o140000, "socket"],
  [0o120000, "link"],
  [0o100000, "file"],
  [0o060000, "block"],
  [0o040000, "dir"],
  [0o020000, "character"],
  [0o010000, "fifo"],
];

/** Octal st_mode → "file,suid,755", the way `ausearch -i` prints it. */
export function modeText(octal: string): string | undefined {
  if (!/^[0-7]{1,7}$/.test(octal)) return undefined;
  const mode = Number.parseInt(octal, 8);
  const parts: string[] = [];
  const type = FILE_TYPES.find(([bits]) => (mode & 0o170000) === bits);
  if (type) parts.push(type[1]);
  if (mode & 0o4000) parts.push("suid");
  if (mode & 0o2000) parts.push("sgid");
  if (mode & 0o1000) parts.push("sticky");
  parts.push((mode & 0o777).toString(8).padStart(3, "0"));
  return parts.join(",");
}

/** Audit rule permission bits → "rwxa" letters. */
export function permText(value: string): string | undefined {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 15) return undefined;
  if (n === 0) return "none";
  return `${n & 4 ? "r" : ""}${n & 2 ? "w" : ""}${n & 1 ? "x" : ""}${n & 8 ? "a" : ""}`;
}

export type SecurityContext = { user: string; role: string; type: string; level?: string } | { profile: string; mode?: string };

/** SELinux `user:role:type:level` or an AppArmor label `profile (mode)`. */
export function securityContext(value: string): SecurityContext | undefined {
  const space = value.indexOf(" (");
  if (space > 0 && value.endsWith(")")) return { profile: value.slice(0, space), mode: value.slice(space + 2, -1) };
  const parts = value.split(":");
  if (parts.length >= 3 && !value.startsWith("/")) {
    const [user, role, type] = parts as [string, string, string];
    const level = parts.slice(3).join(":");
    return level ? { user, role, type, level } : { user, role, type };
  }
  return value.length > 0 ? { profile: value } : undefined;
}

const SIGNAL_NAMES = new Map<string, string>();
for (const [name, nr] of Object.entries(constants.signals)) if (!SIGNAL_NAMES.has(String(nr))) SIGNAL_NAMES.set(String(nr), name);

/** Signal number → SIGSYS etc. (Linux numbering, as on the host this runs on). */
export function signalName(nr: string): string | undefined {
  return SIGNAL_NAMES.get(nr);
}
