/**
 * An audit log whose every shown value is hostile — user names, host names, addresses, command lines, file
 * names — for the sessions HTML tests (text and browser). Each payload would set window.__pwned if it ran.
 */

const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();

export const HOSTILE = {
  script: "<script>window.__pwned=1</script>",
  img: '"><img src=x onerror="window.__pwned=2">',
  url: "javascript:window.__pwned=3",
  controls: "a\u001b[31mred\u0007\rFAKE\u2028\u202eevil",
  closePre: "</pre></details><script>window.__pwned=4</script>",
};

/** A user name for passwd: no ':' or newline, otherwise anything. */
export const EVIL_USER = '"><svg onload=window.__pwned=5>';
/** A node= value: no spaces. */
export const EVIL_NODE = "<img/src=x/onerror=window.__pwned=6>";

export function passwdFile(): string {
  return `${EVIL_USER}:x:1000:1000::/home/x:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n`;
}

/** Two sessions of the hostile user on a hostile host, one of bob on `web1`, and a failed login with a hostile account. */
export function hostileLog(): string {
  const node = `node=${EVIL_NODE}`;
  const pam = (t: number, n: number, type: string, exe: string, ses: number, auid = 1000) =>
    `${node} type=${type} msg=audit(${t}.000:${n}): pid=900 uid=0 auid=${auid} ses=${ses} msg='op=PAM:session_${type === "USER_END" ? "close" : "open"} acct=${hex(HOSTILE.img)} exe="${exe}" hostname=${hex(HOSTILE.script)} addr=203.0.113.9 terminal=ssh res=success'`;
  const exec = (t: number, n: number, uid: number, args: string[], ses = 7, host = node) => [
    `${host} type=SYSCALL msg=audit(${t}.000:${n}): arch=c000003e syscall=59 success=yes exit=0 ppid=900 pid=901 auid=1000 uid=${uid} ses=${ses} comm="sh" exe="/bin/sh"`,
    `${host} type=EXECVE msg=audit(${t}.000:${n}): argc=${args.length} ${args.map((a, i) => `a${i}=${hex(a)}`).join(" ")}`,
    `${host} type=CWD msg=audit(${t}.000:${n}): cwd=${hex(HOSTILE.url)}`,
    `${host} type=EOE msg=audit(${t}.000:${n}):`,
  ];
  return `${[
    `node=web1 type=USER_LOGIN msg=audit(1700000000.000:1): pid=800 uid=0 auid=4294967295 ses=4294967295 msg='op=login acct=${hex(HOSTILE.controls)} exe="/usr/sbin/sshd" hostname=${hex(HOSTILE.url)} addr=198.51.100.7 terminal=ssh res=failed'`,
    pam(1700000010, 10, "USER_START", "/usr/sbin/sshd", 7),
    ...exec(1700000011, 11, 1000, ["sh", "-c", `${HOSTILE.script} ${HOSTILE.controls} ${HOSTILE.closePre}`]),
    // sudo inside the session: a privilege change, and a command run as root
    pam(1700000012, 12, "USER_START", "/usr/bin/sudo", 7),
    ...exec(1700000013, 13, 0, ["cat", HOSTILE.img]),
    pam(1700000014, 14, "USER_END", "/usr/bin/sudo", 7),
    // a file created under a hostile name
    `${node} type=SYSCALL msg=audit(1700000015.000:15): arch=c000003e syscall=257 success=yes exit=3 items=2 ppid=900 pid=903 auid=1000 uid=1000 ses=7 comm="touch" exe="/usr/bin/touch"`,
    `${node} type=PATH msg=audit(1700000015.000:15): item=0 name="/tmp/" inode=1 dev=08:01 mode=041777 ouid=0 ogid=0 rdev=00:00 nametype=PARENT`,
    `${node} type=PATH msg=audit(1700000015.000:15): item=1 name=${hex(`/tmp/${HOSTILE.closePre}`)} inode=2 dev=08:01 mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype=CREATE`,
    `${node} type=EOE msg=audit(1700000015.000:15):`,
    // an outbound connection
    `${node} type=SYSCALL msg=audit(1700000016.000:16): arch=c000003e syscall=42 success=yes exit=0 pid=904 auid=1000 uid=1000 ses=7 comm="curl" exe="/usr/bin/curl"`,
    `${node} type=SOCKADDR msg=audit(1700000016.000:16): saddr=020001BBCB0071050000000000000000`,
    `${node} type=EOE msg=audit(1700000016.000:16):`,
    pam(1700000020, 20, "USER_END", "/usr/sbin/sshd", 7),
    // bob on web1
    `node=web1 type=USER_START msg=audit(1700000030.000:30): pid=700 uid=0 auid=1001 ses=9 msg='op=PAM:session_open acct="bob" exe="/usr/sbin/sshd" hostname=192.0.2.4 addr=192.0.2.4 terminal=ssh res=success'`,
    ...exec(1700000031, 31, 1001, ["uptime"], 9, "node=web1"),
    `node=web1 type=USER_END msg=audit(1700000040.000:40): pid=700 uid=0 auid=1001 ses=9 msg='op=PAM:session_close acct="bob" exe="/usr/sbin/sshd" hostname=192.0.2.4 addr=192.0.2.4 terminal=ssh res=success'`,
  ].join("\n")}\n`;
}
