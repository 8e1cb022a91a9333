#!/usr/bin/env node
// Generates src/tables/generated.ts (syscall names per audit arch, errno and capability names) from the
// kernel UAPI headers of linux-libc-dev, so the tables are data derived from the kernel, not hand-typed.
// Run: node packages/auditd-parse/scripts/gen-tables.mjs
// (needs: apt-get install linux-libc-dev linux-libc-dev-ppc64el-cross linux-libc-dev-s390x-cross
// linux-libc-dev-armhf-cross linux-libc-dev-riscv64-cross). Where auditd's `ausyscall` is installed, each table is
// then compared with `ausyscall ARCH --dump` (the table ausearch names syscalls by) and every difference printed.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const out = new URL("../src/tables/generated.ts", import.meta.url).pathname;
const src = {
  x86_64: "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
  i386: "/usr/include/x86_64-linux-gnu/asm/unistd_32.h",
  generic: "/usr/include/asm-generic/unistd.h",
  // ppc64 and ppc64le share one table; the cross headers are the other arches' own UAPI headers
  ppc64: "/usr/powerpc64le-linux-gnu/include/asm/unistd_64.h",
  s390x: "/usr/s390x-linux-gnu/include/asm/unistd_64.h",
  // the 32-bit (31-bit) programs of those arches, as ausearch names them too
  ppc: "/usr/powerpc64le-linux-gnu/include/asm/unistd_32.h",
  s390: "/usr/s390x-linux-gnu/include/asm/unistd_32.h",
  // 32-bit ARM, EABI numbering (AUDIT_ARCH_ARM: an armhf/armel system, or a 32-bit process on arm64, whose compat
  // table is the same); the OABI numbers (0x900000 + n) and the ARM-private calls are not audited by these numbers
  arm: "/usr/arm-linux-gnueabihf/include/asm/unistd-eabi.h",
  // riscv64 compiles asm-generic/unistd.h with its own wants, and adds its private calls in asm/unistd.h
  riscvGeneric: "/usr/riscv64-linux-gnu/include/asm-generic/unistd.h",
  riscv: "/usr/riscv64-linux-gnu/include/asm/unistd.h",
  errnoBase: "/usr/include/asm-generic/errno-base.h",
  errno: "/usr/include/asm-generic/errno.h",
  caps: "/usr/include/linux/capability.h",
  audit: "/usr/include/linux/audit.h",
};
for (const file of Object.values(src)) {
  if (!existsSync(file)) {
    process.stderr.write(
      `gen-tables: ${file} is missing (install it: apt-get install linux-libc-dev linux-libc-dev-ppc64el-cross linux-libc-dev-s390x-cross linux-libc-dev-armhf-cross linux-libc-dev-riscv64-cross)\n`,
    );
    process.exit(66);
  }
}
const read = (file) => readFileSync(file, "utf8");

function defines(text, prefix) {
  const map = new Map();
  for (const m of text.matchAll(new RegExp(`^#define\\s+${prefix}(\\w+)\\s+(\\d+)\\b`, "gm"))) map.set(m[1], Number(m[2]));
  return map;
}

function table(map) {
  const names = [];
  for (const [name, nr] of map) if (names[nr] === undefined) names[nr] = name;
  return names;
}

// The lines of a header a compiler keeps with these macros defined and a 64-bit long: asm-generic/unistd.h puts
// what only some arches have (renameat, clone3, the time64 calls of 32-bit ones) under #if.
function preprocess(text, wants) {
  const kept = [];
  const stack = [];
  const on = () => stack.every((s) => s.taken);
  const test = (expr) => {
    const js = expr.replace(/defined\s*\(\s*(\w+)\s*\)/g, (_, m) => String(wants.has(m))).replace(/__BITS_PER_LONG/g, "64");
    if (!/^[\s\w!=|&()]*$/.test(js) || /[a-z_]\w*/i.test(js.replace(/\b(true|false)\b/g, ""))) {
      throw new Error(`gen-tables: cannot evaluate #if ${expr}`);
    }
    return Function(`return (${js});`)();
  };
  for (const line of text.split("\n")) {
    const d = /^#\s*(ifdef|ifndef|if|else|endif)\b\s*(.*?)\s*(\/\*.*)?$/.exec(line);
    if (d === null) {
      if (on()) kept.push(line);
    } else if (d[1] === "ifdef") stack.push({ taken: wants.has(d[2]) });
    else if (d[1] === "ifndef") stack.push({ taken: !wants.has(d[2]) });
    else if (d[1] === "if") stack.push({ taken: test(d[2]) });
    else if (d[1] === "else") stack[stack.length - 1].taken = !stack[stack.length - 1].taken;
    else stack.pop();
  }
  return kept.join("\n");
}

// asm-generic/unistd.h as a 64-bit arch (arm64, riscv64) compiles it: __NR3264_* take their 64-bit names,
// sync_file_range (not sync_file_range2) owns 84, and the arch-private range stays unnamed.
function genericTable(source, wants) {
  const text = preprocess(source, wants);
  const map = defines(text, "__NR_");
  map.delete("syscalls");
  map.delete("arch_specific_syscall");
  map.delete("sync_file_range2");
  const names64 = { fstatat: "newfstatat" };
  for (const [name, nr] of defines(text, "__NR3264_")) map.set(names64[name] ?? name, nr);
  const names = [];
  for (const [name, nr] of map) if (names[nr] === undefined || name === "sync_file_range") names[nr] = name;
  return names;
}

