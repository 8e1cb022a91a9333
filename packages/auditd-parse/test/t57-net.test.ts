import { describe, expect, it } from "vitest";
import { syscallName } from "../src/decode";
import { runAuditdParse as run } from "./in-process";

/** T57's findings on syscall names per arch and on `net` (F2, F5, F7, F8, F9): what a user of the bin met. */

/** One event: a SYSCALL record (its arch and number), then `more` records, then EOE. */
function event(serial: number, arch: string, syscall: number, more: string[], opts: { node?: string; uid?: number; key?: string } = {}) {
  const node = opts.node === undefined ? "" : `node=${opts.node} `;
  const stamp = `msg=audit(17000${String(serial).padStart(5, "0")}.000:${serial}):`;
  const uid = opts.uid ?? 1000;
  const ids = `auid=${uid === 33 ? 4294967295 : uid} uid=${uid} gid=${uid} euid=${uid} suid=${uid} fsuid=${uid} egid=${uid} sgid=${uid} fsgid=${uid}`;
  return [
    `${node}type=SYSCALL ${stamp} arch=${arch} syscall=${syscall} success=yes exit=0 a0=3 a1=7ffd a2=10 a3=0 items=0 ppid=1 pid=${serial} ${ids} tty=pts0 ses=1 comm="x" exe="/usr/bin/x" key="${opts.key ?? "net"}"`,
    ...more.map((r) => `${node}${r.replace("STAMP", stamp)}`),
    `${node}type=EOE ${stamp} `,
  ].join("\n");
}

const INET = "type=SOCKADDR STAMP saddr=020001BBC63364070000000000000000";

describe("F2: 32-bit ARM and riscv64 syscalls are named", () => {
  it("names them from the kernel's tables, as ausearch (ausyscall arm) names ARM's", () => {
    // a 32-bit ARM program (armhf, or one on an arm64 host: the compat table numbers as EABI does)
    expect(syscallName("arm", "11")).toBe("execve");
    expect(syscallName("arm", "283")).toBe("connect");
    expect(syscallName("riscv64", "221")).toBe("execve");
    expect(syscallName("riscv64", "203")).toBe("connect");
    // riscv64 has no renameat (asm-generic's __ARCH_WANT_RENAMEAT), and its private call past arch_specific_syscall
    expect(syscallName("riscv64", "38")).toBeUndefined();
    expect(syscallName("riscv64", "259")).toBe("riscv_flush_icache");
    // the 32-bit programs of ppc64 and s390x hosts, which ausearch names too
    expect(syscallName("ppc", "11")).toBe("execve");
    expect(syscallName("s390", "11")).toBe("execve");
  });

  it("an ARM or riscv64 web shell's exec raises SigmaHQ's execve rule, as the x86_64 one does", async () => {
    const exec = (serial: number, arch: string, nr: number) =>
      event(serial, arch, nr, ['type=EXECVE STAMP argc=1 a0="id"'], { uid: 33, key: "detect_execve_www" });
    const log = `${[exec(300, "c000003e", 59), exec(307, "c00000f3", 221), exec(308, "40000028", 11)].join("\n")}\n`;
    const r = await run(["detect", "--json"], log);
    const webshell = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((a) => a.rule.title === "Webshell Remote Command Execution");
    expect(webshell.map((a) => a.event.id.split(":")[1])).toEqual(["300", "307", "308"]);
  });

  it("net lists their connections, and counts in a warning those of an arch it cannot name", async () => {
    const log = `${[
      event(604, "40000028", 283, [INET]),
      event(605, "c00000f3", 203, [INET]),
      // riscv32 (AUDIT_ARCH_RISCV32): no table, its syscall stays a number
      event(606, "400000f3", 203, [INET]),
    ].join("\n")}\n`;
    const r = await run(["net"], log);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("x[604] connect -> inet 198.51.100.7:443");
    expect(r.stdout).toContain("x[605] connect -> inet 198.51.100.7:443");
    expect(r.stdout).not.toContain("[606]");
    expect(r.stderr).toContain("1 event(s) with a socket address not listed: no syscall table for their arch names the call (riscv32: 1)");
  });
});

