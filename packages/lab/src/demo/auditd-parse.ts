import { execFile } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DemoSection } from "./types";

const BUNDLE = new URL("../../../auditd-parse/dist/auditd-parse.cjs", import.meta.url).pathname;

// An SSH session as auditd writes it: PAM records, then an execve with a hex-encoded argument and a
// connect() whose sockaddr is hex, each spread over several records of one event.
const AUDIT_LOG = `type=USER_AUTH msg=audit(1763890000.100:501): pid=4242 uid=0 auid=4294967295 ses=4294967295 subj=unconfined msg='op=PAM:authentication grantors=pam_unix acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=success'
type=USER_LOGIN msg=audit(1763890000.200:502): pid=4242 uid=0 auid=1001 ses=7 subj=unconfined msg='op=login id=1001 exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=/dev/pts/0 res=success'
type=USER_START msg=audit(1763890000.210:503): pid=4242 uid=0 auid=1001 ses=7 subj=unconfined msg='op=PAM:session_open grantors=pam_unix acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=success'
type=SYSCALL msg=audit(1763890005.000:504): arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=1 ppid=4250 pid=4251 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=7 comm="curl" exe="/usr/bin/curl" key="exec"
type=EXECVE msg=audit(1763890005.000:504): argc=3 a0="curl" a1="-s" a2=68747470733A2F2F6578616D706C652E636F6D2F612062
type=CWD msg=audit(1763890005.000:504): cwd="/home/alice"
type=PATH msg=audit(1763890005.000:504): item=0 name="/usr/bin/curl" inode=1234 dev=08:01 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0
type=PROCTITLE msg=audit(1763890005.000:504): proctitle=6375726C002D730068747470733A2F2F6578616D706C652E636F6D2F612062
type=EOE msg=audit(1763890005.000:504): 
type=SYSCALL msg=audit(1763890005.100:505): arch=c000003e syscall=42 success=no exit=-115 a0=5 a1=7ffc a2=10 a3=0 items=0 ppid=4250 pid=4251 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=7 comm="curl" exe="/usr/bin/curl" key="net"
type=SOCKADDR msg=audit(1763890005.100:505): saddr=020001BBC63364070000000000000000
type=PROCTITLE msg=audit(1763890005.100:505): proctitle=6375726C002D730068747470733A2F2F6578616D706C652E636F6D2F612062
type=EOE msg=audit(1763890005.100:505): 
type=USER_END msg=audit(1763890060.000:506): pid=4242 uid=0 auid=1001 ses=7 subj=unconfined msg='op=PAM:session_close grantors=pam_unix acct="alice" exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=203.0.113.7 terminal=ssh res=success'
`;

export const auditdParseDemo: DemoSection = {
  title: "auditd-parse: an SSH session's raw audit records as readable events and a session timeline",
  async run(lab, out) {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run "node scripts/build.mjs auditd-parse" first`);
    const log = join(lab.dir, "audit.log");
    const passwd = join(lab.dir, "audit-passwd");
    writeFileSync(log, AUDIT_LOG);
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001:Alice:/home/alice:/bin/bash\n");
    out(`input: ${AUDIT_LOG.trimEnd().split("\n").length} raw records (hex argv and proctitle, hex sockaddr, numeric ids)`);
    for (const args of [
      ["--format", "text", "--type", "SYSCALL"],
      ["sessions", "--format", "text"],
    ]) {
      const r = await auditdParse([...args, "--passwd", passwd, log]);
      out(`$ auditd-parse ${args.join(" ")} audit.log   (exit ${r.code})`);
      for (const line of r.stdout.trimEnd().split("\n").filter(Boolean)) out(`  ${line}`);
      for (const line of r.stderr.trimEnd().split("\n").filter(Boolean)) out(`  stderr: ${line}`);
      if (r.code !== 0) throw new Error(`auditd-parse ${args.join(" ")} exited ${r.code}`);
    }
  },
};

function auditdParse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BUNDLE, ...args], { env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
      resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
    });
  });
}
