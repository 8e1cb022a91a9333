#!/usr/bin/env python3
"""Realistic Linux audit log generator for auditd-parse benchmarks (tester T21).

    python3 gen.py SHAPE MiB OUT [SEED]

SHAPE: corpus16 | mixed | longargv | manypath | interleaved16 | avc | sessions
Deterministic: the same SHAPE, MiB and SEED (default 21) give the same bytes.
stdlib only. Real records are taken from ../shared/corpus/audit (laurel's and
go-libaudit's test logs), re-stamped with new times and serials, each event's
records kept together (with its EOE where the original has one).
"""
import os
import random
import re
import sys

# the checkout's ../shared (as the conformance suite reads it), or AUDIT_CORPUS
CORPUS = os.environ.get(
    "AUDIT_CORPUS",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "shared", "corpus", "audit"),
)
GS = "\x1d"
REC_RE = re.compile(rb"^(node=(\S+) )?type=(\S+) msg=audit\((\d+)\.(\d+):(\d+)\):")
T0 = 1764500000  # 2025-11-30T10:53:20Z


# ----------------------------------------------------------------- corpus
def load_corpus():
    """Every corpus event: list of lists of record bodies (bytes after the
    'msg=audit(...):' header) with their type: [(type, body), ...]."""
    if not os.path.isdir(CORPUS):
        sys.exit("gen.py: no audit corpus at %s (set AUDIT_CORPUS to ../shared/corpus/audit)" % CORPUS)
    files = []
    for root, _dirs, names in os.walk(CORPUS):
        for n in sorted(names):
            if n.endswith(".txt") and n != "README.txt" or n.endswith(".log"):
                files.append(os.path.join(root, n))
    files.sort()
    events = []
    for f in files:
        with open(f, "rb") as fh:
            data = fh.read()
        order = []
        groups = {}
        for line in data.split(b"\n"):
            line = line.rstrip(b"\r")
            m = REC_RE.match(line)
            if not m:
                continue
            key = (m.group(2), m.group(4), m.group(5), m.group(6))
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append((m.group(3), line[m.end():]))
        for k in order:
            events.append(groups[k])
    return events


class Clock:
    """Log time in ms, advancing a little each event."""

    def __init__(self, rnd, start=T0 * 1000):
        self.ms = start
        self.rnd = rnd

    def tick(self, lo=0, hi=7):
        self.ms += self.rnd.randint(lo, hi)
        return self.ms


def stamp(ms, serial):
    return b"msg=audit(%d.%03d:%d):" % (ms // 1000, ms % 1000, serial)


class Host:
    def __init__(self, name, rnd, serial=None, skew_ms=0):
        self.name = name
        self.prefix = (b"node=" + name.encode() + b" ") if name else b""
        self.serial = serial if serial is not None else rnd.randint(1000, 5_000_000)
        self.skew = skew_ms

    def next_serial(self):
        self.serial = (self.serial + 1) & 0xFFFFFFFF
        return self.serial


def render(host, ms, serial, recs):
    """recs: [(type bytes, body bytes)] -> list of lines (bytes, no newline)."""
    st = stamp(ms + host.skew, serial)
    return [host.prefix + b"type=" + t + b" " + st + body for (t, body) in recs]


# ------------------------------------------------------------ record makers
USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "build"]
HEXCHARS = "0123456789ABCDEF"


def hexs(s):
    if isinstance(s, str):
        s = s.encode("utf-8", "surrogateescape")
    return s.hex().upper()


def needs_hex(b):
    # the kernel hex-encodes a value with a space, a quote, a control char or >0x7e
    return any(c <= 0x20 or c >= 0x7F or c == 0x22 for c in b)


def aval(s):
    b = s.encode("utf-8", "surrogateescape") if isinstance(s, str) else s
    if needs_hex(b):
        return b.hex().upper().encode()
    return b'"' + b + b'"'


