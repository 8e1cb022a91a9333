import { describe, expect, it } from "vitest";
import { type AuditEvent, AuditParser } from "../src/index";
import { JsonBytes } from "../src/json";

/** A seeded generator of integers below n (an LCG), so a failing seeded case repeats. */
function seeded(seed: number): (n: number) => number {
  let state = seed;
  return (n) => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
}

const hex = (s: string) => Buffer.from(s).toString("hex").toUpperCase();

/** Each event's NDJSON line, parsed, for the given parser options. */
function lines(log: Buffer, options: ConstructorParameters<typeof AuditParser>[1] = {}): unknown[] {
  const out: unknown[] = [];
  const parser = new AuditParser((_e: AuditEvent, json) => out.push(JSON.parse(String(json))), options);
  // odd chunk sizes: lines and UTF-8 sequences split across chunks
  for (let i = 0; i < log.length; i += 37) parser.pushBytes(log.subarray(i, i + 37));
  parser.end();
  return out;
}

type Rec = { type: string; fields: Record<string, unknown>; raw?: Record<string, unknown>; enriched?: unknown; text?: string };

/** The records of a one-event log. */
const recordsOf = (line: string): Rec[] => (lines(Buffer.from(`${line}\n`))[0] as { records: Rec[] }).records;

const BODIES = [
  'arch=c000003e syscall=59 success=yes exit=-13 a0=7ffd items=2 ppid=1 pid=5 auid=0 uid=1000 gid=0 euid=4294967295 ses=4294967295 tty=(none) comm="ls" exe=2F62696E2F6C73 subj=unconfined_u:unconfined_r:unconfined_t:s0 key=(null)',
  'item=0 name="/tmp/a b" inode=12 dev=fd:01 mode=0104755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0000000000003000 cap_fi=0 cap_fe=0',
  'cwd="/home/x" sig=9 perm=6 res=success saddr=020001BB5DB8D8220000000000000000',
  'name="caf\u00e9 \u00fc" comm="tab\there" data="back\\\\slash" x=? y="?" z=(null) w=""',
  'a=1 b=2\x1dAUID="root" UID="root" ARCH=x86_64',
  'key=6B310001B2 cmd=2F62696E2F7368202D63 path="with space"',
  'key="exec" saddr="020001BB5DB8D8220000000000000000" x=1',
  'key=7A7A key="" saddr=zz saddr=01002F746D702F73 saddr=0A00',
  "key=6E6574776F726B016578656301 saddr=10000000D20400000000000000",
  "saddr=020001BB5DB8D8220000000000000000\x1dSADDR={ saddr_fam=inet laddr=93.184.216.34 lport=443 }",
  'a=1\x1dSADDR={saddr_fam=local path=/run/x=y}X={ } Y={} Z="q"',
  "a=1\x1dSADDR={ saddr_fam=netlink nlnk-fam=16 nlnk-pid=0 } UID=root",
  // not plain pairs: read by the text tokenizer, in both records
  'a=1\x1dSADDR={ unknown-family } B={ x="y z" } C={ old a=1 } D={ a=(b) (c) } E={ a={b} }',
  "a=1\x1dF={ a{b=1 } G=2",
  // hex names, decoded into the record on the byte path (hexField): spaces, UTF-8, invalid UTF-8, JSON escapes
  `item=0 name=${hex("/tmp/a b")} name=${hex("caf\u00e9 \u00fc\u2028")} name=2f746d70 name=FF2FC3 name=${hex('q"\\\t\u0001\u007f')} nametype=NORMAL`,
  // not decoded: odd length, not hex, empty, (null), longer than hexField's bound (field() reads those)
  `name=2F7 name=2G name= name=(null) name=${"2F".repeat(4097)} file=${hex("x y")} path=${hex("/a b")}`,
];

/** User-space records' msg='…': read on the byte path when its pairs are plain, else by the text tokenizer. */
const NESTED = [
  'pid=4242 uid=0 auid=1001 ses=10 subj=unconfined msg=\'op=PAM:session_open grantors=pam_unix,pam_env acct="bob" exe="/usr/sbin/sshd" hostname=203.0.113.7 addr=? terminal=ssh res=success\'',
  "pid=1 uid=0 msg='cwd=\"/root\" cmd=6C73202D6C exe=2F7573722F62696E2F7375646F terminal=pts/0 res=failed' x=1",
  "pid=1 msg='' b=2",
  "pid=1 msg='a= b=\"\"'c=3",
  "pid=1 msg='op=x pid=2 res=yes'",
  "pid=1 msg='msg=inner'",
  "pid=1 msg='a=1' other='b=2'",
  "pid=1 msg='PAM: session open : exe=\"/bin/su\" (hostname=?, addr=?, terminal=cron res=success)'",
  "pid=1 msg='avc:  received policyload notice (seqno=2)  exe=\"/usr/lib/systemd/systemd\" sauid=0'",
  // USER_AVC's shapes (libselinux's avc_audit): a denial, a grant, cut short, no perms, braces without spaces
  'pid=1 uid=0 auid=4294967295 msg=\'avc:  denied  { start } for auid=1000 uid=0 gid=0 path="/usr/lib/systemd/system/foo.service" cmdline="" scontext=system_u:system_r:init_t:s0 tcontext=system_u:object_r:systemd_unit_file_t:s0 tclass=service permissive=1  exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?\'',
  "pid=1 msg='avc:  granted  { send_msg } for msgtype=method_call interface=org.x dest=org.y spid=1 tpid=2 scontext=a:b:c:s0 tcontext=d:e:f:s0 tclass=dbus permissive=0 exe=\"/usr/bin/dbus-daemon\" sauid=81'",
  "pid=1 msg='avc:  denied  { read write } for",
  "pid=1 msg='avc:  denied  for tclass=x'",
  "pid=1 msg='avc: denied {start} for pid=2 seresult=x'",
  "pid=1 msg='a=\"x'",
  "pid=1 msg='unterminated",
  "pid=1 msg='a=1\x1dB=2'",
  'pid=1 msg=\'a=1\' \x1dAUID="root" UID="root"',
];

/**
 * A user-space record read on the byte path and through the text tokenizer (a first word `(word)` sends it there:
 * its text loses that word), held to the same event; its record and how many records took the text path.
 */