describe("net", () => {
  it("F5: a saddr that is no hex, or of an odd length, is listed as unreadable with the value logged", async () => {
    const log = `${[event(705, "c000003e", 42, ["type=SOCKADDR STAMP saddr=0200005"]), event(706, "c000003e", 42, ["type=SOCKADDR STAMP saddr=ZZZZ"])].join("\n")}\n`;
    const text = await run(["net"], log);
    expect(text.stdout).toContain("x[705] connect -> unreadable 0200005\n");
    expect(text.stdout).toContain("x[706] connect -> unreadable ZZZZ\n");
    const json = JSON.parse((await run(["net", "--json"], log)).stdout);
    expect(json.map((c: { family: string; address: string }) => [c.family, c.address])).toEqual([
      ["unreadable", "0200005"],
      ["unreadable", "ZZZZ"],
    ]);
  });

  it("F5: sessions lists such a connection too, in its session", async () => {
    const log = `${event(705, "c000003e", 42, ["type=SOCKADDR STAMP saddr=ZZZZ"])}\n`;
    const r = await run(["sessions", "--json"], log);
    expect(r.code).toBe(0);
    expect(JSON.stringify(JSON.parse(r.stdout))).toContain('"family":"unreadable","address":"ZZZZ"');
  });

  it("F7: a unix path that is not UTF-8 keeps its bytes, so two such sockets read apart", async () => {
    // /tmp/\xff\xfe bad and /tmp/\xfe\xff bad: the same text once each invalid byte is U+FFFD
    const unix = (serial: number, hex: string) =>
      event(serial, "c000003e", 42, [`type=SOCKADDR STAMP saddr=01002F746D702F${hex}2062616400`]);
    const log = `${[unix(517, "FFFE"), unix(518, "FEFF")].join("\n")}\n`;
    const text = (await run(["net"], log)).stdout.split("\n");
    expect(text[0]).toContain(String.raw`connect -> unix /tmp/\377\376 bad`);
    expect(text[1]).toContain(String.raw`connect -> unix /tmp/\376\377 bad`);
    const json = JSON.parse((await run(["net", "--json"], log)).stdout);
    expect(json.map((c: { address: string; addressRaw?: string }) => [c.address, c.addressRaw])).toEqual([
      ["/tmp/\ufffd\ufffd bad", "2F746D702FFFFE20626164"],
      ["/tmp/\ufffd\ufffd bad", "2F746D702FFEFF20626164"],
    ]);
  });

  it("F7: sessions keeps those bytes too (its records read for them, not used after their event was written)", async () => {
    const unix = (serial: number, hex: string) =>
      event(serial, "c000003e", 42, [`type=SOCKADDR STAMP saddr=01002F746D702F${hex}2062616400`]);
    const r = await run(["sessions", "--json"], `${[unix(517, "FFFE"), unix(518, "FEFF")].join("\n")}\n`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const [session] = JSON.parse(r.stdout);
    expect(session.connections.map((c: { addressRaw?: string }) => c.addressRaw)).toEqual([
      "2F746D702FFFFE20626164",
      "2F746D702FFEFF20626164",
    ]);
  });

  it("F8: the text list names each connection's host on a multi-host log", async () => {
    const log = `${[event(501, "c000003e", 42, [INET], { node: "web01" }), event(502, "c000003e", 42, [INET], { node: "db02" })].join("\n")}\n`;
    const lines = (await run(["net"], log)).stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^\S+ node=web01 cloudsdk|^\S+ node=web01 1000 /);
    expect(lines[1]).toMatch(/^\S+ node=db02 /);
  });

  it("F8: the peer of a datagram received (recvfrom, recvmsg, recvmmsg) is listed, inbound", async () => {
    const log = `${[event(1102, "c000003e", 45, [INET]), event(1103, "c000003e", 47, [INET]), event(1104, "c000003e", 299, [INET])].join("\n")}\n`;
    const r = await run(["net"], log);
    expect(r.stdout).toContain("x[1102] recvfrom <- inet 198.51.100.7:443");
    expect(r.stdout).toContain("x[1103] recvmsg <- inet 198.51.100.7:443");
    expect(r.stdout).toContain("x[1104] recvmmsg <- inet 198.51.100.7:443");
  });

  it("F9: --format ndjson writes one JSON connection a line; the default stays the text list", async () => {
    const log = `${[event(601, "c000003e", 42, [INET]), event(602, "c000003e", 42, [INET])].join("\n")}\n`;
    for (const args of [
      ["net", "--format", "ndjson"],
      ["--format", "ndjson", "net"],
    ]) {
      const r = await run(args, log);
      expect(r.code).toBe(0);
      expect(
        r.stdout
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).id),
      ).toEqual(["1700000601.000:601", "1700000602.000:602"]);
    }
    expect((await run(["net"], log)).stdout).toMatch(/^\S+ \S+ x\[601\] connect -> inet/);
    const csv = await run(["net", "--format", "csv"], log);
    expect(csv.code).toBe(64);
    expect(csv.stderr).toContain("use text, ndjson, --json");
  });
});
