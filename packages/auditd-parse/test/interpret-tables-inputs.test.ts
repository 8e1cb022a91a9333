import { describe, expect, it } from "vitest";
import { capabilityName, filterList, promiscuous, resultText, seccompAction, syscallArg } from "../src/args";
import { errnoName, modeText } from "../src/decode";
import { parseText } from "../src/index";

// Values no kernel writes but a forged or damaged log can hold (mutation module auditd-interpret-tables, round 16:
// the run found these unpinned). Each must stay as logged rather than be read as a near-miss: a wrong name in
// an audit trail is worse than the raw number.

describe("an argument the tables cannot read exactly stays as logged", () => {
  it("flags with a bit no table names, or none set where none is named", () => {
    // MNT_FORCE plus an unknown bit: not "MNT_FORCE"
    expect(syscallArg("umount2", 1, "11")).toBeUndefined();
    expect(syscallArg("umount2", 1, "1")).toBe("MNT_FORCE");
    // no mmap flag set: nothing to name, not ""
    expect(syscallArg("mmap", 3, "0")).toBeUndefined();
    // open: the access mode 3 (no such mode), or O_CREAT with an unknown bit
    expect(syscallArg("open", 1, "43")).toBeUndefined();
    expect(syscallArg("open", 1, (0o100000000 | 0o100).toString(16))).toBeUndefined();
    expect(syscallArg("open", 1, "41")).toBe("O_WRONLY|O_CREAT");
    // clone with an exit signal no one knows
    expect(syscallArg("clone", 0, "17f")).toBeUndefined();
    expect(syscallArg("clone", 0, "111")).toBe("CLONE_VM|SIGCHLD");
  });

  it("an argument that is not 1 to 8 hex digits", () => {
    for (const hex of ["", "100000000", "zz", "zz0", "0zz", "0x41"]) expect(syscallArg("open", 1, hex), hex).toBeUndefined();
    expect(syscallArg("open", 1, "0")).toBe("O_RDONLY");
  });

  it("record numbers in any other spelling than the kernel's decimal or 0x-hex", () => {
    for (const v of ["0x1", "1e1", "+1", "1.0"]) expect(capabilityName(v), v).toBeUndefined();
    expect(capabilityName("12")).toBe("net_admin");
    for (const v of ["+4", "4.0", "44"]) expect(filterList(v), v).toBeUndefined();
    expect(filterList("4")).toBe("exit");
    for (const v of ["x256", "256x", "-256"]) expect(promiscuous(v), v).toBeUndefined();
    expect(promiscuous("256")).toBe("yes");
    for (const v of ["zz", "junk0x0", "0x7fff0000zz", "0x"]) expect(seccompAction(v), v).toBeUndefined();
    expect(seccompAction("0x7fff0000")).toBe("allow");
    expect(resultText("2")).toBeUndefined();
  });

  it("a file mode that is not 1 to 7 octal digits; a mode's permission bits always three digits", () => {
    for (const v of ["abc", "9755", "7559", "12345678"]) expect(modeText(v), v).toBeUndefined();
    expect(modeText("100007")).toBe("file,007");
    expect(modeText("40000")).toBe("dir,000");
    // chmod's mode as ausearch prints it: a leading 0 and three digits, 0007 not 07
    expect(syscallArg("chmod", 1, "7")).toBe("0007");
    expect(syscallArg("chmod", 1, "24")).toBe("0044");
  });
});

describe("a successful syscall's exit value", () => {
  it("is a number, not an errno name: exit=13 (13 bytes read) is not ESRCH (errno 3) or EACCES (errno 13)", () => {
    expect(errnoName("13")).toBeUndefined();
    expect(errnoName("-13")).toBe("EACCES");
    const { events } = parseText(
      "type=SYSCALL msg=audit(100.000:1): arch=c000003e syscall=0 success=yes exit=13 a0=3 a1=7ffd a2=20 a3=0 items=0\ntype=EOE msg=audit(100.000:1): ",
    );
    expect(JSON.stringify(events[0])).not.toMatch(/"E[A-Z]{2,}"/);
  });
});