def syscall_rec(rnd, *, sc=59, arch="c000003e", success=True, exit_=0, items=2, ppid=1, pid=2,
                auid=1000, uid=1000, gid=1000, ses=1, tty="pts0", comm="bash", exe="/usr/bin/bash",
                key=None, enriched=False, uname=None, auname=None, scname="execve", a=None):
    a = a or [rnd.getrandbits(44), rnd.getrandbits(44), rnd.getrandbits(44), 0]
    body = (" arch=%s syscall=%d success=%s exit=%d a0=%x a1=%x a2=%x a3=%x items=%d ppid=%d pid=%d "
            "auid=%d uid=%d gid=%d euid=%d suid=%d fsuid=%d egid=%d sgid=%d fsgid=%d tty=%s ses=%d "
            % (arch, sc, "yes" if success else "no", exit_, a[0], a[1], a[2], a[3], items, ppid, pid,
               auid, uid, gid, uid, uid, uid, gid, gid, gid, tty, ses)).encode()
    body += b"comm=" + aval(comm) + b" exe=" + aval(exe)
    body += b" subj=unconfined key=" + (aval(key) if key else b"(null)")
    if enriched:
        un = uname or ("root" if uid == 0 else "uid%d" % uid)
        an = auname or ("unset" if auid == 4294967295 else ("root" if auid == 0 else "uid%d" % auid))
        gn = "root" if gid == 0 else un
        body += (GS + 'ARCH=x86_64 SYSCALL=%s AUID="%s" UID="%s" GID="%s" EUID="%s" SUID="%s" '
                 'FSUID="%s" EGID="%s" SGID="%s" FSGID="%s"' % (scname, an, un, gn, un, un, un, gn, gn, gn)).encode()
    return (b"SYSCALL", body)


def execve_recs(argv, rnd, maxlen=7500):
    """Build EXECVE record bodies the way the kernel's audit_log_execve_info does:
    records of at most ~maxlen bytes, an argument that does not fit split into
    aN_len= aN[0]= aN[1]= ... chunks (hex when it needs encoding)."""
    recs = []
    cur = [b" argc=%d" % len(argv)]
    rem = maxlen - len(cur[0])

    def flush():
        nonlocal cur, rem
        recs.append((b"EXECVE", b"".join(cur)))
        cur = []
        rem = maxlen

    for i, arg in enumerate(argv):
        b = arg.encode("utf-8", "surrogateescape") if isinstance(arg, str) else arg
        enc = needs_hex(b)
        full = len(b) * 2 if enc else len(b) + 2
        if full + 16 <= rem:
            cur.append(b" a%d=" % i + (b.hex().upper().encode() if enc else b'"' + b + b'"'))
            rem -= full + 16
            continue
        if full + 16 <= maxlen - 16:
            flush()
            cur.append(b" a%d=" % i + (b.hex().upper().encode() if enc else b'"' + b + b'"'))
            rem -= full + 16
            continue
        # long argument: chunks
        it = 0
        off = 0
        while off < len(b):
            if rem < 200:
                flush()
            hdr = (b" a%d_len=%d" % (i, len(b)) if it == 0 else b"") + b" a%d[%d]=" % (i, it)
            room = rem - len(hdr) - 2
            n = room // 2 if enc else room
            chunk = b[off:off + n]
            cur.append(hdr + (chunk.hex().upper().encode() if enc else b'"' + chunk + b'"'))
            rem -= len(hdr) + (len(chunk) * 2 if enc else len(chunk) + 2)
            off += len(chunk)
            it += 1
    if cur:
        flush()
    return recs


def path_rec(item, name, *, nametype="NORMAL", mode="0100755", ouid=0, ogid=0, inode=None, rnd=None,
             enriched=False):
    inode = inode if inode is not None else rnd.randint(1000, 9_999_999)
    body = b" item=%d name=" % item + (aval(name) if name is not None else b"(null)")
    body += (" inode=%d dev=fd:01 mode=%s ouid=%d ogid=%d rdev=00:00 nametype=%s cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0"
             % (inode, mode, ouid, ogid, nametype)).encode()
    if enriched:
        body += (GS + 'OUID="%s" OGID="%s"' % ("root" if ouid == 0 else "uid%d" % ouid,
                                               "root" if ogid == 0 else "gid%d" % ogid)).encode()
    return (b"PATH", body)


def cwd_rec(cwd):
    return (b"CWD", b" cwd=" + aval(cwd))


def proctitle_rec(argv):
    b = b"\x00".join(a.encode("utf-8", "surrogateescape") if isinstance(a, str) else a for a in argv)[:128]
    return (b"PROCTITLE", b" proctitle=" + (b.hex().upper().encode() if needs_hex(b) else b'"' + b + b'"'))


EOE = (b"EOE", b" ")