function sameViaText(type: string, body: string): { record: Rec; textPath: number } {
  const parser = new AuditParser(() => {});
  parser.pushBytes(Buffer.from(`type=${type} msg=audit(1.000:1): ${body}\n`));
  parser.end();
  const fast = lines(Buffer.from(`type=${type} msg=audit(1.000:1): ${body}\n`))[0] as { records: Rec[] };
  const viaText = lines(Buffer.from(`type=${type} msg=audit(1.000:1): (word) ${body}\n`))[0] as { records: Rec[] };
  const rec = viaText.records[0]!;
  rec.text = rec.text === "(word)" ? undefined : rec.text?.replace(/^\(word\) /, "");
  if (rec.text === undefined) delete rec.text;
  expect(fast, body).toEqual(viaText);
  return { record: fast.records[0]!, textPath: parser.stats.textPath };
}

describe("byte path", () => {
  // Round 40: a value read from a cache (context, arch, exit, key, saddr, uid) has its raw JSON made once with the
  // reading, not escaped again from the bytes at every field; it must read as the bytes do, escapes and all
  it("writes a cached value's raw JSON as the text tokenizer does, escapes and all, first seen and again", () => {
    const odd = ["s\\y\u0001s_u:r\u2028:t\u007f:s0", "\u00fcnconfined_u:\u00e9:t:s0-s0:c0.c1023", "sys_u:ob\\j:t\\:s1"];
    for (const ctx of odd) {
      for (const body of [
        `arch=c000003e syscall=42 success=no exit=-13 uid=0 gid=0 auid=4294967295 subj=${ctx} key=6E6574`,
        `arch=zz\\${ctx} exit=-9\u0002 saddr=02000050C0A80001 subj=${ctx}`,
      ]) {
        const type = body.startsWith("arch=zz") ? "SOCKADDR" : "SYSCALL";
        const { record, textPath } = sameViaText(type, body);
        expect(textPath).toBe(0);
        const raw = record.raw as Record<string, string>;
        expect(raw.subj).toBe(ctx);
        if (type === "SYSCALL") expect([raw.arch, raw.uid, raw.exit, raw.key]).toEqual(["c000003e", "0", "-13", "6E6574"]);
      }
      // a kernel AVC's two contexts, in one event: the second read from the cache the first filled
      const avc = `avc:  denied  { read } for  pid=1 comm="x" scontext=${ctx} tcontext=${ctx} tclass=file permissive=0`;
      const [first, second] = recordsOf(`type=AVC msg=audit(1.000:1): ${avc}\ntype=AVC msg=audit(1.000:1): ${avc}`);
      for (const record of [first!, second!]) expect(record.raw).toEqual({ scontext: ctx, tcontext: ctx });
    }
  });

  it("reads a plain key=value record exactly as the text tokenizer does", () => {
    for (const body of BODIES) {
      const fast = recordsOf(`type=PATH msg=audit(1.000:1): ${body}`)[0]!;
      // a free-text word sends the same record through the text tokenizer; only "text" may differ
      const viaText = recordsOf(`type=PATH msg=audit(1.000:1): (word) ${body}`)[0]!;
      expect(viaText.text).toBe("(word)");
      delete viaText.text;
      expect(fast).toEqual(viaText);
    }
  });

  it("gives the event the same summary as the text tokenizer does", () => {
    /** The event's NDJSON, with the text path's extra "text":"(word)" taken out. */
    const event = (line: string) => {
      const e = lines(Buffer.from(`${line}\n`))[0] as { records: Rec[] };
      delete e.records[0]!.text;
      return e;
    };
    for (const type of ["SYSCALL", "USER_START"]) {
      for (const body of [...BODIES, ...NESTED]) {
        const fast = event(`type=${type} msg=audit(1.000:1): ${body}`);
        expect(event(`type=${type} msg=audit(1.000:1): (word) ${body}`)).toEqual(fast);
      }
    }
    expect(event(`type=SYSCALL msg=audit(1.000:1): ${BODIES.find((b) => b.startsWith("key=6E65"))}`)).toMatchObject({
      keys: ["network", "exec", ""],
      sockaddr: { family: "netlink", pid: 1234, groups: 0 },
    });
    expect(event(`type=USER_START msg=audit(1.000:1): ${NESTED[0]}`)).toMatchObject({ exe: "/usr/sbin/sshd", success: true, uid: "root" });
  });

  it("reads msg='…' pairs as the text tokenizer does, whatever the punctuation", () => {
    // seeded, so a failure repeats: bodies built from the pieces the nested rules look at
    const next = seeded(7);
    const pieces = ["a", "res", "exe", "=", "=", " ", " ", '"', "x", ",", ")", "(", "?", "'", "{", "}", "\x1d", "pid", "msg"];
    // a USER_AVC's leading words too: the byte path reads them before it knows where the msg ends
    const openings = ["", "", "avc:  denied  { start } for ", "avc:  denied  { ", "avc: ", " avc:  granted  {x} for "];
    for (let i = 0; i < 3000; i++) {
      let inner = openings[next(openings.length)]!;
      for (let k = next(12); k > 0; k--) inner += pieces[next(pieces.length)];
      // half of them as the kernel writes msg='…', last in the body (the byte path reads only those)
      const body = `pid=1 msg='${inner}'${next(2) === 0 ? " b=2" : ""}`;
      const fast = recordsOf(`type=USER_END msg=audit(1.000:1): ${body}`)[0]!;
      const viaText = recordsOf(`type=USER_END msg=audit(1.000:1): (word) ${body}`)[0]!;
      viaText.text = viaText.text === "(word)" ? undefined : viaText.text?.replace(/^\(word\) /, "");
      if (viaText.text === undefined) delete viaText.text;
      expect(fast, body).toEqual(viaText);
    }
  }, 120_000); // 3,000 seeded bodies: about 7 s on a quiet 2-core machine, far more when it is shared

  it("ends msg='…' at the ' that ends the body, as the kernel writes it, whatever quotes libaudit left inside (T44, T45)", () => {
    // a login from "it's.example" was read as hostname "it", res "success'" and a failure: --success yes dropped it
    const login = `pid=2000 uid=0 auid=1000 ses=3 msg='op=login id=1000 exe="/usr/bin/login" hostname=it's.example addr=10.0.0.1 terminal=pts/1 res=success'`;
    const { record, textPath } = sameViaText("USER_LOGIN", login);
    expect(textPath).toBe(0);
    expect(record.fields).toMatchObject({ hostname: "it's.example", addr: "10.0.0.1", terminal: "pts/1", res: "success" });
    expect(record.text).toBeUndefined();
    expect(lines(Buffer.from(`type=USER_LOGIN msg=audit(1.000:1): ${login}\n`))[0]).toMatchObject({ success: true });
    // a host that ends in ' or starts with one (libaudit writes PAM_RHOST as given): still the whole value
    for (const [host, shape] of [
      ["x'", "hostname=x' addr=10.0.0.1"],
      ["'=", "hostname='= addr=10.0.0.1"],
      ["'abc", "hostname='abc addr=10.0.0.1"],
      ['a"b', 'hostname=a"b addr=10.0.0.1'],
    ]) {
      const body = `pid=1 uid=0 auid=1000 ses=3 msg='op=login id=1000 exe="/usr/sbin/sshd" ${shape} terminal=ssh res=success'`;
      expect(sameViaText("USER_LOGIN", body), body).toMatchObject({ textPath: 0, record: { fields: { hostname: host, res: "success" } } });
      expect(lines(Buffer.from(`type=USER_LOGIN msg=audit(1.000:1): ${body}\n`))[0], body).toMatchObject({ success: true });
    }
    const failed = sameViaText(
      "USER_AUTH",
      "pid=1 uid=0 msg='op=PAM:authentication acct=o'neil exe=\"/usr/sbin/sshd\" hostname=it's addr=? terminal=ssh res=failed'",
    );
    expect(failed.record.fields).toMatchObject({ acct: "o'neil", hostname: "it's", res: "failed" });
    // control bytes after the closing quote (a stray NUL, TAB, CR) still leave it the body's end (T46 #1, #3)
    for (const tail of ["\u0000", "\t", "\r", "\r\r"]) {
      const body = `pid=1 uid=0 msg='op=login hostname=it's addr=? terminal=ssh res=success'${tail}`;
      expect(sameViaText("USER_LOGIN", body).record.fields, JSON.stringify(tail)).toMatchObject({ hostname: "it's", res: "success" });
      expect(lines(Buffer.from(`type=USER_LOGIN msg=audit(1.000:1): ${body}\n`))[0]).toMatchObject({ success: true });
    }
    // a '"' never closed inside msg is the value's, not the rest of msg: the failure stays a failure (T46 #2)
    const unclosed = `pid=1 uid=0 msg='op=PAM:authentication acct="root" exe="/usr/sbin/sshd" hostname="evil addr=203.0.113.9 terminal=ssh res=failed'`;
    expect(sameViaText("USER_AUTH", unclosed).record.fields).toMatchObject({ hostname: '"evil', addr: "203.0.113.9", res: "failed" });
    expect(lines(Buffer.from(`type=USER_AUTH msg=audit(1.000:1): ${unclosed}\n`))[0]).toMatchObject({ success: false });
    // and ENRICHED: the body ends at 0x1d
    const enriched = sameViaText("USER_LOGIN", `pid=1 uid=0 msg='op=login hostname=x' addr=? terminal=ssh res=success'\x1dUID="root"`);
    expect(enriched).toMatchObject({ textPath: 0, record: { fields: { hostname: "x'", res: "success" } } });
  });

  it("reads on the text path a msg='…' the body does not end with (not the kernel's shape), as the text tokenizer does", () => {
    // there, the first ' outside a "…" that ends a word closes it
    expect(sameViaText("USER_END", "pid=1 msg='op=x res=success' x=it's")).toMatchObject({
      textPath: 1,
      record: { fields: { res: "success", x: "it's" } },
    });
    for (const body of [`pid=1 msg='k=a"b' x="c'd" y=1'`, `pid=1 msg='a=1 b'c=2 d='`, `pid=1 msg='a="x'y" b=2' c=3`, "pid=1 msg='a=1' b=2"])
      sameViaText("USER_END", body);
    // an empty last value, AVC words that end at the close, a '(' list: the byte path when msg ends the body
    expect(sameViaText("USER_END", "pid=1 msg='op=x terminal='").textPath).toBe(0);
    expect(sameViaText("USER_END", "pid=1 msg='op=x res=success free words'").textPath).toBe(0);
    expect(sameViaText("USER_AVC", "pid=1 msg='avc:  denied  { start } for'").textPath).toBe(0);
    expect(sameViaText("USER_AVC", "pid=1 msg='avc:  denied  { start } for '  ").textPath).toBe(0);
    expect(sameViaText("USER_END", "pid=1 msg='PAM: x (hostname=it's, addr=?, terminal=x' res=success)'").textPath).toBe(0);
  });

  it("reads the old PAM form msg='PAM: … (hostname=?, …)' on the byte path, its words as the text tokenizer's text", () => {
    const viaBoth = (body: string) => sameViaText("USER_ACCT", body);
    const outer = "pid=13015 uid=0 auid=4294967295 ses=7 subj=system_u:system_r:crond_t:s0-s0:c0.c1023";
    expect(
      viaBoth(`${outer} msg='PAM: session open acct=root : exe="/usr/sbin/crond" (hostname=?, addr=?, terminal=cron res=success)'`),
    ).toEqual({
      record: expect.objectContaining({
        fields: expect.objectContaining({
          acct: "root",
          exe: "/usr/sbin/crond",
          hostname: null,
          addr: null,
          terminal: "cron",
          res: "success",
        }),
        text: "PAM: session open :",
      }),
      textPath: 0,
    });
    expect(
      viaBoth(`${outer} msg='PAM: setcred acct=bob : exe="/usr/sbin/crond" hostname=? addr=? terminal=cron res=success'`),
    ).toMatchObject({
      record: { text: "PAM: setcred :" },
      textPath: 0,
    });
    // the form with the word `user` before the pairs (its text first)
    expect(
      viaBoth(
        `user ${outer} msg='PAM: authentication acct=judy : exe="/usr/sbin/sshd" (hostname=198.51.100.159, addr=198.51.100.159, terminal=ssh res=success)'`,
      ),
    ).toMatchObject({ record: { text: "user PAM: authentication :", fields: { hostname: "198.51.100.159" } }, textPath: 0 });
    // words the text path reads otherwise (a name prefix, escapes, text beyond ASCII) stay there
    for (const words of ["old", "new", 'a"b', "a\\b", "caf\u00e9", "\t"]) {
      expect(viaBoth(`${outer} msg='${words} acct=root res=success'`).textPath, words).toBe(1);
    }
    // a word in parentheses joins the value before it (`subj=/usr/bin/man (enforce)`)
    expect(viaBoth("pid=1 (x) msg='PAM: x res=success'")).toMatchObject({ record: { fields: { pid: "1 (x)" } }, textPath: 0 });
    // a body whose first word is avc:… is an AVC's (its words give seresult, which the byte path does not read)
    const parser = new AuditParser(() => {});
    parser.pushBytes(Buffer.from("type=USER_AVC msg=audit(1.000:1): avc:x pid=1 msg='PAM: x res=success'\n"));
    parser.end();
    expect(parser.stats.textPath).toBe(1);
    // seeded, so a failure repeats: words and pairs in the punctuation the old form and the nested rules use
    const next = seeded(21);
    const pieces = [
      "PAM:",
      "session",
      "open",
      ":",
      "acct=root",
      'exe="/bin/su"',
      "(hostname=?,",
      "addr=?,",
      "res=success)",
      "x)",
      "x))",
      ")",
      "(",
      ",",
      "((",
      "a,",
      "a),",
      "b=)",
      "c=,",
      "d=(e)",
      // values ending in ')' outside the list, or before its last pair (T26 #2): the value's own
      "hostname=a)",
      "h=foo)bar)",
      "t=(null))",
      "res=((x)))",
      "y)z",
      '"',
      "old",
      "new",
      "avc:",
      "avcx",
      "\\",
      "\u00e9",
      "pid=2",
      "msg=x",
      "{",
      "=",
    ];
    for (let i = 0; i < 1500; i++) {
      let inner = "";
      for (let k = next(10); k > 0; k--) inner += pieces[next(pieces.length)] + (next(4) === 0 ? "" : " ".repeat(1 + next(2)));
      const word = () => ["", "user ", "x) ", "(x) ", "old ", "q avc:x ", "a\\b ", "u: "][next(8)];
      viaBoth(`${word()}pid=1 ${word()}msg='${inner}'${next(2) === 0 ? ` ${word()}b=2` : ""}`);
    }
    // the same for bodies of plain pairs and words only, which the byte path reads itself: where a ')' or ','
    // is the list's and where the value's (T26 #2)
    const plain = ["PAM:", "open", "(hostname=?,", "(h=a),", "addr=?,", "a=b,", "terminal=a)", "res=success)", "x)", "y)z"];
    plain.push(")", "(", ",", "t=(null))", "u=(null)", "res=((x)))", "b=)", "d=(e)", "f=foo)bar)", "g=(h");
    let byteRead = 0;
    for (let i = 0; i < 1500; i++) {
      let inner = "";
      for (let k = next(8); k > 0; k--) inner += plain[next(plain.length)] + (next(4) === 0 ? "" : " ".repeat(1 + next(2)));
      // msg last in the body, as the kernel writes it: the byte path's shape
      if (viaBoth(`pid=1 msg='${inner}'`).textPath === 0) byteRead++;
    }
    expect(byteRead).toBeGreaterThan(1000);
  }, 120_000);

  it("reads (null) and (none) inside msg='…' as null, in every place, their closing parenthesis kept (T25 #5)", () => {
    const fieldsOf = (type: string, body: string) => sameViaText(type, body).record.fields;
    const login = (pairs: string) => fieldsOf("USER_LOGIN", `pid=3148 uid=0 auid=1000 ses=3 msg='${pairs}'`);
    // first, middle, last before the closing quote, before res=; gdm writes hostname=(null) on every login
    expect(login("hostname=(null) addr=? terminal=/dev/tty2 res=success")).toMatchObject({ hostname: null, terminal: "/dev/tty2" });
    expect(login('op=login exe="/usr/libexec/gdm-session-worker" hostname=(none) addr=(null) terminal=tty2 res=success')).toMatchObject({
      hostname: null,
      addr: null,
      terminal: "tty2",
    });
    expect(login("op=login acct=(null) exe=(null) terminal=(null) res=(null)")).toMatchObject({
      acct: null,
      exe: null,
      terminal: null,
      res: null,
    });
    // the old PAM form's list around the pairs still loses its own ')' and ','
    expect(login("PAM: session open acct=root : (hostname=(null), addr=(none), terminal=(null))")).toMatchObject({
      hostname: null,
      addr: null,
      terminal: null,
    });
    expect(login("PAM: x (hostname=h, addr=?, terminal=t)")).toMatchObject({ hostname: "h", addr: null, terminal: "t" });
    // a ')' or ',' that is not that list's is the value's, as logged (T26 #2: PAM_RHOST and PAM_TTY come from clients)
    expect(login("op=login hostname=a) addr=b, terminal=(null)) res=success")).toMatchObject({
      hostname: "a)",
      addr: "b,",
      terminal: "(null))",
    });
    expect(login("op=login hostname=foo)bar) terminal=)")).toMatchObject({ hostname: "foo)bar)", terminal: ")" });
    expect(login("PAM: x (hostname=a), addr=?, terminal=b) res=c))")).toMatchObject({ hostname: "a)", terminal: "b)", res: "c)" });
    // dbus-broker's USER_AVC denials
    const avc = fieldsOf(
      "USER_AVC",
      "pid=1 uid=81 msg='avc:  denied  { send_msg } for msgtype=method_call interface=(null) member=Hello dest=(null) spid=1 tpid=2 tclass=dbus permissive=0 exe=\"/usr/bin/dbus-broker\" sauid=81'",
    );
    expect(avc).toMatchObject({ interface: null, dest: null, member: "Hello" });
  });

  it("reads systemd's USER_AVC msg='avc:  denied  { start } for auid=… uid=…' on the byte path, as the text tokenizer does", () => {
    const outer = "pid=1 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:init_t:s0";
    const inner =
      'auid=54321 uid=0 gid=0 path="/usr/lib/systemd/system/nginx.service" cmdline="/usr/bin/systemctl start nginx.service" scontext=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 tcontext=system_u:object_r:systemd_unit_file_t:s0 tclass=service permissive=0  exe="/usr/lib/systemd/systemd" sauid=0 hostname=? addr=? terminal=?';
    // the names the record has outside msg are msg.<name> (auid, uid), read as <name> is
    expect(sameViaText("USER_AVC", `${outer} msg='avc:  denied  { start } for ${inner}'`)).toEqual({
      record: expect.objectContaining({
        fields: expect.objectContaining({
          auid: "unset",
          "msg.auid": "54321",
          "msg.uid": "root",
          gid: "root",
          seresult: "denied",
          seperms: "start",
        }),
        raw: expect.objectContaining({ auid: "4294967295", "msg.uid": "0" }),
        text: "avc: denied { start } for",
      }),
      textPath: 0,
    });
    // no `{` (no seresult on the text path), a word after the pairs or before msg: the text path, as before
    expect(sameViaText("USER_AVC", `${outer} msg='avc:  received policyload notice seqno=2'`).textPath).toBe(1);
    expect(sameViaText("USER_AVC", `${outer} msg='avc:  denied  { start } for ${inner} x'`).textPath).toBe(1);
    expect(sameViaText("USER_AVC", `${outer} w msg='avc:  denied  { start } for ${inner}'`).textPath).toBe(1);
    // a `{` inside a pair's name is not a word's: no seresult (the text path reads `a{uid` as a name)
    expect(sameViaText("USER_AVC", `${outer} msg='avc:  x a{uid=1 sauid=0'`).record.fields.seresult).toBeUndefined();
    // seeded, so a failure repeats: words and pairs from the pieces the nested rules, avcResult and msg.<name> look at
    const next = seeded(22);
    // mostly the words avc_audit writes, one in sixteen a word the text tokenizer or avcResult reads otherwise (no `'`:
    // it would end msg early, and an outer word `avc:` after it reads otherwise behind `(word)`)
    const words = ["denied", "granted", "{", "}", "start", "read", "for", "", " ", "avc:"];
    const odd = [",", "x,", "(x)", "x)", "old", "new", "=", '"', "\\", "\t", "\u00e9", "avc:x", "a{", "}b", "{}"];
    const word = () => (next(16) === 0 ? odd[next(odd.length)] : words[next(words.length)]);
    const pairs = ["auid=1000", "uid=0", "pid=2", "msg=x", "ses=3", "gid=0", 'path="/a b"', 'cmdline=""', "scontext=a:b:c:s0"];
    pairs.push("tclass=service", 'exe="/x"', "sauid=0", "hostname=?", "addr=?,", "terminal=?)", "res=success", "uid=1");
    const outers = ["", "pid=1 ", `${outer} `, "uid=0 msg=x ", "w ", "auid=0 gid=0 "];
    for (let i = 0; i < 1500; i++) {
      let inner = next(5) === 0 ? "" : "avc: ";
      // three in four with a `{` among the words (only then does the text path read seresult from them)
      for (let k = next(4); k > 0; k--) inner += word() + (next(6) === 0 ? "" : " ".repeat(1 + next(2)));
      if (next(4) !== 0) inner += "{ ";
      for (let k = next(5); k > 0; k--) inner += word() + (next(6) === 0 ? "" : " ".repeat(1 + next(2)));
      for (let k = next(8); k > 0; k--) inner += `${pairs[next(pairs.length)]} `;
      sameViaText(
        next(2) === 0 ? "USER_AVC" : "USER_SELINUX_ERR",
        `${outers[next(outers.length)]}msg='${inner}'${next(4) === 0 ? " b=2" : ""}`,
      );
    }
  }, 120_000);

  it("fails an event whose record says res=success and res=failed, on the byte path as on the text path", () => {
    for (const body of [
      "pid=1 msg='op=x res=success res=failed'",
      "pid=1 res=success res=failed",
      "pid=1 msg='PAM: x res=success, res=no)'",
    ]) {
      const [fast] = lines(Buffer.from(`type=USER_AUTH msg=audit(1.000:1): ${body}\n`)) as { success: boolean }[];
      const [viaText] = lines(Buffer.from(`type=USER_AUTH msg=audit(1.000:1): (word) ${body}\n`)) as { success: boolean }[];
      expect([fast!.success, viaText!.success], body).toEqual([false, false]);
    }
    // one record's failure is not undone by the next record's success, nor the other way round
    const [e] = lines(
      Buffer.from("type=USER_AUTH msg=audit(1.000:1): pid=1 res=success\ntype=USER_ACCT msg=audit(1.000:1): pid=1 res=failed\n"),
    ) as { success: boolean }[];
    expect(e!.success).toBe(true);
  });

  it("reads session ids as the text tokenizer does, however many (past the readings' cache) and however written", () => {
    const ids = [
      "4294967295",
      '"4294967295"',
      '"7"',
      "?",
      "(none)",
      "-1",
      "0x10",
      "",
      ...Array.from({ length: 3000 }, (_, i) => String(i * 7919)),
    ];
    const log = (prefix: string) =>
      Buffer.from(
        ids
          .map((id, i) => `type=USER_START msg=audit(1.000:${i + 1}): ${prefix}pid=1 ses=${id} msg='op=x old-ses=${id} res=success'\n`)
          .join(""),
      );
    const fast = lines(log(""));
    const viaText = lines(log("(word) ")).map((e) => {
      delete (e as { records: Rec[] }).records[0]!.text;
      return e;
    });
    expect(fast).toEqual(viaText);
    expect(fast.slice(0, 4)).toMatchObject([{ ses: "unset" }, { ses: "unset" }, { ses: "7" }, {}]);
    expect(fast[3]).not.toHaveProperty("ses");
    expect(fast.at(-1)).toMatchObject({
      ses: String(2999 * 7919),
      records: [{ fields: { ses: String(2999 * 7919), "old-ses": String(2999 * 7919) } }],
    });
    // invalid UTF-8 reads as U+FFFD, as the text path decodes it
    const bad = Buffer.concat([Buffer.from("type=USER_START msg=audit(1.000:1): pid=1 ses=1"), Buffer.from([0xff]), Buffer.from("2\n")]);
    const badText = Buffer.concat([
      Buffer.from("type=USER_START msg=audit(1.000:1): (word) pid=1 ses=1"),
      Buffer.from([0xff]),
      Buffer.from("2\n"),
    ]);
    const [e1] = lines(bad) as { ses: string; records: Rec[] }[];
    const [e2] = lines(badText) as { records: Rec[] }[];
    delete e2!.records[0]!.text;
    expect(e1).toEqual(e2);
    expect(e1!.ses).toBe("1\uFFFD2");
  });

  it("reads a kernel AVC's leading words and the pairs after them as the text tokenizer does", () => {
    // a word after the pairs sends the same record through the text tokenizer: its text gains " zzword"
    const viaBoth = (words: string, pairs: string) => {
      const line = `type=AVC msg=audit(1.000:1): ${words} ${pairs}`;
      const fast = lines(Buffer.from(`${line}\n`))[0] as { records: Rec[] };
      // before an ENRICHED part (0x1d), which would take the word in
      const gs = line.indexOf("\x1d");
      const wordy = gs < 0 ? `${line} zzword` : `${line.slice(0, gs)} zzword${line.slice(gs)}`;
      // the extra word taken out wherever the text path put it (text, unparsed, seresult: without a `{` that is
      // all the words after avc:, as avcResult reads them)
      const wordless = JSON.stringify(lines(Buffer.from(`${wordy}\n`))[0]).replace(/ ?zzword/g, "");
      const viaText = JSON.parse(wordless) as { records: Rec[] };
      const rec = viaText.records[0]!;
      if (rec.text === "") delete rec.text;
      const f = rec.fields;
      if (typeof f.seresult === "string") f.seresult = f.seresult.trim();
      if (f.seresult === "") delete f.seresult;
      expect(fast, line).toEqual(viaText);
      return fast.records[0]!;
    };
    const pairs =
      'pid=3000 comm="httpd" name="secret 0" dev="dm-0" ino=0 scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0 tclass=file permissive=0';
    expect(viaBoth("avc:  denied  { read write } for ", pairs)).toMatchObject({
      fields: { pid: "3000", tclass: "file", seresult: "denied", seperms: "read,write" },
      text: "avc: denied { read write } for",
    });
    // the shapes the kernel writes go the byte path (none read on the text path)
    const parser = new AuditParser(() => {});
    parser.pushBytes(Buffer.from(`type=AVC msg=audit(1.000:1): avc:  granted  { setenforce } for  ${pairs}\n`));
    parser.end();
    expect(parser.stats.textPath).toBe(0);
    for (const body of [...BODIES, "seresult=x seperms=y pid=1"]) viaBoth("avc:  denied  { read } for ", body);
    // seeded, so a failure repeats: leading words from the pieces the text tokenizer and avcResult look at
    const next = seeded(11);
    const pieces = [
      "avc:",
      "denied",
      "{",
      "}",
      "read",
      "for",
      " ",
      "  ",
      "old",
      "new",
      "(x)",
      "a{",
      "}b",
      "=",
      "'",
      '"',
      "\\",
      "\t",
      "\x1d",
      "\u00e9",
      "avc:x",
    ];
    for (let i = 0; i < 1500; i++) {
      let words = next(4) === 0 ? "" : "avc: ";
      for (let k = next(10); k > 0; k--) words += pieces[next(pieces.length)] + (next(3) === 0 ? "" : " ");
      viaBoth(words, next(2) === 0 ? pairs : BODIES[next(BODIES.length)]!);
    }
  }, 60_000);

  it("reads an AppArmor label's `(enforce)` after subj= on the byte path, joined to the value as the text tokenizer does", () => {
    const apparmor = "subj=cri-containerd.apparmor.d (enforce)";
    const syscall = sameViaText(
      "SYSCALL",
      `arch=c000003e syscall=59 success=yes exit=0 pid=7 uid=0 comm="sh" exe="/bin/sh" ${apparmor} key="exec"`,
    );
    expect(syscall.textPath).toBe(0);
    expect(syscall.record.fields.subj).toEqual({ profile: "cri-containerd.apparmor.d", mode: "enforce" });
    expect(syscall.record.raw?.subj).toBe("cri-containerd.apparmor.d (enforce)");
    for (const [type, body] of [
      ["SECCOMP", `auid=4294967295 uid=65532 ses=4294967295 ${apparmor} pid=9 comm="python3" sig=31 syscall=165 code=0x80000000`],
      ["ANOM_ABEND", 'auid=4294967295 uid=0 ses=4294967295 subj=/usr/bin/man (complain) pid=3 comm="man" sig=11 res=1'],
      ["SYSCALL", "pid=1 subj=unconfined (unconfined) (x) key=(null)"],
    ] as const)
      expect(sameViaText(type, body).textPath).toBe(0);
    // left to the text path: after a quoted or empty value, a msg='…', a word, two spaces; an empty ENRICHED part
    for (const body of ['comm="q" (x)', "a= (x)", "msg='a=1' (x)", "a=1 b (x)", "a=1  (x)", "a=1 (x)\x1d", "a=1 (x) \x1d"])
      expect(sameViaText("SYSCALL", `pid=1 ${body}`).textPath, body).toBe(1);
    // seeded, so a failure repeats: `(…)` words after values of every shape the text tokenizer treats apart
    const next = seeded(25);
    const pieces = [
      "subj=a.b",
      "a=",
      'comm="q"',
      "tty=(none)",
      "res=success",
      "key=exec",
      "uid=0",
      "ses=4",
      "msg='a=1'",
      "msg='a=1 (x)'",
      "(enforce)",
      "(complain)",
      "(x",
      "x)",
      "()",
      "((x))",
      "(a=b)",
      "(\u00e9)",
      '(")',
      "(\\)",
      "\x1d",
      "\x1dUID=root",
      "old",
      "foo",
    ];
    for (let i = 0; i < 2000; i++) {
      let body = "pid=1";
      for (let k = next(8); k > 0; k--) body += (next(4) === 0 ? "  " : " ") + pieces[next(pieces.length)];
      sameViaText(["SYSCALL", "USER_START", "ANOM_ABEND"][next(3)]!, body);
    }
  }, 60_000);

  it("gives each event its own keys and sockaddr, though their readings are cached", () => {
    const log = [
      "type=SYSCALL msg=audit(1.000:1): key=6B31 saddr=020001BB5DB8D822",
      "type=SYSCALL msg=audit(1.000:2): key=6B31 saddr=020001BB5DB8D822",
    ];
    const events: AuditEvent[] = [];
    const parser = new AuditParser((e) => events.push(e));
    parser.pushBytes(Buffer.from(`${log.join("\n")}\n`));
    parser.end();
    expect(events[0]!.keys).toEqual(["k1"]);
    expect(events[0]!.keys).not.toBe(events[1]!.keys);
    expect(events[0]!.sockaddr).toEqual({ family: "inet", port: 443, address: "93.184.216.34" });
    expect(events[0]!.sockaddr).not.toBe(events[1]!.sockaddr);
  });

  it("writes the same NDJSON whether or not the event's summary is kept as text", () => {
    const log = Buffer.from(
      [
        `node=h1 type=SYSCALL msg=audit(1.000:1): ${BODIES[0]}`,
        `node=h1 type=EXECVE msg=audit(1.000:1): argc=3 a0="sh" a1_len=8 a1[0]=${hex("long")} a2=${hex("x y")}`,
        `node=h1 type=EXECVE msg=audit(1.000:1): a1[1]=${hex("argx")}`,
        `node=h1 type=CWD msg=audit(1.000:1): cwd=${hex("/r\u00f6\u00f6t")}`,
        `node=h1 type=SOCKADDR msg=audit(1.000:1): saddr=0A0001BB000000000000000000000000000000000000000100000000\x1dSADDR={ saddr_fam=inet6 laddr=::1 lport=443 }`,
        `node=h1 type=PROCTITLE msg=audit(1.000:1): proctitle=${hex("sh\u0000-c\u0000x")}`,
        "node=h1 type=EOE msg=audit(1.000:1):",
        `type=PROCTITLE msg=audit(1.5:3): proctitle=${hex('caf\u00e9\u0000"q"\u0000\u0000')}`,
        `type=PROCTITLE msg=audit(1.5:4): proctitle=${hex("\u0000\u0000")}`,
        "type=PROCTITLE msg=audit(1.5:5): proctitle=6C7",
        'type=USER_START msg=audit(2.5:2): pid=1 uid=0 auid=1000 ses=3 msg=\'op=PAM:session_open acct="alice" exe="/usr/sbin/sshd" res=success\'',
        "garbage \xff line",
      ].join("\n"),
      "latin1",
    );
    const withText = lines(log, { recordObjects: false });
    expect(lines(log, { recordObjects: false, summaries: false })).toEqual(withText);
    const proctitles = Object.fromEntries(withText.map((e) => [(e as { id: string }).id, (e as { proctitle?: string[] }).proctitle]));
    expect(proctitles).toMatchObject({ "1.5:3": ["caf\u00e9", '"q"'], "1.5:4": [""], "1.5:5": ["6C7"] });
    expect(withText[0]).toMatchObject({ comm: "ls", exe: "/bin/ls", cwd: "/r\u00f6\u00f6t", argv: ["sh", "longargx", "x y"] });
  });

  it("escapes every byte as JSON.stringify does, and reads invalid UTF-8 as U+FFFD", () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 0x0a));
    const w = new JsonBytes(16);
    w.copyString(all, 0, all.length);
    expect(w.buf.toString("utf8", 0, w.length)).toBe(JSON.stringify(all.toString("utf8")));
    const ascii = Buffer.from('a"b\\c\u0001d\u007f');
    const v = new JsonBytes(4);
    v.copyString(ascii, 0, ascii.length);
    expect(JSON.parse(v.buf.toString("utf8", 0, v.length))).toBe('a"b\\c\u0001d\u007f');
  });

  it("writes numbers as String() does", () => {
    for (const n of [0, 7, 10, 99, 100, 4294967295, Number.MAX_SAFE_INTEGER, 2 ** 53, -0, -1, 1.5, 1e21, Number.NaN]) {
      const w = new JsonBytes(1);
      w.number(n);
      expect(w.buf.toString("utf8", 0, w.length)).toBe(String(n));
    }
  });

  it("groups by the stamp as written: the same time in other digits is another event", () => {
    const log = [
      "type=SYSCALL msg=audit(1.5:7): x=1",
      "type=CWD msg=audit(1.500:7): y=2",
      "type=PATH msg=audit(01.5:7): z=3",
      "type=PATH msg=audit(1.5:7): w=4",
    ];
    const ids = lines(Buffer.from(`${log.join("\n")}\n`)).map((e) => [(e as { id: string }).id, (e as { types: string[] }).types]);
    expect(ids).toEqual([
      ["1.5:7", ["SYSCALL", "PATH"]],
      ["1.500:7", ["CWD"]],
      ["01.5:7", ["PATH"]],
    ]);
  });

  it("keeps every field name right once the name table is full", () => {
    const names = Array.from({ length: 5000 }, (_, i) => `f${i}_${"x".repeat(i % 13)}`);
    // over two records: a line keeps at most MAX_LINE_FIELDS (4096) fields
    const body = (from: number, to: number) =>
      names
        .slice(from, to)
        .map((n, i) => `${n}=${from + i}`)
        .join(" ");
    const records = recordsOf(`type=PATH msg=audit(1.000:1): ${body(0, 2500)}\ntype=PATH msg=audit(1.000:1): ${body(2500, 5000)}`);
    expect(records.flatMap((r) => Object.keys(r.fields))).toEqual(names);
    expect(records.flatMap((r) => Object.values(r.fields))).toEqual(names.map((_, i) => String(i)));
  });

  it("reads each name afresh where it differs from the last record's name at the same position", () => {
    // alike in length, first bytes or prefix; one with 0x1d, which only the ENRICHED part reads as part of a name
    const bodies = [
      "item=0 name=x inode=1 mode=0100644",
      "item=0 namf=x inodf=1 mode=0100644",
      "item=0 nam=x inode=1 mode=0100644",
      "item=0 namex=x inode=1 modes=0100644",
      "item=0 name=x inode=1 mode=0100644\x1dB\x1dC=2",
      "item=0 name=x inode=1 mode=0100644 B\x1dC=2",
      "item=0 name=x inode=1 mode=0100644\x1dB=2",
      "item=0 name=x inode=1 mode=0100644=",
      "item=0 name==x inode=1",
    ];
    const together = recordsOf(bodies.map((b) => `type=PATH msg=audit(1.000:1): ${b}`).join("\n"));
    expect(together).toEqual(bodies.map((b) => recordsOf(`type=PATH msg=audit(1.000:1): ${b}`)[0]));
    expect(together[1]!.fields).toEqual({ item: "0", namf: "x", inodf: "1", mode: "file,644" });
  });

  it("names each event's node as written, past the node-name table's bound too", () => {
    // names alike in their first eight bytes, one of no bytes, one not UTF-8 (U+FFFD, as read as text)
    const nodes = [...Array.from({ length: 700 }, (_, i) => `host.example.${i % 2 ? "net" : "org"}-${i}`), "", "h\u00e9", "x"];
    const log = Buffer.concat([
      ...nodes.map((n, i) => Buffer.from(`node=${n} type=CWD msg=audit(1.000:${i + 1}): cwd="/"\n`)),
      Buffer.from([...Buffer.from("node=h"), 0xff, ...Buffer.from(' type=CWD msg=audit(1.000:9999): cwd="/"\n')]),
    ]);
    expect(lines(log).map((e) => (e as { node?: string }).node)).toEqual([...nodes, "h\ufffd"]);
  });

  it("reads values of every length with a stop byte at every place as the text tokenizer does", () => {
    // the byte path passes over a value's bytes four at a time up to the first word that may end it (a space, a
    // quote, 0x1d): a stop byte at each place of values 0 to 19 bytes long, in every kind of value, from every
    // offset within a word (the value's start moves with the name's length)
    const stops = [" ", '"', "'", "\x1d"];
    for (let length = 0; length < 20; length++) {
      for (let at = 0; at <= length; at++) {
        for (const stop of stops) {
          const value = `${"v".repeat(at)}${stop}${"w".repeat(length - at)}`;
          for (const name of ["n", "nam", "names"]) {
            const bodies = [`${name}=${value} b=1`, `${name}="${value}" b=1`, `a=1\x1dX=${value} ${name.toUpperCase()}="${value}"`];
            for (const body of bodies) {
              const fast = recordsOf(`type=PATH msg=audit(1.000:1): ${body}`)[0]!;
              const viaText = recordsOf(`type=PATH msg=audit(1.000:1): (word) ${body}`)[0]!;
              viaText.text = viaText.text === "(word)" ? undefined : viaText.text?.replace(/^\(word\) /, "");
              if (viaText.text === undefined) delete viaText.text;
              expect(fast, JSON.stringify(body)).toEqual(viaText);
            }
            // inside msg='…' (a value also ends at the ' that closes it)
            sameViaText("USER_START", `pid=1 msg='${name}=${value} res=success'`);
            sameViaText("USER_START", `pid=1 msg='${name}="${value}" ${name}=${value}'`);
          }
        }
      }
    }
  });

  it("reads a line's header wherever it lies in the read chunk, up to the buffer's last byte", () => {
    // the header's words are compared four bytes at a time: a short line at a chunk's very end, and headers cut
    // inside each of their words (node=, type=, msg=, audit(), which are not audit lines
    const whole = 'node=h type=CWD msg=audit(1.000:7): cwd="/"';
    for (let cut = 0; cut <= whole.length; cut++) {
      const out = lines(Buffer.from(whole.slice(0, cut))) as { unparsed?: string[]; node?: string }[];
      // an audit line from its stamp's ")" on
      const read = cut > whole.indexOf(")");
      expect(out.length, whole.slice(0, cut)).toBe(cut === 0 ? 0 : 1);
      if (cut > 0) expect(out[0]!.unparsed === undefined, whole.slice(0, cut)).toBe(read);
    }
    expect(lines(Buffer.from("type=EOE msg=audit(1.000:8):"))).toEqual([]);
  });

  it("reads a kernel AVC's opening seen before as it reads it the first time, whatever follows it", () => {
    // the openings of recent AVC records are kept and matched first: each record of a log of many, read after the
    // others, as the same record read alone (seeded: a failure repeats)
    const next = seeded(39);
    const openings = [
      "avc:  denied  { write } for  ",
      "avc:  denied  { read } for  ",
      "avc:  granted  { setenforce } for  ",
      " avc:  denied  { } for  ",
    ];
    const tails = [
      'pid=1 comm="x"',
      "pid=1",
      "word pid=1",
      "(x) pid=1",
      " pid=1",
      "",
      "pid",
      'p"id=1',
      "{ pid=1",
      "pid(=1",
      "old=1 pid=2",
      "a{b=1",
      "é=1",
      "x\x1dUID=root",
    ];
    const log: string[] = [];
    for (let serial = 1; serial <= 600; serial++) {
      const opening = openings[next(openings.length)]!;
      log.push(`type=AVC msg=audit(1.000:${serial}): ${opening}${tails[next(tails.length)]}`, `type=EOE msg=audit(1.000:${serial}): `);
    }
    /** The events' lines, and how many records took the text path (the same either way: not slower either). */
    const read = (part: readonly string[]) => {
      const out: unknown[] = [];
      const parser = new AuditParser((_e: AuditEvent, json) => out.push(JSON.parse(String(json))));
      parser.pushBytes(Buffer.from(`${part.join("\n")}\n`));
      parser.end();
      return { out, textPath: parser.stats.textPath };
    };
    const together = read(log);
    expect(together.out).toHaveLength(600);
    let textPath = 0;
    for (let i = 0; i < 600; i++) {
      const alone = read(log.slice(2 * i, 2 * i + 2));
      expect(together.out[i], log[2 * i]).toEqual(alone.out[0]);
      textPath += alone.textPath;
    }
    expect(together.textPath).toBe(textPath);
  });
});