// The __ARCH_WANT_* each arch's asm/unistd.h defines before including asm-generic/unistd.h (Linux 6.1).
const ARM64_WANTS = new Set([
  "__ARCH_WANT_RENAMEAT",
  "__ARCH_WANT_NEW_STAT",
  "__ARCH_WANT_SET_GET_RLIMIT",
  "__ARCH_WANT_TIME32_SYSCALLS",
  "__ARCH_WANT_SYS_CLONE3",
  "__ARCH_WANT_MEMFD_SECRET",
]);
function riscv64Table() {
  const riscv = read(src.riscv);
  const wants = new Set();
  for (const m of riscv.matchAll(/^#define\s+(__ARCH_WANT_\w+)/gm)) wants.add(m[1]);
  const names = genericTable(read(src.riscvGeneric), wants);
  const base = defines(read(src.riscvGeneric), "__NR_").get("arch_specific_syscall");
  for (const m of riscv.matchAll(/^#define\s+__NR_(\w+)\s+\(__NR_arch_specific_syscall \+ (\d+)\)/gm)) {
    names[base + Number(m[2])] = m[1];
  }
  return names;
}
const armDefines = new Map();
for (const m of read(src.arm).matchAll(/^#define\s+__NR_(\w+)\s+\(__NR_SYSCALL_BASE \+ (\d+)\)/gm)) {
  armDefines.set(m[1], Number(m[2]));
}

const errnos = new Map([...defines(read(src.errnoBase), ""), ...defines(read(src.errno), "")]);
const errnoNames = [];
for (const [name, nr] of errnos) if (/^E[A-Z0-9]+$/.test(name) && errnoNames[nr] === undefined) errnoNames[nr] = name;

const capNames = [];
for (const [name, nr] of defines(read(src.caps), "CAP_")) if (!name.startsWith("LAST")) capNames[nr] = name.toLowerCase();

// Record type numbers: the kernel's from linux/audit.h (range markers like FIRST_/LAST_ dropped).
const recordTypes = {};
for (const [name, nr] of defines(read(src.audit), "AUDIT_")) {
  if (nr < 1000 || nr > 2999 || /^(FIRST|LAST)_|_(MIN|MAX)$/.test(name) || recordTypes[nr]) continue;
  recordTypes[nr] = name;
}

const tables = {
  x86_64: table(defines(read(src.x86_64), "__NR_")),
  i386: table(defines(read(src.i386), "__NR_")),
  aarch64: genericTable(read(src.generic), ARM64_WANTS),
  arm: table(armDefines),
  ppc64: table(defines(read(src.ppc64), "__NR_")),
  s390x: table(defines(read(src.s390x), "__NR_")),
  ppc: table(defines(read(src.ppc), "__NR_")),
  s390: table(defines(read(src.s390), "__NR_")),
  riscv64: riscv64Table(),
};

const dense = (arr) => JSON.stringify(Array.from(arr, (v) => v ?? null));
const text = `// Generated by scripts/gen-tables.mjs from linux-libc-dev UAPI headers. Do not edit.
/** Syscall names indexed by number, per audit architecture. */
export const SYSCALLS_X86_64: readonly (string | null)[] = ${dense(tables.x86_64)};
export const SYSCALLS_I386: readonly (string | null)[] = ${dense(tables.i386)};
export const SYSCALLS_AARCH64: readonly (string | null)[] = ${dense(tables.aarch64)};
export const SYSCALLS_ARM: readonly (string | null)[] = ${dense(tables.arm)};
export const SYSCALLS_PPC64: readonly (string | null)[] = ${dense(tables.ppc64)};
export const SYSCALLS_S390X: readonly (string | null)[] = ${dense(tables.s390x)};
export const SYSCALLS_PPC: readonly (string | null)[] = ${dense(tables.ppc)};
export const SYSCALLS_S390: readonly (string | null)[] = ${dense(tables.s390)};
export const SYSCALLS_RISCV64: readonly (string | null)[] = ${dense(tables.riscv64)};
/** errno names indexed by number. */
export const ERRNO_NAMES: readonly (string | null)[] = ${dense(errnoNames)};
/** Capability names indexed by bit. */
export const CAP_NAMES: readonly (string | null)[] = ${dense(capNames)};
/** Kernel audit record type names by number. */
export const KERNEL_RECORD_TYPES: Readonly<Record<number, string>> = ${JSON.stringify(recordTypes)};
`;
writeFileSync(out, text);
process.stdout.write(`wrote ${out}\n`);

// ausearch's own tables, for comparison (auditd 3.0.9 has none for riscv64: `ausyscall riscv64` falls back to the
// host's table, so it is not asked).
const ausyscallArch = {
  x86_64: "x86_64",
  i386: "i386",
  aarch64: "aarch64",
  arm: "arm",
  ppc64: "ppc64",
  s390x: "s390x",
  ppc: "ppc",
  s390: "s390",
};
for (const [arch, name] of Object.entries(ausyscallArch)) {
  let dump;
  try {
    dump = execFileSync("ausyscall", [name, "--dump"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    process.stdout.write("ausyscall not found: tables not compared with ausearch's\n");
    break;
  }
  const theirs = [];
  for (const m of dump.matchAll(/^(\d+)\t(\S+)$/gm)) theirs[Number(m[1])] = m[2];
  const ours = tables[arch];
  const diffs = [];
  for (let nr = 0; nr < Math.max(ours.length, theirs.length); nr++) {
    if ((ours[nr] ?? null) !== (theirs[nr] ?? null)) diffs.push(`${nr}: ${ours[nr] ?? "-"} / ${theirs[nr] ?? "-"}`);
  }
  process.stdout.write(
    `${arch}: ${diffs.length} difference(s) from ausyscall (ours / ausyscall)${diffs.length ? `: ${diffs.join(", ")}` : ""}\n`,
  );
}