def exec_event(rnd, argv, *, exe, uid=1000, auid=1000, ses=1, pid=None, ppid=None, cwd="/home/build",
               key="exec", enriched=False, uname=None, auname=None, tty="pts0", extra_paths=0, success=True):
    pid = pid or rnd.randint(300, 4_000_000)
    ppid = ppid or rnd.randint(300, 4_000_000)
    comm = os.path.basename(exe)[:15]
    recs = [syscall_rec(rnd, sc=59, items=2 + extra_paths, pid=pid, ppid=ppid, uid=uid, auid=auid, gid=uid,
                        ses=ses, tty=tty, comm=comm, exe=exe, key=key, enriched=enriched, uname=uname,
                        auname=auname, success=success, exit_=0 if success else -2)]
    recs += execve_recs(argv, rnd)
    recs.append(cwd_rec(cwd))
    recs.append(path_rec(0, exe, rnd=rnd, enriched=enriched))
    recs.append(path_rec(1, "/lib64/ld-linux-x86-64.so.2", rnd=rnd, enriched=enriched))
    for k in range(extra_paths):
        recs.append(path_rec(2 + k, "/usr/lib/x86_64-linux-gnu/lib%s.so.%d" % (rnd.choice(["c", "m", "z", "ssl", "crypto", "pthread", "stdc++"]), k), rnd=rnd, enriched=enriched, mode="0100644"))
    recs.append(proctitle_rec(argv))
    recs.append(EOE)
    return recs


# ----------------------------------------------------------------- output
class Out:
    def __init__(self, path, mib):
        self.fh = open(path, "wb")
        self.limit = int(mib * 1048576)
        self.n = 0
        self.buf = []
        self.blen = 0

    def lines(self, lines):
        for l in lines:
            self.buf.append(l)
            self.buf.append(b"\n")
            self.blen += len(l) + 1
        if self.blen > 1 << 20:
            self.flush()

    def full(self):
        return self.n + self.blen >= self.limit

    def flush(self):
        self.fh.write(b"".join(self.buf))
        self.n += self.blen
        self.buf = []
        self.blen = 0

    def close(self):
        self.flush()
        self.fh.close()


# ----------------------------------------------------------------- shapes
def build_args(rnd, kind):
    n = rnd.randint(5, 60)
    if kind == "rsync":
        argv = ["rsync", "-a", "--delete", "--info=progress2", "-e", "ssh -o BatchMode=yes"]
        while len(argv) < n:
            argv.append("src/%s/%s_%d.%s" % (rnd.choice(["core", "net", "ui", "db"]), rnd.choice(["main", "util", "test", "io"]),
                                            rnd.randint(0, 999), rnd.choice(["c", "h", "go", "py", "rs"])))
        argv.append("deploy@10.1.%d.%d:/srv/app/" % (rnd.randint(0, 255), rnd.randint(1, 254)))
        return "/usr/bin/rsync", argv[:max(n, 7)]
    if kind == "cc":
        argv = ["cc", "-O2", "-g", "-Wall", "-Wextra", "-fPIC", "-DNDEBUG", "-DVERSION=\"1.%d\"" % rnd.randint(0, 9), "-Iinclude"]
        while len(argv) < n - 3:
            argv.append(rnd.choice(["-I", "-D", "-W"]) + rnd.choice(["third_party/zlib", "HAVE_CONFIG_H", "no-unused", "build/gen", "FOO=bar baz", "error=format"]))
        argv += ["-c", "src/file%d.c" % rnd.randint(0, 9999), "-o", "build/file.o"]
        return "/usr/bin/x86_64-linux-gnu-gcc-12", argv
    argv = ["git", rnd.choice(["commit", "log", "add", "diff", "fetch"])]
    if argv[1] == "commit":
        argv += ["-m", "fix: handle \u00e9dge case in the parser\nsecond line"]
    while len(argv) < n:
        argv.append("path/to/%s_%d.txt" % (rnd.choice(["readme", "notes", "data", "r\u00e9sum\u00e9"]), rnd.randint(0, 9999)))
    return "/usr/bin/git", argv


def corpus_event(rnd, host, clock, corpus, idx):
    recs = corpus[idx % len(corpus)]
    ms = clock.tick()
    return render(host, ms, host.next_serial(), recs)


def gen_corpus16(rnd, out):
    corpus = load_corpus()
    hosts = [Host("web%02d.prod.example.net" % i, rnd) for i in range(16)]
    clock = Clock(rnd)
    pos = [rnd.randrange(len(corpus)) for _ in hosts]
    while not out.full():
        h = rnd.randrange(16)
        out.lines(corpus_event(rnd, hosts[h], clock, corpus, pos[h]))
        pos[h] += 1


def gen_mixed(rnd, out):
    corpus = load_corpus()
    host = Host("build01", rnd)
    clock = Clock(rnd)
    i = 0
    while not out.full():
        if rnd.random() < 0.5:
            exe, argv = build_args(rnd, rnd.choice(["rsync", "cc", "git"]))
            recs = exec_event(rnd, argv, exe=exe, uid=1000 + rnd.randint(0, 3), auid=1000 + rnd.randint(0, 3),
                              ses=rnd.randint(1, 40), cwd="/home/build/src/proj%d" % rnd.randint(0, 9))
            out.lines(render(host, clock.tick(), host.next_serial(), recs))
        else:
            out.lines(corpus_event(rnd, host, clock, corpus, i))
            i += 1


def rand_word(rnd, lo=3, hi=20):
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789_-./") for _ in range(rnd.randint(lo, hi)))


def gen_longargv(rnd, out):
    host = Host("ci-runner-7", rnd)
    clock = Clock(rnd)
    while not out.full():
        n = rnd.randint(150, 600)
        exe = rnd.choice(["/usr/bin/find", "/usr/bin/xargs", "/usr/bin/grep", "/usr/bin/tar", "/usr/bin/java"])
        argv = [os.path.basename(exe)]
        for i in range(n - 1):
            r = rnd.random()
            if r < 0.10:  # needs hex: space, quote, non-ascii, control
                argv.append(rnd.choice(["my file %d.txt" % i, "say \"hi\"", "caf\u00e9-%d" % i, "tab\there", "line\nbreak",
                                        "\u65e5\u672c\u8a9e%d" % i]))
            elif r < 0.115:  # long argument: split into aN[i] chunks
                size = rnd.randint(8000, 30000)
                if rnd.random() < 0.5:
                    argv.append("-Dclasspath=" + ":".join("/opt/lib/%s.jar" % rand_word(rnd) for _ in range(size // 20)))
                else:
                    argv.append("--data=" + " ".join(rand_word(rnd) for _ in range(size // 12)))
            else:
                argv.append(rand_word(rnd, 4, 40))
        uid = rnd.choice([0, 1000, 1001, 1002])
        un = "root" if uid == 0 else USERS[uid - 1000]
        recs = exec_event(rnd, argv, exe=exe, uid=uid, auid=1000 + rnd.randint(0, 2), ses=rnd.randint(1, 30),
                          enriched=True, uname=un, auname=USERS[rnd.randint(0, 2)], cwd="/var/lib/ci/work %d" % rnd.randint(0, 9))
        out.lines(render(host, clock.tick(), host.next_serial(), recs))


def gen_manypath(rnd, out):
    hosts = [Host("node%03d.dc%d.example.com" % (i, i % 3), rnd) for i in range(200)]
    clock = Clock(rnd)
    while not out.full():
        h = hosts[rnd.randrange(200)]
        n = rnd.randint(20, 120)
        uid = rnd.choice([0, 1000, 1001])
        un = "root" if uid == 0 else USERS[uid - 1000]
        sc, scname = rnd.choice([(59, "execve"), (257, "openat"), (82, "rename"), (263, "unlinkat")])
        recs = [syscall_rec(rnd, sc=sc, scname=scname, items=n, uid=uid, auid=uid, gid=uid, ses=rnd.randint(1, 99),
                            comm="dpkg", exe="/usr/bin/dpkg", key="pkg_mgmt", enriched=True, uname=un, auname=un,
                            pid=rnd.randint(300, 99999), ppid=rnd.randint(300, 99999))]
        if sc == 59:
            recs += execve_recs(["dpkg", "-i", "/var/cache/apt/archives/pkg_%d.deb" % rnd.randint(0, 999)], rnd)
        recs.append(cwd_rec("/"))
        for k in range(n):
            nm = rnd.choice(["/usr/share/doc/pkg%d/" % k, "/usr/lib/x86_64-linux-gnu/", "/etc/pkg.d/"]) + rand_word(rnd, 4, 30)
            if rnd.random() < 0.05:
                nm += " (deleted)"
            recs.append(path_rec(k, nm, nametype=rnd.choice(["NORMAL", "PARENT", "CREATE", "DELETE"]),
                                 mode=rnd.choice(["0100644", "040755", "0100755"]), rnd=rnd, enriched=True))
        recs.append((b"PROCTITLE", b" proctitle=" + hexs("dpkg\x00-i\x00pkg.deb").encode()))
        recs.append(EOE)
        out.lines(render(h, clock.tick(), h.next_serial(), recs))


def user_rec(rnd, typ, *, pid, uid=0, auid, ses, op, acct, exe, host, addr, terminal, res, old=False, enriched=False):
    """User-space PAM/login record. old=True gives the old 'PAM: ...' text form."""
    hdr = " pid=%d uid=%d auid=%d ses=%d subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 " % (pid, uid, auid, ses)
    if old:
        oldop = {"USER_AUTH": "authentication", "USER_ACCT": "accounting", "CRED_ACQ": "setcred",
                 "USER_START": "session open", "USER_END": "session close", "CRED_DISP": "setcred",
                 "USER_LOGIN": "login"}.get(typ, "authentication")
        hdr = " pid=%d uid=%d auid=%d subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 " % (pid, uid, auid)
        if pid % 2:
            tail = "(hostname=%s, addr=%s, terminal=%s res=%s)" % (host, addr, terminal, res)
        else:
            tail = "hostname=%s addr=%s terminal=%s res=%s" % (host, addr, terminal, res)
        body = "user" + hdr + "msg='PAM: %s acct=%s : exe=\"%s\" %s'" % (oldop, acct, exe, tail)
        return (typ.encode(), b" " + body.encode())
    if typ == "USER_LOGIN":
        m = "op=login id=%s exe=\"%s\" hostname=%s addr=%s terminal=%s res=%s" % (
            acct if res == "success" else "4294967295", exe, host, addr, terminal, res)
        if res != "success":
            m = "op=login acct=\"%s\" exe=\"%s\" hostname=%s addr=%s terminal=%s res=%s" % (acct, exe, host, addr, terminal, res)
    else:
        m = "op=%s grantors=%s acct=\"%s\" exe=\"%s\" hostname=%s addr=%s terminal=%s res=%s" % (
            op, "pam_unix" if res == "success" else "?", acct, exe, host, addr, terminal, res)
    body = hdr + "msg='" + m + "'"
    if enriched:
        body += GS + 'UID="root" AUID="%s"' % ("unset" if auid == 4294967295 else "uid%d" % auid)
    return (typ.encode(), body.encode())


AVC_CASES = [
    ("read", "httpd", "/usr/sbin/httpd", "index.html", "system_u:system_r:httpd_t:s0", "unconfined_u:object_r:user_home_t:s0", "file"),
    ("write", "nginx", "/usr/sbin/nginx", "app.sock", "system_u:system_r:httpd_t:s0", "system_u:object_r:var_run_t:s0", "sock_file"),
    ("name_connect", "php-fpm", "/usr/sbin/php-fpm", None, "system_u:system_r:httpd_t:s0", "system_u:object_r:mysqld_port_t:s0", "tcp_socket"),
    ("getattr open read", "sshd", "/usr/sbin/sshd", "authorized_keys", "system_u:system_r:sshd_t:s0-s0:c0.c1023", "unconfined_u:object_r:admin_home_t:s0", "file"),
    ("execute", "sh", "/usr/bin/bash", "payload", "system_u:system_r:httpd_t:s0", "system_u:object_r:tmp_t:s0", "file"),
    ("sys_admin", "containerd", "/usr/bin/containerd", None, "system_u:system_r:container_runtime_t:s0", "system_u:system_r:container_runtime_t:s0", "capability"),
    ("search", "rpcbind", "/usr/sbin/rpcbind", "net", "system_u:system_r:rpcbind_t:s0", "system_u:object_r:sysctl_net_t:s0", "dir"),
]


def avc_rec(rnd, pid=None, permissive=0, case=None):
    perms, comm, exe, name, sctx, tctx, tclass = case or rnd.choice(AVC_CASES)
    pid = pid or rnd.randint(300, 99999)
    s = "avc:  denied  { %s } for  pid=%d comm=\"%s\"" % (perms, pid, comm)
    if tclass == "capability":
        s += " capability=21 "  # the kernel writes two spaces before scontext here
    elif tclass == "tcp_socket":
        s += " dest=%d" % rnd.choice([3306, 5432, 6379])
    else:
        s += " name=\"%s\" dev=\"dm-0\" ino=%d" % (name, rnd.randint(1000, 9999999))
    s += " scontext=%s tcontext=%s tclass=%s permissive=%d" % (sctx, tctx, tclass, permissive)
    return (b"AVC", b" " + s.encode()), (pid, comm, exe)


def user_avc_rec(rnd):
    unit = rnd.choice(["nginx.service", "backup.timer", "sshd.service", "docker.socket"])
    op = rnd.choice(["status", "start", "stop", "reload"])
    m = ("avc:  denied  { %s } for auid=%d uid=0 gid=0 path=\"/usr/lib/systemd/system/%s\" cmdline=\"/usr/bin/systemctl %s %s\" "
         "scontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 tcontext=system_u:object_r:systemd_unit_file_t:s0 "
         "tclass=service permissive=0  exe=\"/usr/lib/systemd/systemd\" sauid=0 hostname=? addr=? terminal=?"
         % (op, rnd.choice([1000, 1001, 0]), unit, op, unit))
    return (b"USER_AVC", b" pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0 msg='" + m.encode() + b"'")


def gen_avc(rnd, out):
    hosts = [Host("selinux%02d" % i, rnd) for i in range(8)]
    clock = Clock(rnd)
    while not out.full():
        h = hosts[rnd.randrange(len(hosts))]
        r = rnd.random()
        ms = clock.tick()
        if r < 0.25:  # AVC + SYSCALL + PROCTITLE + EOE, as with audit rules loaded
            avc, (pid, comm, exe) = avc_rec(rnd)
            recs = [avc]
            if rnd.random() < 0.3:
                avc2, _ = avc_rec(rnd, pid=pid, case=[c for c in AVC_CASES if c[1] == comm][0])
                recs.append(avc2)
            recs.append(syscall_rec(rnd, sc=rnd.choice([2, 257, 42, 4]), success=False, exit_=-13, items=1, pid=pid,
                                    uid=rnd.choice([0, 48, 1000]), auid=4294967295, ses=4294967295, tty="(none)", comm=comm, exe=exe))
            if rnd.random() < 0.5:
                recs.append(cwd_rec("/"))
                recs.append(path_rec(0, "/var/www/html/index.html", rnd=rnd, mode="0100644"))
            recs.append(proctitle_rec([exe, "-DFOREGROUND"]))
            recs.append(EOE)
        elif r < 0.75:
            avc, _ = avc_rec(rnd, permissive=rnd.choice([0, 0, 1]))
            recs = [avc]
        else:
            recs = [user_avc_rec(rnd)]
        out.lines(render(h, ms, h.next_serial(), recs))


# --- interleaved16: per-host event streams, records emitted one at a time
def login_events(rnd, user, uid, ses, old, sshd_pid, addr):
    """the records of an ssh login, one event each (as sshd logs them)."""
    evs = []
    common = dict(pid=sshd_pid, exe="/usr/sbin/sshd", host=addr, addr=addr, terminal="ssh", old=old)
    evs.append([user_rec(rnd, "USER_AUTH", auid=4294967295, ses=4294967295, op="PAM:authentication", acct=user, res="success", **common)])
    evs.append([user_rec(rnd, "USER_ACCT", auid=4294967295, ses=4294967295, op="PAM:accounting", acct=user, res="success", **common)])
    evs.append([user_rec(rnd, "CRED_ACQ", auid=4294967295, ses=4294967295, op="PAM:setcred", acct=user, res="success", **common)])
    evs.append([(b"LOGIN", (" pid=%d uid=0 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 old-auid=4294967295 auid=%d tty=(none) old-ses=4294967295 ses=%d res=1" % (sshd_pid, uid, ses)).encode()),
                syscall_rec(rnd, sc=1, uid=0, auid=uid, gid=0, ses=ses, pid=sshd_pid, tty="(none)", comm="sshd", exe="/usr/sbin/sshd", items=0, exit_=4),
                (b"PROCTITLE", b" proctitle=" + hexs("sshd: %s [priv]" % user).encode())])
    evs.append([user_rec(rnd, "USER_START", auid=uid, ses=ses, op="PAM:session_open", acct=user, res="success", **common)])
    evs.append([user_rec(rnd, "USER_LOGIN", auid=uid, ses=ses, op="login", acct=str(uid), res="success", **common)])
    return evs


def logout_events(rnd, user, uid, ses, old, sshd_pid, addr):
    common = dict(pid=sshd_pid, exe="/usr/sbin/sshd", host=addr, addr=addr, terminal="ssh", old=old)
    return [[user_rec(rnd, "USER_END", auid=uid, ses=ses, op="PAM:session_close", acct=user, res="success", **common)],
            [user_rec(rnd, "CRED_DISP", auid=uid, ses=ses, op="PAM:setcred", acct=user, res="success", **common)]]


CMDS = [("/usr/bin/ls", ["ls", "-la"]), ("/usr/bin/cat", ["cat", "/etc/hosts"]), ("/usr/bin/vim", ["vim", "notes.md"]),
        ("/usr/bin/git", ["git", "pull", "--rebase"]), ("/usr/bin/curl", ["curl", "-fsS", "https://example.org/x"]),
        ("/usr/bin/ps", ["ps", "auxww"]), ("/usr/bin/tail", ["tail", "-n", "100", "/var/log/syslog"]),
        ("/usr/bin/python3", ["python3", "-c", "print('hello world')"]), ("/usr/bin/id", ["id"])]


def command_event(rnd, user, uid, ses, tty, pid, enriched=False):
    exe, argv = rnd.choice(CMDS)
    return exec_event(rnd, argv, exe=exe, uid=uid, auid=uid, ses=ses, pid=pid, ppid=pid - 1, cwd="/home/" + user,
                      key="exec", tty=tty, enriched=enriched, uname=user, auname=user)[:-1]  # no EOE


def host_stream(rnd, hi, n_events_hint):
    """Endless generator of events (lists of records) for one interleaved16 host."""
    ses = rnd.randint(100, 1000)
    while True:
        user = USERS[rnd.randrange(len(USERS))]
        uid = 1000 + USERS.index(user)
        ses += 1
        old = rnd.random() < 0.3
        sshd_pid = rnd.randint(10000, 90000)
        addr = "198.51.100.%d" % rnd.randint(1, 254)
        if rnd.random() < 0.1:  # failed login
            yield [user_rec(rnd, "USER_AUTH", pid=sshd_pid, auid=4294967295, ses=4294967295, op="PAM:authentication", acct=user,
                            exe="/usr/sbin/sshd", host=addr, addr=addr, terminal="ssh", res="failed", old=old)]
            yield [user_rec(rnd, "USER_LOGIN", pid=sshd_pid, auid=4294967295, ses=4294967295, op="login", acct=user,
                            exe="/usr/sbin/sshd", host=addr, addr=addr, terminal="ssh", res="failed", old=old)]
            continue
        for ev in login_events(rnd, user, uid, ses, old, sshd_pid, addr):
            yield ev
        pid = sshd_pid + 2
        for _ in range(rnd.randint(3, 30)):
            pid += rnd.randint(1, 20)
            yield command_event(rnd, user, uid, ses, "pts%d" % (ses % 20), pid)
            if rnd.random() < 0.05:
                avc, _ = avc_rec(rnd, pid=pid)
                yield [avc]
        for ev in logout_events(rnd, user, uid, ses, old, sshd_pid, addr):
            yield ev


def gen_interleaved16(rnd, out):
    hosts = [Host("app%02d.example.org" % i, rnd, skew_ms=rnd.choice([0, 0, 0, 0, 1500, -40000, 90000])) for i in range(16)]
    streams = [host_stream(random.Random(rnd.random()), i, 0) for i in range(16)]
    clocks = [Clock(random.Random(rnd.random())) for _ in range(16)]
    pending = [[] for _ in range(16)]  # records (lines) of the current event per host
    stopping = False
    while True:
        live = [i for i in range(16) if pending[i] or not stopping]
        if not live:
            break
        i = rnd.choice(live)
        if not pending[i]:
            if stopping:
                continue
            ev = next(streams[i])
            h = hosts[i]
            pending[i] = render(h, clocks[i].tick(0, 60), h.next_serial(), ev)
        # emit one record of host i (records of one host stay in order)
        out.lines([pending[i].pop(0)])
        if out.full():
            stopping = True


def gen_sessions(rnd, out):
    hosts = [Host("login%d.corp.example.com" % i, rnd) for i in range(4)]
    clock = Clock(rnd)
    users = ["user%03d" % i for i in range(200)]
    active = []  # per active session: dict
    ses_counter = [rnd.randint(1000, 5000) for _ in hosts]
    while True:
        ms = clock.tick(1, 25)
        want_new = not out.full() and (len(active) < 60 and rnd.random() < 0.08 or not active)
        if want_new:
            hi = rnd.randrange(4)
            h = hosts[hi]
            ui = rnd.randrange(200)
            user, uid = users[ui], 2000 + ui
            addr = "203.0.113.%d" % rnd.randint(1, 254)
            if rnd.random() < 0.07:
                out.lines(render(h, ms, h.next_serial(), [user_rec(rnd, "USER_AUTH", pid=rnd.randint(1000, 99999), auid=4294967295, ses=4294967295, op="PAM:authentication", acct=user, exe="/usr/sbin/sshd", host=addr, addr=addr, terminal="ssh", res="failed")]))
                out.lines(render(h, clock.tick(1, 3), h.next_serial(), [user_rec(rnd, "USER_LOGIN", pid=rnd.randint(1000, 99999), auid=4294967295, ses=4294967295, op="login", acct=user, exe="/usr/sbin/sshd", host=addr, addr=addr, terminal="ssh", res="failed")]))
                continue
            ses_counter[hi] += 1
            s = dict(h=h, user=user, uid=uid, ses=ses_counter[hi], old=rnd.random() < 0.2, sshd=rnd.randint(1000, 99999), addr=addr,
                     left=rnd.randint(5, 80), pid=0)
            s["pid"] = s["sshd"] + 3
            for k, ev in enumerate(login_events(rnd, user, uid, s["ses"], s["old"], s["sshd"], addr)):
                out.lines(render(h, clock.tick(1, 2), h.next_serial(), ev + [EOE] if ev[0][0] == b"LOGIN" else ev))
            active.append(s)
            continue
        if not active:
            break
        s = rnd.choice(active)
        h = s["h"]
        if s["left"] <= 0 or out.full():
            for k, ev in enumerate(logout_events(rnd, s["user"], s["uid"], s["ses"], s["old"], s["sshd"], s["addr"])):
                out.lines(render(h, clock.tick(1, 2), h.next_serial(), ev))
            active.remove(s)
            continue
        s["left"] -= 1
        s["pid"] += rnd.randint(1, 30)
        r = rnd.random()
        tty = "pts%d" % (s["ses"] % 30)
        if r < 0.75:
            recs = command_event(rnd, s["user"], s["uid"], s["ses"], tty, s["pid"]) + [EOE]
        elif r < 0.9:  # outbound connect
            ip = [10, rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(1, 254)]
            port = rnd.choice([22, 443, 5432, 6379])
            sa = "0200%04X%02X%02X%02X%02X0000000000000000" % (port, *ip)
            recs = [syscall_rec(rnd, sc=42, success=rnd.random() < 0.8, exit_=0, items=0, pid=s["pid"], ppid=s["pid"] - 1,
                                uid=s["uid"], auid=s["uid"], gid=s["uid"], ses=s["ses"], tty=tty, comm="curl", exe="/usr/bin/curl", key="net"),
                    (b"SOCKADDR", b" saddr=" + sa.encode()),
                    proctitle_rec(["curl", "https://10.0.0.1/"]), EOE]
        else:  # sudo
            cmd = rnd.choice(["systemctl restart nginx", "apt-get upgrade -y", "cat /etc/shadow", "rm -rf /tmp/x"])
            ok = rnd.random() < 0.9
            recs = [(b"USER_CMD", (" pid=%d uid=%d auid=%d ses=%d subj=unconfined msg='cwd=\"/home/%s\" cmd=%s exe=\"/usr/bin/sudo\" terminal=%s res=%s'"
                                   % (s["pid"], s["uid"], s["uid"], s["ses"], s["user"], hexs(cmd), tty, "success" if ok else "failed")).encode())]
            out.lines(render(h, ms, h.next_serial(), recs))
            if not ok:
                continue
            common = dict(pid=s["pid"], uid=0, auid=s["uid"], ses=s["ses"], exe="/usr/bin/sudo", host="?", addr="?", terminal="/dev/" + tty)
            for typ, op in (("CRED_REFR", "PAM:setcred"), ("USER_START", "PAM:session_open")):
                out.lines(render(h, clock.tick(1, 1), h.next_serial(), [user_rec(rnd, typ, op=op, acct="root", res="success", **common)]))
            argv = cmd.split(" ")
            out.lines(render(h, clock.tick(1, 1), h.next_serial(), exec_event(rnd, argv, exe="/usr/bin/" + argv[0], uid=0, auid=s["uid"], ses=s["ses"],
                                                                      pid=s["pid"] + 1, ppid=s["pid"], cwd="/home/" + s["user"], tty=tty)))
            for typ, op in (("USER_END", "PAM:session_close"), ("CRED_DISP", "PAM:setcred")):
                out.lines(render(h, clock.tick(1, 1), h.next_serial(), [user_rec(rnd, typ, op=op, acct="root", res="success", **common)]))
            continue
        out.lines(render(h, ms, h.next_serial(), recs))


SHAPES = {"corpus16": gen_corpus16, "mixed": gen_mixed, "longargv": gen_longargv, "manypath": gen_manypath,
          "interleaved16": gen_interleaved16, "avc": gen_avc, "sessions": gen_sessions}


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in SHAPES:
        sys.stderr.write(__doc__)
        sys.exit(64)
    shape, mib, path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 21
    rnd = random.Random("%s:%d" % (shape, seed))
    out = Out(path, mib)
    SHAPES[shape](rnd, out)
    out.close()


if __name__ == "__main__":
    main()
